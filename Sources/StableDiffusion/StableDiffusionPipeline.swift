import Foundation
import ModelIO
import Models
import RandomStreams
import Sampling
import Schedulers
import TensorCore

/// A Stable Diffusion 1.x/2.x pipeline loaded from a diffusers directory (model_index.json, unet/, vae/,
/// text_encoder/, tokenizer/, scheduler/), as diffusers' `StableDiffusionPipeline` runs it: CLIP text
/// embeddings, classifier-free guidance with the unconditional and conditional halves in one UNet batch, the
/// scheduler from `scheduler_config.json` (or another built from the same config, as `from_config` does),
/// VAE decoding to images in [0, 1]. No safety checker. Samplers: DDIM, DDPM, Euler (`SchedulerFactory.diffusion`).
public struct StableDiffusionPipeline: GeneratorPipeline {
    public static let className = "StableDiffusionPipeline"

    public let directory: URL
    public let tokenizer: CLIPTokenizer
    public let textEncoder: CLIPTextModel
    public let unet: UNet2DConditionModel
    public let vae: AutoencoderKL
    /// `scheduler/scheduler_config.json` as text, and the class it names.
    public let schedulerConfig: Data
    public let schedulerClassName: String

    public init(directory: URL) throws {
        let pipeline = try PipelineDirectory(directory)
        self.directory = directory
        tokenizer = try CLIPTokenizer(directory: pipeline.directory(of: "tokenizer"))
        textEncoder = try CLIPTextModel(directory: pipeline.directory(of: "text_encoder"))
        unet = try UNet2DConditionModel(directory: pipeline.directory(of: "unet"))
        vae = try AutoencoderKL(directory: pipeline.directory(of: "vae"))
        let configURL = try pipeline.directory(of: "scheduler").appendingPathComponent("scheduler_config.json")
        guard let data = FileManager.default.contents(atPath: configURL.path) else {
            throw ModelConfigError(configURL.path, "cannot be read")
        }
        schedulerConfig = data
        schedulerClassName = try ConfigFile(parsing: data, displayName: "scheduler/scheduler_config.json").className ?? "(no _class_name)"
        let cross = unet.config.crossAttentionDim
        if cross.contains(where: { $0 != textEncoder.config.hiddenSize }) {
            throw ModelConfigError("unet/config.json", "cross_attention_dim \(cross) does not match the text encoder's hidden_size \(textEncoder.config.hiddenSize)")
        }
    }

    /// Spatial factor between images and latents.
    public var vaeScaleFactor: Int { vae.config.downsamplingFactor }

    /// diffusers' default image size: the UNet's sample_size × the VAE factor (512 for SD 1.x, 768 for 2.x).
    public var defaultSize: Int { (unet.config.sampleSize ?? 64) * vaeScaleFactor }

    public static let kind: SampleKind = .image
    public static let generateTakesEta = true
    public var schedulerNames: [String] { SchedulerFactory.diffusion.map(\.name) }
    /// diffusers' `StableDiffusionPipeline.__call__` defaults.
    public var defaults: GenerationDefaults {
        GenerationDefaults(steps: 50, guidance: 7.5, width: defaultSize, height: defaultSize, eta: 0)
    }

    /// The sampler `name` (default: the one the pipeline's config names) built from the pipeline's scheduler config.
    public func scheduler(_ name: String?, steps: Int, eta: Float) throws(GenerationRequestError) -> any DenoisingScheduler {
        let chosen = name ?? schedulerClassName
        do { return try SchedulerFactory.make(chosen, config: schedulerConfig, steps: steps, eta: eta) } catch {
            let origin = name == nil ? "scheduler/scheduler_config.json names \(schedulerClassName): " : ""
            throw GenerationRequestError(.scheduler, "\(origin)\(error)")
        }
    }

    public func sampleShape(for request: GenerationRequest) throws(GenerationRequestError) -> [Int] {
        let latent = try latentShape(for: request)
        return [3, latent[1] * vaeScaleFactor, latent[2] * vaeScaleFactor]
    }

    public func promptWarnings(for request: GenerationRequest) -> [String] {
        let keep = tokenizer.modelMaxLength - 2
        return [("prompt", request.prompt), ("negative prompt", request.negativePrompt)].compactMap { name, text in
            let n = tokenizer.encode(text).count
            return n > keep ? "the \(name) is \(n) CLIP tokens; the text encoder takes the first \(keep), the rest is cut (as diffusers does)" : nil
        }
    }

