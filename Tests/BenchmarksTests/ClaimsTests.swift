import Catalog
import Foundation
import RandomStreams
#if canImport(FoundationXML)
import FoundationXML
#endif
import Sampling
import Search
import Testing
@testable import Benchmarks
@testable import ShapesWorld

/// ClaimsReport's reads on hand-built runs (exact expected values), the diversity measures, and `--quick`
/// end to end on the embedded models.
@Suite struct ClaimsReportTests {
    typealias Run = ClaimsBenchmark.Run
    static let units: [(String, UInt64)] = [("a red square", 0), ("a red square", 1), ("a blue circle", 0), ("a blue circle", 1)]

    static func run(_ method: String, _ rollouts: Int, unit: Int, guide: String = ClaimsBenchmark.verifierName, reward: Double,
                    clip: Double? = nil, cost: Double = 1, layouts: Int = 1, pixel: Double? = nil) -> Run {
        let (prompt, seed) = units[unit]
        return Run(guide: guide, method: method, rollouts: rollouts, prompt: prompt, task: "single_object", seed: seed, nfe: rollouts * 10,
                   rewardCalls: rollouts, guideReward: reward, verifierScore: reward, correct: reward == 1, clipScore: clip,
                   modelSeconds: cost, rewardSeconds: 0, wallSeconds: cost, diversitySize: 4, layouts: layouts,
                   latentDistance: nil, pixelDistance: pixel)
    }

    static func report(_ runs: [Run], methods: [SearchMethod] = [.evosearch, .bestOfN], rollouts: [Int] = [1, 4],
                       equalTime: [ClaimsBenchmark.EqualTimeRun] = []) -> ClaimsReport {
        let settings = ClaimsBenchmark.Settings(steps: 10, seeds: 2, rollouts: rollouts, methods: methods, largeSamples: [1])
        return ClaimsReport(settings: settings,
                            result: ClaimsBenchmark.Result(runs: runs, skipped: [], equalTime: equalTime, interrupted: false, seconds: 1),
                            context: ClaimsReport.Context(command: "evosearch bench claims", commit: "abc", model: "small",
                                                          largeModel: "large", clipModel: "clip", prompts: "test prompts"),
                            bootstrap: Bootstrap(resamples: 500, seed: 3))
    }

    /// Best-of-N: 0.2 at 1 rollout (1 s), 0.6 at 4 (4 s); EvoSearch 0.9 at 4 rollouts in 2 s, on every pair.
    static var winRuns: [Run] {
        (0..<4).flatMap { u in
            [Self.run("best-of-n", 1, unit: u, reward: 0.2, cost: 1), Self.run("best-of-n", 4, unit: u, reward: 0.6, cost: 4, pixel: 3),
             Self.run("evosearch", 4, unit: u, reward: 0.9, cost: 2, layouts: 3, pixel: 5 + Double(u))]
        }
    }

    @Test func aConstructedWinIsAWinOnBothAxes() throws {
        let r = Self.report(Self.winRuns)
        let nfe = try #require(r.compare(ClaimsBenchmark.verifierName, .guideReward, contender: "best-of-n", rollouts: 4, axis: .nfe))
        #expect(abs(nfe.difference - 0.3) < 1e-12)
        #expect(abs(nfe.interval.lower - 0.3) < 1e-12 && abs(nfe.interval.upper - 0.3) < 1e-12)
        #expect(nfe.outcome == .win && nfe.pairs == 4)
        // Equal compute: EvoSearch's 2 s lies halfway between 1 s and 4 s in log cost → Best-of-N read at 0.4.
        let comp = try #require(r.compare(ClaimsBenchmark.verifierName, .guideReward, contender: "best-of-n", rollouts: 4, axis: .compute))
        #expect(abs(comp.difference - 0.5) < 1e-12)
        #expect(abs((comp.computeSeconds ?? 0) - 2) < 1e-12)
        #expect(comp.outcome == .win)
        #expect(r.verdict(.scaling) == .holds)
        // Distinct layouts 3 against 1 on every pair.
        #expect(r.compare(ClaimsBenchmark.verifierName, .layouts, contender: "best-of-n", rollouts: 4, axis: .nfe)?.difference == 2)
        // The diversity verdict reads the pixel distance: 5…8 against 3, a mean difference of 3.5.
        let pixel = try #require(r.compare(ClaimsBenchmark.verifierName, .pixelDistance, contender: "best-of-n", rollouts: 4, axis: .nfe))
        #expect(pixel.difference == 3.5 && pixel.interval.lower >= 2 && pixel.interval.upper <= 5)
        #expect(r.verdict(.diversity) == .holds)
        let est = try #require(r.estimate(ClaimsBenchmark.verifierName, "evosearch", 4, .guideReward))
        #expect(abs(est.mean - 0.9) < 1e-12 && est.count == 4)
    }

