import Foundation
import ModelIO
import Models
import RandomStreams
import Sampling
import Schedulers
import TensorCore

/// A Wan 2.1 text-to-video pipeline loaded from a diffusers directory (model_index.json, transformer/ (sharded or
/// not), vae/ = AutoencoderKLWan, text_encoder/ = UMT5EncoderModel, tokenizer/, scheduler/), as diffusers'
/// `WanPipeline` runs it: the prompt cleaned (`WanPromptCleaner`), tokenised to `max_sequence_length` with its
/// attention mask, the UMT5 states past the prompt's tokens zeroed; latents `[16, (F−1)/4+1, H/8, W/8]` drawn in one
/// `randn`; classifier-free guidance on the negative prompt (the empty one when none is given) when the guidance
/// is > 1; the checkpoint's scheduler (UniPCMultistepScheduler with flow sigmas, or FlowMatchEulerDiscreteScheduler);
/// the latents un-normalised with the VAE's `latents_mean` / `latents_std` and decoded chunk by chunk in time.
/// Samples are videos `[F, 3, H, W]` in [0, 1].
///
/// Samplers: the checkpoint's own (`unipc` or `euler`; `generate` uses it), and on the same sigma grid `euler`
/// (the ODE) and `flow-sde` (the first-order SDE-DPM-Solver++ whose per-step noise a search mutates; the default of
/// `makeTrajectory` when η > 0); a search may also step the checkpoint's `unipc` (η 0), each individual carrying its
/// own multistep history (`UniPCTrajectory`). A `generation_defaults.json` at the root (the project's embedded models) replaces the default
/// size, frame count and text length. Limits: text-to-video only (no image-to-video, no Wan 2.2 two-stage
/// `transformer_2` / `boundary_ratio`, no `expand_timesteps`); diffusers' optional ftfy pass is not applied.
public struct WanPipeline: GeneratorPipeline {
    public static let className = "WanPipeline"
    /// Longest text the UMT5 encoder is given (WanPipeline's default; UMT5's relative positions allow more, but
    /// the published models were trained at 512).
    public static let maxSequenceLimit = 512
    /// Largest frame side and frame count accepted before memory is estimated.
    public static let maxSide = 4096, maxFrames = 1025

    /// The scheduler config the checkpoint names.
    public enum SchedulerConfig: Sendable {
        case unipc(UniPCMultistepConfig)
        case euler(FlowMatchEulerDiscreteConfig)
    }

    public let directory: URL
    public let tokenizer: T5Tokenizer
    public let textEncoder: UMT5EncoderModel
    public let transformer: WanTransformer3DModel
    public let vae: AutoencoderKLWan
    public let schedulerConfig: SchedulerConfig
    public let generationDefaults: GenerationDefaultsFile?
    let cleaner = WanPromptCleaner()

    public init(directory: URL) throws {
        let pipeline = try PipelineDirectory(directory)
        self.directory = directory
        let index = pipeline.index.config
        if let ratio = try index.optionalDouble("boundary_ratio") {
            throw ModelConfigError("model_index.json", "boundary_ratio \(ratio): two-stage Wan 2.2 pipelines (transformer_2) are not supported")
        }
        if pipeline.index.components["transformer_2"] != nil {
            throw ModelConfigError("model_index.json", "transformer_2: two-stage Wan 2.2 pipelines are not supported")
        }
        if try index.bool("expand_timesteps", default: false) {
            throw ModelConfigError("model_index.json", "expand_timesteps true (Wan 2.2 TI2V) is not supported")
        }
        generationDefaults = try GenerationDefaultsFile.load(in: directory)
        tokenizer = try T5Tokenizer(directory: pipeline.directory(of: "tokenizer"))
        textEncoder = try UMT5EncoderModel(directory: pipeline.directory(of: "text_encoder"))
        transformer = try WanTransformer3DModel(directory: pipeline.directory(of: "transformer"))
        vae = try AutoencoderKLWan(directory: pipeline.directory(of: "vae"))
        let schedulerFile = try pipeline.directory(of: "scheduler").appendingPathComponent("scheduler_config.json")
        let config = try ConfigFile.load(schedulerFile)
        switch config.className {
        case "UniPCMultistepScheduler": schedulerConfig = .unipc(try UniPCMultistepConfig(config: config))
        case "FlowMatchEulerDiscreteScheduler":
            let euler = try FlowMatchEulerDiscreteConfig(config: config)
            if euler.useDynamicShifting {
                throw ModelConfigError("scheduler/scheduler_config.json", "use_dynamic_shifting true: WanPipeline sets no mu, so dynamic shifting cannot run")
            }
            schedulerConfig = .euler(euler)
        case let name:
            throw ModelConfigError("scheduler/scheduler_config.json", "_class_name \(name ?? "(missing)"): WanPipeline runs UniPCMultistepScheduler or FlowMatchEulerDiscreteScheduler")
        }
        let t = transformer.config
        if t.textDim != textEncoder.config.dModel {
            throw ModelConfigError("transformer/config.json", "text_dim \(t.textDim) does not match text_encoder's d_model \(textEncoder.config.dModel)")
        }
        if t.inChannels != vae.config.zDim || t.outChannels != vae.config.zDim {
            throw ModelConfigError("transformer/config.json", "in_channels \(t.inChannels) / out_channels \(t.outChannels) must equal the VAE's z_dim \(vae.config.zDim)")
        }
        if t.imageDim != nil {
            throw ModelConfigError("transformer/config.json", "image_dim is set: this is an image-to-video transformer; WanPipeline runs text-to-video")
        }
    }

