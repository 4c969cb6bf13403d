import ArgumentParser
import Search

extension SearchMethod: ExpressibleByArgument {
    public init?(argument: String) { self.init(name: argument) }
    public static var allValueStrings: [String] { names }
}

/// The methods of a comma-separated `--methods` list (all when nil).
func parseMethods(_ list: String?, option: String = "--methods") throws -> [SearchMethod] {
    guard let list else { return SearchMethod.allCases }
    return try list.split(separator: ",").map { name in
        guard let m = SearchMethod(name: String(name)) else {
            throw CLIError("\(option): unknown method \"\(name)\"; use \(SearchMethod.names.joined(separator: ", "))")
        }
        return m
    }
}

/// Comma-separated integers, e.g. "0,20,30,40".
struct IntList: ExpressibleByArgument, Sendable {
    var values: [Int]
    init?(argument: String) {
        let parts = argument.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        let ints = parts.compactMap { Int($0) }
        guard !parts.isEmpty, ints.count == parts.count else { return nil }
        values = ints
    }
    init(_ values: [Int]) { self.values = values }
}

/// Every method's options; each is used only by its method. Defaults are derived from the budget where
/// the help says so.
struct MethodOptions: ParsableArguments {
    @Option(name: .long, help: "Search method: \(SearchMethod.names.joined(separator: ", ")).")
    var method: SearchMethod = .evosearch

    // EvoSearch
    @Option(name: .long, help: ArgumentHelp("EvoSearch: evolution schedule, comma-separated state indices (0 = initial noise), strictly increasing, below the step count. Default: derived from the budget (0, 40%, 60%, 80% of the steps).", valueName: "e0,e1,…"))
    var evolutionSteps: IntList?
    @Option(name: .long, help: ArgumentHelp("EvoSearch: population schedule, one more entry than the evolution schedule (P0 first). Default: derived from the budget.", valueName: "p0,p1,…"))
    var populations: IntList?
    @Option(name: .long, help: "EvoSearch: elites kept unchanged per generation (default: ⌊1/8⌋ of the population, so none below 8).")
    var elites: Int?
    @Option(name: .long, help: "EvoSearch: tournament subset fraction of the archive.")
    var tournamentFraction: Double = 0.9
    @Option(name: .long, help: "EvoSearch: initial-noise mutation rate β in √(1−β²)·x + β·ε.")
    var mutationRate: Float = 0.2

    // Best-of-N
    @Option(name: .long, help: "Best-of-N: number of samples (default: as many rollouts as the budget buys).")
    var samples: Int?

    // Particle filter
    @Option(name: .long, help: "Particle filter: number of particles (default: as many as the budget buys).")
    var particles: Int?
    @Option(name: .long, help: "Particle filter: potential, one of max, difference, sum, immediate.")
    var potential: String = "max"
    @Option(name: .long, help: "Particle filter: potential strength λ.")
    var lambda: Float = 10
    @Option(name: .long, help: "Particle filter: resampling scheme, multinomial or systematic.")
    var resampling: String = "multinomial"
    @Option(name: .long, help: "Particle filter: resample every K steps.")
    var resampleInterval: Int = 5
    @Option(name: .long, help: "Particle filter: first step index that resamples.")
    var resampleStart: Int = 0
    @Option(name: .long, help: "Particle filter: last step index that may resample (default: the last step).")
    var resampleEnd: Int?
    @Flag(name: .long, help: "Particle filter: resample only when the effective sample size falls below N/2.")
    var adaptive = false

    // Beam search
    @Option(name: .long, help: "Beam search: number of beams K (default: as many as the budget buys).")
    var beams: Int?
    @Option(name: .long, help: "Beam search: candidates per beam B (default 4, fewer on tiny budgets).")
    var candidates: Int?
    @Option(name: .long, help: "Beam search: deterministic look-ahead model calls per candidate (default 1 below 8 rollouts of budget, else 2).")
    var lookahead: Int?

    // Zero-order
    @Option(name: .long, help: "Zero-order: neighbours per iteration (default: about a quarter of the rollouts, 1 to 8).")
    var neighbours: Int?
    @Option(name: .long, help: "Zero-order: cosine between a neighbour and the pivot, in (0, 1).")
    var cosine: Float = 0.9

    // Search over paths
    @Option(name: .long, help: "Search over paths: number of paths kept (default: as many as the budget buys).")
    var paths: Int?
    @Option(name: .long, help: "Search over paths: branches per path.")
    var branches: Int = 2
    @Option(name: .long, help: "Search over paths: state index where branching starts (default T/4).")
    var startStep: Int?
    @Option(name: .long, help: "Search over paths: steps a branch moves back up the schedule, Δf (default T/10).")
    var forward: Int?
    @Option(name: .long, help: "Search over paths: steps a branch denoises, Δb > Δf (default 2·Δf).")
    var backward: Int?

    /// The configured strategy; throws a one-line error for values that cannot work.
    func strategy(stepCount: Int, budget: Int) throws -> any SearchStrategy {
        switch method {
        case .evosearch:
            var schedule: EvolutionSchedule? = nil
            if evolutionSteps != nil || populations != nil || elites != nil {
                let derived = EvolutionSchedule.derived(budget: budget, stepCount: stepCount)
                if (evolutionSteps == nil) != (populations == nil) {
                    throw CLIError("--evolution-steps and --populations go together: give both (populations has one more entry)")
                }
                schedule = EvolutionSchedule(evolutionSteps: evolutionSteps?.values ?? derived.evolutionSteps,
                                             populations: populations?.values ?? derived.populations,
                                             elites: elites ?? derived.elites)
            }
            return EvoSearch(schedule: schedule, tournamentFraction: tournamentFraction, initialMutationRate: mutationRate)
        case .bestOfN:
            return BestOfN(samples: samples)
        case .particle:
            guard let p = ParticleFilter.Potential(rawValue: potential) else {
                throw CLIError("--potential: unknown \"\(potential)\"; use one of \(ParticleFilter.Potential.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard let r = ParticleFilter.Resampling(rawValue: resampling) else {
                throw CLIError("--resampling: unknown \"\(resampling)\"; use multinomial or systematic")
            }
            return ParticleFilter(particles: particles, potential: p, lambda: lambda, resampling: r, interval: resampleInterval,
                                  startStep: resampleStart, endStep: resampleEnd, adaptive: adaptive)
        case .beam:
            return BeamSearch(beams: beams, candidates: candidates, lookahead: lookahead)
        case .zeroOrder:
            return ZeroOrderSearch(neighbours: neighbours, cosine: cosine)
        case .searchOverPaths:
            return SearchOverPaths(paths: paths, branches: branches, startStep: startStep, forward: forward, backward: backward)
        }
    }
}
