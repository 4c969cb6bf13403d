import Foundation
import Search
import Testing
import ToyWorlds
@testable import Benchmarks

@Suite struct ToyBenchmarkTests {
    static func world(_ name: String) throws -> ToyScenario { try ToyScenario.builtin(named: name) }

    /// A run with only the fields the report reads.
    static func run(_ contender: String, rollouts: Int, seed: UInt64, best: Double, compute: Double) -> ToyBenchmark.Run {
        ToyBenchmark.Run(world: "rare-mode-bump", contender: contender, rollouts: rollouts, seed: seed, best: best, coverage: 0,
                         totalVariation: 0, nfe: rollouts * 50, rewardCalls: rollouts, modelSeconds: compute, rewardSeconds: 0,
                         wallSeconds: compute)
    }

    @Test func aMethodAgainstItselfDiffersByExactlyZeroAtEqualNFE() throws {
        let same = [ToyBenchmark.Contender(name: "a", strategy: EvoSearch()), ToyBenchmark.Contender(name: "b", strategy: EvoSearch())]
        let w = try Self.world("rare-mode-bump")
        let result = try ToyBenchmark(worlds: [w], contenders: same, settings: ToyBenchmark.Settings(rollouts: [3, 8], seeds: .fixed(40))).run()
        #expect(result.runs.count == 2 * 2 * 40)
        let report = ToyBenchmarkReport(result: result, worlds: [w], contenders: ["a", "b"], rollouts: [3, 8], reference: "a",
                                        bootstrap: Bootstrap(resamples: 200))
        #expect(report.equalNFE.count == 2)
        for c in report.equalNFE {
            #expect(c.difference == 0 && c.interval == Interval(lower: 0, upper: 0) && c.outcome == .tie, "\(c)")
        }
        // The searches themselves did something: the rewards vary over seeds.
        #expect(try #require(report.cell(w.name, "a", 8)).bestStandardError > 0)
    }

    @Test func seedsAreConsecutiveFromTheFirstSeedAndPairedAcrossCells() throws {
        let w = try Self.world("rare-mode-bump")
        let result = try ToyBenchmark(worlds: [w], contenders: [.method(.bestOfN), .method(.evosearch)],
                                      settings: ToyBenchmark.Settings(rollouts: [2], seeds: .fixed(5), firstSeed: 100_000)).run()
        for c in ["best-of-n", "evosearch"] {
            #expect(result.runs.filter { $0.contender == c }.map(\.seed) == Array(100_000..<100_005))
        }
        // Best-of-N at 2 rollouts is two independent samples, whose best a direct search with the same seed reproduces.
        let direct = try BestOfN().search(try w.makeTrajectory(), reward: w.makeReward(), budget: 100, options: SearchOptions(seed: 100_003))
        #expect(result.runs.first { $0.contender == "best-of-n" && $0.seed == 100_003 }?.best == Double(direct.best.reward))
    }

    @Test func adaptiveSeedCountsStopAtTheTargetOrTheLimit() throws {
        // A constant reward has no spread: the cell stops at the minimum.
        let flat = try ToyBenchmark.WorldBench(world: Self.world("rare-mode-constant"))
        guard case .runs(let a) = try flat.cell(.method(.bestOfN), rollouts: 1, seeds: .untilStandardError(0.02, minimum: 4, maximum: 20, block: 3), firstSeed: 0) else {
            Issue.record("skipped"); return
        }
        #expect(a.count == 4)
        // An unreachable target: the cell runs to the maximum, in blocks (4, 7, 10, 11).
        let bump = try ToyBenchmark.WorldBench(world: Self.world("d64-linear-vp"))
        guard case .runs(let b) = try bump.cell(.method(.bestOfN), rollouts: 1, seeds: .untilStandardError(1e-9, minimum: 4, maximum: 11, block: 3), firstSeed: 0) else {
            Issue.record("skipped"); return
        }
        #expect(b.count == 11)
        #expect(Statistics.standardError(b.map(\.best)) > 1e-9)
    }

    @Test func aContenderThatRefusesABudgetIsSkippedWithItsReason() throws {
        let w = try Self.world("rare-mode-bump")
        let fixed = ToyBenchmark.Contender(name: "best-of-10", strategy: BestOfN(samples: 10))
        let result = try ToyBenchmark(worlds: [w], contenders: [fixed], settings: ToyBenchmark.Settings(rollouts: [2, 10], seeds: .fixed(2))).run()
        #expect(result.runs.map(\.rollouts) == [10, 10])
        #expect(result.skipped.count == 1)
        #expect(result.skipped.first?.rollouts == 2)
        #expect(result.skipped.first?.reason.contains("samples: 10 rollouts of 50 steps cost 500 NFE, over the budget of 100") == true)
    }

