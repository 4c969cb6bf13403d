import Foundation
import ToyWorlds

/// What `bench toy` prints: per world, every cell's mean best reward with its standard error and both compute
/// axes, then a reference contender (EvoSearch by default) against every other one at equal NFE and at equal
/// total compute, as paired differences with bootstrap intervals; a difference is a win or a loss only when
/// its interval excludes zero.
///
/// - Equal NFE: the paired difference reference − contender at the same budget, over the seeds both cells ran.
/// - Equal total compute: total compute is the measured model plus reward time of each search. At each of the
///   reference's budgets, with mean compute c, the contender's mean best reward at compute c is interpolated
///   linearly in log compute between its two budgets whose mean compute brackets c; no comparison when c lies
///   outside the contender's measured range (nothing is extrapolated). The interval resamples seeds jointly over
///   the reference's cell and all of the contender's cells (their common seeds), recomputing every mean and the
///   interpolation each time; a resample whose c falls outside the range uses the nearest end.
public struct ToyBenchmarkReport {
    public struct Cell: Sendable {
        public var world: String, contender: String, rollouts: Int, seeds: Int
        public var best: Double, bestStandardError: Double
        public var nfe: Double, rewardCalls: Double
        /// Means per search, in seconds.
        public var modelSeconds: Double, rewardSeconds: Double, computeSeconds: Double, overheadSeconds: Double
        public var coverage: Double, totalVariation: Double
    }

    public struct Comparison: Sendable {
        public var world: String, reference: String, contender: String
        /// The reference's budget.
        public var rollouts: Int
        /// Seeds both sides ran (the common prefix).
        public var seeds: Int
        /// reference − contender.
        public var difference: Double
        public var interval: Interval
        /// From the reference's side.
        public var outcome: Outcome
        /// Equal compute only: the reference's mean compute (seconds) at which the contender was read.
        public var computeSeconds: Double?
    }

    public var worlds: [ToyScenario]
    public var contenders: [String]
    public var rollouts: [Int]
    public var reference: String
    public var bootstrap: Bootstrap
    /// The standard error the seed count aimed at, if any (cells above it are flagged).
    public var targetStandardError: Double?
    public var result: ToyBenchmark.Result
    public private(set) var cells: [Cell] = []
    public private(set) var equalNFE: [Comparison] = []
    public private(set) var equalCompute: [Comparison] = []

    public init(result: ToyBenchmark.Result, worlds: [ToyScenario], contenders: [String], rollouts: [Int],
                reference: String, bootstrap: Bootstrap = Bootstrap(), targetStandardError: Double? = nil) {
        self.result = result; self.worlds = worlds; self.contenders = contenders; self.rollouts = rollouts
        self.reference = reference; self.bootstrap = bootstrap; self.targetStandardError = targetStandardError
        for w in worlds {
            for r in rollouts {
                for c in contenders {
                    let runs = self.runs(w.name, c, r)
                    if !runs.isEmpty { cells.append(Self.cell(runs)) }
                }
            }
            for c in contenders where c != reference {
                for r in rollouts {
                    if let cmp = compareAtEqualNFE(world: w.name, contender: c, rollouts: r) { equalNFE.append(cmp) }
                    if let cmp = compareAtEqualCompute(world: w.name, contender: c, rollouts: r) { equalCompute.append(cmp) }
                }
            }
        }
    }

    /// The runs of one cell, in seed order.
    func runs(_ world: String, _ contender: String, _ rollouts: Int) -> [ToyBenchmark.Run] {
        result.runs.filter { $0.world == world && $0.contender == contender && $0.rollouts == rollouts }.sorted { $0.seed < $1.seed }
    }