    public static let kind: SampleKind = .video
    public static let generateTakesEta = false
    /// The checkpoint's sampler name (`unipc` or `euler`).
    public var checkpointSampler: String {
        switch schedulerConfig { case .unipc: "unipc"; case .euler: "euler" }
    }
    public var schedulerNames: [String] {
        switch schedulerConfig { case .unipc: ["unipc", "euler", "flow-sde"]; case .euler: ["euler", "flow-sde"] }
    }
    public var spatialFactor: Int { vae.config.spatialScaleFactor }
    public var temporalFactor: Int { vae.config.temporalScaleFactor }
    public var defaults: GenerationDefaults {
        GenerationDefaults(steps: 50, guidance: 5, width: generationDefaults?.width ?? 832,
                           height: generationDefaults?.height ?? 480, frames: generationDefaults?.frames ?? 81, eta: 0)
    }
    public var defaultMaxSequenceLength: Int { generationDefaults?.maxSequenceLength ?? Self.maxSequenceLimit }

    /// The latent's shape `[C, F', H', W']` for the request, after checking frames and size.
    public func latentShape(for request: GenerationRequest) throws(GenerationRequestError) -> [Int] {
        let frames = request.frames ?? defaults.frames ?? 81
        let ft = temporalFactor
        guard frames >= 1, frames <= Self.maxFrames, (frames - 1) % ft == 0 else {
            throw GenerationRequestError(.frames, "\(frames) frames: WanPipeline makes \(ft)k+1 frames (1, \(ft + 1), \(2 * ft + 1), …, at most \(Self.maxFrames))")
        }
        let height = request.height ?? defaults.height, width = request.width ?? defaults.width
        let p = transformer.config.patchSize
        let step = spatialFactor * Swift.max(p[1], p[2])
        guard height >= step, width >= step, height <= Self.maxSide, width <= Self.maxSide,
              height % (spatialFactor * p[1]) == 0, width % (spatialFactor * p[2]) == 0 else {
            throw GenerationRequestError(.size, "frame size \(width)×\(height): width must be a multiple of \(spatialFactor * p[2]) and height of \(spatialFactor * p[1]) (the VAE's factor \(spatialFactor) × the patch), at most \(Self.maxSide)")
        }
        let latentFrames = (frames - 1) / ft + 1
        guard latentFrames % p[0] == 0 else {
            throw GenerationRequestError(.frames, "\(frames) frames make \(latentFrames) latent frames, which the transformer's temporal patch \(p[0]) does not divide")
        }
        let grid = [latentFrames / p[0], height / (spatialFactor * p[1]), width / (spatialFactor * p[2])]
        let limit = transformer.config.ropeMaxSeqLen
        if let axis = grid.indices.first(where: { grid[$0] > limit }) {
            let name = ["frames", "height", "width"][axis]
            throw GenerationRequestError(axis == 0 ? .frames : .size, "\(grid[axis]) patches along \(name) exceed the transformer's rope_max_seq_len \(limit); make the video smaller")
        }
        return [vae.config.zDim, latentFrames, height / spatialFactor, width / spatialFactor]
    }

