import Foundation
import ModelIO
import TensorCore

/// diffusers' `FlowMatchEulerDiscreteScheduler` configuration: `num_train_timesteps`, `shift`, and the
/// resolution-dependent shift FLUX.1 uses (`use_dynamic_shifting` with `time_shift_type` exponential or linear;
/// `base_shift`, `max_shift`, `base_image_seq_len`, `max_image_seq_len`, which FluxPipeline reads to compute
/// mu); defaults diffusers'. Decoding throws for options not implemented: `invert_sigmas`, `shift_terminal`,
/// Karras/exponential/beta sigmas, `stochastic_sampling`.
public struct FlowMatchEulerDiscreteConfig: DiffusersSchedulerConfig, Equatable {
    /// diffusers' `time_shift_type`: how mu bends the sigmas under dynamic shifting.
    public enum TimeShiftType: String, Sendable, CaseIterable, Codable {
        /// `e^mu / (e^mu + (1/σ − 1))`.
        case exponential
        /// `mu / (mu + (1/σ − 1))`.
        case linear
    }

    public var numTrainTimesteps: Int = 1000
    public var shift: Double = 1.0
    public var useDynamicShifting: Bool = false
    public var baseShift: Double = 0.5
    public var maxShift: Double = 1.15
    public var baseImageSeqLen: Int = 256
    public var maxImageSeqLen: Int = 4096
    public var timeShiftType: TimeShiftType = .exponential

    public init(numTrainTimesteps: Int = 1000, shift: Double = 1.0, useDynamicShifting: Bool = false,
                baseShift: Double = 0.5, maxShift: Double = 1.15, baseImageSeqLen: Int = 256,
                maxImageSeqLen: Int = 4096, timeShiftType: TimeShiftType = .exponential) {
        self.numTrainTimesteps = numTrainTimesteps
        self.shift = shift
        self.useDynamicShifting = useDynamicShifting
        self.baseShift = baseShift
        self.maxShift = maxShift
        self.baseImageSeqLen = baseImageSeqLen
        self.maxImageSeqLen = maxImageSeqLen
        self.timeShiftType = timeShiftType
    }

    enum CodingKeys: String, CodingKey {
        case numTrainTimesteps = "num_train_timesteps", shift
        case useDynamicShifting = "use_dynamic_shifting", baseShift = "base_shift", maxShift = "max_shift"
        case baseImageSeqLen = "base_image_seq_len", maxImageSeqLen = "max_image_seq_len"
        case timeShiftType = "time_shift_type"
    }

    public init(config c: ConfigFile) throws {
        numTrainTimesteps = try c.int("num_train_timesteps", default: 1000)
        shift = try c.double("shift", default: 1.0)
        useDynamicShifting = try c.bool("use_dynamic_shifting", default: false)
        baseShift = try c.double("base_shift", default: 0.5)
        maxShift = try c.double("max_shift", default: 1.15)
        baseImageSeqLen = try c.int("base_image_seq_len", default: 256)
        maxImageSeqLen = try c.int("max_image_seq_len", default: 4096)
        timeShiftType = try c.choice("time_shift_type", default: TimeShiftType.exponential)
        if useDynamicShifting && maxImageSeqLen == baseImageSeqLen {
            throw c.invalid("max_image_seq_len", "must differ from base_image_seq_len \(baseImageSeqLen) (calculate_shift divides by their difference)")
        }
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
        try c.encode(useDynamicShifting, forKey: .useDynamicShifting)
        try c.encode(baseShift, forKey: .baseShift)
        try c.encode(maxShift, forKey: .maxShift)
        try c.encode(baseImageSeqLen, forKey: .baseImageSeqLen)
        try c.encode(maxImageSeqLen, forKey: .maxImageSeqLen)
        try c.encode(timeShiftType, forKey: .timeShiftType)
    }

    /// FluxPipeline's `calculate_shift(image_seq_len, …)` with this config's `base_image_seq_len`,
    /// `max_image_seq_len`, `base_shift` and `max_shift` (as the pipeline reads them from the scheduler config).
    public func mu(imageSequenceLength: Int) -> Double {
        FlowMatchEulerDiscreteScheduler.calculateShift(imageSequenceLength: imageSequenceLength,
                                                       baseSequenceLength: baseImageSeqLen,
                                                       maxSequenceLength: maxImageSeqLen,
                                                       baseShift: baseShift, maxShift: maxShift)
    }
}

