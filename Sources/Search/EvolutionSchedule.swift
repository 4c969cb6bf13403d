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

    /// A schedule shaped like the paper's that spends as much of `budget` as possible, by `derivation`'s rule
    /// (`Derivation.standard` by default; see there for the rule and the budget below which it evolves the
    /// initial noise only).
    public static func derived(budget: Int, stepCount t: Int, derivation: Derivation = .standard) -> EvolutionSchedule {
        derivation.schedule(budget: budget, stepCount: t)
    }
}

extension EvolutionSchedule {
    /// How a schedule is derived from a budget when none is given.
    ///
    /// Evolution steps sit at `fractions` of the step count (the paper's 0, 40 %, 60 % and 80 %); the
    /// populations are equal, P_0 = P_1 = … = P_K = p with p = ⌊budget / (T + Σ_k (T − e_k))⌋. When p would fall
    /// below `minimumPopulation`, the last evolution step is dropped and p recomputed, down to two evolution
    /// steps. When not even two fit, `fallback` decides: one evolution step at index 0 (E = [0], p ≥ 1) or
    /// Best-of-N (no evolution). What is left of the budget goes first to P_0 (whole rollouts), then to P_K.
    /// Elites: m = ⌊p / `elitesDivisor`⌋ (none when the divisor is nil; at least 1 when `atLeastOneElite`),
    /// always below every child population. With a budget for fewer than two rollouts there is no evolution.
    ///
    /// `standard` (populations ≥ 2, ⌊p/8⌋ elites, else E = [0]) was chosen by paired tuning runs on every
    /// built-in toy world at budgets of 4–64 rollouts (docs/BENCHMARKS.md, `bench schedules`). Below
    /// `smallestMultiStepBudget` (5.2 rollouts at 50 steps) it evolves the initial noise only, which the
    /// stochastic sampler's own noise makes, in effect, Best-of-N.
    public struct Derivation: Sendable, Equatable, CustomStringConvertible {
        /// What to do when the budget cannot give two evolution steps populations of `minimumPopulation`.
        public enum Fallback: String, Sendable, Equatable {
            /// One evolution step at the initial noise, E = [0], populations p ≥ 1.
            case initialNoiseOnly = "E=[0]"
            /// No evolution: ⌊budget / T⌋ independent rollouts.
            case bestOfN = "best-of-n"
        }

        /// Where evolution steps may sit, as fractions of the step count, increasing, the first 0.
        public var fractions: [Double]
        /// Smallest population p that keeps two or more evolution steps.
        public var minimumPopulation: Int
        /// m = ⌊p / elitesDivisor⌋ elites per generation; nil: none.
        public var elitesDivisor: Int?
        /// At least one elite whenever the child populations allow it.
        public var atLeastOneElite: Bool
        public var fallback: Fallback

        public init(fractions: [Double] = [0, 0.4, 0.6, 0.8], minimumPopulation: Int, elitesDivisor: Int? = 8,
                    atLeastOneElite: Bool, fallback: Fallback) {
            precondition(!fractions.isEmpty && fractions[0] == 0, "Derivation: fractions must start at 0")
            precondition(minimumPopulation >= 1 && (elitesDivisor ?? 1) >= 1, "Derivation: minimum population and elites divisor must be ≥ 1")
            self.fractions = fractions
            self.minimumPopulation = minimumPopulation
            self.elitesDivisor = elitesDivisor
            self.atLeastOneElite = atLeastOneElite
            self.fallback = fallback
        }

        /// The default rule (see the type's documentation for how it was chosen).
        public static let standard = Derivation(minimumPopulation: 2, elitesDivisor: 8, atLeastOneElite: false,
                                                fallback: .initialNoiseOnly)

        public var description: String {
            let m = elitesDivisor.map { "⌊p/\($0)⌋" } ?? "0"
            return "p≥\(minimumPopulation), elites \(atLeastOneElite ? "max(1, \(m))" : m), else \(fallback.rawValue)"
        }

        /// The evolution steps this rule uses with `count` of its fractions at `t` steps (duplicates dropped).
        func steps(count: Int, stepCount t: Int) -> [Int] {
            var steps: [Int] = []
            for f in fractions.prefix(count) {
                let e = Int((f * Double(t)).rounded())
                if e < t && (steps.last.map { e > $0 } ?? true) { steps.append(e) }
            }
            return steps
        }

        /// The schedule for `budget` NFE at `t` steps.
        public func schedule(budget: Int, stepCount t: Int) -> EvolutionSchedule {
            for k in stride(from: fractions.count, through: 1, by: -1) {
                let steps = steps(count: k, stepCount: t)
                if steps.count < 2 && fallback == .bestOfN { continue }
                let unitCost = t + steps.reduce(0) { $0 + (t - $1) }
                let p = budget / unitCost
                let minimum = steps.count >= 2 ? minimumPopulation : 1
                if p < minimum { continue }
                var populations = [Int](repeating: p, count: steps.count + 1)
                var left = budget - p * unitCost
                populations[0] += left / t
                left -= (left / t) * t
                populations[steps.count] += left / (t - steps.last!)
                let share = elitesDivisor.map { p / $0 } ?? 0
                let m = atLeastOneElite ? max(1, share) : share
                let elites = max(0, min(m, populations.dropFirst().min()! - 1))
                return EvolutionSchedule(evolutionSteps: steps, populations: populations, elites: elites)
            }
            // No evolution step fits (or the fallback is Best-of-N): independent rollouts.
            return EvolutionSchedule(evolutionSteps: [], populations: [max(1, budget / t)], elites: 0)
        }

        /// The smallest budget (NFE) from which this rule keeps at least two evolution steps at every budget,
        /// at `t` steps; nil when it never does (fewer than two distinct steps fit). Below it the schedule is
        /// E = [0] or Best-of-N (`fallback`).
        public func smallestMultiStepBudget(stepCount t: Int) -> Int? {
            // Fewer fractions cost less per unit, so the first count that yields two distinct steps is the cheapest.
            for k in 1...fractions.count {
                let steps = steps(count: k, stepCount: t)
                if steps.count >= 2 { return minimumPopulation * (t + steps.reduce(0) { $0 + (t - $1) }) }
            }
            return nil
        }
    }
}
