import Foundation
import Testing
@testable import Schedulers

@Suite struct SchedulerFactoryTests {
    static let sd = Data(#"{"_class_name": "DDIMScheduler", "num_train_timesteps": 1000, "beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012, "steps_offset": 1, "set_alpha_to_one": false, "clip_sample": false}"#.utf8)

    @Test func namesAndClassesBuildTheirSchedulers() throws {
        #expect(try SchedulerFactory.make("ddim", config: Self.sd, steps: 10, eta: 1) is DDIMScheduler)
        #expect(try SchedulerFactory.make("DDPMScheduler", config: Self.sd, steps: 10, eta: 0) is DDPMScheduler)
        #expect(try SchedulerFactory.make("euler", config: Self.sd, steps: 10, eta: 0) is EulerDiscreteScheduler)
        #expect(throws: SchedulerConfigError("pndm is not implemented; choose one of ddim, ddpm, euler")) {
            try SchedulerFactory.make("pndm", config: Self.sd, steps: 10, eta: 0)
        }
    }

    /// SD's steps_offset 1 with as many steps as training timesteps reaches timestep 1000 (diffusers: IndexError).
    @Test func aGridOutsideTheTrainingScheduleIsRefused() throws {
        for name in ["ddim", "ddpm"] {
            #expect(throws: SchedulerConfigError("1000 steps with leading spacing and steps_offset 1 reach timestep 1000, outside the 1000 training timesteps; use at most 999 steps")) {
                try SchedulerFactory.make(name, config: Self.sd, steps: 1000, eta: 0)
            }
            let s = try SchedulerFactory.make(name, config: Self.sd, steps: 999, eta: 1)
            #expect(s.stepCount == 999)
            #expect((0..<s.stepCount).allSatisfy { s.noiseStd(stepIndex: $0).isFinite })
        }
        #expect(throws: SchedulerConfigError("1001 steps exceed num_train_timesteps 1000; use at most 1000")) {
            try SchedulerFactory.make("ddim", config: Self.sd, steps: 1001, eta: 0)
        }
    }
}