    static func cell(_ runs: [ToyBenchmark.Run]) -> Cell {
        func mean(_ f: (ToyBenchmark.Run) -> Double) -> Double { runs.reduce(0) { $0 + f($1) } / Double(runs.count) }
        let best = runs.map(\.best)
        return Cell(world: runs[0].world, contender: runs[0].contender, rollouts: runs[0].rollouts, seeds: runs.count,
                    best: mean(\.best), bestStandardError: Statistics.standardError(best),
                    nfe: mean { Double($0.nfe) }, rewardCalls: mean { Double($0.rewardCalls) },
                    modelSeconds: mean(\.modelSeconds), rewardSeconds: mean(\.rewardSeconds), computeSeconds: mean(\.computeSeconds),
                    overheadSeconds: mean { max(0, $0.wallSeconds - $0.computeSeconds) },
                    coverage: mean(\.coverage), totalVariation: mean(\.totalVariation))
    }

    public func cell(_ world: String, _ contender: String, _ rollouts: Int) -> Cell? {
        cells.first { $0.world == world && $0.contender == contender && $0.rollouts == rollouts }
    }

    func compareAtEqualNFE(world: String, contender: String, rollouts r: Int) -> Comparison? {
        let a = runs(world, reference, r), b = runs(world, contender, r)
        let n = min(a.count, b.count)
        guard let p = Self.pairedDifference(a.prefix(n).map(\.best), b.prefix(n).map(\.best), bootstrap: bootstrap) else { return nil }
        return Comparison(world: world, reference: reference, contender: contender, rollouts: r, seeds: n,
                          difference: p.difference, interval: p.interval, outcome: Outcome(p.interval), computeSeconds: nil)
    }

    func compareAtEqualCompute(world: String, contender: String, rollouts r: Int) -> Comparison? {
        let ref = runs(world, reference, r)
        let curve = rollouts.map { runs(world, contender, $0) }.filter { !$0.isEmpty }
        guard curve.count >= 2, !ref.isEmpty else { return nil }
        let n = min(ref.count, curve.map(\.count).min()!)
        guard let p = Self.differenceAtEqualCost(
            reference: (value: ref.prefix(n).map(\.best), cost: ref.prefix(n).map(\.computeSeconds)),
            curve: curve.map { (value: $0.prefix(n).map(\.best), cost: $0.prefix(n).map(\.computeSeconds)) },
            bootstrap: bootstrap) else { return nil }
        return Comparison(world: world, reference: reference, contender: contender, rollouts: r, seeds: n,
                          difference: p.difference, interval: p.interval, outcome: Outcome(p.interval), computeSeconds: p.cost)
    }

    /// The mean paired difference a[i] − b[i] (observations matched by index) with its bootstrap interval; nil for
    /// no observations or unequal counts.
    public static func pairedDifference(_ a: [Double], _ b: [Double], bootstrap: Bootstrap) -> (difference: Double, interval: Interval)? {
        guard !a.isEmpty, a.count == b.count else { return nil }
        let d = zip(a, b).map { $0 - $1 }
        guard let interval = bootstrap.meanInterval(d) else { return nil }
        return (d.reduce(0, +) / Double(d.count), interval)
    }

    /// The equal-cost read of the type's doc comment on observations matched by index: the reference's mean value
    /// minus the contender's curve (one (value, cost) cell per budget, each with the reference's count)
    /// interpolated in log cost at the reference's mean cost, with the bootstrap interval that resamples the
    /// observations jointly. nil when the curve has fewer than two cells, counts differ, or the reference's mean
    /// cost lies outside the curve's measured range.
    public static func differenceAtEqualCost(reference: (value: [Double], cost: [Double]), curve: [(value: [Double], cost: [Double])],
                                             bootstrap: Bootstrap) -> (difference: Double, interval: Interval, cost: Double)? {
        let n = reference.value.count
        guard n > 0, curve.count >= 2, reference.cost.count == n,
              curve.allSatisfy({ $0.value.count == n && $0.cost.count == n }) else { return nil }
        let all = [Int](repeating: 1, count: n)
        func statistic(_ w: [Int], clamp: Bool) -> (difference: Double, cost: Double)? {
            let c = Bootstrap.weightedMean(reference.cost, w)
            let points = curve.map { (Bootstrap.weightedMean($0.cost, w), Bootstrap.weightedMean($0.value, w)) }
            guard let value = interpolateInLogCost(points, at: c, clamp: clamp) else { return nil }
            return (Bootstrap.weightedMean(reference.value, w) - value, c)
        }
        guard let point = statistic(all, clamp: false),
              let interval = bootstrap.interval(count: n, statistic: { statistic($0, clamp: true)?.difference ?? point.difference }) else { return nil }
        return (point.difference, interval, point.cost)
    }

