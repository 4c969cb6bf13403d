import Foundation
import ModelIO
import Models
import RandomStreams
import Sampling
import Schedulers
import TensorCore

/// A FLUX.1 pipeline loaded from a diffusers directory (model_index.json, transformer/ (sharded or not), vae/,
/// text_encoder/ = CLIP, tokenizer/, text_encoder_2/ = T5, tokenizer_2/, scheduler/), as diffusers' `FluxPipeline`
/// runs it: the CLIP text model's pooled output and the T5 encoder's hidden states (padded to
/// `max_sequence_length`, no attention mask), latents packed into 2×2-patch tokens, the embedded guidance for
/// guidance-distilled checkpoints ("dev") and optional true classifier-free guidance on a negative prompt,
/// FlowMatchEulerDiscreteScheduler on FluxPipeline's grid (sigmas linspace(1, 1/N, N), dynamic shifting with mu
/// from the image sequence length), VAE decoding with the scaling and shift factors.
///
/// Guidance: `guidance` is the embedded guidance of guidance-distilled checkpoints (`guidance_embeds`, FLUX.1-dev),
/// and `trueCFGScale` FluxPipeline's `true_cfg_scale`. For checkpoints without a guidance embedding, where
/// FluxPipeline ignores `guidance_scale`, `guidance` > 1 is true classifier-free guidance at that scale (the only
/// guidance such a model has). True CFG runs on the negative prompt, the empty one when none is given (as
/// FluxPipeline with `negative_prompt=""`). A `generation_defaults.json` at the root (the project's embedded
/// models) replaces the default size and T5 length.
///
/// Samplers: `euler` (the checkpoint's Euler ODE; `generate` always uses it) and `flow-sde` (the first-order
/// SDE-DPM-Solver++ on the same sigmas, whose per-step noise is what a search mutates; the default of
/// `makeTrajectory` when η > 0). Limits: no image-to-image, IP-Adapter or ControlNet; `prompt_2` is the prompt.
public struct FluxPipeline: GeneratorPipeline {
    public static let className = "FluxPipeline"
    /// FluxPipeline refuses longer T5 prompts.
    public static let maxSequenceLimit = 512
    /// Largest image side accepted.
    public static let maxSide = 4096

    public let directory: URL
    public let tokenizer: CLIPTokenizer
    public let textEncoder: CLIPTextModel
    public let tokenizer2: T5Tokenizer
    public let textEncoder2: T5EncoderModel
    public let transformer: FluxTransformer2DModel
    public let vae: AutoencoderKL
    public let schedulerConfig: FlowMatchEulerDiscreteConfig
    /// The directory's `generation_defaults.json`, if any.
    public let generationDefaults: GenerationDefaultsFile?

    public init(directory: URL) throws {
        let pipeline = try PipelineDirectory(directory)
        self.directory = directory
        generationDefaults = try GenerationDefaultsFile.load(in: directory)
        tokenizer = try CLIPTokenizer(directory: pipeline.directory(of: "tokenizer"))
        textEncoder = try CLIPTextModel(directory: pipeline.directory(of: "text_encoder"))
        tokenizer2 = try T5Tokenizer(directory: pipeline.directory(of: "tokenizer_2"))
        textEncoder2 = try T5EncoderModel(directory: pipeline.directory(of: "text_encoder_2"))
        transformer = try FluxTransformer2DModel(directory: pipeline.directory(of: "transformer"))
        vae = try AutoencoderKL(directory: pipeline.directory(of: "vae"))
        let schedulerFile = try pipeline.directory(of: "scheduler").appendingPathComponent("scheduler_config.json")
        let config = try ConfigFile.load(schedulerFile)
        if let name = config.className, name != "FlowMatchEulerDiscreteScheduler" {
            throw ModelConfigError("scheduler/scheduler_config.json", "_class_name \(name): FluxPipeline runs FlowMatchEulerDiscreteScheduler")
        }
        schedulerConfig = try FlowMatchEulerDiscreteConfig(config: config)
        let t = transformer.config
        if textEncoder2.config.dModel != t.jointAttentionDim {
            throw ModelConfigError("transformer/config.json", "joint_attention_dim \(t.jointAttentionDim) does not match text_encoder_2's d_model \(textEncoder2.config.dModel)")
        }
        if textEncoder.config.hiddenSize != t.pooledProjectionDim {
            throw ModelConfigError("transformer/config.json", "pooled_projection_dim \(t.pooledProjectionDim) does not match text_encoder's hidden_size \(textEncoder.config.hiddenSize)")
        }
        if 4 * vae.config.latentChannels != t.inChannels || t.patchSize != 1 {
            throw ModelConfigError("transformer/config.json", "in_channels \(t.inChannels) with patch_size \(t.patchSize): FluxPipeline packs the VAE's \(vae.config.latentChannels) latent channels into \(4 * vae.config.latentChannels) with patch_size 1")
        }
    }

