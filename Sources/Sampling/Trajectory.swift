import TensorCore

/// Something a search strategy can step: the one interface between strategies and models.
///
/// State indices run `0...stepCount`: index 0 is the initial noise, index `stepCount` the clean sample.
/// A model evaluation (`evaluate`) is the only call that costs compute (one NFE per row); the update
/// (`advance`) is the sampler's arithmetic and is free, which lets a strategy reuse one evaluation for
/// several children with different noise. All rows of a batch are at the same state index.
/// Strategies never see a model or a scheduler directly.
public protocol Trajectory: Sendable {
    /// Number of denoising steps T.
    var stepCount: Int { get }
    /// Shape of one individual's state (without the batch axis).
    var stateShape: [Int] { get }
    /// Shape of the sample being denoised (the latent) inside a state: `stateShape` for single-step samplers. A
    /// multistep sampler's state is flat, `[n + h]`: these n scalars first, then the h scalars of history the
    /// sampler carries with each individual. Search noise is zero on the history (`SearchEngine.noise`), so the
    /// mutations and neighbour moves of every method act on the sample alone; `initialState` and `renoise` empty
    /// the history and `decode` reads the sample part only.
    var sampleStateShape: [Int] { get }
    /// Shape of one decoded sample (without the batch axis): `[3, H, W]` for an image, `[F, 3, H, W]` for a
    /// video, `stateShape` when decoding is the identity (the toy worlds).
    var sampleShape: [Int] { get }
    /// Forward passes per NFE (2 when classifier-free guidance runs a conditional/unconditional pair).
    var passesPerNFE: Int { get }
    /// Whether the stochastic form of a step adds noise at all.
    var isStochastic: Bool { get }

    /// Initial states at index 0 from standard normal draws `[N] + stateShape`.
    func initialState(noise: Tensor) -> Tensor
    /// The model output for states at `index` (< stepCount). Costs one NFE per row. Throws when the model
    /// cannot answer (a remote server gone, an input the model refuses) or stopped because `cancellation`
    /// asked it to; nothing is spent then.
    func evaluate(_ states: Tensor, at index: Int, cancellation: CancellationCheck) throws -> Tensor
    /// The sampler update from `index` to `index + 1` given the model output there. `noise` (standard
    /// normals, same shape) selects the stochastic form; `nil` the deterministic (η = 0 / ODE) form.
    func advance(_ states: Tensor, modelOutput: Tensor, at index: Int, noise: Tensor?) -> TrajectoryStep
    /// Std of the noise the stochastic step from `index` to `index + 1` adds (the mutation scale of
    /// EvoSearch at state index `index + 1`).
    func noiseStd(stepIndex: Int) -> Float
    /// Forward-noises states at index `from` to the noisier index `to < from` with fresh standard normals.
    func renoise(_ states: Tensor, from: Int, to: Int, noise: Tensor) -> Tensor
    /// Turns final states (or x0 predictions) `[N] + stateShape` into what the reward scores, `[N] + sampleShape`.
    func decode(_ states: Tensor) throws -> Tensor
}

extension Trajectory {
    public var sampleStateShape: [Int] { stateShape }

    /// Scalars per state row that are carried history rather than the sample (0 for single-step samplers).
    public var carriedScalarCount: Int { stateShape.reduce(1, *) - sampleStateShape.reduce(1, *) }

    /// The sample part of states `[N] + stateShape` as `[N] + sampleStateShape` (the states themselves when
    /// nothing is carried).
    public func sampleStates(_ states: Tensor) -> Tensor {
        let carried = carriedScalarCount
        if carried == 0 { return states.reshaped([states.shape[0]] + sampleStateShape) }
        let n = sampleStateShape.reduce(1, *), rows = states.shape[0], width = n + carried
        var out = [Float](repeating: 0, count: rows * n)
        states.scalars.withUnsafeBufferPointer { src in
            for r in 0..<rows { for k in 0..<n { out[r * n + k] = src[r * width + k] } }
        }
        return Tensor(shape: [rows] + sampleStateShape, scalars: out)
    }

    /// The model output for states at `index`, run to the end.
    public func evaluate(_ states: Tensor, at index: Int) throws -> Tensor {
        try evaluate(states, at: index, cancellation: .never)
    }
}

/// A trajectory that is another one with some of its calls changed (decoding served elsewhere, calls recorded):
/// every requirement the conforming type does not implement is `base`'s.
public protocol TrajectoryWrapper: Trajectory {
    var base: any Trajectory { get }
}

extension TrajectoryWrapper {
    public var stepCount: Int { base.stepCount }
    public var stateShape: [Int] { base.stateShape }
    public var sampleStateShape: [Int] { base.sampleStateShape }
    public var sampleShape: [Int] { base.sampleShape }
    public var passesPerNFE: Int { base.passesPerNFE }
    public var isStochastic: Bool { base.isStochastic }
    public func initialState(noise: Tensor) -> Tensor { base.initialState(noise: noise) }
    public func evaluate(_ states: Tensor, at index: Int, cancellation: CancellationCheck) throws -> Tensor {
        try base.evaluate(states, at: index, cancellation: cancellation)
    }
    public func advance(_ states: Tensor, modelOutput: Tensor, at index: Int, noise: Tensor?) -> TrajectoryStep {
        base.advance(states, modelOutput: modelOutput, at: index, noise: noise)
    }
    public func noiseStd(stepIndex: Int) -> Float { base.noiseStd(stepIndex: stepIndex) }
    public func renoise(_ states: Tensor, from: Int, to: Int, noise: Tensor) -> Tensor {
        base.renoise(states, from: from, to: to, noise: noise)
    }
    public func decode(_ states: Tensor) throws -> Tensor { try base.decode(states) }
}

/// The result of one sampler update.
public struct TrajectoryStep: Sendable {
    /// States at `index + 1`.
    public var states: Tensor
    /// The clean-sample estimate made at `index` (before the update).
    public var predictedOriginal: Tensor

    public init(states: Tensor, predictedOriginal: Tensor) {
        self.states = states
        self.predictedOriginal = predictedOriginal
    }
}

/// Why a trajectory could not serve a call; `description` is one line.
public enum TrajectoryError: Error, Sendable, Equatable, CustomStringConvertible {
    case stepOutOfRange(index: Int, stepCount: Int)
    case wrongOutputShape(expected: [Int], got: [Int])

    public var description: String {
        switch self {
        case let .stepOutOfRange(index, stepCount): "step index \(index) is outside 0..<\(stepCount)"
        case let .wrongOutputShape(expected, got): "the model returned shape \(got) for inputs of shape \(expected)"
        }
    }
}
