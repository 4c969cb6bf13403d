import Foundation
import ModelIO
import TensorCore

/// The fixed variances diffusers' DDPMScheduler supports here (`variance_type`). The learned variants and
/// `fixed_large_log` (whose std is the square root of a log, NaN in diffusers) are not supported.
public enum DDPMVarianceType: String, Codable, Sendable, CaseIterable {
    /// Posterior variance β̃_t = (1 − ᾱ_prev)/(1 − ᾱ_t)·β_t, clamped below at 1e-20.
    case fixedSmall = "fixed_small"
    /// The same std, computed as exp(½·log β̃_t).
    case fixedSmallLog = "fixed_small_log"
    /// β_t = 1 − ᾱ_t/ᾱ_prev.
    case fixedLarge = "fixed_large"
}

/// diffusers' `DDPMScheduler` configuration; keys are `scheduler_config.json`'s, defaults diffusers'.
///
/// Decoding throws for options not implemented: `thresholding`, `rescale_betas_zero_snr`, learned
/// variances, beta schedules other than the three of `BetaSchedule`, `flow_prediction`.
@dynamicMemberLookup
public struct DDPMConfig: DiffusersSchedulerConfig, Equatable {
    /// The fields shared with the other discrete VP schedulers (readable and writable as this config's own).
    public var noise: DiscreteNoiseConfig
    public var varianceType: DDPMVarianceType = .fixedSmall
    public var clipSample: Bool = true
    public var clipSampleRange: Double = 1.0

    public init(numTrainTimesteps: Int = 1000, betaStart: Double = 0.0001, betaEnd: Double = 0.02,
                betaSchedule: BetaSchedule = .linear, trainedBetas: [Float]? = nil,
                varianceType: DDPMVarianceType = .fixedSmall, clipSample: Bool = true,
                clipSampleRange: Double = 1.0, predictionType: PredictionType = .epsilon,
                timestepSpacing: TimestepSpacing = .leading, stepsOffset: Int = 0) {
        noise = DiscreteNoiseConfig(numTrainTimesteps: numTrainTimesteps, betaStart: betaStart, betaEnd: betaEnd, betaSchedule: betaSchedule,
                                    trainedBetas: trainedBetas, predictionType: predictionType, timestepSpacing: timestepSpacing,
                                    stepsOffset: stepsOffset)
        self.varianceType = varianceType
        self.clipSample = clipSample
        self.clipSampleRange = clipSampleRange
    }

    public subscript<T>(dynamicMember path: WritableKeyPath<DiscreteNoiseConfig, T>) -> T {
        get { noise[keyPath: path] }
        set { noise[keyPath: path] = newValue }
    }

    enum CodingKeys: String, CodingKey {
        case varianceType = "variance_type", clipSample = "clip_sample", clipSampleRange = "clip_sample_range"
    }

    public init(config c: ConfigFile) throws {
        noise = try DiscreteNoiseConfig(config: c, defaultSpacing: .leading, scheduler: "DDPM")
        varianceType = try c.choice("variance_type", default: DDPMVarianceType.fixedSmall)
        clipSample = try c.bool("clip_sample", default: true)
        clipSampleRange = try c.double("clip_sample_range", default: 1.0)
        try c.requireBool("thresholding", false, else: "dynamic thresholding")
    }

    public func encode(to encoder: any Encoder) throws {
        try noise.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(varianceType, forKey: .varianceType)
        try c.encode(clipSample, forKey: .clipSample)
        try c.encode(clipSampleRange, forKey: .clipSampleRange)
    }

    /// The training noise schedule this config describes.
    public var noiseSchedule: DiffusionNoiseSchedule { noise.noiseSchedule }
}


/// diffusers' `DDPMScheduler` after `set_timesteps(numInferenceSteps)` (ancestral sampling).
///
/// Stochastic step: the DDPM posterior mean plus `noiseStd(stepIndex:)·noise`, exactly as diffusers' `step`
/// with that noise drawn by its generator; no noise is added at training timestep 0, and when the next
/// level is ᾱ = 1 the fixed-small std is diffusers' clamp value 1e-10. Deterministic step (`noise == nil`):
/// the DDIM η = 0 update over the same timesteps (ᾱ_prev of the next grid timestep, 1 after the last), which
/// is *not* the posterior mean. Custom timesteps and learned variances are not supported.
///
/// State index `i < stepCount` is at ᾱ of `timesteps[i]`; index `stepCount` is the clean level ᾱ = 1.
public struct DDPMScheduler: DenoisingScheduler {
    public let config: DDPMConfig
    public let numInferenceSteps: Int
    public let noiseSchedule: DiffusionNoiseSchedule
    /// The integer training timesteps of the grid.
    public let integerTimesteps: [Int]
    public let timesteps: [Float]

    public var stepCount: Int { integerTimesteps.count }
    public var initNoiseSigma: Float { 1 }

