import Foundation
import ModelIO
import TensorCore

/// The last sigma of a sigma-space grid (diffusers' `final_sigmas_type`).
public enum FinalSigmasType: String, Codable, Sendable, CaseIterable {
    case zero
    /// σ of training timestep 0, sqrt((1 − ᾱ₀)/ᾱ₀).
    case sigmaMin = "sigma_min"
}

/// diffusers' `EulerDiscreteScheduler` configuration; keys are `scheduler_config.json`'s, defaults diffusers'
/// (`timestep_spacing = linspace`).
///
/// Decoding throws for options not implemented: Karras/exponential/beta sigmas, `interpolation_type` other
/// than `linear`, `rescale_betas_zero_snr`, continuous timesteps with v-prediction, `flow_prediction`.
/// `sigma_min`/`sigma_max` only matter for Karras-type sigmas and are ignored.
@dynamicMemberLookup
public struct EulerDiscreteConfig: DiffusersSchedulerConfig, Equatable {
    /// The fields shared with the other discrete VP schedulers (readable and writable as this config's own).
    public var noise: DiscreteNoiseConfig
    public var finalSigmasType: FinalSigmasType = .zero

    public init(numTrainTimesteps: Int = 1000, betaStart: Double = 0.0001, betaEnd: Double = 0.02,
                betaSchedule: BetaSchedule = .linear, trainedBetas: [Float]? = nil,
                predictionType: PredictionType = .epsilon, timestepSpacing: TimestepSpacing = .linspace,
                stepsOffset: Int = 0, finalSigmasType: FinalSigmasType = .zero) {
        noise = DiscreteNoiseConfig(numTrainTimesteps: numTrainTimesteps, betaStart: betaStart, betaEnd: betaEnd, betaSchedule: betaSchedule,
                                    trainedBetas: trainedBetas, predictionType: predictionType, timestepSpacing: timestepSpacing,
                                    stepsOffset: stepsOffset)
        self.finalSigmasType = finalSigmasType
    }

    public subscript<T>(dynamicMember path: WritableKeyPath<DiscreteNoiseConfig, T>) -> T {
        get { noise[keyPath: path] }
        set { noise[keyPath: path] = newValue }
    }

    enum CodingKeys: String, CodingKey {
        case finalSigmasType = "final_sigmas_type"
    }

    public init(config c: ConfigFile) throws {
        noise = try DiscreteNoiseConfig(config: c, defaultSpacing: .linspace, scheduler: "Euler (VP)")
        finalSigmasType = try c.choice("final_sigmas_type", default: FinalSigmasType.zero)
        try c.requireString("interpolation_type", "linear", else: "interpolation_type other than linear")
        try c.requireBool("use_karras_sigmas", false, else: "Karras sigmas")
        try c.requireBool("use_exponential_sigmas", false, else: "exponential sigmas")
        try c.requireBool("use_beta_sigmas", false, else: "beta sigmas")
        if noise.predictionType == .vPrediction {
            try c.requireString("timestep_type", "discrete", else: "continuous timesteps with v_prediction")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        try noise.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(finalSigmasType, forKey: .finalSigmasType)
    }

    /// The training noise schedule this config describes.
    public var noiseSchedule: DiffusionNoiseSchedule { noise.noiseSchedule }
}

/// diffusers' `EulerDiscreteScheduler` after `set_timesteps(numInferenceSteps)`: the deterministic Euler
/// step of the probability-flow ODE in sigma space, `x = x₀ + σ·ε` (the VP sample times sqrt(1 + σ²)).
///
/// Only `s_churn = 0` (no noise injection; `noiseStd` is 0 and `noise` is ignored), linear sigma
/// interpolation at the float timesteps diffusers uses, no Karras sigmas. Prediction types: epsilon,
/// v_prediction, sample. `scaleModelInput` divides by sqrt(σ² + 1) as diffusers' `scale_model_input`.
/// State index `i` is at `sigmas[i]`; `sigmas[stepCount]` is the final sigma (0 or σ_min).
public struct EulerDiscreteScheduler: DenoisingScheduler {
    public let config: EulerDiscreteConfig
    public let numInferenceSteps: Int
    public let noiseSchedule: DiffusionNoiseSchedule
    public let timesteps: [Float]
    /// diffusers' `sigmas`: one per timestep plus the final sigma.
    public let sigmas: [Float]
    public let initNoiseSigma: Float

