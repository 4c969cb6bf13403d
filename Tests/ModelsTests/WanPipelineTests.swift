import Foundation
import ModelIO
import Models
import RandomStreams
import Rewards
import Sampling
import Search
import TensorCore
import Testing
import Wan

// A whole tiny WanPipeline in the published Wan2.1-T2V-Diffusers layout (bf16 sharded transformer and UMT5, f32
// VAE, UniPC) against diffusers' frames for a seed (tools/fixtures/make_wan_pipeline_fixtures.py).
@Suite struct WanPipelineTests {
    struct Run: Decodable {
        var prompt: String
        var negative_prompt: String?
        var guidance_scale: Float
        var num_inference_steps: Int
        var num_frames: Int
        var height: Int, width: Int
        var max_sequence_length: Int
        var seed: UInt64
        var scheduler: String
    }

    static func fixture(_ name: String) -> URL {
        Bundle.module.url(forResource: "Fixtures/wan/" + name, withExtension: nil)!
    }

    static func runs() throws -> [String: Run] {
        try JSONDecoder().decode([String: Run].self, from: Data(contentsOf: fixture("pipeline-tiny-runs.json")))
    }

    static func request(_ run: Run) -> GenerationRequest {
        GenerationRequest(prompt: run.prompt, negativePrompt: run.negative_prompt ?? "", guidance: run.guidance_scale,
                          steps: run.num_inference_steps, width: run.width, height: run.height, frames: run.num_frames,
                          maxSequenceLength: run.max_sequence_length)
    }

