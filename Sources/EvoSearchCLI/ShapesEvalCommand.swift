import ArgumentParser
import Foundation
import Benchmarks
import Catalog
import Sampling
import ShapesWorld
import TensorCore

/// `evosearch shapes eval`: how often a pipeline's plain samples (no search) satisfy the prompt suite, by task type.
struct ShapesEval: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Score a model's plain samples on the shapes prompt suite with the exact verifier, per task type.",
        discussion: """
        For every prompt of the split, generates --samples images (seeds --seed, --seed+1, …; diffusers' random \
        draws, so the images are the ones `evosearch generate` and diffusers give) and reports, per GenEval task \
        type, the fraction of images whose every constraint holds ("accuracy") and the mean fraction of constraints \
        satisfied ("score"). A video model (shapes-wan-small, shapes-wan-large) is scored the same way on the \
        moving-shapes prompt suite with the video verifier, per video task type. The samplers default to the \
        searching commands' (20 steps, guidance 1.5; η 1, DDIM, for Stable Diffusion); flow and video pipelines \
        generate with their deterministic samplers only, so their η defaults to 0.
        """)

    @Option(name: .long, help: "Pipeline: a directory or an embedded model name (shapes-sd-small, shapes-sd-large, shapes-flux-small, shapes-wan-small, shapes-wan-large).")
    var model: String = "shapes-sd-small"
    @Option(name: .long, help: "Prompt split: heldout, tuning or hard (prompts whose plain samples rarely succeed).")
    var split: String = "heldout"
    @Option(name: .long, help: "Images (or videos) per prompt.")
    var samples: Int = 4
    @OptionGroup(title: "Sampler") var sampler: SamplerOptions
    @Option(name: .long, help: "First seed.")
    var seed: UInt64 = 0
    @Option(name: .long, help: "Also write the per-prompt results as JSON here.")
    var json: String?
    @Flag(name: .long, help: "No progress output.")
    var quiet = false

    func run() throws {
        if samples < 1 { throw CLIError("--samples: \(samples) must be at least 1") }
        if let json { try checkWritable(json, option: "--json") }
        let dir = try EmbeddedModels().resolvePipeline(model)
        let family: any GeneratorPipeline.Type
        do { family = try Catalog.pipelines.family(of: dir) } catch { throw CLIError("--model \(model): \(error)") }
        let kind = family.kind
        let sampler = self.sampler.forPlainSamples(of: family)
        let prompts: [JudgedPrompt]
        switch kind {
        case .image:
            guard let s = ShapesPromptSuite.Split(rawValue: split) else { throw CLIError("--split: \(split) is not a split; use heldout, tuning or hard") }
            prompts = ShapesPromptSuite.prompts(s).map(JudgedPrompt.init(image:))
        case .video:
            guard let s = ShapesVideoPromptSuite.Split(rawValue: split) else {
                throw CLIError("--split: \(split) is not a split of the moving-shapes suite; use heldout, tuning or hard")
            }
            prompts = ShapesVideoPromptSuite.prompts(s).map(JudgedPrompt.init(video:))
        }
        let pipeline = try loadPipeline(dir.path)
        let status = PromptStatus(quiet: quiet)
        let evaluation = PlainSampleEvaluation(samples: samples, seed: seed) { sampler.request(prompt: $0) }
        let results: [PlainSampleEvaluation.PromptResult]
        do {
            defer { status.end() }
            results = try evaluation.run(pipeline, prompts: prompts, progress: status.update)
        } catch { throw cliError(error) }
        print("model \(model), \(split) split, \(samples) sample(s) per prompt, \(sampler.steps) steps, guidance \(sampler.guidance), \(sampler.schedulerName) η \(sampler.eta)")
        printTaskTable(results)
        let records: [[String: Any]] = results.map { ["prompt": $0.prompt.text, "task": $0.prompt.task, "scores": $0.fractions] }
        if let json {
            let obj: [String: Any] = ["model": model, "split": split, "samples": samples, "steps": sampler.steps, "guidance": Double(sampler.guidance),
                                      "eta": Double(sampler.eta), "scheduler": sampler.schedulerName, "seed": seed, "prompts": records]
            try write(try JSONSerialization.data(withJSONObject: obj, options: [.prettyPrinted, .sortedKeys]), to: json)
        }
    }
}

/// The status of `shapes eval` and `shapes hard-split` ("prompt 3/12  41 s"), timed from its creation.
struct PromptStatus {
    private let line: StatusLine
    private let started = Date()

    init(quiet: Bool) { line = StatusLine(quiet: quiet) }

    func update(done: Int, total: Int) {
        line.show(String(format: "prompt %d/%d  %.0f s", done, total, Date().timeIntervalSince(started)))
    }

    func end() { line.end() }
}

/// The per-task table of `shapes eval` and `shapes hard-split`: samples, accuracy, mean fraction of constraints.
func printTaskTable(_ results: [PlainSampleEvaluation.PromptResult]) {
    print("task              samples  accuracy  score")
    let rows = PlainSampleEvaluation.byTask(results)
    for r in rows {
        print(r.task.padding(toLength: 17, withPad: " ", startingAt: 0) + String(format: " %7d  %7.1f%%  %.3f", r.samples, 100 * r.accuracy, r.score))
    }
    let n = rows.reduce(0) { $0 + $1.samples }
    let correct = rows.reduce(0.0) { $0 + $1.accuracy * Double($1.samples) }, score = rows.reduce(0.0) { $0 + $1.score * Double($1.samples) }
    print("overall".padding(toLength: 17, withPad: " ", startingAt: 0) + String(format: " %7d  %7.1f%%  %.3f", n, 100 * correct / Double(max(n, 1)), score / Double(max(n, 1))))
}