    public static let kind: SampleKind = .image
    public static let generateTakesEta = false
    public var schedulerNames: [String] { ["euler", "flow-sde"] }
    public var vaeScaleFactor: Int { vae.config.downsamplingFactor }
    /// diffusers' `default_sample_size` (128) × the VAE factor: 1024 px for FLUX.1.
    public var referenceSize: Int { 128 * vaeScaleFactor }
    public var defaults: GenerationDefaults {
        GenerationDefaults(steps: 28, guidance: 3.5, width: generationDefaults?.width ?? referenceSize,
                           height: generationDefaults?.height ?? referenceSize, eta: 0)
    }
    /// T5 length when the request gives none: generation_defaults.json's, else FluxPipeline's 512.
    public var defaultMaxSequenceLength: Int { generationDefaults?.maxSequenceLength ?? Self.maxSequenceLimit }
    public var hasGuidanceEmbedding: Bool { transformer.config.guidanceEmbeds }

    public func sampleShape(for request: GenerationRequest) throws(GenerationRequestError) -> [Int] {
        let (h, w) = try latentSize(for: request)
        return [3, h * vaeScaleFactor, w * vaeScaleFactor]
    }

    /// Latent height and width for the request (FluxPipeline's sizes must pack into 2×2 patches of the latent).
    func latentSize(for request: GenerationRequest) throws(GenerationRequestError) -> (Int, Int) {
        if let frames = request.frames, frames != 1 {
            throw GenerationRequestError(.frames, "\(Self.className) makes images; a frame count (\(frames)) applies to video models only")
        }
        let height = request.height ?? defaults.height, width = request.width ?? defaults.width
        guard height <= Self.maxSide, width <= Self.maxSide else {
            throw GenerationRequestError(.size, "image size \(width)×\(height) exceeds \(Self.maxSide) pixels a side")
        }
        do {
            let s = try FluxLatents.latentSize(imageHeight: height, imageWidth: width, vaeScaleFactor: vaeScaleFactor)
            return (s.height, s.width)
        } catch { throw GenerationRequestError(.size, error.description) }
    }

    /// The Euler grid FluxPipeline sets for `steps` at this latent size.
    func eulerScheduler(steps: Int, latentHeight: Int, latentWidth: Int) throws(GenerationRequestError) -> FlowMatchEulerDiscreteScheduler {
        guard steps >= 1 else { throw GenerationRequestError(.steps, "\(steps) steps: at least 1 is needed") }
        do {
            return try .flux(config: schedulerConfig, numInferenceSteps: steps, imageSequenceLength: (latentHeight / 2) * (latentWidth / 2))
        } catch { throw GenerationRequestError(.scheduler, "scheduler/scheduler_config.json: \(error)") }
    }

    /// The prompt's T5 hidden states `[1, L, D]` and CLIP pooled output `[1, Dp]`, as FluxPipeline's `encode_prompt`.
    public func encode(prompt: String, maxSequenceLength: Int) throws(GenerationRequestError) -> (hidden: Tensor, pooled: Tensor) {
        guard maxSequenceLength >= 1, maxSequenceLength <= Self.maxSequenceLimit else {
            throw GenerationRequestError(.maxSequenceLength, "max sequence length \(maxSequenceLength) must be in 1…\(Self.maxSequenceLimit)")
        }
        do {
            let pooled = try textEncoder([tokenizer(prompt).ids]).pooled
            let ids = tokenizer2.encode(prompt, maxLength: maxSequenceLength).ids
            return (try textEncoder2([ids]), pooled)
        } catch { throw GenerationRequestError(.prompt, "the text encoders failed on the prompt: \(error)") }
    }

