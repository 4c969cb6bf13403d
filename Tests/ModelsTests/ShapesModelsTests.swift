import Foundation
import ModelIO
import Models
import Sampling
import StableDiffusion
import TensorCore
import Testing

/// The committed shapes models (models/ at the repository root) load through the same code as Stable Diffusion
/// checkpoints and give, for a fixed seed, the image diffusers gives from the same directory
/// (references made by tools/fixtures/make_shapes_fixtures.py).
@Suite struct ShapesModelsTests {
    struct Run: Decodable {
        var model: String, prompt: String, num_inference_steps: Int, guidance_scale: Float, eta: Float, seed: UInt64
    }

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func fixture(_ name: String) -> URL {
        Bundle.module.url(forResource: "Fixtures/shapes/" + name, withExtension: nil)!
    }

    /// diffusers' `output_type="np"` image `[1, H, W, 3]` stored in `url`, as `[1, 3, H, W]`.
    static func referenceImage(_ url: URL) throws -> Tensor {
        let reference = try SafetensorsFile(url: url).tensor(named: "image")
        let h = reference.shape[1], w = reference.shape[2]
        var nchw = [Float](repeating: 0, count: 3 * h * w)
        for y in 0..<h { for x in 0..<w { for c in 0..<3 { nchw[c * h * w + y * w + x] = reference.scalars[(y * w + x) * 3 + c] } } }
        return Tensor(shape: [1, 3, h, w], scalars: nchw)
    }

    @Test(arguments: ["shapes-sd-small-eta0", "shapes-sd-small-eta1", "shapes-sd-large-eta0"])
    func imageMatchesDiffusers(label: String) throws {
        let runs = try JSONDecoder().decode([String: Run].self, from: Data(contentsOf: Self.fixture("runs.json")))
        let run = try #require(runs[label])
        let pipeline = try StableDiffusionPipeline(directory: Self.repository.appendingPathComponent("models/" + run.model))
        #expect(pipeline.defaultSize == 64)
        let image = try pipeline.generate(GenerationRequest(prompt: run.prompt, guidance: run.guidance_scale, steps: run.num_inference_steps,
                                                            eta: run.eta), seed: run.seed, progress: nil)
        let err = image.maxAbsDifference(try Self.referenceImage(Self.fixture("\(label).io.safetensors")))
        // The bound is 1/255 per channel; measured errors are ~1e-5.
        #expect(err < 1.0 / 255, "\(label): max abs pixel error \(err)")
    }
}