    @Test func settingsThatCannotWorkAreNamed() {
        #expect(ToyBenchmark.Settings(rollouts: [4, 0]).problem?.hasPrefix("rollouts") == true)
        #expect(ToyBenchmark.Settings(rollouts: [4, 4]).problem?.contains("twice") == true)
        #expect(ToyBenchmark.Settings(rollouts: [4], seeds: .fixed(0)).problem?.hasPrefix("seeds") == true)
        #expect(ToyBenchmark.Settings(rollouts: [4], seeds: .untilStandardError(0, minimum: 2, maximum: 9, block: 1)).problem?.hasPrefix("target standard error") == true)
        #expect(ToyBenchmark.Settings(rollouts: [4], seeds: .untilStandardError(0.1, minimum: 1, maximum: 9, block: 1)).problem?.hasPrefix("minimum seeds") == true)
        #expect(ToyBenchmark.Settings(rollouts: [4], seeds: .untilStandardError(0.1, minimum: 10, maximum: 9, block: 1)).problem?.hasPrefix("maximum seeds") == true)
        #expect(ToyBenchmark.Settings(rollouts: [4]).problem == nil)
        #expect(throws: ToyBenchmarkError("rollouts: every budget must be at least 1 rollout")) {
            try ToyBenchmark(worlds: [], contenders: [], settings: ToyBenchmark.Settings(rollouts: [])).run()
        }
    }

    @Test func interpolationIsLinearInLogCostAndNeverExtrapolates() {
        let points: [(cost: Double, value: Double)] = [(100, 2), (1, 0), (1000, 3)]
        #expect(abs(ToyBenchmarkReport.interpolateInLogCost(points, at: 10, clamp: false)! - 1) < 1e-12)
        #expect(abs(ToyBenchmarkReport.interpolateInLogCost(points, at: 1000.0.squareRoot() * 10, clamp: false)! - 2.5) < 1e-12)
        #expect(ToyBenchmarkReport.interpolateInLogCost(points, at: 100, clamp: false) == 2)
        #expect(ToyBenchmarkReport.interpolateInLogCost(points, at: 0.5, clamp: false) == nil)
        #expect(ToyBenchmarkReport.interpolateInLogCost(points, at: 2000, clamp: false) == nil)
        #expect(ToyBenchmarkReport.interpolateInLogCost(points, at: 0.5, clamp: true) == 0)
        #expect(ToyBenchmarkReport.interpolateInLogCost(points, at: 2000, clamp: true) == 3)
    }

    @Test func equalComputeReadsTheContenderAtTheReferencesCost() throws {
        // Reference "ref" at 2 rollouts costs 10 ms with best 1 + a seed-dependent offset; "other" costs 1, 100 and
        // 1000 ms at 1, 2 and 4 rollouts with bests 0, 2, 3 — at 10 ms, half-way in log cost between 1 and 100 ms: 1.
        var runs: [ToyBenchmark.Run] = []
        for s in 0..<50 {
            let offset = Double(s % 5 - 2) / 16
            runs.append(Self.run("ref", rollouts: 2, seed: UInt64(s), best: 1 + offset, compute: 0.010))
            runs.append(Self.run("ref", rollouts: 1, seed: UInt64(s), best: 0.5, compute: 0.0001))
            for (r, c, b) in [(1, 0.001, 0.0), (2, 0.1, 2.0), (4, 1.0, 3.0)] {
                runs.append(Self.run("other", rollouts: r, seed: UInt64(s), best: b + offset, compute: c))
            }
        }
        let w = try Self.world("rare-mode-bump")
        let report = ToyBenchmarkReport(result: ToyBenchmark.Result(runs: runs, skipped: [], seconds: 0), worlds: [w],
                                        contenders: ["ref", "other"], rollouts: [1, 2, 4], reference: "ref", bootstrap: Bootstrap(resamples: 200))
        let atTwo = try #require(report.equalCompute.first { $0.rollouts == 2 })
        #expect(abs(atTwo.difference) < 1e-9)
        #expect(atTwo.interval.contains(0) && atTwo.outcome == .tie)
        #expect(abs(try #require(atTwo.computeSeconds) - 0.010) < 1e-12)
        // At 1 rollout the reference costs 0.1 ms, below the other's cheapest budget: no comparison.
        #expect(report.equalCompute.first { $0.rollouts == 1 } == nil)
        // At equal NFE (2 rollouts) the reference is 1 worse on every seed.
        let nfe = try #require(report.equalNFE.first { $0.rollouts == 2 })
        #expect(nfe.difference == -1 && nfe.interval == Interval(lower: -1, upper: -1) && nfe.outcome == .loss)
        #expect(report.markdown.contains("At equal NFE ref wins against other (1); loses against other (2)."))
    }
}

@Suite struct ToyBenchmarkReportTextTests {
    @Test func differencesTooSmallForFourDecimalsAreShownInScientificNotation() {
        #expect(ToyBenchmarkReport.signed(0.01234) == "+0.0123")
        #expect(ToyBenchmarkReport.signed(-0.5) == "−0.5000")
        #expect(ToyBenchmarkReport.signed(0) == "+0.0000")
        #expect(ToyBenchmarkReport.signed(3.2e-6) == "+3.2e−06")
    }
}