/// diffusers' `FlowMatchEulerDiscreteScheduler` after `set_timesteps`: the Euler step `x + (σ_next − σ)·v` of
/// the rectified-flow ODE, `x_σ = (1 − σ)·x₀ + σ·ε`, velocity `v = ε − x₀`.
///
/// Two grids, each diffusers' exactly:
/// - `init(config:numInferenceSteps:mu:)` is `set_timesteps(n, mu=mu)`: a double linspace of timesteps from
///   σ_max·N to σ_min·N, back to sigmas, shifted in double — by `shift` (applied twice overall: the
///   constructor shifts the training sigmas, so σ_min is already shifted) or, with `use_dynamic_shifting`, by
///   the time shift with `mu` (the constructor then leaves the training sigmas unshifted).
/// - `init(config:sigmas:mu:)` is `set_timesteps(sigmas=sigmas, mu=mu)`: the given sigmas in float32, shifted
///   in float32. `flux(config:numInferenceSteps:imageSequenceLength:)` is what FluxPipeline passes:
///   sigmas `linspace(1, 1/n, n)` and mu = `calculate_shift(image_seq_len, …)` from the config.
/// Timesteps are σ·N in float32; a terminal σ = 0 is appended.
///
/// Deterministic only: `noiseStd` is 0 and `noise` is ignored. diffusers returns no clean estimate;
/// `predictedOriginal` is `x − σ·v`. State index `i` is at `sigmas[i]`, index `stepCount` at σ = 0.
public struct FlowMatchEulerDiscreteScheduler: DenoisingScheduler {
    public let config: FlowMatchEulerDiscreteConfig
    public let numInferenceSteps: Int
    public let timesteps: [Float]
    /// One sigma per timestep plus the final 0.
    public let sigmas: [Float]

    public var stepCount: Int { timesteps.count }
    public var initNoiseSigma: Float { 1 }

    /// `set_timesteps(numInferenceSteps, mu=mu)`; `mu` is required with `use_dynamic_shifting` and unused
    /// without it.
    public init(config: FlowMatchEulerDiscreteConfig, numInferenceSteps: Int, mu: Double? = nil) throws(SchedulerConfigError) {
        guard numInferenceSteps >= 1 else { throw SchedulerConfigError("\(numInferenceSteps) steps: at least 1 is needed") }
        let shift = try Self.shiftRule(config, mu: mu)
        let n = config.numTrainTimesteps
        guard n >= 1 else { throw SchedulerConfigError("num_train_timesteps \(n) must be at least 1") }
        // Constructor: float32 training sigmas t/N for t = N…1, shifted in float32 unless shifting is dynamic.
        let shift32 = Float(config.shift), shiftMinus32 = Float(config.shift - 1)
        func trainSigma(_ t: Int) -> Float {
            let s = Float(t) / Float(n)
            return config.useDynamicShifting ? s : shift32 * s / (1 + shiftMinus32 * s)
        }
        let sigmaMax = Double(trainSigma(n)), sigmaMin = Double(trainSigma(1))
        // set_timesteps: a double linspace of timesteps, back to sigmas, shifted in double.
        let grid = NumericCompat.numpyLinspace(sigmaMax * Double(n), sigmaMin * Double(n), numInferenceSteps)
        self.init(config: config, shiftedSigmas: grid.map { Float(shift.apply(double: $0 / Double(n))) },
                  numInferenceSteps: numInferenceSteps)
    }

    /// `set_timesteps(sigmas=sigmas, mu=mu)`: the sigmas (one per step, from 1 down towards 0) rounded to
    /// float32 and shifted in float32 (by `mu` under dynamic shifting, else by `shift`).
    public init(config: FlowMatchEulerDiscreteConfig, sigmas: [Double], mu: Double? = nil) throws(SchedulerConfigError) {
        guard !sigmas.isEmpty else { throw SchedulerConfigError("no sigmas given: at least one step is needed") }
        guard sigmas.allSatisfy({ $0.isFinite && $0 > 0 && $0 <= 1 }) else {
            throw SchedulerConfigError("sigmas must lie in (0, 1], got \(sigmas)")
        }
        let shift = try Self.shiftRule(config, mu: mu)
        self.init(config: config, shiftedSigmas: sigmas.map { shift.apply(float: Float($0)) },
                  numInferenceSteps: sigmas.count)
    }

