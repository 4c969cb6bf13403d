import Foundation
import Sampling
import ShapesWorld
import TensorCore

/// How often a pipeline's plain samples (no search) satisfy shapes or moving-shapes prompts: for each prompt,
/// `samples` images or videos with the seeds `seed`, `seed + 1`, … (diffusers' random draws, so the samples are the
/// ones `evosearch generate` gives), each judged by the prompt's exact verifier. `shapes eval` reports it per task
/// type; `HardPromptSelection` picks the prompts that rarely succeed.
public struct PlainSampleEvaluation {
    /// One prompt's verdicts: the fraction of constraints each sample satisfies, and whether all hold.
    public struct PromptResult: Sendable {
        public var prompt: JudgedPrompt
        public var fractions: [Double]
        public var satisfied: [Bool]
        public var accuracy: Double { satisfied.isEmpty ? 0 : Double(satisfied.filter { $0 }.count) / Double(satisfied.count) }
        public var meanFraction: Double { fractions.isEmpty ? 0 : fractions.reduce(0, +) / Double(fractions.count) }
    }

    public var request: (String) -> GenerationRequest
    public var samples: Int
    public var seed: UInt64

    /// `request` makes the generation request for a prompt's text (sampler, steps, guidance).
    public init(samples: Int, seed: UInt64, request: @escaping (String) -> GenerationRequest) {
        self.samples = samples; self.seed = seed; self.request = request
    }

    /// Every prompt on `pipeline` (prompts of the world the pipeline makes: images or videos); `progress(done,
    /// total)` after each prompt.
    public func run(_ pipeline: any GeneratorPipeline, prompts: [JudgedPrompt],
                    progress: (Int, Int) -> Void = { _, _ in }) throws -> [PromptResult] {
        try JudgedPrompt.checkKind(prompts, pipeline: pipeline)
        var out: [PromptResult] = []
        for (k, prompt) in prompts.enumerated() {
            var result = PromptResult(prompt: prompt, fractions: [], satisfied: [])
            for j in 0..<samples {
                let sample = try pipeline.generate(request(prompt.text), seed: seed + UInt64(j), progress: nil)
                let verdict = try prompt.judge(sample)
                result.fractions.append(verdict.fraction)
                result.satisfied.append(verdict.satisfied)
            }
            out.append(result)
            progress(k + 1, prompts.count)
        }
        return out
    }

    /// Per task type (in the grammar's order, types without prompts left out): samples, accuracy, mean fraction.
    public static func byTask(_ results: [PromptResult]) -> [(task: String, samples: Int, accuracy: Double, score: Double)] {
        let tasks = JudgedPrompt.tasks(results.first?.prompt.kind ?? .image)
        return tasks.compactMap { task in
            let rs = results.filter { $0.prompt.task == task }
            let n = rs.reduce(0) { $0 + $1.satisfied.count }
            guard n > 0 else { return nil }
            let correct = rs.reduce(0) { $0 + $1.satisfied.filter { $0 }.count }
            let score = rs.reduce(0.0) { $0 + $1.fractions.reduce(0, +) }
            return (task, n, Double(correct) / Double(n), score / Double(n))
        }
    }
}

/// The rule that chose the frozen `hard` split (`evosearch shapes hard-split`): among candidate prompts, those whose
/// plain samples succeed at least once but at most `maxAccuracy` of the time — rare enough that search has headroom,
/// possible enough that it can find something — the hardest `perTask` of each task type (lowest accuracy, then
/// lowest mean fraction of constraints, then prompt text, so the choice is deterministic).
public enum HardPromptSelection {
    public static func select(_ results: [PlainSampleEvaluation.PromptResult], maxAccuracy: Double,
                              perTask: Int) -> [PlainSampleEvaluation.PromptResult] {
        JudgedPrompt.tasks(results.first?.prompt.kind ?? .image).flatMap { task in
            results.filter { $0.prompt.task == task && $0.accuracy > 0 && $0.accuracy <= maxAccuracy }
                .sorted { a, b in
                    if a.accuracy != b.accuracy { return a.accuracy < b.accuracy }
                    if a.meanFraction != b.meanFraction { return a.meanFraction < b.meanFraction }
                    return a.prompt.text < b.prompt.text
                }
                .prefix(perTask)
        }
    }
}
