import ModelIO

/// diffusers' `UniPCMultistepScheduler` configuration for rectified-flow models (Wan 2.1): flow sigmas,
/// `prediction_type: flow_prediction`, `predict_x0`, read from `scheduler_config.json`.
///
/// `init()` is the published Wan2.1-T2V config (flow_shift 3, the 480p value; 720p uses 5). `init(config:)`
/// reads every key diffusers writes; missing keys take diffusers' defaults, so a config without
/// `use_flow_sigmas: true` and `prediction_type: flow_prediction` (diffusers' VP defaults) is refused.
/// Keys only the VP path reads (`beta_*`, `trained_betas`, `rescale_betas_zero_snr`, `timestep_spacing`,
/// `steps_offset`, `sigma_min`, `sigma_max`, `time_shift_type` without dynamic shifting, the thresholding
/// parameters) are type-checked where typed and otherwise ignored, as diffusers' flow-sigma path ignores them.
/// Refused (the error names the key): thresholding, `predict_x0: false`, `solver_p`, Karras/exponential/beta
/// sigmas, dynamic shifting, `shift_terminal`, `solver_order` outside 1…3, and the combinations for which
/// diffusers' last step is NaN or infinite: bh1 with `final_sigmas_type: zero`; `lower_order_final: false` with
/// order ≥ 2 and final zero, or order 3 and `sigma_min`.
public struct UniPCMultistepConfig: DiffusersSchedulerConfig, Equatable {
    /// diffusers' `solver_type`: B(h) = h (`bh1`) or e^h − 1 (`bh2`). diffusers maps `midpoint`, `heun` and
    /// `logrho` to `bh2`; so does decoding.
    public enum SolverType: String, Sendable, CaseIterable, Codable {
        case bh1, bh2
    }

    public var numTrainTimesteps: Int
    public var solverOrder: Int
    public var solverType: SolverType
    public var lowerOrderFinal: Bool
    /// Steps whose predictor output is not corrected: the corrector applied at step i + 1 is skipped for i here.
    public var disableCorrector: [Int]
    public var flowShift: Double
    public var finalSigmasType: FinalSigmasType

    /// The published Wan2.1-T2V scheduler config (flow_shift 3).
    public init() {
        self.init(numTrainTimesteps: 1000, solverOrder: 2, solverType: .bh2, lowerOrderFinal: true,
                  disableCorrector: [], flowShift: 3, finalSigmasType: .zero)
    }

    public init(numTrainTimesteps: Int = 1000, solverOrder: Int = 2, solverType: SolverType = .bh2,
                lowerOrderFinal: Bool = true, disableCorrector: [Int] = [], flowShift: Double,
                finalSigmasType: FinalSigmasType = .zero) {
        self.numTrainTimesteps = numTrainTimesteps
        self.solverOrder = solverOrder
        self.solverType = solverType
        self.lowerOrderFinal = lowerOrderFinal
        self.disableCorrector = disableCorrector
        self.flowShift = flowShift
        self.finalSigmasType = finalSigmasType
    }