    /// The grid FluxPipeline sets: sigmas `np.linspace(1.0, 1/n, n)` and mu from `calculate_shift` of the
    /// packed image sequence length (`(H/16)·(W/16)` tokens for an H×W image) with the config's sequence
    /// lengths and shifts.
    public static func flux(config: FlowMatchEulerDiscreteConfig, numInferenceSteps n: Int,
                            imageSequenceLength: Int) throws(SchedulerConfigError) -> FlowMatchEulerDiscreteScheduler {
        guard n >= 1 else { throw SchedulerConfigError("\(n) steps: at least 1 is needed") }
        guard imageSequenceLength >= 1 else {
            throw SchedulerConfigError("image sequence length \(imageSequenceLength) must be at least 1")
        }
        return try FlowMatchEulerDiscreteScheduler(config: config, sigmas: NumericCompat.numpyLinspace(1, 1 / Double(n), n),
                                                   mu: config.mu(imageSequenceLength: imageSequenceLength))
    }

    /// FluxPipeline's `calculate_shift`: mu linear in the image sequence length, `base_shift` at
    /// `baseSequenceLength` tokens and `max_shift` at `maxSequenceLength` (extrapolated outside), in double.
    public static func calculateShift(imageSequenceLength: Int, baseSequenceLength: Int = 256, maxSequenceLength: Int = 4096,
                                      baseShift: Double = 0.5, maxShift: Double = 1.15) -> Double {
        let m = (maxShift - baseShift) / Double(maxSequenceLength - baseSequenceLength)
        let b = baseShift - m * Double(baseSequenceLength)
        return Double(imageSequenceLength) * m + b
    }

    /// The Euler ODE on another scheduler's grid: `sigmas` (one per step, decreasing, in (0, 1], plus the final 0)
    /// and the timesteps the model is given there — e.g. WanPipeline's UniPC grid, so that a search's deterministic
    /// form steps the sigmas the checkpoint samples with (the flow SDE's `noise == nil` step on the same grid).
    public init(grid sigmas: [Float], timesteps: [Float]) throws(SchedulerConfigError) {
        guard !timesteps.isEmpty, sigmas.count == timesteps.count + 1, sigmas.last == 0 else {
            throw SchedulerConfigError("Euler grid: \(timesteps.count) timesteps need \(timesteps.count + 1) sigmas ending in 0, got \(sigmas.count)")
        }
        for i in 0..<timesteps.count where !(sigmas[i] > sigmas[i + 1] && sigmas[i] <= 1) {
            throw SchedulerConfigError("Euler grid: sigmas must decrease within (0, 1], got \(sigmas)")
        }
        config = FlowMatchEulerDiscreteConfig()
        numInferenceSteps = timesteps.count
        self.timesteps = timesteps
        self.sigmas = sigmas
    }

    private init(config: FlowMatchEulerDiscreteConfig, shiftedSigmas: [Float], numInferenceSteps: Int) {
        self.config = config
        self.numInferenceSteps = numInferenceSteps
        timesteps = shiftedSigmas.map { $0 * Float(config.numTrainTimesteps) }
        sigmas = shiftedSigmas + [0]
    }

    /// How `set_timesteps` bends its sigmas: by `shift`, or by the time shift with mu.
    private enum ShiftRule {
        case shift(Double)
        case exponential(mu: Double)
        case linear(mu: Double)

        /// In double (the linspace-timesteps path).
        func apply(double s: Double) -> Double {
            switch self {
            case .shift(let k): return k * s / (1 + (k - 1) * s)
            case .exponential(let mu): return Foundation.exp(mu) / (Foundation.exp(mu) + (1 / s - 1))
            case .linear(let mu): return mu / (mu + (1 / s - 1))
            }
        }

        /// In float32, operation by operation as numpy evaluates it on a float32 array with Python scalars.
        func apply(float s: Float) -> Float {
            switch self {
            case .shift(let k): return Float(k) * s / (1 + Float(k - 1) * s)
            case .exponential(let mu): let e = Float(Foundation.exp(mu)); return e / (e + (1 / s - 1))
            case .linear(let mu): let m = Float(mu); return m / (m + (1 / s - 1))
            }
        }
    }

    private static func shiftRule(_ config: FlowMatchEulerDiscreteConfig, mu: Double?) throws(SchedulerConfigError) -> ShiftRule {
        guard config.useDynamicShifting else { return .shift(config.shift) }
        guard let mu, mu.isFinite else {
            throw SchedulerConfigError("use_dynamic_shifting is true: set_timesteps needs a finite mu "
                                       + "(FluxPipeline's calculate_shift of the image sequence length), got \(mu.map { "\($0)" } ?? "none")")
        }
        return config.timeShiftType == .exponential ? .exponential(mu: mu) : .linear(mu: mu)
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
