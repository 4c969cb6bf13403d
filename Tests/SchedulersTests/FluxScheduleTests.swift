import Foundation
import Testing
import ModelIO
@testable import Schedulers

/// flux_sigmas.json (tools/fixtures/make_scheduler_fixtures.py): FlowMatchEulerDiscrete grids as diffusers'
/// FluxPipeline sets them, and `set_timesteps(n, mu=mu)` without sigmas, for several configs, n and image sizes.
private struct FluxSigmaFile: Decodable {
    struct Case: Decodable {
        let height: Int
        let width: Int
        let imageSeqLen: Int
        let n: Int
        let mu: Double
        let timesteps: [Float]
        let sigmas: [Float]
        let plainTimesteps: [Float]
        let plainSigmas: [Float]
        enum CodingKeys: String, CodingKey {
            case height, width, n, mu, timesteps, sigmas
            case imageSeqLen = "image_seq_len", plainTimesteps = "plain_timesteps", plainSigmas = "plain_sigmas"
        }
    }
    struct Config: Decodable {
        let name: String
        private let fixtureConfig: FixtureConfig<FlowMatchEulerDiscreteConfig>
        var config: FlowMatchEulerDiscreteConfig { fixtureConfig.value }
        let cases: [Case]
        enum CodingKeys: String, CodingKey { case name, cases, fixtureConfig = "config" }
    }
    let configs: [Config]
}

/// FLUX.1-dev's scheduler_config.json as published.
private let fluxDev = """
{
  "_class_name": "FlowMatchEulerDiscreteScheduler",
  "_diffusers_version": "0.30.0.dev0",
  "base_image_seq_len": 256,
  "base_shift": 0.5,
  "max_image_seq_len": 4096,
  "max_shift": 1.15,
  "num_train_timesteps": 1000,
  "shift": 3.0,
  "use_dynamic_shifting": true
}
"""

@Suite("FluxPipeline's flow-match schedule")
struct FluxScheduleTests {
    @Test func fluxGridsMatchDiffusers() throws {
        let file = try Fixtures.load(FluxSigmaFile.self, "flux_sigmas")
        #expect(file.configs.map(\.name) == ["dev", "schnell", "linear-shift", "static-shift3"])
        var compared = 0
        for family in file.configs {
            let config = family.config
            for c in family.cases {
                let label = "\(family.name) \(c.height)×\(c.width) n=\(c.n)"
                #expect(c.imageSeqLen == (c.height / 16) * (c.width / 16), "\(label): fixture sequence length")
                // calculate_shift is a few double operations in one order: exact.
                #expect(config.mu(imageSequenceLength: c.imageSeqLen) == c.mu, "\(label): mu")
                // The grids are bit-exact (float32 sigmas, timesteps σ·1000, terminal 0).
                let s = try FlowMatchEulerDiscreteScheduler.flux(config: config, numInferenceSteps: c.n,
                                                                 imageSequenceLength: c.imageSeqLen)
                #expect(s.timesteps == c.timesteps, "\(label): timesteps \(s.timesteps) vs \(c.timesteps)")
                #expect(s.sigmas == c.sigmas, "\(label): sigmas \(s.sigmas) vs \(c.sigmas)")
                #expect(s.sigmas.last == 0 && s.stepCount == c.n)
                let plain = try FlowMatchEulerDiscreteScheduler(config: config, numInferenceSteps: c.n, mu: c.mu)
                #expect(plain.timesteps == c.plainTimesteps, "\(label): plain timesteps \(plain.timesteps) vs \(c.plainTimesteps)")
                #expect(plain.sigmas == c.plainSigmas, "\(label): plain sigmas")
                compared += 1
            }
        }
        #expect(compared == 4 * 6 * 6)
    }