    /// The value at cost `c` on the curve through `points` (cost, value), linear in log cost between the two
    /// points (sorted by cost) that bracket c. Outside the points' costs: nil, or the nearest end's value when
    /// `clamp`.
    public static func interpolateInLogCost(_ points: [(cost: Double, value: Double)], at c: Double, clamp: Bool) -> Double? {
        let p = points.sorted { $0.cost < $1.cost }
        guard let first = p.first, let last = p.last, c > 0, first.cost > 0 else { return nil }
        if c < first.cost { return clamp ? first.value : nil }
        if c > last.cost { return clamp ? last.value : nil }
        for j in 0..<(p.count - 1) where c <= p[j + 1].cost {
            let lo = p[j], hi = p[j + 1]
            if hi.cost == lo.cost { return (lo.value + hi.value) / 2 }
            let t = (log(c) - log(lo.cost)) / (log(hi.cost) - log(lo.cost))
            return lo.value + t * (hi.value - lo.value)
        }
        return last.value
    }

    // MARK: Text

    /// "+0.0123", or "+3.2e-06" when four decimals would show a non-zero value as zero.
    static func signed(_ x: Double) -> String {
        String(format: x != 0 && abs(x) < 0.00005 ? "%+.1e" : "%+.4f", x).replacingOccurrences(of: "-", with: "−")
    }
    static func interval(_ i: Interval) -> String { "[\(signed(i.lower)), \(signed(i.upper))]" }
    static func ms(_ s: Double) -> String { String(format: s < 0.01 ? "%.4f" : "%.3f", s * 1000) }

    /// Budgets as a compact list: "4, 8 and 64".
    static func budgetList(_ b: [Int]) -> String {
        let s = b.map(String.init)
        return s.count <= 1 ? s.joined() : s.dropLast().joined(separator: ", ") + " and " + s.last!
    }

    /// One sentence: whom the reference beats and loses to on one axis.
    func verdicts(_ comparisons: [Comparison], world: String) -> String {
        var wins: [String] = [], losses: [String] = []
        for c in contenders where c != reference {
            let rows = comparisons.filter { $0.world == world && $0.contender == c }
            let w = rows.filter { $0.outcome == .win }.map(\.rollouts), l = rows.filter { $0.outcome == .loss }.map(\.rollouts)
            if !w.isEmpty { wins.append("\(c) (\(Self.budgetList(w)))") }
            if !l.isEmpty { losses.append("\(c) (\(Self.budgetList(l)))") }
        }
        return "wins against " + (wins.isEmpty ? "none" : wins.joined(separator: ", ")) + "; loses against "
            + (losses.isEmpty ? "none" : losses.joined(separator: ", "))
    }

