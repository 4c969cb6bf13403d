import Catalog
import Foundation
import Sampling
import Search
import ShapesWorld
import Testing
@testable import Benchmarks

@Suite struct ShapesBenchmarkTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func pipeline(_ name: String = "shapes-sd-small") throws -> any GeneratorPipeline {
        try Catalog.pipelines.load(repository.appendingPathComponent("models/" + name))
    }

    static func settings(methods: [SearchMethod] = [.bestOfN, .evosearch, .beam], rollouts: [Int] = [1, 3]) -> ShapesBenchmark.Settings {
        ShapesBenchmark.Settings(steps: 3, guidance: 1.5, eta: 1, seed: 7, rollouts: rollouts, methods: methods, largeSamples: [1])
    }

    @Test func heldoutPromptsTakeTheFirstOfEachTask() {
        let prompts = ShapesBenchmark.heldoutPrompts(perTask: 1)
        #expect(prompts.map(\.task) == ShapesTask.allCases)
        #expect(prompts.first?.text == ShapesPromptSuite.prompts(.heldout).first { $0.task == ShapesTask.allCases[0] }?.text)
    }

    @Test func settingsThatCannotWorkAreNamed() {
        var s = Self.settings()
        #expect(s.problem == nil)
        s.rollouts = [1, 0]
        #expect(s.problem?.hasPrefix("rollouts") == true)
        s = Self.settings(methods: [])
        #expect(s.problem?.hasPrefix("methods") == true)
        s = Self.settings(); s.steps = 0
        #expect(s.problem?.hasPrefix("steps") == true)
    }

    /// Every method × budget that validates runs once, on the diffusion and on the flow model; guided by the
    /// verifier, the best reward the search saw is the verifier's score of the best image the benchmark judged.
    @Test(arguments: ["shapes-sd-small", "shapes-flux-small"])
    func gridRunsEachRunnableMethodAndJudgesTheBest(model: String) throws {
        let settings = Self.settings(methods: SearchMethod.allCases)
        let prompts = Array(ShapesBenchmark.heldoutPrompts(perTask: 1).prefix(2))
        var calls = 0
        let bench = ShapesBenchmark(settings: settings, prompts: prompts, guides: [.verifier]) { done, total, _ in
            calls += 1
            #expect(done <= total)
        }
        let runs = try bench.runGrid(on: Self.pipeline(model))
        #expect(calls == prompts.count * settings.rollouts.count * settings.methods.count)
        var expected = 0
        for r in settings.rollouts {
            for m in settings.methods where (try? m.defaultStrategy.validate(stepCount: 3, budget: r * 3)) != nil { expected += 1 }
        }
        #expect(expected >= 3)
        #expect(runs.count == expected * prompts.count)
        for run in runs {
            #expect(run.nfe <= run.rollouts * settings.steps)
            #expect(abs(Double(run.guideReward) - run.score) < 1e-6, "\(run.method) \(run.rollouts): \(run.guideReward) vs \(run.score)")
            #expect(run.correct == (run.score == 1))
        }

        let report = ShapesBenchmarkReport(settings: settings, model: model, promptCount: prompts.count,
                                           guides: ["shapes-verifier"], runs: runs, equalTime: [], seconds: 1)
        #expect(report.runsCSV.split(separator: "\n").count == runs.count + 1)
        let table = report.markdown
        #expect(table.contains("### guided by shapes-verifier"))
        for m in settings.methods { #expect(table.contains("| \(m.rawValue) | ")) }
        #expect(report.accuracySVG.hasPrefix("<svg"))
    }

    /// The small model gets at least one rollout and as many as fit in the large model's time.
    @Test func equalTimeGivesTheSmallModelTheLargeModelsTime() throws {
        let pipeline = try Self.pipeline()
        let prompts = Array(ShapesBenchmark.heldoutPrompts(perTask: 1).prefix(1))
        let bench = ShapesBenchmark(settings: Self.settings(), prompts: prompts, guides: [.verifier])
        let rows = try bench.runEqualTime(small: pipeline, large: pipeline)
        #expect(rows.map(\.model) == ["large", "small", "small"])
        #expect(rows.map(\.method) == ["1 sample", "best-of-n", "evosearch"])
        #expect(rows[0].nfe == 3)
        #expect(rows[1].nfe >= 3 && rows[1].nfe % 3 == 0)
        let report = ShapesBenchmarkReport(settings: Self.settings(), model: "shapes-sd-small", promptCount: 1,
                                           guides: [], runs: [], equalTime: rows, seconds: 1)
        #expect(report.equalTimeCSV.split(separator: "\n").count == 4)
        #expect(report.markdown.contains("| 1 | large · 1 sample | "))
    }
}