    /// The UNet's skip-connection stack (every down block's outputs, kept for the up blocks) and its widest working
    /// set at the top level (a transformer's GEGLU projection, 8 × channels, plus the block's live tensors); the VAE
    /// decoder's live tensors at full resolution. Weights: the three components' safetensors files.
    public func memoryEstimate(for request: GenerationRequest) throws(GenerationRequestError) -> MemoryEstimate {
        let latent = try latentShape(for: request)
        let h = latent[1], w = latent[2]
        let u = unet.config
        var skips = h * w * u.blockOutChannels[0]   // conv_in's output
        for (l, ch) in u.blockOutChannels.enumerated() {
            let scale = 1 << l
            skips += (u.layersPerBlock[l] + 1) * (h / scale) * (w / scale) * ch
        }
        let working = 14 * h * w * u.blockOutChannels[0]
        let passes = (request.guidance ?? defaults.guidance) > 1 ? 2 : 1
        let f = vaeScaleFactor
        let components = ["unet", "vae", "text_encoder"].map { directory.appendingPathComponent($0) }
        return MemoryEstimate(weights: MemoryEstimate.weightFiles(in: components), perModelRow: 4 * passes * (skips + working),
                              perDecodedRow: vae.config.decodeWorkingBytes(latentHeight: h, latentWidth: w), state: 4 * latent.reduce(1, *), sample: 4 * 3 * h * f * w * f)
    }

    /// Latent shape of one sample for the request (its size, default the model's; no frame count).
    private func latentShape(for request: GenerationRequest) throws(GenerationRequestError) -> [Int] {
        if let frames = request.frames, frames != 1 {
            throw GenerationRequestError(.frames, "\(Self.className) makes images; a frame count (\(frames)) applies to video models only")
        }
        return try latentShape(height: request.height ?? defaultSize, width: request.width ?? defaultSize)
    }

    /// The searchable trajectory: the chosen sampler (default DDIM) at `steps` and `eta` (defaults 50 and 0,
    /// diffusers'; a search passes its own), the guided denoiser, VAE decoding.
    public func makeTrajectory(_ request: GenerationRequest) throws -> any Trajectory {
        try trajectory(request, defaultScheduler: "ddim")
    }

    /// The same trajectory with `network` in place of the loaded UNet (a served copy of it): prompt encoding,
    /// guidance, the sampler and decoding stay here.
    public func makeTrajectory(_ request: GenerationRequest, network: any ConditionalUNet) throws -> any Trajectory {
        try trajectory(request, defaultScheduler: "ddim", network: network)
    }

    /// The request's sampler (`defaultScheduler` when it names none; nil = the one the config names), latent shape and
    /// guided denoiser, bound into one trajectory — shared by search and `generate`.
    private func trajectory(_ request: GenerationRequest, defaultScheduler: String?,
                            network: (any ConditionalUNet)? = nil) throws(GenerationRequestError) -> DenoisingTrajectory {
        let sched = try scheduler(request.scheduler ?? defaultScheduler, steps: request.steps ?? defaults.steps,
                                  eta: request.eta ?? defaults.eta)
        let shape = try latentShape(for: request)
        let denoiser = try self.denoiser(prompt: request.prompt, negativePrompt: request.negativePrompt,
                                         guidance: request.guidance ?? defaults.guidance, network: network)
        let pipeline = self
        return DenoisingTrajectory(denoiser: denoiser, scheduler: sched, stateShape: shape,
                                   sampleShape: [3, shape[1] * vaeScaleFactor, shape[2] * vaeScaleFactor],
                                   passesPerNFE: denoiser.passesPerNFE, decoder: { pipeline.decode(latents: $0) })
    }

    /// Text embeddings `[1, 77, D]` of a prompt, tokenised with padding to the tokenizer's max length.
    public func encode(prompt: String) throws(GenerationRequestError) -> Tensor {
        let ids = tokenizer(prompt).ids
        do { return try textEncoder([ids]).lastHiddenState } catch {
            throw GenerationRequestError(.prompt, "the text encoder failed on the prompt: \(error)")
        }
    }

    /// The denoiser for one prompt: classifier-free guidance with `guidance` (no guidance pair when ≤ 1), on
    /// `network` (default: the loaded UNet).
    public func denoiser(prompt: String, negativePrompt: String = "", guidance: Float,
                         network: (any ConditionalUNet)? = nil) throws(GenerationRequestError) -> StableDiffusionDenoiser {
        guard guidance.isFinite else { throw GenerationRequestError(.guidance, "guidance \(guidance) must be a finite number") }
        let cond = try encode(prompt: prompt)
        let uncond = guidance > 1 ? try encode(prompt: negativePrompt) : nil
        return StableDiffusionDenoiser(unet: network ?? unet, conditional: cond, unconditional: uncond, guidance: guidance)
    }

    /// Images `[N, 3, H, W]` in [0, 1] from final latents, as diffusers' `vae.decode(latents / scaling_factor)`
    /// then `(x / 2 + 0.5).clamp(0, 1)`.
    public func decode(latents: Tensor) -> Tensor {
        let scale = vae.config.scalingFactor, shift = vae.config.shiftFactor ?? 0
        return vae.decode(latents.map { $0 / scale + shift }).map { Swift.min(Swift.max($0 / 2 + 0.5, 0), 1) }
    }

