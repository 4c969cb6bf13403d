import Foundation
import ModelIO
import Models
import Sampling
import StableDiffusion
import TensorCore
import Testing

@Suite struct StableDiffusionPipelineTests {
    struct Run: Decodable {
        var prompt: String
        var negative_prompt: String?
        var num_inference_steps: Int
        var guidance_scale: Float
        var eta: Float
        var seed: UInt64
    }

    /// The same image diffusers' StableDiffusionPipeline gives with torch.Generator("cpu").manual_seed(seed),
    /// with η = 0 (only the initial latents drawn) and η = 1 (fresh noise drawn at every step).
    @Test(arguments: ["eta0", "eta1"])
    func imageMatchesDiffusers(label: String) throws {
        let runs = try JSONDecoder().decode([String: Run].self, from: Data(contentsOf: SDFixtures.url("pipeline-tiny-runs.json")))
        let run = try #require(runs[label])
        let pipeline = try StableDiffusionPipeline(directory: SDFixtures.url("pipeline-tiny"))
        #expect(pipeline.schedulerClassName == "DDIMScheduler")
        #expect(pipeline.defaultSize == 16)
        #expect(StableDiffusionPipeline.generateTakesEta)   // η 1 generates diffusers' image, as below
        let request = GenerationRequest(prompt: run.prompt, negativePrompt: run.negative_prompt ?? "", guidance: run.guidance_scale,
                                        steps: run.num_inference_steps, eta: run.eta)
        let image = try pipeline.generate(request, seed: run.seed, progress: nil)
        // diffusers returns [N, H, W, 3]; ours is [N, 3, H, W].
        let reference = try SDFixtures.io("pipeline-tiny-\(label)").tensor(named: "image")
        let h = reference.shape[1], w = reference.shape[2]
        var nchw = [Float](repeating: 0, count: 3 * h * w)
        for y in 0..<h { for x in 0..<w { for c in 0..<3 { nchw[c * h * w + y * w + x] = reference.scalars[(y * w + x) * 3 + c] } } }
        let err = image.maxAbsDifference(Tensor(shape: [1, 3, h, w], scalars: nchw))
        #expect(err < 1e-4, "\(label): max abs pixel error \(err)")
    }

    @Test func wrongSizesAndSchedulersAreRefused() throws {
        let pipeline = try StableDiffusionPipeline(directory: SDFixtures.url("pipeline-tiny"))
        #expect(throws: GenerationRequestError(.size, "image size 16×17 must be a positive multiple of 4 (VAE factor 2 × UNet downsampling 2)")) {
            try pipeline.latentShape(height: 17, width: 16)
        }
        #expect(throws: GenerationRequestError.self) { try pipeline.makeTrajectory(GenerationRequest(prompt: "x", scheduler: "pndm")) }
        #expect(throws: GenerationRequestError(.frames, "StableDiffusionPipeline makes images; a frame count (9) applies to video models only")) {
            try pipeline.sampleShape(for: GenerationRequest(prompt: "x", frames: 9))
        }
        // A single model's directory is not a pipeline, and the error says what it probably is.
        #expect(throws: ModelIOError.invalidPipeline(path: "sd/unet-sd1", reason: "not a diffusers pipeline directory (no model_index.json); it has a config.json, so it may be a single model's directory (a pipeline component)")) {
            try StableDiffusionPipeline(directory: SDFixtures.url("unet-sd1"))
        }
    }

    @Test func registryOpensByClassNameAndListsWhatItRuns() throws {
        let registry = PipelineRegistry([StableDiffusionPipeline.self])
        let pipeline = try registry.load(SDFixtures.url("pipeline-tiny"))
        #expect(pipeline is StableDiffusionPipeline && pipeline.sampleKind == .image)
        let trajectory = try pipeline.makeTrajectory(GenerationRequest(prompt: "a red circle", steps: 3, eta: 1))
        #expect(trajectory.stepCount == 3 && trajectory.sampleShape == [3, 16, 16] && trajectory.stateShape.count == 3)
        #expect(trajectory.isStochastic)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("evosearch-registry-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data(#"{"_class_name": "FancyPipeline", "unet": ["diffusers", "UNet2DConditionModel"]}"#.utf8)
            .write(to: dir.appendingPathComponent("model_index.json"))
        #expect(throws: PipelineLoadError("model_index.json: _class_name FancyPipeline is not implemented; this build runs StableDiffusionPipeline")) {
            try registry.load(dir)
        }
    }
}
