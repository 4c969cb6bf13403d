import Foundation
import Search
import ToyWorlds

/// Tuning runs for EvoSearch's schedule derivation (`bench schedules`): candidate `EvolutionSchedule.Derivation`
/// rules against a baseline rule on the toy worlds, at each budget, paired over the same seeds.
///
/// Where a candidate derives exactly the baseline's schedule for a world's step count and budget, the two
/// searches are identical seed by seed, so the row is reported as a zero difference without running them. Runs
/// are shared between candidates that derive the same schedule. Seeds start at `firstSeed` (tuning seeds are kept
/// disjoint from the seeds `bench toy` reports, which start at 0).
public struct ScheduleTuning {
    public struct Row: Sendable {
        public var world: String, rollouts: Int
        public var candidate: EvolutionSchedule.Derivation
        public var baselineSchedule: EvolutionSchedule, candidateSchedule: EvolutionSchedule
        public var seeds: Int
        public var baselineMean: Double, candidateMean: Double
        /// Standard deviation of the baseline's best reward (for standardised gains).
        public var baselineStandardDeviation: Double
        /// candidate − baseline, its interval and outcome (from the candidate's side).
        public var difference: Double, interval: Interval, outcome: Outcome
        public var identical: Bool { baselineSchedule == candidateSchedule }
    }

    public var worlds: [ToyScenario]
    public var baseline: EvolutionSchedule.Derivation
    public var candidates: [EvolutionSchedule.Derivation]
    public var rollouts: [Int]
    public var seeds: Int
    public var firstSeed: UInt64
    public var bootstrap: Bootstrap
    public var progress: (String) -> Void

    public init(worlds: [ToyScenario], baseline: EvolutionSchedule.Derivation, candidates: [EvolutionSchedule.Derivation],
                rollouts: [Int], seeds: Int, firstSeed: UInt64 = 100_000, bootstrap: Bootstrap = Bootstrap(),
                progress: @escaping (String) -> Void = { _ in }) {
        self.worlds = worlds; self.baseline = baseline; self.candidates = candidates; self.rollouts = rollouts
        self.seeds = seeds; self.firstSeed = firstSeed; self.bootstrap = bootstrap; self.progress = progress
    }

    /// The rule the derivation used before tuning: populations of at least 4 for two or more evolution steps,
    /// max(1, ⌊p/8⌋) elites.
    public static let formerStandard = EvolutionSchedule.Derivation(minimumPopulation: 4, elitesDivisor: 8, atLeastOneElite: true,
                                                                    fallback: .initialNoiseOnly)

    /// The grid searched: minimum population 1–4 × elites max(1, ⌊p/8⌋), ⌊p/8⌋ or none × fallback E = [0] or
    /// Best-of-N.
    public static var grid: [EvolutionSchedule.Derivation] {
        let elites: [(Int?, Bool)] = [(8, true), (8, false), (nil, false)]
        return (1...4).flatMap { p in
            elites.flatMap { e in
                [EvolutionSchedule.Derivation.Fallback.initialNoiseOnly, .bestOfN].map {
                    EvolutionSchedule.Derivation(minimumPopulation: p, elitesDivisor: e.0, atLeastOneElite: e.1, fallback: $0)
                }
            }
        }
    }