    /// Latent shape for one image of `height × width` pixels.
    public func latentShape(height: Int, width: Int) throws(GenerationRequestError) -> [Int] {
        let f = vaeScaleFactor
        let blocks = 1 << (unet.config.blockOutChannels.count - 1)
        guard height > 0, width > 0, height % (f * blocks) == 0, width % (f * blocks) == 0 else {
            throw GenerationRequestError(.size, "image size \(width)×\(height) must be a positive multiple of \(f * blocks) (VAE factor \(f) × UNet downsampling \(blocks))")
        }
        guard height <= Self.maxSide, width <= Self.maxSide else {
            throw GenerationRequestError(.size, "image size \(width)×\(height) exceeds \(Self.maxSide) pixels a side")
        }
        return [unet.config.inChannels, height / f, width / f]
    }

    /// Largest image side `latentShape` accepts (SD checkpoints are trained at ≤ 1024 px).
    public static let maxSide = 4096

    /// Text-to-image exactly as diffusers' `StableDiffusionPipeline.__call__` with
    /// `generator=torch.Generator("cpu").manual_seed(seed)`: the same random draws in the same order (initial
    /// latents, then each step's noise where the scheduler draws it). Returns `[1, 3, H, W]` in [0, 1].
    /// Unset request fields take diffusers' defaults; the sampler default is the one the scheduler config names.
    public func generate(_ request: GenerationRequest, seed: UInt64, progress: ((Int, Int) -> Void)? = nil) throws -> Tensor {
        let bound = try trajectory(request, defaultScheduler: nil)
        let scheduler = bound.scheduler, denoiser = bound.denoiser, shape = bound.stateShape
        let eta = request.eta ?? defaults.eta
        var generator = TorchGenerator(seed: seed)
        var latents = generator.randn(shape: [1] + shape)
        if scheduler.initNoiseSigma != 1 { latents = latents * scheduler.initNoiseSigma }
        for i in 0..<scheduler.stepCount {
            let input = scheduler.scaleModelInput(latents, stepIndex: i)
            let output = try denoiser.predict(input, timestep: scheduler.timesteps[i])
            // Draw from the generator exactly where diffusers' step does.
            var noise: Tensor? = nil
            switch scheduler {
            case is DDIMScheduler:
                if eta > 0 { noise = generator.randn(shape: latents.shape) }
            case is DDPMScheduler:
                // t = 0 adds no noise but is still the stochastic form (posterior mean), not the η = 0 update.
                noise = scheduler.timesteps[i] > 0 ? generator.randn(shape: latents.shape) : Tensor(zeros: latents.shape)
            default:
                _ = generator.randn(shape: latents.shape)  // Euler draws every step; unused with s_churn = 0
            }
            latents = scheduler.step(modelOutput: output, stepIndex: i, sample: latents, noise: noise).sample
            progress?(i + 1, scheduler.stepCount)
        }
        return decode(latents: latents)
    }
}

/// The Stable Diffusion UNet bound to one prompt's text embeddings, with classifier-free guidance: the
/// unconditional and conditional halves run in one UNet batch (uncond first, as diffusers orders them) and
/// combine as uncond + g·(cond − uncond). One call on N latents is N NFE and 2N forward passes. The network is
/// our UNet or any other `ConditionalUNet` (a served one); a network error is thrown to the caller.
public struct StableDiffusionDenoiser: Denoiser {
    public let unet: any ConditionalUNet
    public let conditional: Tensor
    public let unconditional: Tensor?
    public let guidance: Float

    public var passesPerNFE: Int { unconditional == nil ? 1 : 2 }

    public func predict(_ x: Tensor, timestep: Float, cancellation: CancellationCheck) throws -> Tensor {
        let n = x.shape[0]
        let cond = Tensor.concatenate([Tensor](repeating: conditional, count: n))
        guard let unconditional else {
            return try unet(x, timesteps: [Float](repeating: timestep, count: n), context: cond, cancellation: cancellation)
        }
        let uncond = Tensor.concatenate([Tensor](repeating: unconditional, count: n))
        let out = try unet(Tensor.concatenate([x, x]), timesteps: [Float](repeating: timestep, count: 2 * n),
                           context: Tensor.concatenate([uncond, cond]), cancellation: cancellation)
        let half = out.count / 2
        let u = Tensor(shape: x.shape, scalars: Array(out.scalars[..<half]))
        let c = Tensor(shape: x.shape, scalars: Array(out.scalars[half...]))
        return u.scaled(1, plus: guidance, times: c - u)
    }
}