    public var stepCount: Int { timesteps.count }

    public init(config: EulerDiscreteConfig, numInferenceSteps: Int) {
        let schedule = config.noiseSchedule
        precondition(numInferenceSteps >= 1, "EulerDiscreteScheduler: numInferenceSteps must be positive")
        self.config = config
        self.numInferenceSteps = numInferenceSteps
        noiseSchedule = schedule
        let grid = NumericCompat.floatGrid(spacing: config.timestepSpacing, trainTimesteps: schedule.trainTimesteps,
                                           steps: numInferenceSteps, offset: config.stepsOffset)
        let trainSigmas = schedule.alphasCumprod.map { ((1 - $0) / $0).squareRoot() }
        var sigmas = grid.map { Float(NumericCompat.interpOnIntegerGrid(Double($0), trainSigmas)) }
        sigmas.append(config.finalSigmasType == .zero ? 0 : trainSigmas[0])
        timesteps = grid
        self.sigmas = sigmas
        let maxSigma = sigmas.max() ?? 0
        initNoiseSigma = config.timestepSpacing == .leading ? (maxSigma * maxSigma + 1).squareRoot() : maxSigma
    }

    public func scaleModelInput(_ sample: Tensor, stepIndex i: Int) -> Tensor {
        checkStepIndex(i, stepCount)
        let sigma = sigmas[i]
        let d = (sigma * sigma + 1).squareRoot()
        return elementwise(sample) { $0 / d }
    }

    public func noiseStd(stepIndex i: Int) -> Float {
        checkStepIndex(i, stepCount)
        return 0
    }

    public func step(modelOutput: Tensor, stepIndex i: Int, sample: Tensor, noise: Tensor?) -> SchedulerStepOutput {
        checkStepIndex(i, stepCount)
        let sigma = sigmas[i]
        let dt = sigmas[i + 1] - sigma
        let original: Tensor
        switch config.predictionType {
        case .epsilon:
            original = elementwise(sample, modelOutput) { (x, m) in x - sigma * m }
        case .vPrediction:
            let a = -sigma / (sigma * sigma + 1).squareRoot()
            let b = sigma * sigma + 1
            original = elementwise(sample, modelOutput) { (x, m) in m * a + x / b }
        case .sample:
            original = modelOutput
        case .flowPrediction:
            preconditionFailure("EulerDiscreteScheduler given flow_prediction")
        }
        let next = elementwise(sample, original) { (x, x0) in x + ((x - x0) / sigma) * dt }
        return SchedulerStepOutput(sample: next, predictedOriginal: original)
    }

    /// Sigma-space forward process: `x + sqrt(σ_to² − σ_from²)·ε`.
    public func renoise(_ sample: Tensor, from: Int, to: Int, noise: Tensor) -> Tensor {
        checkRenoiseIndices(from, to, stepCount)
        let sf = sigmas[from], st = sigmas[to]
        return sample.scaled(1, plus: Swift.max(0, st * st - sf * sf).squareRoot(), times: noise)
    }

    /// diffusers' `add_noise`: `original + σ·noise` with σ of the grid timestep equal to `timestep` (diffusers'
    /// `index_for_timestep`: the second match if it occurs twice). The timestep must be on the grid.
    public func addNoise(original: Tensor, noise: Tensor, timestep: Float) -> Tensor {
        guard let i = diffusersIndex(of: timestep, in: timesteps) else {
            preconditionFailure("EulerDiscreteScheduler.addNoise: timestep \(timestep) is not on the grid")
        }
        return original.scaled(1, plus: sigmas[i], times: noise)
    }
}