    public func sampleShape(for request: GenerationRequest) throws(GenerationRequestError) -> [Int] {
        let l = try latentShape(for: request)
        return [(l[1] - 1) * temporalFactor + 1, 3, l[2] * spatialFactor, l[3] * spatialFactor]
    }

    /// The guidance scale, checked (≤ 1 turns the negative pass off, as WanPipeline's `guidance_scale > 1`).
    func guidance(_ request: GenerationRequest) throws(GenerationRequestError) -> Float {
        if let s = request.trueCFGScale, s != 1 {
            throw GenerationRequestError(.trueCFGScale, "true CFG scale \(s): WanPipeline has one guidance scale; give --guidance")
        }
        let g = request.guidance ?? defaults.guidance
        guard g.isFinite else { throw GenerationRequestError(.guidance, "guidance \(g) must be a finite number") }
        return g
    }

    /// The prompt's UMT5 states `[1, L, D]` as WanPipeline's `_get_t5_prompt_embeds`: cleaned, tokenised with
    /// padding to L and its mask, encoded, rows past the prompt's tokens set to zero.
    public func encode(prompt: String, maxSequenceLength: Int) throws(GenerationRequestError) -> Tensor {
        guard maxSequenceLength >= 1, maxSequenceLength <= Self.maxSequenceLimit else {
            throw GenerationRequestError(.maxSequenceLength, "max sequence length \(maxSequenceLength) must be in 1…\(Self.maxSequenceLimit)")
        }
        let tokens = tokenizer.encode(cleaner(prompt), maxLength: maxSequenceLength)
        let states: Tensor
        do { states = try textEncoder([tokens.ids], attentionMask: [tokens.attentionMask]) } catch {
            throw GenerationRequestError(.prompt, "the text encoder failed on the prompt: \(error)")
        }
        let kept = tokens.attentionMask.reduce(0, +), width = states.shape[2]
        var scalars = states.scalars
        for i in (kept * width)..<scalars.count { scalars[i] = 0 }
        return Tensor(shape: states.shape, scalars: scalars)
    }

    /// The denoiser for one request: prompt (and negative prompt) states and the guidance scale.
    func denoiser(_ request: GenerationRequest, network: (any WanTransformerNetwork)? = nil) throws(GenerationRequestError) -> WanDenoiser {
        let g = try guidance(request)
        let length = request.maxSequenceLength ?? defaultMaxSequenceLength
        let positive = try encode(prompt: request.prompt, maxSequenceLength: length)
        let negative = g > 1 ? try encode(prompt: request.negativePrompt, maxSequenceLength: length) : nil
        return WanDenoiser(transformer: network ?? transformer, prompt: positive, negative: negative, guidance: g)
    }

    /// The checkpoint's time grid for `steps`: sigmas (with the final 0) and the timesteps the transformer gets.
    func grid(steps: Int) throws(GenerationRequestError) -> (sigmas: [Float], timesteps: [Float]) {
        guard steps >= 1 else { throw GenerationRequestError(.steps, "\(steps) steps: at least 1 is needed") }
        do {
            switch schedulerConfig {
            case .unipc(let c):
                let s = try UniPCMultistepScheduler(config: c, numInferenceSteps: steps)
                return (s.sigmas, s.timesteps)
            case .euler(let c):
                let s = try FlowMatchEulerDiscreteScheduler(config: c, numInferenceSteps: steps)
                return (s.sigmas, s.timesteps)
            }
        } catch { throw GenerationRequestError(.scheduler, "scheduler/scheduler_config.json: \(error)") }
    }

    /// The searchable trajectory: `flow-sde` when η > 0 (the default η of searches is 1), else `euler`, on the
    /// checkpoint's grid, or the checkpoint's `unipc` (η 0) when asked for; η must be 0 or 1.
    public func makeTrajectory(_ request: GenerationRequest) throws -> any Trajectory {
        try makeTrajectory(request, network: nil)
    }

