import Foundation
import ModelIO
import TensorCore

/// Configuration of `FlowMatchSDEScheduler`, read from diffusers' `DPMSolverMultistepScheduler` keys:
/// `num_train_timesteps` and `flow_shift` (if `flow_shift` is absent, a FlowMatchEuler-style `shift` key is
/// used). The solver itself is fixed (order 1, `sde-dpmsolver++`, flow sigmas, flow prediction, final σ = 0),
/// so `solver_order`, `algorithm_type` and the VP beta keys are ignored; decoding throws when the config
/// contradicts the fixed parts (`use_flow_sigmas: false`, a non-flow `prediction_type`,
/// `final_sigmas_type: sigma_min`, dynamic shifting, Karras/exponential/beta/lu sigmas).
/// Encoding writes a complete DPMSolverMultistepScheduler config that reproduces this scheduler.
public struct FlowMatchSDEConfig: DiffusersSchedulerConfig, Equatable {
    public var numTrainTimesteps: Int = 1000
    public var flowShift: Double = 1.0

    public init(numTrainTimesteps: Int = 1000, flowShift: Double = 1.0) {
        self.numTrainTimesteps = numTrainTimesteps
        self.flowShift = flowShift
    }

    enum CodingKeys: String, CodingKey {
        case numTrainTimesteps = "num_train_timesteps", flowShift = "flow_shift", shift
        case useFlowSigmas = "use_flow_sigmas", predictionType = "prediction_type"
        case finalSigmasType = "final_sigmas_type", useDynamicShifting = "use_dynamic_shifting"
        case useKarrasSigmas = "use_karras_sigmas", useExponentialSigmas = "use_exponential_sigmas"
        case useBetaSigmas = "use_beta_sigmas", useLuLambdas = "use_lu_lambdas"
        case algorithmType = "algorithm_type", solverOrder = "solver_order"
    }

    public init(config c: ConfigFile) throws {
        numTrainTimesteps = try c.int("num_train_timesteps", default: 1000)
        flowShift = try c.optionalDouble("flow_shift") ?? c.double("shift", default: 1.0)
        try c.requireBool("use_flow_sigmas", true, else: "VP (non-flow) sigmas")
        try c.requireString("prediction_type", PredictionType.flowPrediction.rawValue, else: "a non-flow prediction type")
        try c.requireString("final_sigmas_type", FinalSigmasType.zero.rawValue, else: "final sigma other than zero")
        try c.requireBool("use_dynamic_shifting", false, else: "dynamic shifting")
        try c.requireBool("use_karras_sigmas", false, else: "Karras sigmas")
        try c.requireBool("use_exponential_sigmas", false, else: "exponential sigmas")
        try c.requireBool("use_beta_sigmas", false, else: "beta sigmas")
        try c.requireBool("use_lu_lambdas", false, else: "lu lambdas")
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(numTrainTimesteps, forKey: .numTrainTimesteps)
        try c.encode(flowShift, forKey: .flowShift)
        try c.encode(true, forKey: .useFlowSigmas)
        try c.encode(PredictionType.flowPrediction, forKey: .predictionType)
        try c.encode(FinalSigmasType.zero, forKey: .finalSigmasType)
        try c.encode("sde-dpmsolver++", forKey: .algorithmType)
        try c.encode(1, forKey: .solverOrder)
    }
}

/// The first-order SDE-DPM-Solver++ for rectified flows: exactly what diffusers'
/// `DPMSolverMultistepScheduler(use_flow_sigmas=True, prediction_type="flow_prediction",
/// algorithm_type="sde-dpmsolver++", solver_order=1, flow_shift=…, final_sigmas_type="zero")` computes
/// after `set_timesteps(numInferenceSteps)` when `step` is given `variance_noise`. Order 1 uses no history,
/// so the value is stateless.
///
/// With α = 1 − σ, λ = log(α/σ), h = λ_next − λ and x̂₀ = x − σ·v, the stochastic step is
/// `x' = (σ_next/σ)·e^{−h}·x + α_next·(1 − e^{−2h})·x̂₀ + σ_next·sqrt(1 − e^{−2h})·noise`, so
/// `noiseStd = σ_next·sqrt(1 − e^{−2h})` (0 at the last step, σ_next = 0). `noise == nil` gives the
/// first-order `dpmsolver++` (probability-flow) step `(σ_next/σ)·x − α_next·(e^{−h} − 1)·x̂₀`, which for
/// flows equals the DDIM η = 0 and the flow Euler step.
///
/// Grid: diffusers' flow sigmas, `shift(1 − linspace(1, 1/N, n + 1))` reversed without the final 0, so the
/// first σ is shift(1 − 1/N) < 1; timesteps are σ·N truncated to integers, as diffusers stores them (int64).
/// State index `i` is at `sigmas[i]`, index `stepCount` at σ = 0.
public struct FlowMatchSDEScheduler: DenoisingScheduler {
    public let config: FlowMatchSDEConfig
    public let numInferenceSteps: Int
    public let timesteps: [Float]
    /// One sigma per timestep plus the final 0.
    public let sigmas: [Float]

