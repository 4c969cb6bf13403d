import Catalog
import Foundation
import RandomStreams
import Rewards
import Sampling
import Search
import ShapesWorld
import TensorCore
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
        let prompts = JudgedPrompt.heldout(.image, perTask: 1)
        #expect(prompts.map(\.task) == ShapesTask.allCases.map(\.rawValue))
        #expect(prompts.first?.text == ShapesPromptSuite.prompts(.heldout).first { $0.task == ShapesTask.allCases[0] }?.text)
        let videos = JudgedPrompt.heldout(.video, perTask: 2)
        #expect(videos.map(\.task) == ShapesVideoTask.allCases.flatMap { [$0.rawValue, $0.rawValue] })
        #expect(videos.allSatisfy { $0.kind == .video && $0.verifierReward.name == "shapes-video-verifier" })
        #expect(JudgedPrompt.tasks(.video) == ShapesVideoTask.allCases.map(\.rawValue))
    }

    /// Video prompts on an image model (and the reverse) stop before any search, naming the prompt and the kind.
    @Test func promptsOfTheOtherWorldAreRefused() throws {
        let bench = ShapesBenchmark(settings: Self.settings(), prompts: JudgedPrompt.heldout(.video, perTask: 1), guides: [.verifier(.video)])
        let pipeline = try Self.pipeline()
        #expect { try bench.runGrid(on: pipeline) } throws: { "\($0)".contains("is a prompt of the video world, but StableDiffusionPipeline makes images") }
        #expect { try bench.runEqualTime(small: pipeline, large: pipeline) } throws: { "\($0)".contains("video world") }
        let evaluation = PlainSampleEvaluation(samples: 1, seed: 0) { GenerationRequest(prompt: $0, steps: 1) }
        #expect { try evaluation.run(pipeline, prompts: JudgedPrompt.heldout(.video, perTask: 1)) } throws: { "\($0)".contains("is a prompt of the video world, but StableDiffusionPipeline makes images") }
    }

    /// The judge takes a sample with or without its batch axis of one, and is the verifier's verdict.
    @Test func judgeIsTheVerifiersVerdict() throws {
        var rng = PhiloxStream(NoiseKey(seed: 3, purpose: .worldSampling))
        let clip = try ClipSampler().randomClip(for: try ShapesVideoPrompt(parsing: "a red circle moving right"), &rng)
        let video = ShapesRenderer().renderTensor(clip)
        let prompt = JudgedPrompt(video: try ShapesVideoPrompt(parsing: "a red circle moving right"))
        let direct = try ShapesVideoVerifier(parsing: "a red circle moving right").verify(video: video)
        let judged = try prompt.judge(video), batched = try prompt.judge(Tensor(shape: [1] + video.shape, scalars: video.scalars))
        #expect(judged.fraction == direct.fraction && judged.satisfied == direct.allSatisfied)
        #expect(batched.fraction == judged.fraction && batched.satisfied == judged.satisfied)
        let wrong = JudgedPrompt(video: try ShapesVideoPrompt(parsing: "a blue square moving left"))
        #expect(try wrong.judge(video).satisfied == false)
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

    /// Every method × budget that validates runs once, on the diffusion, the flow and the video model; guided by the
    /// verifier, the best reward the search saw is the verifier's score of the best sample the benchmark judged.
    @Test(arguments: ["shapes-sd-small", "shapes-flux-small", "shapes-wan-small"])
    func gridRunsEachRunnableMethodAndJudgesTheBest(model: String) throws {
        let settings = Self.settings(methods: SearchMethod.allCases)
        let pipeline = try Self.pipeline(model)
        let kind = pipeline.sampleKind
        let prompts = Array(JudgedPrompt.heldout(kind, perTask: 1).prefix(2))
        let guide = ShapesBenchmark.Guide.verifier(kind)
        var calls = 0
        let bench = ShapesBenchmark(settings: settings, prompts: prompts, guides: [guide]) { done, total, _ in
            calls += 1
            #expect(done <= total)
        }
        let runs = try bench.runGrid(on: pipeline)
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
                                           guides: [guide.name], runs: runs, equalTime: [], seconds: 1, kind: kind)
        #expect(report.runsCSV.split(separator: "\n").count == runs.count + 1)
        let table = report.markdown
        #expect(table.contains("### guided by \(guide.name)"))
        for task in JudgedPrompt.tasks(kind) { #expect(table.contains(task)) }
        for m in settings.methods { #expect(table.contains("| \(m.rawValue) | ")) }
        #expect(report.accuracySVG.hasPrefix("<svg"))
    }

    /// The CLIP guide scores images as they are and videos by the mean over evenly spaced frames.
    @Test func clipGuideAveragesTheFramesOfVideos() throws {
        let dir = Self.repository.appendingPathComponent("models/shapes-clip")
        let videoGuide = ShapesBenchmark.Guide.clip(directory: dir, videoFrames: 4)
        let onVideo = try videoGuide.make(JudgedPrompt.heldout(.video, perTask: 1)[0])
        #expect(videoGuide.name == "clip (mean of 4 frames)")
        #expect(onVideo.name == "clip@4frames" && onVideo.takes == .videos)
        let imageGuide = ShapesBenchmark.Guide.clip(directory: dir)
        let onImage = try imageGuide.make(JudgedPrompt.heldout(.image, perTask: 1)[0])
        #expect(imageGuide.name == "clip" && onImage.name == "clip" && onImage.takes == .images)
    }

    /// The small model gets at least one rollout and as many as fit in the large model's time.
    @Test func equalTimeGivesTheSmallModelTheLargeModelsTime() throws {
        let pipeline = try Self.pipeline()
        let prompts = Array(JudgedPrompt.heldout(.image, perTask: 1).prefix(1))
        let bench = ShapesBenchmark(settings: Self.settings(), prompts: prompts, guides: [.verifier(.image)])
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
