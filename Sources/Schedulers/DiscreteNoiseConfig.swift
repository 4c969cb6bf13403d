import ModelIO

/// The `scheduler_config.json` fields diffusers' discrete variance-preserving schedulers (DDPMScheduler,
/// DDIMScheduler, EulerDiscreteScheduler) share — the training noise schedule, what the model predicts and how the
/// inference grid is spaced — with diffusers' defaults. `DDPMConfig`, `DDIMConfig` and `EulerDiscreteConfig` each
/// hold one and expose its fields as their own (`config.betaEnd`).
///
/// Decoding throws for what none of them implements: `rescale_betas_zero_snr`, `prediction_type: flow_prediction`
/// and beta schedules other than the three of `BetaSchedule`.
public struct DiscreteNoiseConfig: Sendable, Equatable, Encodable {
    public var numTrainTimesteps: Int = 1000
    public var betaStart: Double = 0.0001
    public var betaEnd: Double = 0.02
    public var betaSchedule: BetaSchedule = .linear
    public var trainedBetas: [Float]? = nil
    public var predictionType: PredictionType = .epsilon
    /// diffusers' default is `leading` for DDPM and DDIM, `linspace` for Euler.
    public var timestepSpacing: TimestepSpacing
    public var stepsOffset: Int = 0

    public init(numTrainTimesteps: Int = 1000, betaStart: Double = 0.0001, betaEnd: Double = 0.02,
                betaSchedule: BetaSchedule = .linear, trainedBetas: [Float]? = nil, predictionType: PredictionType = .epsilon,
                timestepSpacing: TimestepSpacing, stepsOffset: Int = 0) {
        self.numTrainTimesteps = numTrainTimesteps
        self.betaStart = betaStart
        self.betaEnd = betaEnd
        self.betaSchedule = betaSchedule
        self.trainedBetas = trainedBetas
        self.predictionType = predictionType
        self.timestepSpacing = timestepSpacing
        self.stepsOffset = stepsOffset
    }

    enum CodingKeys: String, CodingKey {
        case numTrainTimesteps = "num_train_timesteps", betaStart = "beta_start", betaEnd = "beta_end"
        case betaSchedule = "beta_schedule", trainedBetas = "trained_betas", predictionType = "prediction_type"
        case timestepSpacing = "timestep_spacing", stepsOffset = "steps_offset"
    }

    /// Reads the shared fields; `scheduler` names the class in the flow-prediction error.
    public init(config c: ConfigFile, defaultSpacing: TimestepSpacing, scheduler: String) throws {
        numTrainTimesteps = try c.int("num_train_timesteps", default: 1000)
        betaStart = try c.double("beta_start", default: 0.0001)
        betaEnd = try c.double("beta_end", default: 0.02)
        betaSchedule = try c.choice("beta_schedule", default: BetaSchedule.linear)
        trainedBetas = try c.optionalDoubles("trained_betas")?.map(Float.init)
        predictionType = try c.choice("prediction_type", default: PredictionType.epsilon)
        timestepSpacing = try c.choice("timestep_spacing", default: defaultSpacing)
        stepsOffset = try c.int("steps_offset", default: 0)
        try c.requireBool("rescale_betas_zero_snr", false, else: "zero-terminal-SNR rescaling")
        if predictionType == .flowPrediction {
            throw c.invalid("prediction_type", "must be epsilon, v_prediction or sample (\(scheduler) does not take flow_prediction)")
        }
    }

    /// The training noise schedule these fields describe.
    public var noiseSchedule: DiffusionNoiseSchedule {
        if let trainedBetas { return DiffusionNoiseSchedule(trainedBetas: trainedBetas) }
        return DiffusionNoiseSchedule(trainTimesteps: numTrainTimesteps, betaStartDecimal: betaStart, betaEndDecimal: betaEnd,
                                      betaSchedule: betaSchedule)
    }
}