    @Test func aTieAndALossAreReadFromTheInterval() throws {
        // Differences +0.1, −0.1, +0.1, −0.1: mean 0, the interval holds 0.
        let tie = (0..<4).flatMap { u in
            [Self.run("best-of-n", 4, unit: u, reward: 0.5), Self.run("evosearch", 4, unit: u, reward: u % 2 == 0 ? 0.6 : 0.4)]
        }
        let r = Self.report(tie, rollouts: [4])
        let c = try #require(r.compare(ClaimsBenchmark.verifierName, .guideReward, contender: "best-of-n", rollouts: 4, axis: .nfe))
        #expect(abs(c.difference) < 1e-12)
        #expect(c.interval.contains(0) && c.interval.lower < 0 && c.interval.upper > 0)
        #expect(c.outcome == .tie)
        // One budget only: no compute curve, so no equal-compute read.
        #expect(r.compare(ClaimsBenchmark.verifierName, .guideReward, contender: "best-of-n", rollouts: 4, axis: .compute) == nil)
        #expect(r.verdict(.scaling) == .cannotTell)

        let loss = (0..<4).flatMap { u in [Self.run("best-of-n", 4, unit: u, reward: 0.8), Self.run("evosearch", 4, unit: u, reward: 0.5)] }
        #expect(Self.report(loss, rollouts: [4]).verdict(.scaling) == .doesNotHold)
    }

    @Test func pairsAreMatchedByPromptAndSeed() throws {
        // Best-of-N lacks pair 3; EvoSearch's pair 3 would be a large loss, but is not counted.
        let runs = (0..<4).map { Self.run("evosearch", 4, unit: $0, reward: $0 == 3 ? 0 : 0.7) } + (0..<3).map { Self.run("best-of-n", 4, unit: $0, reward: 0.5) }
        let c = try #require(Self.report(runs, rollouts: [4]).compare(ClaimsBenchmark.verifierName, .guideReward, contender: "best-of-n", rollouts: 4, axis: .nfe))
        #expect(c.pairs == 3 && abs(c.difference - 0.2) < 1e-12)
    }

    @Test func theHackingDetectorNamesRisingGuideWithFallingJudge() throws {
        let g = ClaimsBenchmark.verifierName
        var runs: [Run] = []
        for u in 0..<4 {
            // Best-of-N: verifier reward up 0.2, CLIP down 0.1 on every pair — shown.
            runs.append(Self.run("best-of-n", 1, unit: u, reward: 0.5, clip: 0.3))
            runs.append(Self.run("best-of-n", 4, unit: u, reward: 0.7, clip: 0.2))
            // EvoSearch: both rise — not hacking.
            runs.append(Self.run("evosearch", 1, unit: u, reward: 0.5, clip: 0.3))
            runs.append(Self.run("evosearch", 4, unit: u, reward: 0.8, clip: 0.35))
        }
        let r = Self.report(runs)
        let h = r.hacking(g)
        #expect(h.count == 1)
        let x = try #require(h.first)
        #expect(x.method == "best-of-n" && x.from == 1 && x.to == 4)
        #expect(abs(x.guideChange.difference - 0.2) < 1e-12 && abs(x.judgedChange.difference + 0.1) < 1e-12)
        #expect(x.shown)
        #expect(r.generalisationMarkdown.contains("| best-of-n | 1 → 4 |"))
        // EvoSearch's CLIP score rises 0.05 on every pair, and it does not lose to Best-of-N at 4 rollouts; the CLIP-guided
        // direction has no runs, so the claim cannot be told.
        let rise = try #require(r.change(g, "evosearch", .clipScore, from: 1, to: 4))
        #expect(abs(rise.difference - 0.05) < 1e-12 && rise.outcome == .win)
        #expect(r.verdict(.generalisation) == .cannotTell)
    }