    /// The same trajectory with `network` in place of the loaded transformer (a served copy of it): prompt encoding,
    /// guidance, the sampler and decoding stay here.
    public func makeTrajectory(_ request: GenerationRequest, network: (any WanTransformerNetwork)?) throws -> any Trajectory {
        let eta = request.eta ?? defaults.eta
        guard eta == 0 || eta == 1 else {
            throw GenerationRequestError(.eta, "η \(eta): flow models take 0 (the Euler ODE) or 1 (the flow SDE)")
        }
        let name = request.scheduler ?? (eta > 0 ? "flow-sde" : "euler")
        guard schedulerNames.contains(name) else {
            throw GenerationRequestError(.scheduler, "sampler \(name): \(Self.className) runs \(schedulerNames.joined(separator: ", "))")
        }
        if name == "unipc" && eta != 0 {
            throw GenerationRequestError(.eta, "η \(eta): the unipc sampler is deterministic; give --eta 0, or --scheduler flow-sde for a stochastic search")
        }
        let latent = try latentShape(for: request)
        let steps = request.steps ?? defaults.steps
        let (sigmas, timesteps) = try grid(steps: steps)
        let pipeline = self
        if case .unipc(let c) = schedulerConfig, name == "unipc" {
            let denoiser = try self.denoiser(request, network: network)
            let scheduler: UniPCMultistepScheduler
            do { scheduler = try UniPCMultistepScheduler(config: c, numInferenceSteps: steps) } catch {
                throw GenerationRequestError(.scheduler, "scheduler/scheduler_config.json: \(error)")
            }
            return UniPCTrajectory(denoiser: denoiser, scheduler: scheduler, latentShape: latent,
                                   sampleShape: try sampleShape(for: request), passesPerNFE: denoiser.passesPerNFE,
                                   decoder: { try pipeline.decode(latents: $0) })
        }
        let scheduler: any DenoisingScheduler
        do {
            scheduler = name == "flow-sde"
                ? try FlowMatchSDEScheduler(sigmas: sigmas, timesteps: timesteps)
                : try FlowMatchEulerDiscreteScheduler(grid: sigmas, timesteps: timesteps)
        } catch { throw GenerationRequestError(.scheduler, "\(error)") }
        let denoiser = try self.denoiser(request, network: network)
        return DenoisingTrajectory(denoiser: denoiser, scheduler: scheduler, stateShape: latent,
                                   sampleShape: try sampleShape(for: request), passesPerNFE: denoiser.passesPerNFE,
                                   decoder: { try pipeline.decode(latents: $0) })
    }

    /// Videos `[N, F, 3, H, W]` in [0, 1] from latents `[N, C, F', H', W']`: `latents · std + mean` per channel (what
    /// WanPipeline's `latents / (1/std) + mean` computes), the VAE's chunked decode, `(x/2 + 0.5)` clamped, frames
    /// moved in front of the channels.
    public func decode(latents: Tensor, cancellation: CancellationCheck = .never) throws -> Tensor {
        let c = vae.config.zDim, per = latents.count / (latents.shape[0] * c)
        let mean = vae.config.latentsMean, std = vae.config.latentsStd
        var scalars = latents.scalars
        for i in scalars.indices {
            let channel = (i / per) % c
            scalars[i] = scalars[i] / (1 / std[channel]) + mean[channel]
        }
        let video = try vae.decode(Tensor(shape: latents.shape, scalars: scalars), cancellation: cancellation)
        return Self.framesFirst(video).map { Swift.min(Swift.max($0 / 2 + 0.5, 0), 1) }
    }

    /// `[N, C, F, H, W]` → `[N, F, C, H, W]`.
    static func framesFirst(_ v: Tensor) -> Tensor {
        let (n, c, f, hw) = (v.shape[0], v.shape[1], v.shape[2], v.shape[3] * v.shape[4])
        var out = [Float](repeating: 0, count: v.count)
        v.scalars.withUnsafeBufferPointer { src in
            for b in 0..<n { for ch in 0..<c { for t in 0..<f {
                let from = ((b * c + ch) * f + t) * hw, to = ((b * f + t) * c + ch) * hw
                for k in 0..<hw { out[to + k] = src[from + k] }
            } } }
        }
        return Tensor(shape: [n, f, c, v.shape[3], v.shape[4]], scalars: out)
    }

