import Flux
import Foundation
import ModelIO
import Sampling
import TensorCore
import Testing

/// The committed shapes-flux-small (models/ at the repository root) gives, for a fixed seed, the image diffusers'
/// FluxPipeline gives from the same directory (references made by tools/fixtures/make_shapes_flux_fixtures.py),
/// with its generation_defaults.json size and T5 length and `guidance` as true CFG on the empty negative prompt.
@Suite struct ShapesFluxModelTests {
    struct Run: Decodable {
        var prompt: String, num_inference_steps: Int, true_cfg_scale: Float, negative_prompt: String?, seed: UInt64
    }

    static let model = ShapesModelsTests.repository.appendingPathComponent("models/shapes-flux-small")

    static func fixture(_ name: String) -> URL {
        Bundle.module.url(forResource: "Fixtures/shapes-flux/" + name, withExtension: nil)!
    }

    @Test(arguments: ["cfg", "plain"])
    func imageMatchesDiffusers(label: String) throws {
        let runs = try JSONDecoder().decode([String: Run].self, from: Data(contentsOf: Self.fixture("runs.json")))
        let run = try #require(runs[label])
        let pipeline = try FluxPipeline(directory: Self.model)
        #expect(!pipeline.hasGuidanceEmbedding)
        #expect(pipeline.defaults.width == 64 && pipeline.defaults.height == 64 && pipeline.defaultMaxSequenceLength == 32)
        // No size, no T5 length, no negative prompt: generation_defaults.json and the empty negative prompt.
        let request = GenerationRequest(prompt: run.prompt, guidance: run.true_cfg_scale, steps: run.num_inference_steps)
        let image = try pipeline.generate(request, seed: run.seed, progress: nil)
        let err = image.maxAbsDifference(try ShapesModelsTests.referenceImage(Self.fixture("\(label).io.safetensors")))
        #expect(err < 1.0 / 255, "\(label): max abs pixel error \(err)")
        // The same run through --true-cfg gives the same image.
        if run.true_cfg_scale > 1 {
            let viaTrueCFG = GenerationRequest(prompt: run.prompt, steps: run.num_inference_steps, trueCFGScale: run.true_cfg_scale)
            #expect(try pipeline.generate(viaTrueCFG, seed: run.seed, progress: nil).maxAbsDifference(image) == 0)
        }
    }

    /// Guidance and a different true CFG scale on a checkpoint without a guidance embedding are one setting given twice.
    @Test func guidanceAndTrueCFGConflict() throws {
        let pipeline = try FluxPipeline(directory: Self.model)
        #expect {
            try pipeline.makeTrajectory(GenerationRequest(prompt: "a red circle", guidance: 2, trueCFGScale: 3))
        } throws: { ($0 as? GenerationRequestError)?.field == .guidance && "\($0)".contains("give one") }
        #expect(try pipeline.makeTrajectory(GenerationRequest(prompt: "a red circle", guidance: 3, trueCFGScale: 3)).passesPerNFE == 2)
        #expect(try pipeline.makeTrajectory(GenerationRequest(prompt: "a red circle", guidance: 1)).passesPerNFE == 1)
    }
}