    @Test func equalTimeDifferencesArePaired() throws {
        var rows: [ClaimsBenchmark.EqualTimeRun] = []
        for (i, (p, s)) in Self.units.enumerated() {
            rows.append(.init(seed: s, largeSamples: 1, prompt: p, task: "single_object", model: "large", method: "1 sample", nfe: 10,
                              score: 0.5, correct: false, seconds: 1))
            rows.append(.init(seed: s, largeSamples: 1, prompt: p, task: "single_object", model: "small", method: "evosearch", nfe: 30,
                              score: i < 2 ? 1 : 0.75, correct: i < 2, seconds: 1))
        }
        let r = Self.report([], equalTime: rows)
        let c = try #require(r.equalTimeComparison(1, smallMethod: "evosearch", accuracy: false))
        #expect(abs(c.difference - 0.375) < 1e-12 && c.pairs == 4 && c.outcome == .win)
        #expect(r.equalTimeComparison(1, smallMethod: "evosearch", accuracy: true)?.difference == 0.5)
        #expect(r.verdict(.equalTime) == .holds)
        #expect(r.csv(.equalTime).split(separator: "\n").count == 1 + rows.count)
    }

    @Test func diversityMeasuresOnHandBuiltPopulations() {
        #expect(ClaimsBenchmark.meanPairwiseDistance([[0, 0], [3, 4], [6, 8]]) == 20.0 / 3)
        #expect(ClaimsBenchmark.meanPairwiseDistance([[1, 2]]) == nil)
        #expect(ClaimsBenchmark.meanPairwiseDistance([[1, 2], [1, 2]]) == 0)

        func object(_ shape: ShapeKind, _ color: ShapeColor, _ x: Double, _ y: Double) -> DetectedObject {
            DetectedObject(shape: shape, color: color, centerX: x, centerY: y, centroidX: x, centroidY: y, minX: x - 2, minY: y - 2,
                           maxX: x + 2, maxY: y + 2, area: 16, mass: 16, lowMass: 0, cornerMass: 0)
        }
        let a = ClaimsBenchmark.layout([object(.square, .blue, 32, 32), object(.circle, .red, 5, 60)], width: 64, height: 64)
        #expect(a == "circle red 0,2 | square blue 1,1")
        // Order of detection does not matter; a move within the same cell does not either; one across a cell does.
        #expect(ClaimsBenchmark.layout([object(.circle, .red, 8, 50), object(.square, .blue, 40, 25)], width: 64, height: 64) == a)
        #expect(ClaimsBenchmark.layout([object(.circle, .red, 30, 60), object(.square, .blue, 32, 32)], width: 64, height: 64) != a)
        #expect(ClaimsBenchmark.layout([], width: 64, height: 64) == "(empty)")
        // The right and bottom edges belong to the last cell.
        #expect(ClaimsBenchmark.layout([object(.triangle, .green, 64, 64)], width: 64, height: 64) == "triangle green 2,2")

        let population = (0..<10).map { ScoredSample(id: $0, generation: 3, parent: nil, origin: "x", reward: Float($0 % 5), nfe: 0, state: [Float($0)]) }
        let best = population[4]
        #expect(ClaimsBenchmark.diversitySet(population: population, best: best, method: .evosearch).map(\.id) == Array(0..<10))
        // Without generations: the best 8 by reward, ties in population order.
        #expect(ClaimsBenchmark.diversitySet(population: population, best: best, method: .bestOfN).map(\.id) == [4, 9, 3, 8, 2, 7, 1, 6])
        #expect(ClaimsBenchmark.diversitySet(population: [], best: best, method: .beam).map(\.id) == [4])
    }

    @Test func promptSubsetsTakeEachTaskTypeInTurn() {
        let all = ShapesPromptSuite.prompts(.hard)
        let tasks = Set(all.map(\.task.rawValue))
        let first = ClaimsBenchmark.prompts(count: tasks.count)
        #expect(Set(first.map(\.task)) == tasks)
        #expect(first[0].text == all[0].text)
        #expect(Set(ClaimsBenchmark.prompts().map(\.text)) == Set(all.map(\.text)) && ClaimsBenchmark.prompts().count == all.count)
    }

    @Test func settingsThatCannotWorkAreNamed() {
        var s = ClaimsBenchmark.Settings.quick
        #expect(s.problem == nil)
        s.seeds = 0
        #expect(s.problem?.hasPrefix("seeds") == true)
        s = .quick; s.methods = [.bestOfN]
        #expect(s.problem?.contains("include evosearch") == true)
        s = .quick; s.rollouts = [4, 4]
        #expect(s.problem?.contains("twice") == true)
        s = .quick; s.claims = []
        #expect(s.problem?.hasPrefix("claims") == true)
    }

    // MARK: End to end

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static func pipeline(_ name: String) throws -> any GeneratorPipeline {
        try Catalog.pipelines.load(repository.appendingPathComponent("models/" + name))
    }

