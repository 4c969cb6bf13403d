import Foundation
import Testing
import ModelIO
import TensorCore
@testable import Schedulers

/// Stable Diffusion 2.1's scheduler_config.json (its keys as published; no timestep_spacing key).
private let sd21 = """
{
  "_class_name": "DDIMScheduler",
  "_diffusers_version": "0.8.0",
  "beta_end": 0.012,
  "beta_schedule": "scaled_linear",
  "beta_start": 0.00085,
  "clip_sample": false,
  "num_train_timesteps": 1000,
  "prediction_type": "v_prediction",
  "set_alpha_to_one": false,
  "skip_prk_steps": true,
  "steps_offset": 1,
  "trained_betas": null
}
"""

@Suite("config decoding")
struct ConfigTests {
    @Test func sd21DecodesAsDDIMWithDefaults() throws {
        let c = try DDIMConfig(json: sd21)
        #expect(c.numTrainTimesteps == 1000)
        #expect(c.betaStart == 0.00085 && c.betaEnd == 0.012 && c.betaSchedule == .scaledLinear)
        #expect(c.trainedBetas == nil)
        #expect(c.clipSample == false && c.clipSampleRange == 1)
        #expect(c.setAlphaToOne == false && c.stepsOffset == 1)
        #expect(c.predictionType == .vPrediction)
        #expect(c.timestepSpacing == .leading)  // diffusers' DDIM default
        // diffusers: DDIMScheduler.from_config(sd21).set_timesteps(25) → 961, 921, …, 41, 1
        let s = DDIMScheduler(config: c, numInferenceSteps: 25)
        #expect(Array(s.timesteps.prefix(3)) == [961, 921, 881] && Array(s.timesteps.suffix(2)) == [41, 1])
        #expect(s.finalAlphaCumprod == s.noiseSchedule.alphasCumprod[0])
    }

    @Test func sd21DecodesAsEulerAndDDPMWithTheirOwnDefaults() throws {
        let e = try EulerDiscreteConfig(json: sd21)
        #expect(e.timestepSpacing == .linspace && e.predictionType == .vPrediction && e.finalSigmasType == .zero)
        let euler = EulerDiscreteScheduler(config: e, numInferenceSteps: 25)
        // diffusers: 999.0, 957.375, 915.75, …, 41.625, 0.0; sigmas[0] = 14.614647, init_noise_sigma 14.6146
        #expect(Array(euler.timesteps.prefix(3)) == [999, 957.375, 915.75])
        #expect(Array(euler.timesteps.suffix(2)) == [41.625, 0])
        #expect(abs(euler.sigmas[0] - 14.614647) <= 2e-6 && euler.initNoiseSigma == euler.sigmas[0])
        let d = try DDPMConfig(json: sd21)
        #expect(d.varianceType == .fixedSmall && d.clipSample == false && d.timestepSpacing == .leading)
    }

    @Test func emptyConfigsTakeDiffusersDefaults() throws {
        #expect(try DDIMConfig(json: "{}") == DDIMConfig())
        #expect(try DDPMConfig(json: "{}") == DDPMConfig())
        #expect(try EulerDiscreteConfig(json: "{}") == EulerDiscreteConfig())
        #expect(try FlowMatchEulerDiscreteConfig(json: "{}") == FlowMatchEulerDiscreteConfig())
        #expect(try FlowMatchSDEConfig(json: "{}") == FlowMatchSDEConfig())
        let d = DDIMConfig()
        #expect(d.clipSample && d.setAlphaToOne && d.betaSchedule == .linear && d.timestepSpacing == .leading)
        #expect(EulerDiscreteConfig().timestepSpacing == .linspace)
    }

    @Test func flowConfigsReadTheirShiftKeys() throws {
        let sd3 = #"{"_class_name": "FlowMatchEulerDiscreteScheduler", "num_train_timesteps": 1000, "shift": 3.0}"#
        #expect(try FlowMatchEulerDiscreteConfig(json: sd3).shift == 3)
        #expect(try FlowMatchSDEConfig(json: sd3).flowShift == 3)
        let dpm = #"{"flow_shift": 5.0, "shift": 2.0, "use_flow_sigmas": true, "lambda_min_clipped": -Infinity,"#
            + #" "prediction_type": "flow_prediction", "solver_order": 2}"#
        #expect(try FlowMatchSDEConfig(json: dpm).flowShift == 5)
    }