    public var markdown: String {
        var t = ""
        let flag = targetStandardError.map { String(format: " (* standard error above the %.3g target: the cell stopped at its seed limit)", $0) } ?? ""
        for w in worlds {
            let worldCells = cells.filter { $0.world == w.name }
            guard !worldCells.isEmpty else { continue }
            t += "\n### \(w.name) (d = \(w.dimension), \(w.path.rawValue), \(w.steps) steps)\n\n"
            t += "Per cell: mean over seeds. Compute = measured model + reward time per search (ms); overhead = the rest of the search's wall time\(flag).\n\n"
            t += "| method | rollouts | NFE | seeds | best reward ± SE | compute ms (model + reward) | overhead ms | reward calls | mode coverage | mode TV |\n"
            t += "|---|---|---|---|---|---|---|---|---|---|\n"
            for r in rollouts {
                for c in contenders {
                    guard let x = cell(w.name, c, r) else { continue }
                    let star = (targetStandardError.map { x.bestStandardError > $0 } ?? false) ? "*" : ""
                    t += String(format: "| %@ | %d | %.0f | %d | %.4f ± %.4f%@ | %@ (%@ + %@) | %@ | %.0f | %.2f | %.3f |\n",
                                c, r, x.nfe, x.seeds, x.best, x.bestStandardError, star, Self.ms(x.computeSeconds),
                                Self.ms(x.modelSeconds), Self.ms(x.rewardSeconds), Self.ms(x.overheadSeconds), x.rewardCalls,
                                x.coverage, x.totalVariation)
                }
            }
            for s in result.skipped where s.world == w.name {
                t += "\n\(s.contender) at \(s.rollouts) rollouts skipped: \(s.reason)"
            }
            t += "\n\(reference) − method, paired over common seeds; 95% bootstrap intervals (\(bootstrap.resamples) resamples, seed \(bootstrap.seed)). "
            t += "Equal compute: \(reference) at the row's budget against the method interpolated at \(reference)'s mean compute (— outside the method's measured range).\n\n"
            t += "| method | rollouts | equal NFE: difference [95% CI] | | equal compute: difference [95% CI] at ms | |\n|---|---|---|---|---|---|\n"
            for c in contenders where c != reference {
                for r in rollouts {
                    let a = equalNFE.first { $0.world == w.name && $0.contender == c && $0.rollouts == r }
                    let b = equalCompute.first { $0.world == w.name && $0.contender == c && $0.rollouts == r }
                    guard a != nil || b != nil else { continue }
                    let nfe = a.map { "\(Self.signed($0.difference)) \(Self.interval($0.interval))" } ?? "—"
                    let comp = b.map { "\(Self.signed($0.difference)) \(Self.interval($0.interval)) at \(Self.ms($0.computeSeconds ?? 0))" } ?? "—"
                    t += "| \(c) | \(r) | \(nfe) | \(a?.outcome.rawValue ?? "") | \(comp) | \(b?.outcome.rawValue ?? "") |\n"
                }
            }
            t += "\nAt equal NFE \(reference) \(verdicts(equalNFE, world: w.name)).\n"
            t += "At equal compute \(reference) \(verdicts(equalCompute, world: w.name)).\n"
        }
        return t + summary
    }

    /// Across worlds: wins / ties / losses of the reference against each method on both axes.
    public var summary: String {
        var t = "\n### \(reference) against each method, all worlds (wins / ties / losses of \(reference))\n\n"
        t += "| method | equal NFE | equal compute |\n|---|---|---|\n"
        func count(_ rows: [Comparison]) -> String {
            "\(rows.filter { $0.outcome == .win }.count) / \(rows.filter { $0.outcome == .tie }.count) / \(rows.filter { $0.outcome == .loss }.count)"
        }
        for c in contenders where c != reference {
            t += "| \(c) | \(count(equalNFE.filter { $0.contender == c })) | \(count(equalCompute.filter { $0.contender == c })) |\n"
        }
        return t
    }

    /// Every run as CSV.
    public var runsCSV: String {
        var text = "world,method,rollouts,seed,best_reward,mode_coverage,mode_tv,nfe,reward_calls,model_seconds,reward_seconds,wall_seconds\n"
        for r in result.runs {
            text += "\(r.world),\(r.contender),\(r.rollouts),\(r.seed),\(r.best),\(r.coverage),\(r.totalVariation),\(r.nfe),\(r.rewardCalls),\(r.modelSeconds),\(r.rewardSeconds),\(r.wallSeconds)\n"
        }
        return text
    }
}
