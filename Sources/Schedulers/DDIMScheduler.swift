import Foundation
import ModelIO
import TensorCore

/// diffusers' `DDIMScheduler` configuration; keys are `scheduler_config.json`'s, defaults diffusers'
/// (note diffusers' defaults `clip_sample = true`, `set_alpha_to_one = true`, `timestep_spacing = leading`).
///
/// Decoding throws for options not implemented: `thresholding`, `rescale_betas_zero_snr`, beta schedules
/// other than the three of `BetaSchedule`, `flow_prediction`.
@dynamicMemberLookup
public struct DDIMConfig: DiffusersSchedulerConfig, Equatable {
    /// The fields shared with the other discrete VP schedulers (readable and writable as this config's own).
    public var noise: DiscreteNoiseConfig
    public var clipSample: Bool = true
    public var clipSampleRange: Double = 1.0
    public var setAlphaToOne: Bool = true

    public init(numTrainTimesteps: Int = 1000, betaStart: Double = 0.0001, betaEnd: Double = 0.02,
                betaSchedule: BetaSchedule = .linear, trainedBetas: [Float]? = nil, clipSample: Bool = true,
                clipSampleRange: Double = 1.0, setAlphaToOne: Bool = true, stepsOffset: Int = 0,
                predictionType: PredictionType = .epsilon, timestepSpacing: TimestepSpacing = .leading) {
        noise = DiscreteNoiseConfig(numTrainTimesteps: numTrainTimesteps, betaStart: betaStart, betaEnd: betaEnd, betaSchedule: betaSchedule,
                                    trainedBetas: trainedBetas, predictionType: predictionType, timestepSpacing: timestepSpacing,
                                    stepsOffset: stepsOffset)
        self.clipSample = clipSample
        self.clipSampleRange = clipSampleRange
        self.setAlphaToOne = setAlphaToOne
    }

    public subscript<T>(dynamicMember path: WritableKeyPath<DiscreteNoiseConfig, T>) -> T {
        get { noise[keyPath: path] }
        set { noise[keyPath: path] = newValue }
    }

    enum CodingKeys: String, CodingKey {
        case clipSample = "clip_sample", clipSampleRange = "clip_sample_range", setAlphaToOne = "set_alpha_to_one"
    }

    public init(config c: ConfigFile) throws {
        noise = try DiscreteNoiseConfig(config: c, defaultSpacing: .leading, scheduler: "DDIM")
        clipSample = try c.bool("clip_sample", default: true)
        clipSampleRange = try c.double("clip_sample_range", default: 1.0)
        setAlphaToOne = try c.bool("set_alpha_to_one", default: true)
        try c.requireBool("thresholding", false, else: "dynamic thresholding")
    }

    public func encode(to encoder: any Encoder) throws {
        try noise.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(clipSample, forKey: .clipSample)
        try c.encode(clipSampleRange, forKey: .clipSampleRange)
        try c.encode(setAlphaToOne, forKey: .setAlphaToOne)
    }

    /// The training noise schedule this config describes.
    public var noiseSchedule: DiffusionNoiseSchedule { noise.noiseSchedule }
}

/// diffusers' `DDIMScheduler` after `set_timesteps(numInferenceSteps)`, with `eta` fixed at construction
/// (diffusers passes it to every `step`). `use_clipped_model_output` is false, thresholding unsupported.
///
/// Like diffusers, step `i` goes from training timestep `t = timesteps[i]` to `t − ⌊T/n⌋` (ᾱ of that, or
/// `final_alpha_cumprod` when negative), which with `trailing`/`linspace` spacing need not be the next grid
/// timestep: the next step then reads the sample as being at `timesteps[i + 1]`, as diffusers does.
/// `noiseStd(stepIndex:)` is diffusers' η·sqrt(variance); `noise == nil` is the η = 0 update.
///
/// State index `i < stepCount` is at ᾱ of `timesteps[i]` (the level the step reading it assumes); index
/// `stepCount` is at the level the last step targets, `final_alpha_cumprod` (1, or ᾱ_0 when
/// `set_alpha_to_one` is false) unless the last step lands on a training timestep ≥ 0 (trailing spacing
/// with T mod n ≠ 0, where it is ᾱ of that timestep).
public struct DDIMScheduler: DenoisingScheduler {
    public let config: DDIMConfig
    public let numInferenceSteps: Int
    public let eta: Float
    public let noiseSchedule: DiffusionNoiseSchedule
    /// The integer training timesteps of the grid.
    public let integerTimesteps: [Int]
    public let timesteps: [Float]
    /// diffusers' `final_alpha_cumprod`.
    public let finalAlphaCumprod: Float