    /// `--quick` on shapes-sd-small (CLIP: shapes-clip, large: shapes-sd-large): every planned search runs and is
    /// recorded as it finishes, and every file is written with one CSV line per run.
    @Test func quickRunWritesEveryFile() throws {
        let settings = ClaimsBenchmark.Settings.quick
        let prompts = ClaimsBenchmark.prompts(count: ClaimsBenchmark.Settings.quickPromptCount)
        var recorded = 0, equalRows = 0, lastProgress: ClaimsBenchmark.Progress?
        let bench = ClaimsBenchmark(settings: settings, prompts: prompts,
                                    clip: .clip(directory: Self.repository.appendingPathComponent("models/shapes-clip")),
                                    progress: { lastProgress = $0 },
                                    record: { if case .run = $0 { recorded += 1 } else if case .equalTime(let r) = $0 { equalRows += r.count } })
        let plan = bench.plan()
        let result = try bench.run(small: Self.pipeline("shapes-sd-small"), large: Self.pipeline("shapes-sd-large"))
        #expect(!result.interrupted)
        #expect(result.runs.count == recorded && equalRows == result.equalTime.count)
        // Two guides × prompts × seeds × the (method, budget) pairs that validate.
        #expect(result.runs.count + prompts.count * settings.seeds == plan.searches)
        #expect(result.runs.count == 2 * prompts.count * settings.seeds * (2 * settings.methods.count - plan.skipped.count))
        #expect(Set(result.runs.map(\.guide)) == [ClaimsBenchmark.verifierName, ClaimsBenchmark.clipName])
        #expect(result.runs.allSatisfy { $0.clipScore != nil && $0.nfe <= $0.rollouts * settings.steps && $0.diversitySize >= 1 })
        // Guided by the verifier, the best's guiding reward is the verifier's score of the judged image.
        #expect(result.runs.filter { $0.guide == ClaimsBenchmark.verifierName }.allSatisfy { abs($0.guideReward - $0.verifierScore) < 1e-6 })
        #expect(Set(result.equalTime.map(\.model)) == ["large", "small"])
        #expect(lastProgress.map { $0.done == $0.total - 1 } == true)

        let report = ClaimsReport(settings: settings, result: result,
                                  context: .init(command: "evosearch bench claims --quick", commit: "unknown", model: "shapes-sd-small",
                                                 largeModel: "shapes-sd-large", clipModel: "shapes-clip", prompts: "2 prompts"))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("claims-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try report.write(to: dir)
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        let expected = (ClaimsBenchmark.Claim.allCases.flatMap { c in ["csv", "md", "svg"].map { "\(c.rawValue).\($0)" } } + ["results.md"]).sorted()
        #expect(names == expected)
        for name in names {
            let text = try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)
            #expect(!text.isEmpty, "\(name)")
            if name.hasSuffix(".svg") { #expect(XMLParser(data: Data(text.utf8)).parse(), "\(name) is not well-formed XML") }
        }
        let scaling = try String(contentsOf: dir.appendingPathComponent("scaling.csv"), encoding: .utf8)
        #expect(scaling.split(separator: "\n").count == 1 + result.runs.filter { $0.guide == ClaimsBenchmark.verifierName }.count)
        let results = try String(contentsOf: dir.appendingPathComponent("results.md"), encoding: .utf8)
        #expect(results.components(separatedBy: "**Verdict: ").count == 5)
        #expect(results.components(separatedBy: "command: `evosearch bench claims --quick` · commit unknown").count == 5)
    }

    /// Cancelling stops before the next search: what finished is kept and the result says it was interrupted.
    @Test func cancellingKeepsWhatFinished() throws {
        var settings = ClaimsBenchmark.Settings.quick
        settings.claims = [.scaling]
        let prompts = ClaimsBenchmark.prompts(count: 1)
        final class Counter: @unchecked Sendable { var n = 0 }
        let counter = Counter()
        let bench = ClaimsBenchmark(settings: settings, prompts: prompts, clip: nil, record: { _ in counter.n += 1 },
                                    isCancelled: { counter.n >= 2 })
        let result = try bench.run(small: Self.pipeline("shapes-sd-small"), large: nil)
        #expect(result.interrupted)
        #expect(result.runs.count == 2)
        #expect(bench.plan().searches > 2)
    }

    /// An interrupted run resumes from its journal: the finished searches come back exactly (timings included) and
    /// only the rest run; a rerun with one more seed runs only that seed's searches and equal-time unit.
    @Test func interruptedRunResumesFromItsJournal() throws {
        var settings = ClaimsBenchmark.Settings.quick
        settings.claims = [.scaling, .equalTime]
        settings.seeds = 1
        let prompts = ClaimsBenchmark.prompts(count: 1)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("claims-journal-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("journal.jsonl")
        let identity = ClaimsBenchmarkJournal.identity(settings, models: ["small", "large"])
        let small = try Self.pipeline("shapes-sd-small"), large = try Self.pipeline("shapes-sd-large")
        final class Counter: @unchecked Sendable { var n = 0 }
        let counter = Counter()
        var bench = ClaimsBenchmark(settings: settings, prompts: prompts, clip: nil, record: { _ in counter.n += 1 },
                                    isCancelled: { counter.n >= 2 })
        bench.journal = try ClaimsBenchmarkJournal(url: url, identity: identity)
        let first = try bench.run(small: small, large: large)
        #expect(first.interrupted && first.runs.count == 2)

        var ran = 0
        bench.isCancelled = nil
        bench.progress = { _ in ran += 1 }
        bench.journal = try ClaimsBenchmarkJournal(url: url, identity: identity)
        #expect(bench.journal?.recorded == 2)
        let second = try bench.run(small: small, large: large)
        let perSeed = bench.plan().searches
        #expect(!second.interrupted && ran == perSeed - 2)
        #expect(Array(second.runs.prefix(2)) == first.runs)
        #expect(second.runs.count + 1 == perSeed && !second.equalTime.isEmpty)

        ran = 0
        bench.settings.seeds = 2
        bench.journal = try ClaimsBenchmarkJournal(url: url, identity: ClaimsBenchmarkJournal.identity(bench.settings, models: ["small", "large"]))
        let third = try bench.run(small: small, large: large)
        #expect(ran == perSeed)
        #expect(third.runs.filter { $0.seed == 0 } == second.runs)
        #expect(third.equalTime.filter { $0.seed == 0 } == second.equalTime)
        #expect(third.runs.filter { $0.seed == 1 }.count == second.runs.count)
    }

    /// The moving-shapes world: runs on shapes-wan-small carry the video verifier's name, their layouts read the
    /// first and last frames, and the report follows the names and speaks of that world; image models refuse the
    /// video prompts before any search.
    @Test func videoPromptsRunOnTheVideoModel() throws {
        var settings = ClaimsBenchmark.Settings.quick
        settings.claims = [.scaling, .diversity]
        settings.seeds = 1
        let prompts = [JudgedPrompt.heldout(.video, perTask: 1)[0]]
        let bench = ClaimsBenchmark(settings: settings, prompts: prompts, clip: nil)
        let result = try bench.run(small: Self.pipeline("shapes-wan-small"), large: nil)
        #expect(result.verifierGuide == ShapesVideoVerifierReward.registryName && !result.runs.isEmpty)
        #expect(result.runs.allSatisfy { $0.guide == result.verifierGuide && $0.task == prompts[0].task && $0.diversitySize >= 1 })
        let report = ClaimsReport(settings: settings, result: result,
                                  context: .init(command: "c", commit: "x", model: "shapes-wan-small", largeModel: nil, clipModel: nil, prompts: "1"))
        #expect(report.csv(.scaling).split(separator: "\n").count == 1 + result.runs.count)
        #expect(report.resultsMarkdown().hasPrefix("# EvoSearch's claims on the moving-shapes world"))
        #expect { try bench.run(small: Self.pipeline("shapes-sd-small"), large: nil) } throws: { "\($0)".contains("video world") }
    }

    /// A video's layout is its first frame's and its last frame's, so a shape that moved is another layout than
    /// one that stayed.
    @Test func videoLayoutsReadTheFirstAndLastFrames() throws {
        let prompt = try ShapesVideoPrompt(parsing: "a red circle moving right")
        let judged = JudgedPrompt(video: prompt)
        let sampler = try ClipSampler()
        var rng = PhiloxStream(NoiseKey(seed: 3, purpose: .worldSampling, individual: 0))
        let clip = sampler.randomClip(for: prompt, &rng)
        let video = ShapesRenderer().renderTensor(clip)
        let layout = try judged.layout(video)
        let parts = layout.components(separatedBy: " → ")
        #expect(parts.count == 2 && parts.allSatisfy { $0.hasPrefix("circle red ") })
        #expect(parts[0] != parts[1], "\(layout)")
    }
}
