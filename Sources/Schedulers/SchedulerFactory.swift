import Foundation

/// Builds a scheduler from a diffusers `scheduler_config.json` by class name — the one place that maps
/// diffusers' class names and our short sampler names (`--scheduler`) to scheduler types, as diffusers'
/// `SchedulerClass.from_config(config)` does. A config decodes with the options the chosen class reads (the
/// others are ignored, as in `from_config`); options a class does not implement are decode errors.
public enum SchedulerFactory {
    /// One sampler: its short name and the diffusers class it is.
    public struct Entry: Sendable, Equatable {
        public let name: String
        public let className: String
    }

    /// Every scheduler this module builds from a VP (ε / v / x0) diffusion config.
    public static let diffusion: [Entry] = [
        Entry(name: "ddim", className: "DDIMScheduler"),
        Entry(name: "ddpm", className: "DDPMScheduler"),
        Entry(name: "euler", className: "EulerDiscreteScheduler"),
    ]

    /// The entry for a short name or a diffusers class name.
    public static func entry(_ nameOrClass: String, among entries: [Entry] = diffusion) -> Entry? {
        entries.first { $0.name == nameOrClass || $0.className == nameOrClass }
    }

    /// The scheduler `nameOrClass` after `set_timesteps(steps)`, from the config document `json`. `eta` is DDIM's η
    /// (the other samplers have no η and ignore it: DDPM always adds its posterior noise, Euler none). Throws `SchedulerConfigError` naming the problem.
    public static func make(_ nameOrClass: String, config json: Data, steps: Int, eta: Float) throws(SchedulerConfigError) -> any DenoisingScheduler {
        guard let entry = entry(nameOrClass) else {
            throw SchedulerConfigError("\(nameOrClass) is not implemented; choose one of \(diffusion.map(\.name).joined(separator: ", "))")
        }
        guard steps >= 1 else { throw SchedulerConfigError("\(steps) steps: at least 1 is needed") }
        guard eta >= 0, eta.isFinite else { throw SchedulerConfigError("η \(eta) must be a finite number ≥ 0") }
        do {
            switch entry.name {
            case "ddim":
                let config = try DDIMConfig(json: json)
                try check(steps: steps, trainTimesteps: config.numTrainTimesteps)
                try checkGrid(steps: steps, noise: config.noise)
                return DDIMScheduler(config: config, numInferenceSteps: steps, eta: eta)
            case "ddpm":
                let config = try DDPMConfig(json: json)
                try check(steps: steps, trainTimesteps: config.numTrainTimesteps)
                try checkGrid(steps: steps, noise: config.noise)
                return DDPMScheduler(config: config, numInferenceSteps: steps)
            default:
                let config = try EulerDiscreteConfig(json: json)
                try check(steps: steps, trainTimesteps: config.numTrainTimesteps)
                return EulerDiscreteScheduler(config: config, numInferenceSteps: steps)
            }
        } catch let e as SchedulerConfigError {
            throw e
        } catch {
            throw SchedulerConfigError("\(entry.className): \(error)")
        }
    }

    /// Inference steps must fit in the training schedule (diffusers raises the same for more steps than timesteps).
    static func check(steps: Int, trainTimesteps: Int) throws(SchedulerConfigError) {
        guard trainTimesteps >= 1 else { throw SchedulerConfigError("num_train_timesteps \(trainTimesteps) must be at least 1") }
        guard steps <= trainTimesteps else {
            throw SchedulerConfigError("\(steps) steps exceed num_train_timesteps \(trainTimesteps); use at most \(trainTimesteps)")
        }
    }
}

extension SchedulerFactory {
    /// The integer grid DDPM and DDIM index the training schedule with must stay inside it: with `steps_offset` 1
    /// (SD's configs) and as many steps as training timesteps, `leading` spacing reaches timestep T, where diffusers
    /// fails with an index error.
    static func checkGrid(steps: Int, noise: DiscreteNoiseConfig) throws(SchedulerConfigError) {
        let grid = NumericCompat.integerGrid(spacing: noise.timestepSpacing, trainTimesteps: noise.numTrainTimesteps,
                                             steps: steps, offset: noise.stepsOffset)
        if let bad = grid.first(where: { $0 < 0 || $0 >= noise.numTrainTimesteps }) {
            throw SchedulerConfigError("\(steps) steps with \(noise.timestepSpacing.rawValue) spacing and steps_offset \(noise.stepsOffset) reach timestep \(bad), outside the \(noise.numTrainTimesteps) training timesteps; use at most \(noise.numTrainTimesteps - Swift.max(0, noise.stepsOffset)) steps")
        }
    }
}

/// A scheduler that cannot be built from its config or for the requested steps; one line.
public struct SchedulerConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ message: String) { description = message }
}
