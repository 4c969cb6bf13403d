import Catalog
import Foundation
import Sampling
import ShapesWorld
import Testing
@testable import Benchmarks

@Suite struct HardPromptSelectionTests {
    static func result(_ text: String, _ satisfied: [Bool], _ fractions: [Double]? = nil) throws -> PlainSampleEvaluation.PromptResult {
        PlainSampleEvaluation.PromptResult(prompt: JudgedPrompt(image: try ShapesPrompt(parsing: text)), fractions: fractions ?? satisfied.map { $0 ? 1 : 0.5 },
                                           satisfied: satisfied)
    }

    @Test func keepsTheHardestPossiblePromptsPerTask() throws {
        let f = false, t = true
        let results = [
            try Self.result("three red circles", [f, f, f, f]),                  // never: search may not find it
            try Self.result("four red circles", [t, f, f, f]),                   // 25 %
            try Self.result("two red circles", [t, t, f, f]),                    // 50 %: too easy
            try Self.result("three blue circles", [t, f, f, f], [1, 0.2, 0.2, 0.2]),   // 25 %, fewer constraints met
            try Self.result("a red circle above a blue square", [t, f, f, f]),
            try Self.result("a red square", [t, t, t, t]),
        ]
        let chosen = HardPromptSelection.select(results, maxAccuracy: 0.25, perTask: 2).map(\.prompt.text)
        #expect(chosen == ["three blue circles", "four red circles", "a red circle above a blue square"])
        #expect(HardPromptSelection.select(results, maxAccuracy: 0.25, perTask: 1).map(\.prompt.text)
                == ["three blue circles", "a red circle above a blue square"])
        #expect(HardPromptSelection.select(results, maxAccuracy: 0.5, perTask: 3).map(\.prompt.text)
                == ["three blue circles", "four red circles", "two red circles", "a red circle above a blue square"])
    }

    /// The evaluation's samples are the pipeline's `generate` for the seeds, judged by the verifier of the
    /// model's world: images on the diffusion model, clips on the video model.
    @Test(arguments: ["shapes-sd-small", "shapes-wan-small"])
    func evaluationJudgesTheGeneratedSamples(model: String) throws {
        let pipeline = try ShapesBenchmarkTests.pipeline(model)
        let prompt = JudgedPrompt.heldout(pipeline.sampleKind, perTask: 1)[0]
        let request = { (text: String) in GenerationRequest(prompt: text, guidance: 1.5, steps: 3) }
        let results = try PlainSampleEvaluation(samples: 2, seed: 40, request: request).run(pipeline, prompts: [prompt])
        #expect(results.count == 1 && results[0].fractions.count == 2)
        for j in 0..<2 {
            let sample = try pipeline.generate(request(prompt.text), seed: 40 + UInt64(j), progress: nil)
            let verdict = try prompt.judge(sample)
            #expect(results[0].fractions[j] == verdict.fraction && results[0].satisfied[j] == verdict.satisfied)
        }
        let table = PlainSampleEvaluation.byTask(results)
        #expect(table.count == 1 && table[0].task == prompt.task && table[0].samples == 2)
    }
}