    /// The denoiser for one request: prompt encodings, embedded guidance, true CFG.
    func denoiser(_ request: GenerationRequest, latentHeight: Int, latentWidth: Int,
                  network: (any FluxTransformerNetwork)? = nil) throws(GenerationRequestError) -> FluxDenoiser {
        let guidance = try embeddedGuidance(request)
        let scale = try trueCFGScale(request)
        let length = request.maxSequenceLength ?? defaultMaxSequenceLength
        let positive = try encode(prompt: request.prompt, maxSequenceLength: length)
        let negative = scale > 1 ? try encode(prompt: request.negativePrompt, maxSequenceLength: length) : nil
        return FluxDenoiser(transformer: network ?? transformer, prompt: positive, negative: negative, guidance: guidance,
                            trueCFGScale: scale, latentHeight: latentHeight, latentWidth: latentWidth)
    }

    /// The embedded guidance the transformer gets (nil for checkpoints without a guidance embedding).
    func embeddedGuidance(_ request: GenerationRequest) throws(GenerationRequestError) -> Float? {
        guard hasGuidanceEmbedding else { return nil }
        let g = request.guidance ?? defaults.guidance
        guard g.isFinite else { throw GenerationRequestError(.guidance, "guidance \(g) must be a finite number") }
        return g
    }

    /// The true CFG scale: `trueCFGScale`, or for checkpoints without a guidance embedding `guidance`; 1 = off.
    func trueCFGScale(_ request: GenerationRequest) throws(GenerationRequestError) -> Float {
        if let s = request.trueCFGScale, !s.isFinite {
            throw GenerationRequestError(.trueCFGScale, "true CFG scale \(s) must be a finite number")
        }
        if let g = request.guidance, !g.isFinite {
            throw GenerationRequestError(.guidance, "guidance \(g) must be a finite number")
        }
        if hasGuidanceEmbedding { return request.trueCFGScale ?? 1 }
        if let s = request.trueCFGScale, s > 1, let g = request.guidance, g > 1, g != s {
            throw GenerationRequestError(.guidance, "guidance \(g) and true CFG scale \(s): this checkpoint has no guidance embedding (transformer/config.json guidance_embeds false), so both mean classifier-free guidance; give one")
        }
        return Swift.max(request.trueCFGScale ?? 1, request.guidance ?? 1)
    }

    /// The searchable trajectory: `flow-sde` when η > 0 (the default η of searches is 1), else `euler`; η must be
    /// 0 or 1 for flow models.
    public func makeTrajectory(_ request: GenerationRequest) throws -> any Trajectory {
        try makeTrajectory(request, network: nil)
    }

    /// The same trajectory with the transformer replaced by `network` (a served one; nil = ours): prompt encoding,
    /// packing, guidance, the sampler and decoding stay here.
    public func makeTrajectory(_ request: GenerationRequest, network: (any FluxTransformerNetwork)?) throws -> any Trajectory {
        let eta = request.eta ?? defaults.eta
        guard eta == 0 || eta == 1 else {
            throw GenerationRequestError(.eta, "η \(eta): flow models take 0 (the Euler ODE) or 1 (the flow SDE)")
        }
        let name = request.scheduler ?? (eta > 0 ? "flow-sde" : "euler")
        guard schedulerNames.contains(name) else {
            throw GenerationRequestError(.scheduler, "sampler \(name): \(Self.className) runs \(schedulerNames.joined(separator: " or "))")
        }
        let (h, w) = try latentSize(for: request)
        let euler = try eulerScheduler(steps: request.steps ?? defaults.steps, latentHeight: h, latentWidth: w)
        let scheduler: any DenoisingScheduler
        if name == "flow-sde" {
            do { scheduler = try FlowMatchSDEScheduler(sigmas: euler.sigmas, timesteps: euler.timesteps) } catch {
                throw GenerationRequestError(.scheduler, "\(error)")
            }
        } else {
            scheduler = euler
        }
        let denoiser = try self.denoiser(request, latentHeight: h, latentWidth: w, network: network)
        let pipeline = self
        return DenoisingTrajectory(denoiser: denoiser, scheduler: scheduler, stateShape: [vae.config.latentChannels, h, w],
                                   sampleShape: [3, h * vaeScaleFactor, w * vaeScaleFactor], passesPerNFE: denoiser.passesPerNFE,
                                   decoder: { pipeline.decode(latents: $0) })
    }

