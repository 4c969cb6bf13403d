/// When EvoSearch evolves and how large each population is (DESIGN.md §3).
///
/// `evolutionSteps` E = [e_0 < … < e_{K-1}] are state indices in 0..<T (0 = the initial noise);
/// `populations` P = [P_0, …, P_K]: P_0 is the first population, P_{k+1} the children emitted at e_k.
/// `elites` m of each generation are carried over unchanged (m < every P_{k+1}).
public struct EvolutionSchedule: Sendable, Equatable, CustomStringConvertible {
    public var evolutionSteps: [Int]
    public var populations: [Int]
    public var elites: Int

    public init(evolutionSteps: [Int], populations: [Int], elites: Int) {
        self.evolutionSteps = evolutionSteps
        self.populations = populations
        self.elites = elites
    }

    /// NFE = P_0·T + Σ_k P_{k+1}·(T − e_k).
    public func nfe(stepCount t: Int) -> Int {
        var total = (populations.first ?? 0) * t
        for (k, e) in evolutionSteps.enumerated() where k + 1 < populations.count { total += populations[k + 1] * (t - e) }
        return total
    }

    public var description: String {
        "E=\(evolutionSteps) P=\(populations) elites=\(elites)"
    }

    /// Checks the schedule against the step count and the budget; the error names the field and the fix.
    public func validate(stepCount t: Int, budget: Int) throws(SearchConfigurationError) {
        for (k, e) in evolutionSteps.enumerated() {
            if e < 0 || e >= t {
                throw SearchConfigurationError("evolution schedule: entry \(k) is \(e), outside 0..<\(t) (the model has \(t) steps)")
            }
            if k > 0 && e <= evolutionSteps[k - 1] {
                throw SearchConfigurationError("evolution schedule: \(evolutionSteps) is not strictly increasing at entry \(k); list each step once, in order")
            }
        }
        if populations.count != evolutionSteps.count + 1 {
            throw SearchConfigurationError("population schedule: has \(populations.count) entries, needs \(evolutionSteps.count + 1) (one more than the \(evolutionSteps.count) evolution steps)")
        }
        if let (k, p) = populations.enumerated().first(where: { $0.element < 1 }) {
            throw SearchConfigurationError("population schedule: entry \(k) is \(p); every population needs at least 1 individual")
        }
        if elites < 0 {
            throw SearchConfigurationError("elites: \(elites) is negative; use 0 or more")
        }
        if let smallest = populations.dropFirst().min(), elites >= smallest {
            throw SearchConfigurationError("elites: \(elites) is not below the smallest child population \(smallest); use --elites \(max(0, smallest - 1)) or larger populations")
        }
        let cost = nfe(stepCount: t)
        if cost > budget {
            throw SearchConfigurationError("schedule \(self) costs \(cost) NFE at \(t) steps, over the budget of \(budget); raise --budget or shrink the populations")
        }
    }

    /// A schedule shaped like the paper's (E at 0, 40%, 60% and 80% of the steps; P_0 larger than the
    /// later populations) that spends as much of `budget` as possible. Fewer evolution steps are used
    /// when the budget cannot give every population at least 4 individuals; with budget for one rollout
    /// only, there is no evolution (Best-of-1).
    public static func derived(budget: Int, stepCount t: Int) -> EvolutionSchedule {
        let fractions = [0.0, 0.4, 0.6, 0.8]
        for k in stride(from: fractions.count, through: 1, by: -1) {
            var steps: [Int] = []
            for f in fractions.prefix(k) {
                let e = Int((f * Double(t)).rounded())
                if e < t && (steps.last.map { e > $0 } ?? true) { steps.append(e) }
            }
            let unitCost = t + steps.reduce(0) { $0 + (t - $1) }
            let p = budget / unitCost
            let minimum = steps.count >= 2 ? 4 : 1
            if p < minimum { continue }
            var populations = [Int](repeating: p, count: steps.count + 1)
            var left = budget - p * unitCost
            populations[0] += left / t
            left -= (left / t) * t
            populations[steps.count] += left / (t - steps.last!)
            let elites = max(0, min(max(1, p / 8), populations.dropFirst().min()! - 1))
            return EvolutionSchedule(evolutionSteps: steps, populations: populations, elites: elites)
        }
        // Budget for fewer than two rollouts: Best-of-N with no evolution.
        return EvolutionSchedule(evolutionSteps: [], populations: [max(1, budget / t)], elites: 0)
    }
}
