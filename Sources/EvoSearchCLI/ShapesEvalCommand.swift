import ArgumentParser
import Foundation
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
        satisfied ("score").
        """)

    @Option(name: .long, help: "Pipeline: a directory or an embedded model name (shapes-sd-small, shapes-sd-large, shapes-flux-small).")
    var model: String = "shapes-sd-small"
    @Option(name: .long, help: "Prompt split: heldout or tuning.")
    var split: String = "heldout"
    @Option(name: .long, help: "Images per prompt.")
    var samples: Int = 4
    @OptionGroup(title: "Sampler") var sampler: SamplerOptions
    @Option(name: .long, help: "First seed.")
    var seed: UInt64 = 0
    @Option(name: .long, help: "Also write the per-prompt results as JSON here.")
    var json: String?
    @Flag(name: .long, help: "No progress output.")
    var quiet = false

    func run() throws {
        guard let s = ShapesPromptSuite.Split(rawValue: split) else { throw CLIError("--split: \(split) is not a split; use heldout or tuning") }
        if samples < 1 { throw CLIError("--samples: \(samples) must be at least 1") }
        let sampler = self.sampler.forSearch()
        if let json { try checkWritable(json, option: "--json") }
        let dir = try EmbeddedModels().resolvePipeline(model)
        let pipeline = try loadImagePipeline(dir.path, command: "shapes eval")
        let prompts = ShapesPromptSuite.prompts(s)
        var perTask: [ShapesTask: (n: Int, correct: Int, score: Double)] = [:]
        var records: [[String: Any]] = []
        let started = Date()
        for (k, prompt) in prompts.enumerated() {
            let verifier = ShapesVerifier(prompt: prompt)
            var fractions: [Double] = []
            for j in 0..<samples {
                let image: Tensor
                do {
                    image = try pipeline.generate(sampler.request(prompt: prompt.text),
                                                  seed: seed + UInt64(j), progress: nil)
                } catch { throw CLIError("\(error)") }
                let verdict: ShapesVerdict
                do { verdict = try verifier.verify(tensor: image.rank == 4 ? image.row(0) : image) } catch { throw CLIError("\(error)") }
                fractions.append(verdict.fraction)
                var t = perTask[prompt.task] ?? (0, 0, 0)
                t.n += 1; t.correct += verdict.allSatisfied ? 1 : 0; t.score += verdict.fraction
                perTask[prompt.task] = t
            }
            records.append(["prompt": prompt.text, "task": prompt.task.rawValue, "scores": fractions])
            if !quiet {
                FileHandle.standardError.write(Data(String(format: "\rprompt %d/%d  %.0f s", k + 1, prompts.count, Date().timeIntervalSince(started)).utf8))
            }
        }
        if !quiet { FileHandle.standardError.write(Data("\n".utf8)) }
        print("model \(model), \(split) split, \(samples) sample(s) per prompt, \(sampler.steps) steps, guidance \(sampler.guidance), \(sampler.schedulerName) η \(sampler.eta)")
        print("task            images  accuracy  score")
        var all = (n: 0, correct: 0, score: 0.0)
        for task in ShapesTask.allCases {
            guard let t = perTask[task] else { continue }
            all.n += t.n; all.correct += t.correct; all.score += t.score
            print(task.rawValue.padding(toLength: 15, withPad: " ", startingAt: 0) + String(format: " %6d  %7.1f%%  %.3f", t.n, 100 * Double(t.correct) / Double(t.n), t.score / Double(t.n)))
        }
        print("overall".padding(toLength: 15, withPad: " ", startingAt: 0) + String(format: " %6d  %7.1f%%  %.3f", all.n, 100 * Double(all.correct) / Double(max(all.n, 1)), all.score / Double(max(all.n, 1))))
        if let json {
            let obj: [String: Any] = ["model": model, "split": split, "samples": samples, "steps": sampler.steps, "guidance": Double(sampler.guidance),
                                      "eta": Double(sampler.eta), "scheduler": sampler.schedulerName, "seed": seed, "prompts": records]
            try write(try JSONSerialization.data(withJSONObject: obj, options: [.prettyPrinted, .sortedKeys]), to: json)
        }
    }
}