    /// Images `[N, 3, H, W]` in [0, 1]: `vae.decode(latents / scaling_factor + shift_factor)`, then `(x/2 + 0.5)` clamped.
    public func decode(latents: Tensor) -> Tensor {
        let scale = vae.config.scalingFactor, shift = vae.config.shiftFactor ?? 0
        return vae.decode(latents.map { $0 / scale + shift }).map { Swift.min(Swift.max($0 / 2 + 0.5, 0), 1) }
    }

    /// Text-to-image exactly as diffusers' `FluxPipeline.__call__` with `generator=torch.Generator("cpu").manual_seed(seed)`:
    /// the initial latents `[1, C, H/f, W/f]` drawn first, then the Euler steps (no further draws). `[1, 3, H, W]` in [0, 1].
    public func generate(_ request: GenerationRequest, seed: UInt64, progress: ((Int, Int) -> Void)? = nil) throws -> Tensor {
        if let name = request.scheduler, name != "euler" {
            throw GenerationRequestError(.scheduler, "sampler \(name): FluxPipeline generates with its Euler scheduler (euler)")
        }
        if let eta = request.eta, eta != 0 {
            throw GenerationRequestError(.eta, "η \(eta): FluxPipeline's sampler is deterministic (η 0)")
        }
        let (h, w) = try latentSize(for: request)
        let scheduler = try eulerScheduler(steps: request.steps ?? defaults.steps, latentHeight: h, latentWidth: w)
        let denoiser = try self.denoiser(request, latentHeight: h, latentWidth: w)
        var generator = TorchGenerator(seed: seed)
        var latents = generator.randn(shape: [1, vae.config.latentChannels, h, w])
        for i in 0..<scheduler.stepCount {
            let velocity = try denoiser.predict(latents, timestep: scheduler.timesteps[i])
            latents = scheduler.step(modelOutput: velocity, stepIndex: i, sample: latents, noise: nil).sample
            progress?(i + 1, scheduler.stepCount)
        }
        return decode(latents: latents)
    }

    public func promptWarnings(for request: GenerationRequest) -> [String] {
        let clipKeep = tokenizer.modelMaxLength - 2
        let t5Keep = (request.maxSequenceLength ?? defaultMaxSequenceLength) - tokenizer2.specialTokenCount
        var texts = [("prompt", request.prompt)]
        if ((try? trueCFGScale(request)) ?? 1) > 1 { texts.append(("negative prompt", request.negativePrompt)) }
        var out: [String] = []
        for (name, text) in texts {
            let clip = tokenizer.encode(text).count, t5 = tokenizer2.tokenize(text).count
            if t5 > t5Keep { out.append("the \(name) is \(t5) T5 tokens; the first \(t5Keep) are kept (--max-sequence-length), the rest is cut") }
            if clip > clipKeep { out.append("the \(name) is \(clip) CLIP tokens; the pooled CLIP embedding sees the first \(clipKeep)") }
        }
        return out
    }

    /// Weights: the four components' files. A model row: every block keeps its image and text tokens, the
    /// q/k/v/out projections and the 4× MLP of the widest (single) block; a decode as the Stable Diffusion VAE's.
    public func memoryEstimate(for request: GenerationRequest) throws(GenerationRequestError) -> MemoryEstimate {
        let (h, w) = try latentSize(for: request)
        let tokens = (h / 2) * (w / 2) + (request.maxSequenceLength ?? defaultMaxSequenceLength)
        let passes = ((try? trueCFGScale(request)) ?? 1) > 1 ? 2 : 1
        let row = 24 * tokens * transformer.config.innerDim
        let f = vaeScaleFactor
        let components = ["transformer", "vae", "text_encoder", "text_encoder_2"].map { directory.appendingPathComponent($0) }
        return MemoryEstimate(weights: MemoryEstimate.weightFiles(in: components), perModelRow: 4 * passes * row,
                              perDecodedRow: vae.config.decodeWorkingBytes(latentHeight: h, latentWidth: w), state: 4 * vae.config.latentChannels * h * w, sample: 4 * 3 * h * f * w * f)
    }
}