    /// Text-to-video exactly as diffusers' `WanPipeline.__call__` with `generator=torch.Generator("cpu").manual_seed(seed)`
    /// and the checkpoint's scheduler: the latents drawn first, then the steps (no further draws). `[1, F, 3, H, W]`.
    public func generate(_ request: GenerationRequest, seed: UInt64, progress: ((Int, Int) -> Void)? = nil) throws -> Tensor {
        if let name = request.scheduler, name != checkpointSampler {
            throw GenerationRequestError(.scheduler, "sampler \(name): WanPipeline generates with the checkpoint's scheduler (\(checkpointSampler))")
        }
        if let eta = request.eta, eta != 0 {
            throw GenerationRequestError(.eta, "η \(eta): WanPipeline's samplers are deterministic (η 0)")
        }
        let latent = try latentShape(for: request)
        let steps = request.steps ?? defaults.steps
        _ = try grid(steps: steps)
        let denoiser = try self.denoiser(request)
        var generator = TorchGenerator(seed: seed)
        var latents = generator.randn(shape: [1] + latent)
        switch schedulerConfig {
        case .unipc(let c):
            let scheduler = try UniPCMultistepScheduler(config: c, numInferenceSteps: steps)
            var history = scheduler.initialHistory()
            for i in 0..<scheduler.stepCount {
                let velocity = try denoiser.predict(latents, timestep: scheduler.timesteps[i])
                let step = scheduler.step(modelOutput: velocity, stepIndex: i, sample: latents, history: history)
                latents = step.output.sample; history = step.history
                progress?(i + 1, scheduler.stepCount)
            }
        case .euler(let c):
            let scheduler = try FlowMatchEulerDiscreteScheduler(config: c, numInferenceSteps: steps)
            for i in 0..<scheduler.stepCount {
                let velocity = try denoiser.predict(latents, timestep: scheduler.timesteps[i])
                latents = scheduler.step(modelOutput: velocity, stepIndex: i, sample: latents, noise: nil).sample
                progress?(i + 1, scheduler.stepCount)
            }
        }
        return try decode(latents: latents)
    }

    public func promptWarnings(for request: GenerationRequest) -> [String] {
        let keep = (request.maxSequenceLength ?? defaultMaxSequenceLength) - tokenizer.specialTokenCount
        var texts = [("prompt", request.prompt)]
        if ((try? guidance(request)) ?? 1) > 1 { texts.append(("negative prompt", request.negativePrompt)) }
        return texts.compactMap { name, text in
            let count = tokenizer.tokenize(cleaner(text)).count
            return count > keep ? "the \(name) is \(count) UMT5 tokens; the first \(keep) are kept (--max-sequence-length), the rest is cut" : nil
        }
    }

    /// Weights: the three components' files. A model row: every block keeps the video tokens at the model width,
    /// its feed-forward's hidden layer and one attention chunk; a decode: the VAE's working set for one latent frame
    /// (the chunked decode holds one chunk and its cache, not the video).
    public func memoryEstimate(for request: GenerationRequest) throws(GenerationRequestError) -> MemoryEstimate {
        let l = try latentShape(for: request)
        let p = transformer.config.patchSize, t = transformer.config
        let tokens = (l[1] / p[0]) * (l[2] / p[1]) * (l[3] / p[2])
        let text = request.maxSequenceLength ?? defaultMaxSequenceLength
        let passes = ((try? guidance(request)) ?? 1) > 1 ? 2 : 1
        let width = t.heads * t.headDim
        let row = 4 * (12 * tokens * width + 2 * tokens * t.ffnDim + 2 * text * width)
        let sample = try sampleShape(for: request).reduce(1, *)
        let components = ["transformer", "vae", "text_encoder"].map { directory.appendingPathComponent($0) }
        // A UniPC search state carries its history: the last sample and solver_order x̂₀ next to the latent.
        var stateCopies = 1
        if case .unipc(let c) = schedulerConfig, request.scheduler == "unipc" { stateCopies = c.solverOrder + 2 }
        return MemoryEstimate(weights: MemoryEstimate.weightFiles(in: components), perModelRow: passes * row,
                              perDecodedRow: vae.config.decodeWorkingBytes(latentHeight: l[2], latentWidth: l[3]) + 4 * sample,
                              state: 4 * (stateCopies * l.reduce(1, *) + (stateCopies > 1 ? 2 : 0)), sample: 4 * sample)
    }
}
