import Models
import Schedulers
import TensorCore

/// A `Trajectory` stepping `UniPCMultistepScheduler` (Wan 2.1's own sampler) with every individual's history in
/// its state, so a state that is copied, resampled, kept as an elite or cached at an evolution step continues with
/// the history it was made with: rolling states out through this trajectory equals running the scheduler on each
/// row with its own `UniPCHistory`, bit for bit, whatever the batch.
///
/// State row (flat, `[n + 2 + (order + 1)·n]` for a latent of n scalars and `solver_order` order): the latent; the
/// history's length k (≤ order) and the last predictor's order; the sample before the last predictor (UniC's
/// `last_sample`); `order` slots of x̂₀ predictions, the k newest oldest first. Rows whose histories differ in k or
/// order are stepped in separate groups. The sampler is deterministic (`noise` is ignored, `noiseStd` is 0).
/// `renoise` forward-noises the latent along the flow schedule (as the flow schedulers' `renoise`) and empties the
/// history, so the next step is of order 1 without the corrector — as a scheduler begun at that step.
/// `predictedOriginal` is x̂₀ in the same layout with an empty history; `decode` reads the latent part.
public struct UniPCTrajectory: Trajectory {
    public let denoiser: any Denoiser
    public let scheduler: UniPCMultistepScheduler
    public let sampleStateShape: [Int]
    public let sampleShape: [Int]
    public let passesPerNFE: Int
    private let decoder: (@Sendable (Tensor) throws -> Tensor)?

    /// `latentShape` is one sample's latent; `decoder` turns latents `[N] + latentShape` into `[N] + sampleShape`
    /// (the identity when nil).
    public init(denoiser: any Denoiser, scheduler: UniPCMultistepScheduler, latentShape: [Int], sampleShape: [Int]? = nil,
                passesPerNFE: Int = 1, decoder: (@Sendable (Tensor) throws -> Tensor)? = nil) {
        self.denoiser = denoiser
        self.scheduler = scheduler
        self.sampleStateShape = latentShape
        self.sampleShape = sampleShape ?? latentShape
        self.passesPerNFE = passesPerNFE
        self.decoder = decoder
    }

    public var stepCount: Int { scheduler.stepCount }
    public var isStochastic: Bool { false }
    private var latentCount: Int { sampleStateShape.reduce(1, *) }
    private var order: Int { scheduler.config.solverOrder }
    private var rowWidth: Int { latentCount * (order + 2) + 2 }
    public var stateShape: [Int] { [rowWidth] }

    /// A flow's initial states are the noise itself, with empty histories. `noise` is `[N] + stateShape` (its
    /// history scalars are ignored) or `[N] + sampleStateShape`.
    public func initialState(noise: Tensor) -> Tensor {
        let latents = noise.rowSize == latentCount ? noise.reshaped([noise.shape[0]] + sampleStateShape) : sampleStates(noise)
        return pack(latents: latents, histories: nil)
    }

    public func evaluate(_ states: Tensor, at index: Int, cancellation: CancellationCheck) throws -> Tensor {
        guard index >= 0 && index < stepCount else { throw TrajectoryError.stepOutOfRange(index: index, stepCount: stepCount) }
        let latents = sampleStates(states)
        let output = try denoiser.predict(latents, timestep: scheduler.timesteps[index], cancellation: cancellation)
        guard output.shape == latents.shape else {
            throw TrajectoryError.wrongOutputShape(expected: latents.shape, got: output.shape)
        }
        return output
    }