    public var stepCount: Int { timesteps.count }
    public var initNoiseSigma: Float { 1 }

    public init(config: FlowMatchSDEConfig, numInferenceSteps: Int) {
        precondition(numInferenceSteps >= 1, "FlowMatchSDEScheduler: numInferenceSteps must be positive")
        self.config = config
        self.numInferenceSteps = numInferenceSteps
        let n = config.numTrainTimesteps, shift = config.flowShift
        let alphas = NumericCompat.numpyLinspace(1, 1 / Double(n), numInferenceSteps + 1)
        let shifted = alphas.map { a -> Double in
            let s = 1.0 - a
            return shift * s / (1 + (shift - 1) * s)
        }
        let kept = Array(shifted.reversed().dropLast())
        timesteps = kept.map { Float(Int64(($0 * Double(n)).rounded(.towardZero))) }
        sigmas = kept.map { Float($0) } + [0]
    }

    /// The same solver on another pipeline's grid: `sigmas` (one per step, decreasing, in (0, 1], plus the final
    /// 0) and their timesteps — e.g. `FlowMatchEulerDiscreteScheduler.flux`'s, so that a FLUX.1 search steps the
    /// sigmas FluxPipeline samples with. A first σ of 1 is allowed: that step renoises x̂₀ to the next level.
    public init(sigmas: [Float], timesteps: [Float], numTrainTimesteps: Int = 1000) throws(SchedulerConfigError) {
        guard !timesteps.isEmpty, sigmas.count == timesteps.count + 1, sigmas.last == 0 else {
            throw SchedulerConfigError("flow SDE grid: \(timesteps.count) timesteps need \(timesteps.count + 1) sigmas ending in 0, got \(sigmas.count)")
        }
        for i in 0..<timesteps.count where !(sigmas[i] > sigmas[i + 1] && sigmas[i] <= 1) {
            throw SchedulerConfigError("flow SDE grid: sigmas must decrease within (0, 1], got \(sigmas)")
        }
        config = FlowMatchSDEConfig(numTrainTimesteps: numTrainTimesteps)
        numInferenceSteps = timesteps.count
        self.timesteps = timesteps
        self.sigmas = sigmas
    }

    public func scaleModelInput(_ sample: Tensor, stepIndex: Int) -> Tensor { sample }

    /// h = λ_next − λ for step `i`, λ = log(1 − σ) − log(σ) in float32 as diffusers computes it; +∞ at the
    /// last step (σ_next = 0), where e^{−h} = 0 and the step returns x̂₀.
    private func logSNRIncrement(_ i: Int) -> Float {
        let s = sigmas[i], t = sigmas[i + 1]
        if t == 0 { return .infinity }
        return (log(1 - t) - log(t)) - (log(1 - s) - log(s))
    }

    public func noiseStd(stepIndex i: Int) -> Float {
        checkStepIndex(i, stepCount)
        return sigmas[i + 1] * (1 - exp(-2 * logSNRIncrement(i))).squareRoot()
    }

    public func step(modelOutput: Tensor, stepIndex i: Int, sample: Tensor, noise: Tensor?) -> SchedulerStepOutput {
        checkStepIndex(i, stepCount)
        let sigma = sigmas[i], sigmaNext = sigmas[i + 1]
        let alphaNext = 1 - sigmaNext
        let original = elementwise(sample, modelOutput) { (x, v) in x - sigma * v }
        let h = logSNRIncrement(i)
        let e = exp(-h)
        let next: Tensor
        if let noise {
            let e2 = exp(-2 * h)
            let cx = sigmaNext / sigma * e
            let c0 = alphaNext * (1 - e2)
            let cz = sigmaNext * (1 - e2).squareRoot()
            next = elementwise(sample, original, noise) { (x, x0, z) in (cx * x + c0 * x0) + cz * z }
        } else {
            let cx = sigmaNext / sigma
            let c0 = alphaNext * (e - 1)
            next = elementwise(sample, original) { (x, x0) in cx * x - c0 * x0 }
        }
        return SchedulerStepOutput(sample: next, predictedOriginal: original)
    }

    public func renoise(_ sample: Tensor, from: Int, to: Int, noise: Tensor) -> Tensor {
        checkRenoiseIndices(from, to, stepCount)
        return flowRenoise(sample, sigmaFrom: sigmas[from], sigmaTo: sigmas[to], noise: noise)
    }

    /// diffusers' DPM-Solver `add_noise` with flow sigmas: `(1 − σ)·original + σ·noise`, σ of the grid
    /// timestep equal to `timestep` (second match if repeated; the last grid entry when absent, as diffusers).
    public func addNoise(original: Tensor, noise: Tensor, timestep: Float) -> Tensor {
        let i = diffusersIndex(of: timestep, in: timesteps) ?? (stepCount - 1)
        let s = sigmas[i], a = 1 - s
        return elementwise(original, noise) { (x, z) in a * x + s * z }
    }
}