/// `evosearch shapes hard-split`: the procedure that chose the frozen `hard` split, rerunnable.
struct ShapesHardSplit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hard-split",
        abstract: "Choose prompts the model's plain samples rarely satisfy (how the frozen hard split was made).",
        discussion: """
        Draws --candidates random grammar prompts per task type that are in neither the held-out nor the tuning set \
        (a fixed pool for a given --pool-seed), generates --samples plain images of each with the seeds --seed, \
        --seed+1, … (the tuning seeds: searches and benchmarks use their own Philox streams), and keeps, per task \
        type, the --per-task prompts with the lowest accuracy above 0 and at most --max-accuracy. Prints every \
        candidate's accuracy and the chosen prompts. A video model (shapes-wan-small) draws its candidates from the \
        moving-shapes grammar and judges its plain videos with the video verifier; video pipelines generate with \
        their deterministic sampler (η 0), as `shapes eval` does.
        """)

    @Option(name: .long, help: "Pipeline: a directory or an embedded model name.")
    var model: String = "shapes-sd-small"
    @Option(name: .long, help: "Candidate prompts per task type.")
    var candidates: Int = 24
    @Option(name: .long, help: "Seed of the candidate pool.")
    var poolSeed: UInt64 = 21
    @Option(name: .long, help: "Plain images (or videos) per candidate.")
    var samples: Int = 32
    @Option(name: .long, help: "First seed of the plain images.")
    var seed: UInt64 = 1000
    @Option(name: .long, help: "Largest accuracy a chosen prompt may have.")
    var maxAccuracy: Double = 0.25
    @Option(name: .long, help: "Prompts chosen per task type.")
    var perTask: Int = 4
    @OptionGroup(title: "Sampler") var sampler: SamplerOptions
    @Option(name: .long, help: "Also write every candidate's verdicts and the choice as JSON here.")
    var json: String?
    @Flag(name: .long, help: "No progress output.")
    var quiet = false

    func run() throws {
        if candidates < 1 { throw CLIError("--candidates: \(candidates) must be at least 1") }
        if samples < 1 { throw CLIError("--samples: \(samples) must be at least 1") }
        if perTask < 1 { throw CLIError("--per-task: \(perTask) must be at least 1") }
        guard maxAccuracy > 0, maxAccuracy <= 1 else { throw CLIError("--max-accuracy: \(maxAccuracy) must be in (0, 1]") }
        if let json { try checkWritable(json, option: "--json") }
        let pipeline = try loadPipeline(try EmbeddedModels().resolvePipeline(model).path)
        let sampler = self.sampler.forPlainSamples(of: type(of: pipeline))
        let pool: [JudgedPrompt]
        switch pipeline.sampleKind {
        case .image: pool = ShapesPromptSuite.candidates(perTask: candidates, seed: poolSeed).map(JudgedPrompt.init(image:))
        case .video:
            do { pool = try ShapesVideoPromptSuite.candidates(perTask: candidates, seed: poolSeed).map(JudgedPrompt.init(video:)) } catch {
                throw CLIError("shapes hard-split: \(error)")
            }
        }
        let status = PromptStatus(quiet: quiet)
        let evaluation = PlainSampleEvaluation(samples: samples, seed: seed) { sampler.request(prompt: $0) }
        let results: [PlainSampleEvaluation.PromptResult]
        do {
            defer { status.end() }
            results = try evaluation.run(pipeline, prompts: pool, progress: status.update)
        } catch { throw cliError(error) }
        let chosen = HardPromptSelection.select(results, maxAccuracy: maxAccuracy, perTask: perTask)
        print("model \(model), \(pool.count) candidates (pool seed \(poolSeed)), \(samples) \(pipeline.sampleKind.rawValue)s each from seed \(seed), \(sampler.steps) steps, guidance \(sampler.guidance), \(sampler.schedulerName) η \(sampler.eta)")
        printTaskTable(results)
        print("\ncandidates (accuracy, mean fraction of constraints):")
        for r in results { print(String(format: "  %5.1f%%  %.3f  ", 100 * r.accuracy, r.meanFraction) + "\(r.prompt.task)\t\(r.prompt.text)") }
        print("\nchosen (0 < accuracy ≤ \(maxAccuracy), the hardest \(perTask) per task type): \(chosen.count)")
        for r in chosen { print(String(format: "  %5.1f%%  ", 100 * r.accuracy) + "\(r.prompt.task)\t\(r.prompt.text)") }
        if let json {
            func record(_ r: PlainSampleEvaluation.PromptResult) -> [String: Any] {
                ["prompt": r.prompt.text, "task": r.prompt.task, "accuracy": r.accuracy, "scores": r.fractions]
            }
            let obj: [String: Any] = ["model": model, "pool_seed": poolSeed, "candidates_per_task": candidates, "samples": samples,
                                      "seed": seed, "steps": sampler.steps, "guidance": Double(sampler.guidance), "eta": Double(sampler.eta),
                                      "scheduler": sampler.schedulerName, "max_accuracy": maxAccuracy, "per_task": perTask,
                                      "candidates": results.map(record), "chosen": chosen.map(\.prompt.text)]
            try write(try JSONSerialization.data(withJSONObject: obj, options: [.prettyPrinted, .sortedKeys]), to: json)
        }
    }
}
