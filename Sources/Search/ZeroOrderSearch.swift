import Foundation
import RandomStreams
import Sampling
import TensorCore

/// Zero-order search over the initial noise (Ma et al. 2025, "Inference-time scaling for diffusion
/// models beyond scaling denoising steps").
///
/// A pivot noise p is rolled out with the sampler's deterministic form (the sample is then a function of
/// the noise alone). Each iteration draws `neighbours` points on the pivot's sphere at cosine `cosine` to
/// it — τ·p + √(1−τ²)·‖p‖·u with u a random unit vector orthogonal to p — rolls them out and scores them.
/// The pivot moves to the best neighbour only if it beats the pivot; otherwise a fresh pivot is drawn
/// (and scored with the next iteration's neighbours). Iterates until the budget is spent.
public struct ZeroOrderSearch: SearchStrategy {
    public static let methodName = "zero-order"

    /// Neighbours per iteration; `nil` = between 1 and 8, about a quarter of the rollouts the budget buys.
    public var neighbours: Int?
    /// Cosine τ between a neighbour and the pivot, in (0, 1).
    public var cosine: Float

    public init(neighbours: Int? = nil, cosine: Float = 0.9) {
        self.neighbours = neighbours; self.cosine = cosine
    }

    public func resolvedNeighbours(stepCount t: Int, budget: Int) -> Int {
        neighbours ?? max(1, min(8, (budget / t - 1) / 4))
    }

    public func validate(stepCount t: Int, budget: Int) throws(SearchConfigurationError) {
        let n = resolvedNeighbours(stepCount: t, budget: budget)
        if n < 1 { throw SearchConfigurationError("neighbours: \(n) must be at least 1") }
        if !(cosine > 0 && cosine < 1) { throw SearchConfigurationError("cosine: \(cosine) must be in (0, 1); the default is 0.9") }
        if budget < 2 * t {
            throw SearchConfigurationError("budget: zero-order search needs a pivot and at least one neighbour, \(2 * t) NFE at \(t) steps; raise --budget")
        }
    }

    public func run(_ engine: inout SearchEngine) -> SearchResult {
        let t = engine.stepCount
        let n = resolvedNeighbours(stepCount: t, budget: engine.budget.limit)
        engine.settings = ["neighbours": "\(n)", "cosine": "\(cosine)", "sampling": "deterministic"]
        let shape = engine.trajectory.stateShape
        var pivot: (noise: Tensor, lineage: SearchEngine.Lineage)? = nil
        var pivotReward: Float = -.infinity
        var population: [ScoredSample] = []
        var iteration = 0
        do throws(SearchStop) {
            while engine.budget.remaining >= t {
                var noises: [Tensor] = []
                var lineages: [SearchEngine.Lineage] = []
                var freshPivot = false
                if pivot == nil {
                    let id = engine.makeID()
                    let l = SearchEngine.Lineage(id: id, generation: iteration, origin: "initial")
                    pivot = (engine.noise(.initialNoise, [NoiseIdentity(generation: 0, individual: id)], step: 0).row(0), l)
                    noises.append(pivot!.noise); lineages.append(l)
                    freshPivot = true
                }
                let room = engine.budget.remaining / t - noises.count
                let count = min(n, room)
                if count < 1 && !freshPivot { break }
                for _ in 0..<max(0, count) {
                    let id = engine.makeID()
                    let u = engine.noise(.mutation, [NoiseIdentity(generation: iteration, individual: id)], step: 0).row(0)
                    noises.append(neighbour(of: pivot!.noise, direction: u))
                    lineages.append(SearchEngine.Lineage(id: id, generation: iteration, parent: pivot!.lineage.id, origin: "neighbour"))
                }
                let x = engine.trajectory.initialState(noise: Tensor.stack(noises).reshaped([noises.count] + shape))
                let finals = try engine.rollout(x, from: 0, to: t, noiseRows: nil).states
                let scored = try engine.scoreFinal(finals, lineage: lineages)
                population = scored
                var offset = 0
                if freshPivot { pivotReward = scored[0].reward; offset = 1 }
                let candidates = Array(scored[offset...])
                if let best = candidates.indices.max(by: { candidates[$0].reward < candidates[$1].reward }),
                   candidates[best].reward > pivotReward {
                    pivot = (noises[offset + best], lineages[offset + best])
                    pivotReward = candidates[best].reward
                } else if !candidates.isEmpty {
                    pivot = nil
                }
                iteration += 1
            }
        } catch {
            return engine.finish(method: Self.methodName, population: population, stop: error)
        }
        return engine.finish(method: Self.methodName, population: population)
    }

    /// τ·p + √(1−τ²)·‖p‖·û with û the normalised component of `direction` orthogonal to p.
    func neighbour(of p: Tensor, direction g: Tensor) -> Tensor {
        let pp = Double(p.squaredNorm())
        let gp = zip(g.scalars, p.scalars).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        let orthogonal = g.scaled(1, plus: Float(-gp / max(pp, 1e-30)), times: p)
        let norm = max(Double(orthogonal.squaredNorm()).squareRoot(), 1e-30)
        let tau = Double(cosine)
        let scale = (1 - tau * tau).squareRoot() * pp.squareRoot() / norm
        return p.scaled(Float(tau), plus: Float(scale), times: orthogonal)
    }
}