    @Test func unsupportedOptionsThrowNamingTheKey() {
        func invalid(_ key: String, _ reason: String) -> ModelIOError {
            .invalidConfigValue(path: "scheduler/scheduler_config.json", key: key, reason: reason)
        }
        #expect(throws: invalid("thresholding", "must be false (not implemented: dynamic thresholding), got true")) {
            try DDIMConfig(json: #"{"thresholding": true}"#)
        }
        #expect(throws: invalid("rescale_betas_zero_snr", "must be false (not implemented: zero-terminal-SNR rescaling), got true")) {
            try DDIMConfig(json: #"{"rescale_betas_zero_snr": true}"#)
        }
        #expect(throws: invalid("beta_schedule", #"must be one of "linear", "scaled_linear", "squaredcos_cap_v2", got "sigmoid""#)) {
            try DDIMConfig(json: #"{"beta_schedule": "sigmoid"}"#)
        }
        #expect(throws: invalid("variance_type", #"must be one of "fixed_small", "fixed_small_log", "fixed_large", got "learned_range""#)) {
            try DDPMConfig(json: #"{"variance_type": "learned_range"}"#)
        }
        #expect(throws: invalid("prediction_type", #"must be epsilon, v_prediction or sample (DDPM does not take flow_prediction), got "flow_prediction""#)) {
            try DDPMConfig(json: #"{"prediction_type": "flow_prediction"}"#)
        }
        #expect(throws: invalid("use_karras_sigmas", "must be false (not implemented: Karras sigmas), got true")) {
            try EulerDiscreteConfig(json: #"{"use_karras_sigmas": true}"#)
        }
        #expect(throws: invalid("interpolation_type", #"must be "linear" (not implemented: interpolation_type other than linear), got "log_linear""#)) {
            try EulerDiscreteConfig(json: #"{"interpolation_type": "log_linear"}"#)
        }
        #expect(throws: invalid("invert_sigmas", "must be false (not implemented: inverted sigmas), got true")) {
            try FlowMatchEulerDiscreteConfig(json: #"{"invert_sigmas": true, "shift": 3.0}"#)
        }
        #expect(throws: invalid("use_flow_sigmas", "must be true (not implemented: VP (non-flow) sigmas), got false")) {
            try FlowMatchSDEConfig(json: #"{"use_flow_sigmas": false}"#)
        }
        #expect(throws: invalid("prediction_type", #"must be "flow_prediction" (not implemented: a non-flow prediction type), got "epsilon""#)) {
            try FlowMatchSDEConfig(json: #"{"prediction_type": "epsilon"}"#)
        }
        // A value of the wrong type names the key, and text that is not JSON names the file.
        #expect(throws: invalid("num_train_timesteps", #"must be an integer, got "1000""#)) {
            try DDIMConfig(json: #"{"num_train_timesteps": "1000"}"#)
        }
        #expect(throws: ModelIOError.invalidJSON(path: "sd/scheduler_config.json", reason: "expected ',' or '}' in object at byte 8")) {
            try DDIMConfig(json: #"{"a": 1 2}"#, displayName: "sd/scheduler_config.json")
        }
        // Options at their supported values are accepted.
        #expect(throws: Never.self) {
            try EulerDiscreteConfig(json: #"{"use_karras_sigmas": false, "interpolation_type": "linear", "sigma_min": null}"#)
        }
    }

    @Test func encodingRoundTrips() throws {
        let ddim = DDIMConfig(betaStart: 0.00085, betaEnd: 0.012, betaSchedule: .scaledLinear, clipSample: false,
                              setAlphaToOne: false, stepsOffset: 1, predictionType: .vPrediction,
                              timestepSpacing: .trailing)
        #expect(try DDIMConfig(json: JSONEncoder().encode(ddim)) == ddim)
        let ddpm = DDPMConfig(varianceType: .fixedLarge, clipSampleRange: 2, predictionType: .sample)
        #expect(try DDPMConfig(json: JSONEncoder().encode(ddpm)) == ddpm)
        let euler = EulerDiscreteConfig(predictionType: .vPrediction, finalSigmasType: .sigmaMin)
        #expect(try EulerDiscreteConfig(json: JSONEncoder().encode(euler)) == euler)
        let flow = FlowMatchSDEConfig(numTrainTimesteps: 1000, flowShift: 3)
        let text = String(decoding: try JSONEncoder().encode(flow), as: UTF8.self)
        #expect(text.contains("\"sde-dpmsolver++\"") && text.contains("\"use_flow_sigmas\":true"))
        #expect(try FlowMatchSDEConfig(json: text) == flow)
    }
}