    public func advance(_ states: Tensor, modelOutput: Tensor, at index: Int, noise: Tensor?) -> TrajectoryStep {
        let rows = states.shape[0], n = latentCount, width = rowWidth
        precondition(states.shape == [rows, width], "UniPCTrajectory: states \(states.shape) are not [N, \(width)]")
        precondition(modelOutput.count == rows * n, "UniPCTrajectory: model output \(modelOutput.shape) for \(rows) rows")
        // Rows grouped by (history length, last order), in first-appearance order.
        var groups: [[Int]] = [], keys: [Int: Int] = [:]
        for r in 0..<rows {
            let key = Int(states.scalars[r * width + n]) * 8 + Int(states.scalars[r * width + n + 1])
            if let g = keys[key] { groups[g].append(r) } else { keys[key] = groups.count; groups.append([r]) }
        }
        var next = [Float](repeating: 0, count: rows * width)
        var x0 = [Float](repeating: 0, count: rows * width)
        let outputRows = modelOutput.reshaped([rows, n])
        for members in groups {
            let part = members.count == rows ? states : states.gatherRows(members)
            let history = unpack(part, nextStepIndex: index)
            let latents = sampleStates(part)
            let velocity = (members.count == rows ? outputRows : outputRows.gatherRows(members))
                .reshaped([members.count] + sampleStateShape)
            let step = scheduler.step(modelOutput: velocity, stepIndex: index, sample: latents, history: history)
            let packed = pack(latents: step.output.sample, histories: step.history)
            let predicted = pack(latents: step.output.predictedOriginal, histories: nil)
            for (j, r) in members.enumerated() {
                for k in 0..<width {
                    next[r * width + k] = packed.scalars[j * width + k]
                    x0[r * width + k] = predicted.scalars[j * width + k]
                }
            }
        }
        return TrajectoryStep(states: Tensor(shape: [rows, width], scalars: next),
                              predictedOriginal: Tensor(shape: [rows, width], scalars: x0))
    }

    public func noiseStd(stepIndex: Int) -> Float { 0 }

    public func renoise(_ states: Tensor, from: Int, to: Int, noise: Tensor) -> Tensor {
        pack(latents: scheduler.renoise(sampleStates(states), from: from, to: to, noise: sampleStates(noise)), histories: nil)
    }

    public func decode(_ states: Tensor) throws -> Tensor {
        let latents = sampleStates(states)
        return try decoder?(latents) ?? latents
    }

    // MARK: Row layout

    /// Rows of latents `[N] + sampleStateShape` with `history` (the same for every row; nil = empty).
    private func pack(latents: Tensor, histories history: UniPCHistory?) -> Tensor {
        let rows = latents.shape[0], n = latentCount, width = rowWidth
        var out = [Float](repeating: 0, count: rows * width)
        let k = history?.modelOutputs.count ?? 0
        for r in 0..<rows {
            let base = r * width
            for e in 0..<n { out[base + e] = latents.scalars[r * n + e] }
            out[base + n] = Float(k)
            out[base + n + 1] = Float(history?.lastOrder ?? 0)
            if let last = history?.lastSample {
                for e in 0..<n { out[base + n + 2 + e] = last.scalars[r * n + e] }
            }
            for (slot, m) in (history?.modelOutputs ?? []).enumerated() {
                let o = base + n + 2 + (slot + 1) * n
                for e in 0..<n { out[o + e] = m.scalars[r * n + e] }
            }
        }
        return Tensor(shape: [rows, width], scalars: out)
    }

    /// The history shared by every row of `states` (rows of one group), for the step at `nextStepIndex`.
    private func unpack(_ states: Tensor, nextStepIndex: Int) -> UniPCHistory {
        let rows = states.shape[0], n = latentCount, width = rowWidth
        let k = Int(states.scalars[n]), lastOrder = Int(states.scalars[n + 1])
        if k == 0 { return UniPCHistory() }
        func slice(_ offset: Int) -> Tensor {
            var out = [Float](repeating: 0, count: rows * n)
            for r in 0..<rows { for e in 0..<n { out[r * n + e] = states.scalars[r * width + offset + e] } }
            return Tensor(shape: [rows] + sampleStateShape, scalars: out)
        }
        return UniPCHistory(modelOutputs: (0..<k).map { slice(n + 2 + ($0 + 1) * n) }, lastSample: slice(n + 2),
                            lowerOrderCount: k, lastOrder: lastOrder, nextStepIndex: nextStepIndex)
    }
}