    public init(config: DDPMConfig, numInferenceSteps: Int) {
        let schedule = config.noiseSchedule
        precondition(numInferenceSteps >= 1 && numInferenceSteps <= schedule.trainTimesteps,
                     "DDPMScheduler: numInferenceSteps must be in 1...\(schedule.trainTimesteps)")
        self.config = config
        self.numInferenceSteps = numInferenceSteps
        noiseSchedule = schedule
        integerTimesteps = NumericCompat.integerGrid(spacing: config.timestepSpacing,
                                                     trainTimesteps: schedule.trainTimesteps,
                                                     steps: numInferenceSteps, offset: config.stepsOffset)
        timesteps = integerTimesteps.map { Float($0) }
    }

    /// ᾱ of the state at index `i` (0...stepCount); 1 at `stepCount`.
    public func alphaCumprod(atIndex i: Int) -> Float {
        precondition(i >= 0 && i <= stepCount, "DDPMScheduler: state index \(i) out of 0...\(stepCount)")
        return i == stepCount ? 1 : noiseSchedule.alphasCumprod[integerTimesteps[i]]
    }

    public func scaleModelInput(_ sample: Tensor, stepIndex: Int) -> Tensor { sample }

    public func noiseStd(stepIndex i: Int) -> Float {
        checkStepIndex(i, stepCount)
        if integerTimesteps[i] <= 0 { return 0 }
        let alphaProd = alphaCumprod(atIndex: i), alphaPrev = alphaCumprod(atIndex: i + 1)
        let currentBeta = 1 - alphaProd / alphaPrev
        let variance = Swift.max((1 - alphaPrev) / (1 - alphaProd) * currentBeta, 1e-20)
        switch config.varianceType {
        case .fixedSmall: return variance.squareRoot()
        case .fixedSmallLog: return exp(0.5 * log(variance))
        case .fixedLarge: return currentBeta.squareRoot()
        }
    }

    public func step(modelOutput: Tensor, stepIndex i: Int, sample: Tensor, noise: Tensor?) -> SchedulerStepOutput {
        checkStepIndex(i, stepCount)
        let alphaProd = alphaCumprod(atIndex: i), alphaPrev = alphaCumprod(atIndex: i + 1)
        var original = VPPrediction.original(modelOutput, sample: sample, alphaProd: alphaProd,
                                             type: config.predictionType)
        if config.clipSample {
            let r = Float(config.clipSampleRange)
            original = elementwise(original) { Swift.min(Swift.max($0, -r), r) }
        }
        guard let noise else {
            let eps = VPPrediction.epsilon(modelOutput, sample: sample, alphaProd: alphaProd,
                                           type: config.predictionType)
            let next = VPPrediction.ddimUpdate(original: original, epsilon: eps, alphaPrev: alphaPrev,
                                               std: 0, noise: nil)
            return SchedulerStepOutput(sample: next, predictedOriginal: original)
        }
        let betaProd = 1 - alphaProd, betaPrev = 1 - alphaPrev
        let currentAlpha = alphaProd / alphaPrev
        let currentBeta = 1 - currentAlpha
        let originalCoeff = (alphaPrev.squareRoot() * currentBeta) / betaProd
        let sampleCoeff = currentAlpha.squareRoot() * betaPrev / betaProd
        let std = noiseStd(stepIndex: i)
        let next: Tensor
        if std > 0 {
            next = elementwise(original, sample, noise) { (x0, x, z) in (originalCoeff * x0 + sampleCoeff * x) + std * z }
        } else {
            next = elementwise(original, sample) { (x0, x) in originalCoeff * x0 + sampleCoeff * x }
        }
        return SchedulerStepOutput(sample: next, predictedOriginal: original)
    }

    public func renoise(_ sample: Tensor, from: Int, to: Int, noise: Tensor) -> Tensor {
        checkRenoiseIndices(from, to, stepCount)
        return vpRenoise(sample, alphaFrom: alphaCumprod(atIndex: from), alphaTo: alphaCumprod(atIndex: to), noise: noise)
    }

    /// diffusers' `add_noise`: `sqrt(ᾱ_t)·original + sqrt(1 − ᾱ_t)·noise` at integer training timestep `t`
    /// (any training timestep, not only grid ones).
    public func addNoise(original: Tensor, noise: Tensor, timestep: Float) -> Tensor {
        vpAddNoise(original: original, noise: noise, timestep: timestep, schedule: noiseSchedule)
    }
}

func vpAddNoise(original: Tensor, noise: Tensor, timestep: Float, schedule: DiffusionNoiseSchedule) -> Tensor {
    let t = Int(timestep)
    precondition(t >= 0 && t < schedule.trainTimesteps, "addNoise: timestep \(timestep) outside the training range")
    let a = schedule.alphasCumprod[t]
    return original.scaled(a.squareRoot(), plus: (1 - a).squareRoot(), times: noise)
}