    public var stepCount: Int { integerTimesteps.count }
    public var initNoiseSigma: Float { 1 }

    public init(config: DDIMConfig, numInferenceSteps: Int, eta: Float = 0) {
        let schedule = config.noiseSchedule
        precondition(numInferenceSteps >= 1 && numInferenceSteps <= schedule.trainTimesteps,
                     "DDIMScheduler: numInferenceSteps must be in 1...\(schedule.trainTimesteps)")
        precondition(eta >= 0, "DDIMScheduler: eta must be non-negative")
        self.config = config
        self.numInferenceSteps = numInferenceSteps
        self.eta = eta
        noiseSchedule = schedule
        finalAlphaCumprod = config.setAlphaToOne ? 1 : schedule.alphasCumprod[0]
        integerTimesteps = NumericCompat.integerGrid(spacing: config.timestepSpacing,
                                                     trainTimesteps: schedule.trainTimesteps,
                                                     steps: numInferenceSteps, offset: config.stepsOffset)
        timesteps = integerTimesteps.map { Float($0) }
    }

    /// ᾱ at training timestep `t`, or `final_alpha_cumprod` for negative `t`.
    private func alpha(at t: Int) -> Float { t >= 0 ? noiseSchedule.alphasCumprod[t] : finalAlphaCumprod }

    /// The training timestep step `i` moves to (may be negative: the final level).
    private func previousTimestep(_ i: Int) -> Int {
        integerTimesteps[i] - noiseSchedule.trainTimesteps / numInferenceSteps
    }

    /// ᾱ of the state at index `i` (0...stepCount), as described on the type.
    public func alphaCumprod(atIndex i: Int) -> Float {
        precondition(i >= 0 && i <= stepCount, "DDIMScheduler: state index \(i) out of 0...\(stepCount)")
        return i == stepCount ? alpha(at: previousTimestep(stepCount - 1)) : alpha(at: integerTimesteps[i])
    }

    public func scaleModelInput(_ sample: Tensor, stepIndex: Int) -> Tensor { sample }

    /// diffusers' `_get_variance(t, prev_t)` for step `i`.
    private func variance(_ i: Int) -> Float {
        let alphaProd = alpha(at: integerTimesteps[i]), alphaPrev = alpha(at: previousTimestep(i))
        return ((1 - alphaPrev) / (1 - alphaProd)) * (1 - alphaProd / alphaPrev)
    }

    public func noiseStd(stepIndex i: Int) -> Float {
        checkStepIndex(i, stepCount)
        return eta > 0 ? eta * variance(i).squareRoot() : 0
    }

    public func step(modelOutput: Tensor, stepIndex i: Int, sample: Tensor, noise: Tensor?) -> SchedulerStepOutput {
        checkStepIndex(i, stepCount)
        let alphaProd = alpha(at: integerTimesteps[i]), alphaPrev = alpha(at: previousTimestep(i))
        var original = VPPrediction.original(modelOutput, sample: sample, alphaProd: alphaProd,
                                             type: config.predictionType)
        let eps = VPPrediction.epsilon(modelOutput, sample: sample, alphaProd: alphaProd, type: config.predictionType)
        if config.clipSample {
            let r = Float(config.clipSampleRange)
            original = elementwise(original) { Swift.min(Swift.max($0, -r), r) }
        }
        let stochastic = noise != nil && eta > 0
        let std = stochastic ? noiseStd(stepIndex: i) : 0
        let next = VPPrediction.ddimUpdate(original: original, epsilon: eps, alphaPrev: alphaPrev, std: std,
                                           noise: stochastic ? noise : nil)
        return SchedulerStepOutput(sample: next, predictedOriginal: original)
    }

    public func renoise(_ sample: Tensor, from: Int, to: Int, noise: Tensor) -> Tensor {
        checkRenoiseIndices(from, to, stepCount)
        return vpRenoise(sample, alphaFrom: alphaCumprod(atIndex: from), alphaTo: alphaCumprod(atIndex: to), noise: noise)
    }

    /// diffusers' `add_noise`: `sqrt(ᾱ_t)·original + sqrt(1 − ᾱ_t)·noise` at integer training timestep `t`.
    public func addNoise(original: Tensor, noise: Tensor, timestep: Float) -> Tensor {
        vpAddNoise(original: original, noise: noise, timestep: timestep, schedule: noiseSchedule)
    }
}