    public func run() throws(ToyBenchmarkError) -> [Row] {
        if seeds < 2 { throw ToyBenchmarkError("seeds: \(seeds) must be at least 2") }
        if rollouts.isEmpty || rollouts.contains(where: { $0 < 1 }) { throw ToyBenchmarkError("rollouts: every budget must be at least 1 rollout") }
        var rows: [Row] = []
        for world in worlds {
            let bench = try ToyBenchmark.WorldBench(world: world)
            for r in rollouts {
                let budget = r * world.steps
                var bySchedule: [String: [Double]] = [:]
                func best(_ rule: EvolutionSchedule.Derivation) throws(ToyBenchmarkError) -> [Double] {
                    let schedule = rule.schedule(budget: budget, stepCount: world.steps)
                    if let cached = bySchedule[schedule.description] { return cached }
                    progress("\(world.name) · \(r) rollouts · \(schedule)")
                    let contender = ToyBenchmark.Contender(name: schedule.description, strategy: EvoSearch(schedule: schedule))
                    var values: [Double] = []
                    for i in 0..<seeds { values.append(try bench.run(contender, rollouts: r, seed: firstSeed + UInt64(i)).best) }
                    bySchedule[schedule.description] = values
                    return values
                }
                let base = try best(baseline)
                let (baseMean, baseSD) = Statistics.meanAndStandardDeviation(base)
                let baseSchedule = baseline.schedule(budget: budget, stepCount: world.steps)
                for c in candidates {
                    let schedule = c.schedule(budget: budget, stepCount: world.steps)
                    var row = Row(world: world.name, rollouts: r, candidate: c, baselineSchedule: baseSchedule, candidateSchedule: schedule,
                                  seeds: seeds, baselineMean: baseMean, candidateMean: baseMean, baselineStandardDeviation: baseSD,
                                  difference: 0, interval: Interval(lower: 0, upper: 0), outcome: .tie)
                    if schedule != baseSchedule {
                        let values = try best(c)
                        let d = zip(values, base).map { $0 - $1 }
                        row.candidateMean = values.reduce(0, +) / Double(seeds)
                        row.difference = d.reduce(0, +) / Double(seeds)
                        row.interval = bootstrap.meanInterval(d)!
                        row.outcome = Outcome(row.interval)
                    }
                    rows.append(row)
                }
            }
        }
        return rows
    }

    /// Per candidate over every (world, budget): wins / ties / losses against the baseline and the mean
    /// standardised gain (difference / the baseline's standard deviation; 0 where that is 0).
    public static func summary(_ rows: [Row], candidates: [EvolutionSchedule.Derivation]) -> [(candidate: EvolutionSchedule.Derivation, wins: Int, ties: Int, losses: Int, gain: Double)] {
        candidates.map { c in
            let mine = rows.filter { $0.candidate == c }
            let gains = mine.map { $0.baselineStandardDeviation > 0 ? $0.difference / $0.baselineStandardDeviation : 0 }
            return (c, mine.filter { $0.outcome == .win }.count, mine.filter { $0.outcome == .tie }.count,
                    mine.filter { $0.outcome == .loss }.count, gains.isEmpty ? 0 : gains.reduce(0, +) / Double(gains.count))
        }
    }

    /// The tables: the summary per candidate, then each world's rows.
    public func markdown(_ rows: [Row]) -> String {
        var t = "Baseline: \(baseline). \(seeds) seeds from \(firstSeed); differences candidate − baseline, paired; 95% bootstrap intervals "
        t += "(\(bootstrap.resamples) resamples, seed \(bootstrap.seed)); win / loss only when the interval excludes zero.\n\n"
        t += "| candidate | wins | ties | losses | mean standardised gain |\n|---|---|---|---|---|\n"
        for s in Self.summary(rows, candidates: candidates) {
            t += String(format: "| %@ | %d | %d | %d | %+.3f |\n", s.candidate.description, s.wins, s.ties, s.losses, s.gain)
        }
        for w in worlds {
            t += "\n#### \(w.name)\n\n| rollouts | candidate | schedule | baseline mean | candidate − baseline [95% CI] | |\n|---|---|---|---|---|---|\n"
            for row in rows where row.world == w.name {
                let diff = row.identical ? "same schedule"
                    : "\(ToyBenchmarkReport.signed(row.difference)) \(ToyBenchmarkReport.interval(row.interval))"
                t += String(format: "| %d | %@ | %@ | %.4f | %@ | %@ |\n", row.rollouts, row.candidate.description,
                            row.candidateSchedule.description, row.baselineMean, diff, row.identical ? "" : row.outcome.rawValue)
            }
        }
        return t
    }
}