    /// A copy of the fixture pipeline whose scheduler is FlowMatchEulerDiscreteScheduler(shift 3), as the "euler" run
    /// swapped it in.
    static func eulerPipeline() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wan-euler-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: fixture("pipeline-tiny"), to: dir)
        let config = #"{"_class_name": "FlowMatchEulerDiscreteScheduler", "num_train_timesteps": 1000, "shift": 3.0}"#
        try Data(config.utf8).write(to: dir.appendingPathComponent("scheduler/scheduler_config.json"))
        return dir
    }

    /// diffusers' `[1, F, H, W, 3]` as our `[1, F, 3, H, W]`.
    static func reference(_ label: String, _ name: String = "frames") throws -> Tensor {
        let r = try SafetensorsFile(url: fixture("pipeline-tiny-\(label).io.safetensors")).tensor(named: name)
        guard name == "frames" else { return r }
        let (f, h, w) = (r.shape[1], r.shape[2], r.shape[3])
        var out = [Float](repeating: 0, count: r.count)
        for t in 0..<f { for y in 0..<h { for x in 0..<w { for c in 0..<3 {
            out[((t * 3 + c) * h + y) * w + x] = r.scalars[((t * h + y) * w + x) * 3 + c]
        } } } }
        return Tensor(shape: [1, f, 3, h, w], scalars: out)
    }

    /// Every frame within 1/255 of diffusers': UniPC with guidance and the prompt clean-up, Euler without guidance,
    /// a single frame.
    @Test(arguments: ["unipc", "euler", "single"])
    func framesMatchDiffusers(label: String) throws {
        let run = try #require(try Self.runs()[label])
        let pipeline = try WanPipeline(directory: label == "euler" ? Self.eulerPipeline() : Self.fixture("pipeline-tiny"))
        #expect(pipeline.checkpointSampler == run.scheduler)
        var steps: [Int] = []
        let video = try pipeline.generate(Self.request(run), seed: run.seed) { done, _ in steps.append(done) }
        #expect(steps == Array(1...run.num_inference_steps))
        #expect(video.shape == [1, run.num_frames, 3, run.height, run.width])
        let err = video.maxAbsDifference(try Self.reference(label))
        #expect(err <= 1.0 / 255, "\(label): max abs pixel error \(err)")
    }

    /// The UMT5 states the transformer receives: the cleaned prompt, the mask, zeros past the prompt's tokens.
    @Test(arguments: ["unipc", "euler", "single"])
    func promptEmbeddingsMatchDiffusers(label: String) throws {
        let run = try #require(try Self.runs()[label])
        let pipeline = try WanPipeline(directory: Self.fixture("pipeline-tiny"))
        let states = try pipeline.encode(prompt: run.prompt, maxSequenceLength: run.max_sequence_length)
        let reference = try Self.reference(label, "prompt_embeds")
        #expect(states.shape == reference.shape)
        #expect(states.maxAbsDifference(reference) < 2e-5)
    }

    /// The search trajectory's deterministic form on the UniPC grid, and the flow SDE with noise at every step but
    /// the last; states are the latents, samples the frames.
    @Test func trajectoriesHaveTheVideoShapes() throws {
        let run = try #require(try Self.runs()["unipc"])
        let pipeline = try WanPipeline(directory: Self.fixture("pipeline-tiny"))
        var request = Self.request(run)
        request.eta = 0
        let ode = try pipeline.makeTrajectory(request)
        #expect(ode.stateShape == [16, 3, 4, 4])
        #expect(ode.sampleShape == [9, 3, 32, 32])
        #expect(ode.passesPerNFE == 2)
        #expect(!ode.isStochastic)
        var generator = TorchGenerator(seed: run.seed)
        var states = ode.initialState(noise: generator.randn(shape: [2] + ode.stateShape))
        for i in 0..<ode.stepCount {
            states = ode.advance(states, modelOutput: try ode.evaluate(states, at: i), at: i, noise: nil).states
        }
        let video = try ode.decode(states)
        #expect(video.shape == [2, 9, 3, 32, 32])
        #expect(video.scalars.allSatisfy { $0 >= 0 && $0 <= 1 })

        request.eta = 1
        let sde = try pipeline.makeTrajectory(request)
        #expect(sde.isStochastic)
        #expect((0..<(sde.stepCount - 1)).allSatisfy { sde.noiseStd(stepIndex: $0) > 0 })
        #expect(sde.noiseStd(stepIndex: sde.stepCount - 1) == 0)
    }

    /// The search trajectory of the checkpoint's UniPC, rolled out from diffusers' latents for the seed, makes
    /// diffusers' video: each state carries its own history. Rows of a batch of two (the seed's latents and other
    /// noise) end where each ends alone.
    @Test func uniPCSearchTrajectoryMakesDiffusersVideo() throws {
        let run = try #require(try Self.runs()["unipc"])
        let pipeline = try WanPipeline(directory: Self.fixture("pipeline-tiny"))
        var request = Self.request(run)
        request.scheduler = "unipc"
        request.eta = 0
        let trajectory = try pipeline.makeTrajectory(request)
        let latent = [16, 3, 4, 4], n = latent.reduce(1, *)
        #expect(trajectory.sampleStateShape == latent && trajectory.stateShape == [4 * n + 2] && !trajectory.isStochastic)
        var generator = TorchGenerator(seed: run.seed)
        let seedNoise = generator.randn(shape: [1] + latent)
        var other = TorchGenerator(seed: 99)
        let noise = Tensor.concatenate([seedNoise, other.randn(shape: [1] + latent)])
        func roll(_ noise: Tensor) throws -> Tensor {
            var states = trajectory.initialState(noise: noise)
            for i in 0..<trajectory.stepCount {
                states = trajectory.advance(states, modelOutput: try trajectory.evaluate(states, at: i), at: i, noise: nil).states
            }
            return states
        }
        let both = try roll(noise)
        let video = try trajectory.decode(both.gatherRows([0]))
        let err = video.maxAbsDifference(try Self.reference("unipc"))
        #expect(err <= 1.0 / 255, "max abs pixel error \(err)")
        let alone = try roll(noise.gatherRows([1]))
        #expect(trajectory.sampleStates(both.gatherRows([1])).maxAbsDifference(trajectory.sampleStates(alone)) < 1e-5)
        let estimate = try pipeline.memoryEstimate(for: request)
        #expect(estimate.state == 4 * (4 * n + 2))
    }

    /// A video reward for the test: the mean red level of the last frame minus that of the first (it rewards
    /// motion of red content, so it depends on every frame and on the frame order).
    struct RedGainReward: Reward {
        var name: String { "red-gain" }
        func scores(_ samples: Tensor) throws -> [Float] {
            let (f, hw) = (samples.shape[1], samples.shape[3] * samples.shape[4])
            let per = samples.count / samples.shape[0]
            return (0..<samples.shape[0]).map { n in
                let first = (0..<hw).reduce(Float(0)) { $0 + samples.scalars[n * per + $1] }
                let last = (0..<hw).reduce(Float(0)) { $0 + samples.scalars[n * per + (f - 1) * 3 * hw + $1] }
                return (last - first) / Float(hw)
            }
        }
    }

    /// Every search method runs on a Wan trajectory (the flow SDE on the UniPC grid, and UniPC itself with its
    /// history in the states) with a video reward, within its budget, and its best is a decoded video whose
    /// recorded reward is the reward of that video.
    @Test(arguments: SearchMethod.allCases, ["flow-sde", "unipc"])
    func everyMethodSearchesAVideoTrajectory(method: SearchMethod, sampler: String) throws {
        let pipeline = try WanPipeline(directory: Self.fixture("pipeline-tiny"))
        let request = GenerationRequest(prompt: "a red square moving right", guidance: 3, steps: 3, width: 16,
                                        height: 16, frames: 5, scheduler: sampler, eta: sampler == "unipc" ? 0 : 1,
                                        maxSequenceLength: 8)
        let trajectory = try pipeline.makeTrajectory(request)
        let budget = 8 * trajectory.stepCount
        let strategy = method.defaultStrategy
        guard (try? strategy.validate(stepCount: trajectory.stepCount, budget: budget)) != nil else { return }
        let result = try strategy.search(trajectory, reward: RedGainReward(), budget: budget, options: SearchOptions(seed: 5, maxBatch: 4))
        #expect(result.nfe > 0 && result.nfe <= budget)
        #expect(result.error == nil && !result.interrupted)
        let best = try trajectory.decode(Tensor(shape: [1] + trajectory.stateShape, scalars: result.best.state))
        #expect(best.shape == [1, 5, 3, 16, 16])
        let rescored = try RedGainReward().scores(best)[0]
        #expect(abs(rescored - result.best.reward) < 1e-4)
    }

    @Test func badRequestsNameTheirField() throws {
        let pipeline = try WanPipeline(directory: Self.fixture("pipeline-tiny"))
        func field(_ r: GenerationRequest) -> GenerationRequestError.Field? {
            do { _ = try pipeline.makeTrajectory(r); return nil } catch let e as GenerationRequestError { return e.field } catch { return nil }
        }
        #expect(field(GenerationRequest(prompt: "a", width: 32, height: 32, frames: 8)) == .frames)   // not 4k+1
        #expect(field(GenerationRequest(prompt: "a", width: 32, height: 32, frames: 0)) == .frames)
        #expect(field(GenerationRequest(prompt: "a", width: 24, height: 32, frames: 5)) == .size)     // not a multiple of 16
        #expect(field(GenerationRequest(prompt: "a", width: 8192, height: 32, frames: 5)) == .size)
        #expect(field(GenerationRequest(prompt: "a", width: 32, height: 32, frames: 5, maxSequenceLength: 513)) == .maxSequenceLength)
        #expect(field(GenerationRequest(prompt: "a", width: 32, height: 32, frames: 5, eta: 0.5)) == .eta)
        #expect(field(GenerationRequest(prompt: "a", width: 32, height: 32, frames: 5, scheduler: "ddim")) == .scheduler)
        #expect(field(GenerationRequest(prompt: "a", width: 32, height: 32, frames: 5, scheduler: "unipc", eta: 1)) == .eta)
        #expect(field(GenerationRequest(prompt: "a", width: 32, height: 32, frames: 5, trueCFGScale: 2)) == .trueCFGScale)
        let e = #expect(throws: GenerationRequestError.self) {
            try pipeline.generate(GenerationRequest(prompt: "a", width: 32, height: 32, frames: 5, scheduler: "euler"), seed: 0)
        }
        #expect(e?.field == .scheduler)
        #expect(throws: GenerationRequestError.self) {
            try pipeline.generate(GenerationRequest(prompt: "a", width: 32, height: 32, frames: 5, eta: 1), seed: 0)
        }
        #expect(!WanPipeline.generateTakesEta)   // what `shapes eval` reads to default to η 0
        let frames = #expect(throws: GenerationRequestError.self) {
            try pipeline.sampleShape(for: GenerationRequest(prompt: "a", width: 32, height: 32, frames: 6))
        }
        #expect(frames?.message.contains("4k+1") == true)
        // The tiny transformer's rope_max_seq_len is 32: 66 patches along the width are refused before any compute.
        let wide = #expect(throws: GenerationRequestError.self) {
            try pipeline.sampleShape(for: GenerationRequest(prompt: "a", width: 1056, height: 32, frames: 5))
        }
        #expect(wide?.field == .size && wide?.message.contains("rope_max_seq_len 32") == true)
    }

    @Test func memoryIsEstimatedFromTheConfigs() throws {
        let pipeline = try WanPipeline(directory: Self.fixture("pipeline-tiny"))
        let small = try pipeline.memoryEstimate(for: GenerationRequest(prompt: "a", width: 32, height: 32, frames: 5))
        let large = try pipeline.memoryEstimate(for: GenerationRequest(prompt: "a", width: 64, height: 64, frames: 17))
        #expect(small.weights > 100_000 && small.weights < 2_000_000)
        // 320 video tokens against 32: a row holds at least the extra tokens at the model width (24) in f32.
        #expect(large.perModelRow - small.perModelRow >= 4 * (320 - 32) * 24)
        #expect(large.sample == 4 * 17 * 3 * 64 * 64)
        #expect(large.state == 4 * 16 * 5 * 8 * 8)
    }

    @Test func missingPartsAndWan22AreNamed() throws {
        func copy() throws -> URL {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wan-bad-\(UUID().uuidString)")
            try FileManager.default.copyItem(at: Self.fixture("pipeline-tiny"), to: dir)
            return dir
        }
        let missing = try copy()
        try FileManager.default.removeItem(at: missing.appendingPathComponent("vae"))
        #expect { try WanPipeline(directory: missing) } throws: { "\($0)".contains("vae") }

        let twoStage = try copy()
        let index = twoStage.appendingPathComponent("model_index.json")
        let text = try String(contentsOf: index, encoding: .utf8).replacingOccurrences(of: #""boundary_ratio": null"#, with: #""boundary_ratio": 0.875"#)
        try Data(text.utf8).write(to: index)
        #expect { try WanPipeline(directory: twoStage) } throws: { "\($0)".contains("boundary_ratio") }

        let scheduler = try copy()
        try Data(#"{"_class_name": "DDIMScheduler"}"#.utf8).write(to: scheduler.appendingPathComponent("scheduler/scheduler_config.json"))
        #expect { try WanPipeline(directory: scheduler) } throws: { "\($0)".contains("UniPCMultistepScheduler or FlowMatchEulerDiscreteScheduler") }
    }
}
