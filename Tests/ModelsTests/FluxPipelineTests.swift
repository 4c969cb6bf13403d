import Flux
import StableDiffusion
import Foundation
import ModelIO
import Models
import RandomStreams
import Sampling
import TensorCore
import Testing

@Suite struct FluxPipelineTests {
    struct Run: Decodable {
        var prompt: String
        var negative_prompt: String?
        var true_cfg_scale: Float?
        var guidance_scale: Float
        var num_inference_steps: Int
        var height: Int, width: Int
        var max_sequence_length: Int
        var seed: UInt64
    }

    static func fixture(_ name: String) -> URL {
        Bundle.module.url(forResource: "Fixtures/flux/" + name, withExtension: nil)!
    }

    static func runs() throws -> [String: Run] {
        try JSONDecoder().decode([String: Run].self, from: Data(contentsOf: fixture("pipeline-tiny-runs.json")))
    }

    static func request(_ run: Run) -> GenerationRequest {
        GenerationRequest(prompt: run.prompt, negativePrompt: run.negative_prompt ?? "", guidance: run.guidance_scale,
                          steps: run.num_inference_steps, width: run.width, height: run.height,
                          maxSequenceLength: run.max_sequence_length, trueCFGScale: run.true_cfg_scale)
    }

    /// diffusers' [1, H, W, 3] as our [1, 3, H, W].
    static func reference(_ label: String) throws -> Tensor {
        let r = try SafetensorsFile(url: fixture("pipeline-tiny-\(label).io.safetensors")).tensor(named: "image")
        let h = r.shape[1], w = r.shape[2]
        var nchw = [Float](repeating: 0, count: 3 * h * w)
        for y in 0..<h { for x in 0..<w { for c in 0..<3 { nchw[c * h * w + y * w + x] = r.scalars[(y * w + x) * 3 + c] } } }
        return Tensor(shape: [1, 3, h, w], scalars: nchw)
    }

    /// The image diffusers' FluxPipeline gives for the seed: with the embedded guidance ("dev") and with true CFG on
    /// a negative prompt; the transformer is bf16 and sharded, the VAE has no quant convs and a shift factor.
    @Test(arguments: ["dev", "truecfg"])
    func imageMatchesDiffusers(label: String) throws {
        let run = try #require(try Self.runs()[label])
        let pipeline = try FluxPipeline(directory: Self.fixture("pipeline-tiny"))
        #expect(pipeline.hasGuidanceEmbedding)
        var steps: [Int] = []
        let image = try pipeline.generate(Self.request(run), seed: run.seed) { done, _ in steps.append(done) }
        #expect(steps == Array(1...run.num_inference_steps))
        let err = image.maxAbsDifference(try Self.reference(label))
        #expect(err <= 1.0 / 255, "\(label): max abs pixel error \(err)")
    }

    /// The search trajectory with the Euler sampler, stepped deterministically from the same initial latents,
    /// reaches generate's image; the flow SDE trajectory has noise at every step but the last.
    @Test func eulerTrajectoryReproducesGenerateAndTheSDEHasNoise() throws {
        let run = try #require(try Self.runs()["dev"])
        let pipeline = try FluxPipeline(directory: Self.fixture("pipeline-tiny"))
        var request = Self.request(run)
        request.eta = 0
        let trajectory = try pipeline.makeTrajectory(request)
        #expect(trajectory.stateShape == [4, run.height / 2, run.width / 2])
        #expect(trajectory.sampleShape == [3, run.height, run.width])
        var generator = TorchGenerator(seed: run.seed)
        var states = trajectory.initialState(noise: generator.randn(shape: [1] + trajectory.stateShape))
        for i in 0..<trajectory.stepCount {
            states = trajectory.advance(states, modelOutput: try trajectory.evaluate(states, at: i), at: i, noise: nil).states
        }
        let image = try trajectory.decode(states)
        #expect(image.maxAbsDifference(try pipeline.generate(request, seed: run.seed)) < 1e-5)

        request.eta = 1
        let sde = try pipeline.makeTrajectory(request)
        #expect(sde.isStochastic)
        #expect((0..<(sde.stepCount - 1)).allSatisfy { sde.noiseStd(stepIndex: $0) > 0 })
        #expect(sde.noiseStd(stepIndex: sde.stepCount - 1) == 0)
    }

    @Test func badRequestsNameTheirField() throws {
        let pipeline = try FluxPipeline(directory: Self.fixture("pipeline-tiny"))
        func field(_ r: GenerationRequest) -> GenerationRequestError.Field? {
            do { _ = try pipeline.makeTrajectory(r); return nil } catch let e as GenerationRequestError { return e.field } catch { return nil }
        }
        #expect(field(GenerationRequest(prompt: "a", width: 30, height: 32)) == .size)           // not a multiple of 4
        #expect(field(GenerationRequest(prompt: "a", width: 8192, height: 32)) == .size)
        #expect(field(GenerationRequest(prompt: "a", maxSequenceLength: 513)) == .maxSequenceLength)
        #expect(field(GenerationRequest(prompt: "a", trueCFGScale: .nan)) == .trueCFGScale)
        #expect(field(GenerationRequest(prompt: "a", eta: 0.5)) == .eta)
        #expect(field(GenerationRequest(prompt: "a", scheduler: "ddim")) == .scheduler)
        #expect(field(GenerationRequest(prompt: "a", frames: 5)) == .frames)
        #expect(throws: GenerationRequestError.self) { try pipeline.generate(GenerationRequest(prompt: "a", eta: 1), seed: 0) }
        #expect(!FluxPipeline.generateTakesEta)   // what `shapes eval` reads to default to η 0
    }

    @Test func aMissingComponentIsNamed() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("flux-missing-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: Self.fixture("pipeline-tiny"), to: dir)
        try FileManager.default.removeItem(at: dir.appendingPathComponent("text_encoder_2"))
        #expect { try FluxPipeline(directory: dir) } throws: { "\($0)".contains("text_encoder_2") }
    }
}

@Suite struct PromptWarningTests {
    /// A prompt longer than the text encoders take is reported, not silently cut.
    @Test func longPromptsAreReported() throws {
        let long = Array(repeating: "a red circle and a blue square", count: 12).joined(separator: " ")
        let flux = try FluxPipeline(directory: FluxPipelineTests.fixture("pipeline-tiny"))
        #expect(flux.promptWarnings(for: GenerationRequest(prompt: "a red circle", maxSequenceLength: 16)).isEmpty)
        let w = flux.promptWarnings(for: GenerationRequest(prompt: long, maxSequenceLength: 16))
        #expect(w.count == 2)
        #expect(w.first?.contains("the first 15 are kept (--max-sequence-length)") == true)
        #expect(w.last?.contains("CLIP tokens; the pooled CLIP embedding sees the first 75") == true)
        let sd = try StableDiffusionPipeline(directory: SDFixtures.url("pipeline-tiny"))
        #expect(sd.promptWarnings(for: GenerationRequest(prompt: "a red circle")).isEmpty)
        let s = sd.promptWarnings(for: GenerationRequest(prompt: "short", negativePrompt: long))
        #expect(s.count == 1 && s[0].hasPrefix("the negative prompt is ") && s[0].contains("takes the first 75"))
    }
}