    public init(config c: ConfigFile) throws {
        numTrainTimesteps = try c.int("num_train_timesteps", default: 1000)
        if numTrainTimesteps < 1 { throw c.invalid("num_train_timesteps", "must be at least 1") }
        solverOrder = try c.int("solver_order", default: 2)
        if !(1...3).contains(solverOrder) { throw c.invalid("solver_order", "must be 1, 2 or 3") }
        let type = try c.string("solver_type", default: "bh2", oneOf: ["bh1", "bh2", "midpoint", "heun", "logrho"])
        solverType = type == "bh1" ? .bh1 : .bh2
        lowerOrderFinal = try c.bool("lower_order_final", default: true)
        disableCorrector = try c.ints("disable_corrector", default: [])
        flowShift = try c.double("flow_shift", default: 1.0)
        if !(flowShift.isFinite && flowShift > 0) { throw c.invalid("flow_shift", "must be a finite number > 0") }
        finalSigmasType = try c.choice("final_sigmas_type", default: FinalSigmasType.zero)

        let prediction = try c.choice("prediction_type", default: PredictionType.epsilon)
        if prediction != .flowPrediction {
            throw c.invalid("prediction_type", "must be \"flow_prediction\" (not implemented: VP UniPC)"
                            + c.defaultNote("prediction_type", "epsilon"))
        }
        if !(try c.bool("use_flow_sigmas", default: false)) {
            throw c.invalid("use_flow_sigmas", "must be true (not implemented: VP sigmas)"
                            + c.defaultNote("use_flow_sigmas", false))
        }
        try c.requireBool("predict_x0", true, else: "predict_x0 false, which diffusers refuses for flow_prediction")
        try c.requireBool("thresholding", false, else: "dynamic thresholding")
        try c.requireNull("solver_p", else: "an external predictor solver_p")
        try c.requireBool("use_karras_sigmas", false, else: "Karras sigmas")
        try c.requireBool("use_exponential_sigmas", false, else: "exponential sigmas")
        try c.requireBool("use_beta_sigmas", false, else: "beta sigmas")
        try c.requireBool("use_dynamic_shifting", false, else: "dynamic shifting")
        try c.requireNull("shift_terminal", else: "shift_terminal")
        // Read by the VP path only; checked for type so that a malformed file still fails.
        _ = try c.double("beta_start", default: 0.0001)
        _ = try c.double("beta_end", default: 0.02)
        _ = try c.choice("beta_schedule", default: BetaSchedule.linear)
        _ = try c.optionalDoubles("trained_betas")
        _ = try c.bool("rescale_betas_zero_snr", default: false)
        _ = try c.double("dynamic_thresholding_ratio", default: 0.995)
        _ = try c.double("sample_max_value", default: 1.0)
        _ = try c.choice("timestep_spacing", default: TimestepSpacing.linspace)
        _ = try c.int("steps_offset", default: 0)
        _ = try c.string("time_shift_type", default: "exponential", oneOf: ["exponential", "linear"])

        if let p = combinationProblem { throw c.invalid(p.key, p.reason) }
    }

    /// The key and the reason when diffusers' last step would be NaN or infinite for these options.
    var combinationProblem: (key: String, reason: String)? {
        if solverType == .bh1 && finalSigmasType == .zero {
            return ("solver_type", "must be bh2 with final_sigmas_type zero (bh1's B(h) = h is infinite at σ = 0, "
                    + "so diffusers' last step is NaN; use bh2 or final_sigmas_type sigma_min)")
        }
        if !lowerOrderFinal && solverOrder >= 2 && finalSigmasType == .zero {
            return ("lower_order_final", "must be true with solver_order \(solverOrder) and final_sigmas_type zero "
                    + "(a multistep update to σ = 0 is infinite in diffusers)")
        }
        if !lowerOrderFinal && solverOrder >= 3 {
            return ("lower_order_final", "must be true with solver_order 3 (diffusers' last update with "
                    + "final_sigmas_type sigma_min solves a singular system)")
        }
        return nil
    }

    enum CodingKeys: String, CodingKey {
        case numTrainTimesteps = "num_train_timesteps", solverOrder = "solver_order", solverType = "solver_type"
        case lowerOrderFinal = "lower_order_final", disableCorrector = "disable_corrector", flowShift = "flow_shift"
        case finalSigmasType = "final_sigmas_type", predictionType = "prediction_type"
        case useFlowSigmas = "use_flow_sigmas", predictX0 = "predict_x0"
    }

    /// Writes a UniPCMultistepScheduler config that decodes back to this value.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(numTrainTimesteps, forKey: .numTrainTimesteps)
        try c.encode(solverOrder, forKey: .solverOrder)
        try c.encode(solverType, forKey: .solverType)
        try c.encode(lowerOrderFinal, forKey: .lowerOrderFinal)
        try c.encode(disableCorrector, forKey: .disableCorrector)
        try c.encode(flowShift, forKey: .flowShift)
        try c.encode(finalSigmasType, forKey: .finalSigmasType)
        try c.encode(PredictionType.flowPrediction, forKey: .predictionType)
        try c.encode(true, forKey: .useFlowSigmas)
        try c.encode(true, forKey: .predictX0)
    }
}
