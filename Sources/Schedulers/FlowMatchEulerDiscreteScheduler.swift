import Foundation
import ModelIO
import TensorCore

/// diffusers' `FlowMatchEulerDiscreteScheduler` configuration (`num_train_timesteps`, `shift`); defaults
/// diffusers'. Decoding throws for options not implemented: dynamic shifting, `invert_sigmas`,
/// `shift_terminal`, Karras/exponential/beta sigmas, `stochastic_sampling`.
public struct FlowMatchEulerDiscreteConfig: DiffusersSchedulerConfig, Equatable {
    public var numTrainTimesteps: Int = 1000
    public var shift: Double = 1.0

    public init(numTrainTimesteps: Int = 1000, shift: Double = 1.0) {
        self.numTrainTimesteps = numTrainTimesteps
        self.shift = shift
    }

    enum CodingKeys: String, CodingKey {
        case numTrainTimesteps = "num_train_timesteps", shift
        case useDynamicShifting = "use_dynamic_shifting", invertSigmas = "invert_sigmas"
        case shiftTerminal = "shift_terminal", useKarrasSigmas = "use_karras_sigmas"
        case useExponentialSigmas = "use_exponential_sigmas", useBetaSigmas = "use_beta_sigmas"
        case stochasticSampling = "stochastic_sampling"
    }

    public init(config c: ConfigFile) throws {
        numTrainTimesteps = try c.int("num_train_timesteps", default: 1000)
        shift = try c.double("shift", default: 1.0)
        try c.requireBool("use_dynamic_shifting", false, else: "dynamic shifting")
        try c.requireBool("invert_sigmas", false, else: "inverted sigmas")
        try c.requireNull("shift_terminal", else: "shift_terminal")
        try c.requireBool("use_karras_sigmas", false, else: "Karras sigmas")
        try c.requireBool("use_exponential_sigmas", false, else: "exponential sigmas")
        try c.requireBool("use_beta_sigmas", false, else: "beta sigmas")
        try c.requireBool("stochastic_sampling", false, else: "stochastic sampling")
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(numTrainTimesteps, forKey: .numTrainTimesteps)
        try c.encode(shift, forKey: .shift)
    }
}

/// diffusers' `FlowMatchEulerDiscreteScheduler` after `set_timesteps(numInferenceSteps)`: the Euler step
/// `x + (σ_next − σ)·v` of the rectified-flow ODE, `x_σ = (1 − σ)·x₀ + σ·ε`, velocity `v = ε − x₀`.
///
/// The grid is diffusers' exactly, including its double application of `shift` (the constructor shifts the
/// training sigmas, and `set_timesteps` shifts again a linspace running down to the already shifted
/// σ_min). Deterministic only: `noiseStd` is 0 and `noise` is ignored. diffusers returns no clean estimate;
/// `predictedOriginal` is `x − σ·v`. State index `i` is at `sigmas[i]`, index `stepCount` at σ = 0.
public struct FlowMatchEulerDiscreteScheduler: DenoisingScheduler {
    public let config: FlowMatchEulerDiscreteConfig
    public let numInferenceSteps: Int
    public let timesteps: [Float]
    /// One sigma per timestep plus the final 0.
    public let sigmas: [Float]

    public var stepCount: Int { timesteps.count }
    public var initNoiseSigma: Float { 1 }

    public init(config: FlowMatchEulerDiscreteConfig, numInferenceSteps: Int) {
        precondition(numInferenceSteps >= 1, "FlowMatchEulerDiscreteScheduler: numInferenceSteps must be positive")
        self.config = config
        self.numInferenceSteps = numInferenceSteps
        let n = config.numTrainTimesteps
        // Constructor: float32 training sigmas t/N for t = N…1, shifted in float32.
        let shift32 = Float(config.shift), shiftMinus32 = Float(config.shift - 1)
        func shiftedTrain(_ t: Int) -> Float {
            let s = Float(t) / Float(n)
            return shift32 * s / (1 + shiftMinus32 * s)
        }
        let sigmaMax = Double(shiftedTrain(n)), sigmaMin = Double(shiftedTrain(1))
        // set_timesteps: a double linspace of timesteps, back to sigmas, shifted again in double.
        let shift = config.shift
        let grid = NumericCompat.numpyLinspace(sigmaMax * Double(n), sigmaMin * Double(n), numInferenceSteps)
        let sigmas32 = grid.map { t -> Float in
            let s = t / Double(n)
            return Float(shift * s / (1 + (shift - 1) * s))
        }
        timesteps = sigmas32.map { $0 * Float(n) }
        sigmas = sigmas32 + [0]
    }

    public func scaleModelInput(_ sample: Tensor, stepIndex: Int) -> Tensor { sample }

    public func noiseStd(stepIndex i: Int) -> Float {
        checkStepIndex(i, stepCount)
        return 0
    }

    public func step(modelOutput: Tensor, stepIndex i: Int, sample: Tensor, noise: Tensor?) -> SchedulerStepOutput {
        checkStepIndex(i, stepCount)
        let sigma = sigmas[i]
        let dt = sigmas[i + 1] - sigma
        let next = elementwise(sample, modelOutput) { (x, v) in x + dt * v }
        let original = elementwise(sample, modelOutput) { (x, v) in x - sigma * v }
        return SchedulerStepOutput(sample: next, predictedOriginal: original)
    }

    public func renoise(_ sample: Tensor, from: Int, to: Int, noise: Tensor) -> Tensor {
        checkRenoiseIndices(from, to, stepCount)
        return flowRenoise(sample, sigmaFrom: sigmas[from], sigmaTo: sigmas[to], noise: noise)
    }

    /// diffusers' `scale_noise`: `σ·noise + (1 − σ)·original` with σ of the grid timestep equal to
    /// `timestep` (second match if it occurs twice). The timestep must be on the grid.
    public func addNoise(original: Tensor, noise: Tensor, timestep: Float) -> Tensor {
        guard let i = diffusersIndex(of: timestep, in: timesteps) else {
            preconditionFailure("FlowMatchEulerDiscreteScheduler.addNoise: timestep \(timestep) is not on the grid")
        }
        let s = sigmas[i]
        return elementwise(original, noise) { (x, z) in s * z + (1 - s) * x }
    }
}