    @Test func fluxDevConfigDecodes() throws {
        let c = try FlowMatchEulerDiscreteConfig(json: fluxDev)
        #expect(c == FlowMatchEulerDiscreteConfig(numTrainTimesteps: 1000, shift: 3, useDynamicShifting: true, baseShift: 0.5,
                                                  maxShift: 1.15, baseImageSeqLen: 256, maxImageSeqLen: 4096,
                                                  timeShiftType: .exponential))
        // mu runs from base_shift at 256 tokens to max_shift at 4096 (a 1024² image packs 64·64 tokens).
        #expect(abs(c.mu(imageSequenceLength: 256) - 0.5) < 1e-15)
        #expect(abs(c.mu(imageSequenceLength: 4096) - 1.15) < 1e-15)
        let text = String(decoding: try JSONEncoder().encode(c), as: UTF8.self)
        #expect(try FlowMatchEulerDiscreteConfig(json: text) == c)
    }

    @Test func dynamicShiftingNeedsMu() throws {
        let c = try FlowMatchEulerDiscreteConfig(json: fluxDev)
        let message = "use_dynamic_shifting is true: set_timesteps needs a finite mu (FluxPipeline's calculate_shift of the image sequence length), got none"
        #expect(throws: SchedulerConfigError(message)) { try FlowMatchEulerDiscreteScheduler(config: c, numInferenceSteps: 4) }
        #expect(throws: SchedulerConfigError(message)) { try FlowMatchEulerDiscreteScheduler(config: c, sigmas: [1, 0.5]) }
        // Without dynamic shifting mu is not needed, and ignored when given.
        let schnell = FlowMatchEulerDiscreteConfig()
        let a = try FlowMatchEulerDiscreteScheduler(config: schnell, sigmas: [1, 0.75, 0.5, 0.25])
        let b = try FlowMatchEulerDiscreteScheduler(config: schnell, sigmas: [1, 0.75, 0.5, 0.25], mu: 1.1)
        #expect(a.sigmas == [1, 0.75, 0.5, 0.25, 0] && b.sigmas == a.sigmas && a.timesteps == [1000, 750, 500, 250])
    }

    @Test func badRequestsAreErrors() throws {
        let c = FlowMatchEulerDiscreteConfig()
        #expect(throws: SchedulerConfigError("0 steps: at least 1 is needed")) {
            try FlowMatchEulerDiscreteScheduler(config: c, numInferenceSteps: 0)
        }
        #expect(throws: SchedulerConfigError("no sigmas given: at least one step is needed")) {
            try FlowMatchEulerDiscreteScheduler(config: c, sigmas: [])
        }
        #expect(throws: SchedulerConfigError("sigmas must lie in (0, 1], got [1.0, 0.0]")) {
            try FlowMatchEulerDiscreteScheduler(config: c, sigmas: [1, 0])
        }
        #expect(throws: SchedulerConfigError("image sequence length 0 must be at least 1")) {
            try FlowMatchEulerDiscreteScheduler.flux(config: c, numInferenceSteps: 4, imageSequenceLength: 0)
        }
    }

    @Test func configErrorsNameTheKey() {
        func invalid(_ key: String, _ reason: String) -> ModelIOError {
            .invalidConfigValue(path: "scheduler/scheduler_config.json", key: key, reason: reason)
        }
        #expect(throws: invalid("time_shift_type", #"must be one of "exponential", "linear", got "cosine""#)) {
            try FlowMatchEulerDiscreteConfig(json: #"{"use_dynamic_shifting": true, "time_shift_type": "cosine"}"#)
        }
        #expect(throws: invalid("max_image_seq_len", "must differ from base_image_seq_len 256 (calculate_shift divides by their difference), got 256")) {
            try FlowMatchEulerDiscreteConfig(json: #"{"use_dynamic_shifting": true, "max_image_seq_len": 256}"#)
        }
        #expect(throws: invalid("shift_terminal", "must be null (not implemented: shift_terminal), got 0.1")) {
            try FlowMatchEulerDiscreteConfig(json: #"{"shift_terminal": 0.1}"#)
        }
    }
}
