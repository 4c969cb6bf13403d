import Sampling
import TensorCore

/// Beam search with look-ahead (DLBS-style): K beams, each proposing B stochastic children per step; each
/// child is judged by the reward of its x0-prediction after L deterministic look-ahead model calls, and
/// the K best children become the next beams. At the last step the children are clean and scored directly.
///
/// The first look-ahead call of a kept child is its model output at its own state, so it is reused for
/// its next step: the cost is K (first step) + K·B·Σ_{j=1}^{T−1} min(L, j) NFE.
public struct BeamSearch: SearchStrategy {
    public static let methodName = "beam"

    public var beams: Int?
    public var candidates: Int?
    public var lookahead: Int?

    public init(beams: Int? = nil, candidates: Int? = nil, lookahead: Int? = nil) {
        self.beams = beams; self.candidates = candidates; self.lookahead = lookahead
    }

    /// NFE of a run with these settings.
    public static func cost(beams k: Int, candidates b: Int, lookahead l: Int, stepCount t: Int) -> Int {
        k + k * b * (1..<max(t, 1)).reduce(0) { $0 + min(l, $1) }
    }

    /// (K, B, L) after defaults: L = 1 below 8 rollouts of budget, else 2; B = 4 (fewer if the budget is
    /// tiny); K as large as the budget pays for.
    public func resolved(stepCount t: Int, budget: Int) -> (beams: Int, candidates: Int, lookahead: Int) {
        let rollouts = budget / max(t, 1)
        let l = lookahead ?? (rollouts < 8 ? 1 : 2)
        if let k = beams, let b = candidates { return (k, b, l) }
        for b in candidates.map({ [$0] }) ?? [4, 3, 2, 1] {
            if let k = beams { return (k, b, l) }
            var k = 0
            while Self.cost(beams: k + 1, candidates: b, lookahead: l, stepCount: t) <= budget { k += 1 }
            if k >= 1 { return (k, b, l) }
        }
        return (beams ?? 1, candidates ?? 1, l)
    }

    public func validate(stepCount t: Int, budget: Int) throws(SearchConfigurationError) {
        let (k, b, l) = resolved(stepCount: t, budget: budget)
        if k < 1 { throw SearchConfigurationError("beams: \(k) must be at least 1") }
        if b < 1 { throw SearchConfigurationError("candidates: \(b) must be at least 1") }
        if l < 1 { throw SearchConfigurationError("lookahead: \(l) must be at least 1") }
        let c = Self.cost(beams: k, candidates: b, lookahead: l, stepCount: t)
        if c > budget {
            throw SearchConfigurationError("beam search with \(k) beams × \(b) candidates and look-ahead \(l) costs \(c) NFE at \(t) steps, over the budget of \(budget); lower --beams/--candidates/--lookahead or raise --budget")
        }
    }

    public func run(_ engine: inout SearchEngine) -> SearchResult {
        let t = engine.stepCount
        let (k, b, l) = resolved(stepCount: t, budget: engine.budget.limit)
        engine.settings = ["beams": "\(k)", "candidates": "\(b)", "lookahead": "\(l)"]
        var lineages = (0..<k).map { _ in SearchEngine.Lineage(id: engine.makeID(), generation: 0, origin: "initial") }
        var x = engine.initialStates(lineages.map { NoiseIdentity(generation: 0, individual: $0.id) })
        var cached: Tensor? = nil
        do throws(SearchStop) {
            for i in 0..<t {
                let output: Tensor
                if let c = cached { output = c } else { output = try engine.evaluate(x, at: i) }
                // Every beam proposes b children with their own step noise.
                let parentRows = (0..<(k * b)).map { $0 / b }
                let childLineages = parentRows.map { p in
                    SearchEngine.Lineage(id: engine.makeID(), generation: i + 1, parent: lineages[p].id, origin: "candidate")
                }
                let noise = engine.noise(.stepNoise, childLineages.map { NoiseIdentity(generation: i + 1, individual: $0.id) }, step: i)
                let children = engine.trajectory.advance(x.gatherRows(parentRows), modelOutput: output.gatherRows(parentRows),
                                                         at: i, noise: noise).states
                if i + 1 == t {
                    let scored = try engine.scoreFinal(children, lineage: childLineages)
                    let keep = rankDescending(scored.map(\.reward)).prefix(k)
                    return engine.finish(method: Self.methodName, population: keep.map { scored[$0] })
                }
                // Look-ahead: deterministic steps, scoring the last x0-prediction.
                let steps = min(l, t - 1 - i)
                var y = children
                var firstOutput: Tensor? = nil
                var estimate = children
                for j in 0..<steps {
                    let o = try engine.evaluate(y, at: i + 1 + j)
                    if j == 0 { firstOutput = o }
                    let s = engine.trajectory.advance(y, modelOutput: o, at: i + 1 + j, noise: nil)
                    y = s.states
                    estimate = s.predictedOriginal
                }
                let r = try engine.scoreEstimates(estimate)
                let keep = Array(rankDescending(r).prefix(k))
                x = children.gatherRows(keep)
                cached = firstOutput!.gatherRows(keep)
                lineages = keep.map { childLineages[$0] }
            }
        } catch {
            return engine.finish(method: Self.methodName, population: [], stop: error)
        }
        return engine.finish(method: Self.methodName, population: [])
    }
}
