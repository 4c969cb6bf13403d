import Foundation
import Testing
import ModelIO
import TensorCore
@testable import Schedulers

// UniPCMultistepScheduler against diffusers 0.42.1 (fixtures from tools/fixtures/make_unipc_fixtures.py).

/// Wan2.1-T2V's published scheduler/scheduler_config.json.
private let wanConfig = """
{
  "_class_name": "UniPCMultistepScheduler",
  "_diffusers_version": "0.42.1",
  "beta_end": 0.02,
  "beta_schedule": "linear",
  "beta_start": 0.0001,
  "disable_corrector": [],
  "dynamic_thresholding_ratio": 0.995,
  "final_sigmas_type": "zero",
  "flow_shift": 3.0,
  "lower_order_final": true,
  "num_train_timesteps": 1000,
  "predict_x0": true,
  "prediction_type": "flow_prediction",
  "rescale_betas_zero_snr": false,
  "sample_max_value": 1.0,
  "shift_terminal": null,
  "sigma_max": null,
  "sigma_min": null,
  "solver_order": 2,
  "solver_p": null,
  "solver_type": "bh2",
  "steps_offset": 0,
  "thresholding": false,
  "time_shift_type": "exponential",
  "timestep_spacing": "linspace",
  "trained_betas": null,
  "use_beta_sigmas": false,
  "use_dynamic_shifting": false,
  "use_exponential_sigmas": false,
  "use_flow_sigmas": true,
  "use_karras_sigmas": false
}
"""

private struct UniPCGrid: Decodable {
    let flowShift: Double
    let finalSigmasType: FinalSigmasType
    let numInferenceSteps: Int
    let sigmas: [Float]
    let timesteps: [Float]

    enum CodingKeys: String, CodingKey {
        case sigmas, timesteps
        case flowShift = "flow_shift", finalSigmasType = "final_sigmas_type", numInferenceSteps = "num_inference_steps"
    }
}

private struct UniPCStep: Decodable {
    let sample: [Float]
    let modelOutput: [Float]
    let prevSample: [Float]
    let x0: [Float]

    enum CodingKeys: String, CodingKey {
        case sample, x0
        case modelOutput = "model_output", prevSample = "prev_sample"
    }
}

private struct UniPCTrace: Decodable {
    let name: String
    private let fixtureConfig: FixtureConfig<UniPCMultistepConfig>
    var config: UniPCMultistepConfig { fixtureConfig.value }
    let numInferenceSteps: Int
    let sigmas: [Float]
    let timesteps: [Float]
    let beginIndex: Int
    let shape: [Int]
    let initialSample: [Float]
    let steps: [UniPCStep]

    enum CodingKeys: String, CodingKey {
        case name, sigmas, timesteps, shape, steps
        case fixtureConfig = "config", numInferenceSteps = "num_inference_steps", beginIndex = "begin_index"
        case initialSample = "initial_sample"
    }
}

private struct Cases<T: Decodable>: Decodable { let cases: [T] }

private func load<T: Decodable>(_ type: T.Type, _ name: String) throws -> [T] {
    guard let url = Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Fixtures/unipc") else {
        throw FixtureError.missing("unipc/\(name)")
    }
    return try JSONDecoder().decode(Cases<T>.self, from: Data(contentsOf: url)).cases
}

private func invalid(_ key: String, _ reason: String) -> ModelIOError {
    .invalidConfigValue(path: "scheduler/scheduler_config.json", key: key, reason: reason)
}

/// The Wan config with `key` set to the JSON text `value`.
private func wan(_ key: String, _ value: String) -> String {
    wanConfig.replacingOccurrences(of: #"(?m)^  "\#(key)": .*?(,?)$"#, with: "  \"\(key)\": \(value)$1",
                                   options: .regularExpression)
}

@Suite("UniPC multistep")
struct UniPCTests {
    @Test func publishedWanConfigDecodes() throws {
        let c = try UniPCMultistepConfig(json: wanConfig)
        #expect(c == UniPCMultistepConfig())
        #expect(c.flowShift == 3 && c.solverOrder == 2 && c.solverType == .bh2 && c.lowerOrderFinal)
        #expect(c.disableCorrector.isEmpty && c.finalSigmasType == .zero && c.numTrainTimesteps == 1000)
        #expect(try UniPCMultistepConfig(json: wan("flow_shift", "5.0")).flowShift == 5)
        #expect(try UniPCMultistepConfig(json: wan("disable_corrector", "[0, 2]")).disableCorrector == [0, 2])
        // diffusers maps the other solver names to bh2.
        #expect(try UniPCMultistepConfig(json: wan("solver_type", #""midpoint""#)).solverType == .bh2)
        // Encoding writes a config that decodes back.
        let custom = UniPCMultistepConfig(solverOrder: 3, lowerOrderFinal: true, disableCorrector: [1], flowShift: 5,
                                          finalSigmasType: .sigmaMin)
        #expect(try UniPCMultistepConfig(json: JSONEncoder().encode(custom)) == custom)
    }

