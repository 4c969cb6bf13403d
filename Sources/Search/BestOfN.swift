import Sampling
import TensorCore

/// Best-of-N: N independent initial noises rolled out with the sampler's stochastic steps; the best
/// reward wins. N defaults to as many rollouts as the budget pays for.
public struct BestOfN: SearchStrategy {
    public static let methodName = "best-of-n"
    /// Number of samples; `nil` = ⌊budget / T⌋.
    public var samples: Int?

    public init(samples: Int? = nil) { self.samples = samples }

    public func resolvedSamples(stepCount: Int, budget: Int) -> Int { samples ?? budget / stepCount }

    public func validate(stepCount: Int, budget: Int) throws(SearchConfigurationError) {
        let n = resolvedSamples(stepCount: stepCount, budget: budget)
        if n < 1 { throw SearchConfigurationError("samples: \(n) must be at least 1") }
        if n * stepCount > budget {
            throw SearchConfigurationError("samples: \(n) rollouts of \(stepCount) steps cost \(n * stepCount) NFE, over the budget of \(budget); use --samples \(budget / stepCount) or raise --budget")
        }
    }

    public func run(_ engine: inout SearchEngine) -> SearchResult {
        let n = resolvedSamples(stepCount: engine.stepCount, budget: engine.budget.limit)
        engine.settings = ["samples": "\(n)"]
        let lineages = (0..<n).map { _ in SearchEngine.Lineage(id: engine.makeID(), generation: 0, origin: "initial") }
        let rows = lineages.map { NoiseIdentity(generation: 0, individual: $0.id) }
        do throws(SearchStop) {
            let x = try engine.rollout(engine.initialStates(rows), from: 0, to: engine.stepCount, noiseRows: rows).states
            let scored = try engine.scoreFinal(x, lineage: lineages)
            return engine.finish(method: Self.methodName, population: scored)
        } catch {
            return engine.finish(method: Self.methodName, population: [], stop: error)
        }
    }
}
