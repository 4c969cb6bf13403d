import Sampling
import TensorCore

/// Search over paths (Ma et al. 2025): N paths are denoised (deterministically) from noise to the start
/// index; then, repeatedly, each path is branched M times by forward-noising it `forward` steps back up
/// the noise schedule with fresh noise and denoising each branch `backward` (> forward) steps down again;
/// branches are scored (x0-prediction of the last step, or the sample itself once clean) and the best N
/// kept, until the paths are clean. The best clean sample wins.
public struct SearchOverPaths: SearchStrategy {
    public static let methodName = "search-over-paths"

    public var paths: Int?
    public var branches: Int
    /// State index the branching starts at; `nil` = ⌊T/4⌋ (at least `forward`).
    public var startStep: Int?
    /// Δf, steps back up the schedule; `nil` = max(1, T/10).
    public var forward: Int?
    /// Δb, steps down per branch; `nil` = 2·Δf.
    public var backward: Int?

    public init(paths: Int? = nil, branches: Int = 2, startStep: Int? = nil, forward: Int? = nil, backward: Int? = nil) {
        self.paths = paths; self.branches = branches; self.startStep = startStep; self.forward = forward; self.backward = backward
    }

    public struct Plan: Sendable, Equatable {
        public var paths: Int, branches: Int, start: Int, forward: Int, backward: Int
    }

    /// NFE per path: the initial descent plus every round of branches.
    static func costPerPath(branches m: Int, start s: Int, forward f: Int, backward b: Int, stepCount t: Int) -> Int {
        var cost = s
        var cur = s
        while cur < t {
            let next = min(t, cur - f + b)
            cost += m * (next - (cur - f))
            cur = next
        }
        return cost
    }

    public func resolved(stepCount t: Int, budget: Int) -> Plan {
        let f = forward ?? max(1, t / 10)
        let b = backward ?? 2 * f
        let s = startStep ?? max(f, t / 4)
        let per = b > f ? Self.costPerPath(branches: branches, start: s, forward: f, backward: b, stepCount: t) : Int.max
        let n = paths ?? max(1, budget / max(per, 1))
        return Plan(paths: n, branches: branches, start: s, forward: f, backward: b)
    }

    public func validate(stepCount t: Int, budget: Int) throws(SearchConfigurationError) {
        let p = resolved(stepCount: t, budget: budget)
        if p.forward < 1 { throw SearchConfigurationError("forward: Δf = \(p.forward) must be at least 1") }
        if p.backward <= p.forward {
            throw SearchConfigurationError("backward: Δb = \(p.backward) must exceed Δf = \(p.forward), or the paths never get cleaner")
        }
        if p.start < p.forward || p.start >= t {
            throw SearchConfigurationError("start step: \(p.start) must be in \(p.forward)..<\(t) (at least Δf = \(p.forward))")
        }
        if p.paths < 1 || p.branches < 1 { throw SearchConfigurationError("paths and branches must be at least 1") }
        let cost = p.paths * Self.costPerPath(branches: p.branches, start: p.start, forward: p.forward, backward: p.backward, stepCount: t)
        if cost > budget {
            throw SearchConfigurationError("search over paths with \(p.paths) paths × \(p.branches) branches costs \(cost) NFE at \(t) steps, over the budget of \(budget); lower --paths/--branches or raise --budget")
        }
    }

    public func run(_ engine: inout SearchEngine) -> SearchResult {
        let t = engine.stepCount
        let p = resolved(stepCount: t, budget: engine.budget.limit)
        engine.settings = ["paths": "\(p.paths)", "branches": "\(p.branches)", "start": "\(p.start)",
                           "forward": "\(p.forward)", "backward": "\(p.backward)", "sampling": "deterministic"]
        var lineages = (0..<p.paths).map { _ in SearchEngine.Lineage(id: engine.makeID(), generation: 0, origin: "initial") }
        var population: [ScoredSample] = []
        do throws(SearchStop) {
            var x = try engine.rollout(engine.initialStates(lineages.map { NoiseIdentity(generation: 0, individual: $0.id) }),
                                       from: 0, to: p.start, noiseRows: nil).states
            var cur = p.start
            var round = 1
            while cur < t {
                let parentRows = (0..<(p.paths * p.branches)).map { $0 / p.branches }
                let branchLineages = parentRows.map {
                    SearchEngine.Lineage(id: engine.makeID(), generation: round, parent: lineages[$0].id, origin: "branch")
                }
                let from = cur - p.forward
                let noise = engine.noise(.mutation, branchLineages.map { NoiseIdentity(generation: round, individual: $0.id) }, step: cur)
                var y = engine.trajectory.renoise(x.gatherRows(parentRows), from: cur, to: from, noise: noise)
                let next = min(t, from + p.backward)
                var estimate = y
                for i in from..<next {
                    let s = try engine.step(y, at: i, noiseRows: nil)
                    y = s.states
                    estimate = s.predictedOriginal
                }
                let rewards: [Float]
                if next == t {
                    population = try engine.scoreFinal(y, lineage: branchLineages)
                    rewards = population.map(\.reward)
                } else {
                    rewards = try engine.scoreEstimates(estimate)
                }
                let keep = Array(rankDescending(rewards).prefix(p.paths))
                x = y.gatherRows(keep)
                lineages = keep.map { branchLineages[$0] }
                if next == t { population = keep.map { population[$0] } }
                cur = next
                round += 1
            }
        } catch {
            return engine.finish(method: Self.methodName, population: population, stop: error)
        }
        return engine.finish(method: Self.methodName, population: population)
    }
}