    @Test func badConfigsNameTheKey() {
        let cases: [(String, String, String)] = [
            ("thresholding", "true", "must be false (not implemented: dynamic thresholding), got true"),
            ("use_karras_sigmas", "true", "must be false (not implemented: Karras sigmas), got true"),
            ("use_exponential_sigmas", "true", "must be false (not implemented: exponential sigmas), got true"),
            ("use_beta_sigmas", "true", "must be false (not implemented: beta sigmas), got true"),
            ("use_dynamic_shifting", "true", "must be false (not implemented: dynamic shifting), got true"),
            ("use_flow_sigmas", "false", "must be true (not implemented: VP sigmas), got false"),
            ("prediction_type", #""epsilon""#, #"must be "flow_prediction" (not implemented: VP UniPC), got "epsilon""#),
            ("predict_x0", "false", "must be true (not implemented: predict_x0 false, which diffusers refuses for flow_prediction), got false"),
            ("solver_p", #"{"_class_name": "DPMSolverMultistepScheduler"}"#, "must be null (not implemented: an external predictor solver_p), got {\"_class_name\": \"DPMSolverMultistepScheduler\"}"),
            ("shift_terminal", "0.1", "must be null (not implemented: shift_terminal), got 0.1"),
            ("solver_order", "4", "must be 1, 2 or 3, got 4"),
            ("solver_type", #""bh3""#, #"must be one of "bh1", "bh2", "midpoint", "heun", "logrho", got "bh3""#),
            ("final_sigmas_type", #""one""#, #"must be one of "zero", "sigma_min", got "one""#),
            ("flow_shift", "0", "must be a finite number > 0, got 0"),
            ("num_train_timesteps", "0", "must be at least 1, got 0"),
            ("disable_corrector", "[0.5]", "must be a list of integers, got [0.5]"),
            ("beta_schedule", #""sigmoid""#, #"must be one of "linear", "scaled_linear", "squaredcos_cap_v2", got "sigmoid""#),
        ]
        for (key, value, reason) in cases {
            #expect(throws: invalid(key, reason), "\(key): \(value)") { try UniPCMultistepConfig(json: wan(key, value)) }
        }
        // Combinations for which diffusers' last step is NaN or infinite.
        #expect(throws: invalid("solver_type", "must be bh2 with final_sigmas_type zero (bh1's B(h) = h is infinite at σ = 0, "
                                + #"so diffusers' last step is NaN; use bh2 or final_sigmas_type sigma_min), got "bh1""#)) {
            try UniPCMultistepConfig(json: wan("solver_type", #""bh1""#))
        }
        #expect(throws: invalid("lower_order_final", "must be true with solver_order 2 and final_sigmas_type zero "
                                + "(a multistep update to σ = 0 is infinite in diffusers), got false")) {
            try UniPCMultistepConfig(json: wan("lower_order_final", "false"))
        }
        #expect(throws: invalid("lower_order_final", "must be true with solver_order 3 (diffusers' last update with "
                                + "final_sigmas_type sigma_min solves a singular system), got false")) {
            try UniPCMultistepConfig(json: wan("lower_order_final", "false").replacingOccurrences(of: #""zero""#, with: #""sigma_min""#)
                                     .replacingOccurrences(of: #""solver_order": 2"#, with: #""solver_order": 3"#))
        }
        #expect(throws: Never.self) {
            try UniPCMultistepConfig(json: wan("lower_order_final", "false").replacingOccurrences(of: #""zero""#, with: #""sigma_min""#))
        }
        // diffusers' VP defaults: a config without the flow keys is refused, saying the default was used.
        #expect(throws: invalid("prediction_type", #"must be "flow_prediction" (not implemented: VP UniPC) (prediction_type is not in the file, so the default epsilon is used), got nothing"#)) {
            try UniPCMultistepConfig(json: "{}")
        }
        let bh1 = UniPCMultistepConfig(solverType: .bh1, flowShift: 3)
        #expect(throws: SchedulerConfigError.self) { try UniPCMultistepScheduler(config: bh1, numInferenceSteps: 4) }
    }

    @Test func stepCountsOutsideTheTrainingScheduleAreRefused() throws {
        let c = UniPCMultistepConfig()
        #expect(throws: SchedulerConfigError("0 steps: at least 1 is needed")) {
            try UniPCMultistepScheduler(config: c, numInferenceSteps: 0)
        }
        #expect(throws: SchedulerConfigError("1001 steps exceed num_train_timesteps 1000; use at most 1000")) {
            try UniPCMultistepScheduler(config: c, numInferenceSteps: 1001)
        }
        #expect(try UniPCMultistepScheduler(config: c, numInferenceSteps: 1000).stepCount == 1000)
    }

    @Test func gridsMatchDiffusers() throws {
        let grids = try load(UniPCGrid.self, "grids")
        #expect(grids.count == 37)
        for g in grids {
            let c = UniPCMultistepConfig(flowShift: g.flowShift, finalSigmasType: g.finalSigmasType)
            let s = try UniPCMultistepScheduler(config: c, numInferenceSteps: g.numInferenceSteps)
            let label = "shift \(g.flowShift) \(g.finalSigmasType) n \(g.numInferenceSteps)"
            #expect(s.sigmas == g.sigmas, "\(label): sigmas")
            #expect(s.timesteps == g.timesteps, "\(label): timesteps")
            #expect(s.stepCount == g.numInferenceSteps)
        }
    }

    /// Each trace twice: step by step from diffusers' inputs (the history threaded through our own steps) and as a
    /// rollout from the initial sample on our own outputs.
    @Test func tracesMatchDiffusers() throws {
        let traces = try load(UniPCTrace.self, "traces")
        #expect(traces.count == 22)
        var worst: Float = 0
        for t in traces {
            let s = try UniPCMultistepScheduler(config: t.config, numInferenceSteps: t.numInferenceSteps)
            #expect(s.sigmas == t.sigmas && s.timesteps == t.timesteps, "\(t.name): grid")
            #expect(t.steps.count == s.stepCount - t.beginIndex, "\(t.name): step count")
            func tensor(_ v: [Float]) -> Tensor { Tensor(shape: t.shape, scalars: v) }
            var fromInputs = s.initialHistory(), rollout = s.initialHistory()
            var x = tensor(t.initialSample)
            var worstStep: Float = 0, worstX0: Float = 0, worstRollout: Float = 0
            for (k, r) in t.steps.enumerated() {
                let i = t.beginIndex + k
                let out = s.step(modelOutput: tensor(r.modelOutput), stepIndex: i, sample: tensor(r.sample), history: fromInputs)
                fromInputs = out.history
                worstStep = max(worstStep, relativeError(out.output.sample.scalars, r.prevSample))
                worstX0 = max(worstX0, relativeError(out.output.predictedOriginal.scalars, r.x0))
                let next = s.step(modelOutput: tensor(r.modelOutput), stepIndex: i, sample: x, history: rollout)
                rollout = next.history
                x = next.output.sample
                worstRollout = max(worstRollout, relativeError(x.scalars, r.prevSample))
            }
            #expect(worstStep <= traceTolerance, "\(t.name): per-step error \(worstStep)")
            #expect(worstX0 <= traceTolerance, "\(t.name): x0 error \(worstX0)")
            #expect(worstRollout <= traceTolerance, "\(t.name): rollout error \(worstRollout)")
            worst = max(worst, worstStep, worstX0, worstRollout)
        }
        print("UniPC traces: worst relative error \(worst)")
    }

    /// The scheduler and history are values: stepping twice from the same history gives the same result, and the
    /// corrector changes the result (so the traces would notice it missing).
    @Test func historyIsAValue() throws {
        let s = try UniPCMultistepScheduler(config: UniPCMultistepConfig(), numInferenceSteps: 6)
        var g = TestGaussian(seed: 7)
        let shape = [1, 2, 5]
        func random() -> Tensor { Tensor(shape: shape, scalars: g.normals(10)) }
        let x = random(), v0 = random(), v1 = random()
        let first = s.step(modelOutput: v0, stepIndex: 0, sample: x, history: s.initialHistory())
        #expect(first.history.nextStepIndex == 1 && first.history.modelOutputs.count == 1)
        let a = s.step(modelOutput: v1, stepIndex: 1, sample: first.output.sample, history: first.history)
        let b = s.step(modelOutput: v1, stepIndex: 1, sample: first.output.sample, history: first.history)
        #expect(a.output.sample == b.output.sample)
        let fresh = s.step(modelOutput: v1, stepIndex: 1, sample: first.output.sample, history: s.initialHistory())
        #expect(fresh.output.sample != a.output.sample)
        #expect(a.history.lastOrder == 2 && fresh.history.lastOrder == 1)
    }
}
