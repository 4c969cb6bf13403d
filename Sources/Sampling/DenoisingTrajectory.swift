import Models
import Schedulers
import TensorCore

/// A `Trajectory` made of a denoiser and a scheduler, unconditional (the toy worlds) or with the
/// conditioning already bound into the denoiser.
///
/// `evaluate` scales the input as the scheduler asks and calls the denoiser at the scheduler's timestep;
/// `advance` is the scheduler's step. `decode` is the identity unless a decoder is given.
public struct DenoisingTrajectory: Trajectory {
    public let denoiser: any Denoiser
    public let scheduler: any DenoisingScheduler
    public let stateShape: [Int]
    public let sampleShape: [Int]
    public let passesPerNFE: Int
    public let isStochastic: Bool
    private let decoder: (@Sendable (Tensor) throws -> Tensor)?

    /// `sampleShape` is what `decoder` makes of one state (default: `stateShape`, for the identity).
    public init(denoiser: any Denoiser, scheduler: any DenoisingScheduler, stateShape: [Int], sampleShape: [Int]? = nil,
                passesPerNFE: Int = 1, decoder: (@Sendable (Tensor) throws -> Tensor)? = nil) {
        self.denoiser = denoiser
        self.scheduler = scheduler
        self.stateShape = stateShape
        self.sampleShape = sampleShape ?? stateShape
        self.passesPerNFE = passesPerNFE
        self.decoder = decoder
        self.isStochastic = (0..<scheduler.stepCount).contains { scheduler.noiseStd(stepIndex: $0) > 0 }
    }

    public var stepCount: Int { scheduler.stepCount }

    public func initialState(noise: Tensor) -> Tensor {
        let sigma = scheduler.initNoiseSigma
        return sigma == 1 ? noise : noise * sigma
    }

    public func evaluate(_ states: Tensor, at index: Int, cancellation: CancellationCheck) throws -> Tensor {
        guard index >= 0 && index < stepCount else { throw TrajectoryError.stepOutOfRange(index: index, stepCount: stepCount) }
        let input = scheduler.scaleModelInput(states, stepIndex: index)
        let output = try denoiser.predict(input, timestep: scheduler.timesteps[index], cancellation: cancellation)
        guard output.shape == states.shape else {
            throw TrajectoryError.wrongOutputShape(expected: states.shape, got: output.shape)
        }
        return output
    }

    public func advance(_ states: Tensor, modelOutput: Tensor, at index: Int, noise: Tensor?) -> TrajectoryStep {
        let out = scheduler.step(modelOutput: modelOutput, stepIndex: index, sample: states, noise: noise)
        return TrajectoryStep(states: out.sample, predictedOriginal: out.predictedOriginal)
    }

    public func noiseStd(stepIndex: Int) -> Float { scheduler.noiseStd(stepIndex: stepIndex) }

    public func renoise(_ states: Tensor, from: Int, to: Int, noise: Tensor) -> Tensor {
        scheduler.renoise(states, from: from, to: to, noise: noise)
    }

    public func decode(_ states: Tensor) throws -> Tensor { try decoder?(states) ?? states }
}
