import ArgumentParser
import Sampling

/// The sampler flags of every command that samples (`generate`, `search`, `shapes eval`, `bench shapes`), declared
/// once. Each is optional: `generate` leaves what is omitted to the pipeline (diffusers' defaults), the commands that
/// search fill it from `SamplerOptions.searchDefaults`.
struct SamplerOptions: ParsableArguments {
    /// Defaults of the commands that search, tuned for the embedded shapes models on the tuning prompts (Stable
    /// Diffusion checkpoints are usually run with --steps 50 --guidance 7.5): DDIM with η = 1, whose per-step
    /// noise is what EvoSearch mutates at intermediate steps.
    /// The sampler is left to the pipeline: its stochastic one for η > 0 (DDIM for Stable Diffusion, the flow SDE
    /// for FLUX.1).
    static let searchDefaults = (steps: 20, guidance: Float(1.5), eta: Float(1))

    @Option(name: .long, parsing: .unconditional, help: "Denoising steps (default: generate — the pipeline's, 50 for Stable Diffusion; searching commands — 20, which suits the embedded models).")
    var steps: Int?
    @Option(name: .long, parsing: .unconditional, help: "Classifier-free guidance scale, ≤ 1 disables it; for FLUX.1-dev-style checkpoints the embedded guidance, for FLUX.1 checkpoints without one true CFG on the negative prompt (default: generate — the pipeline's, 7.5 for Stable Diffusion, 3.5 embedded for FLUX.1-dev; searching commands — 1.5).")
    var guidance: Float?
    @Option(name: .long, parsing: .unconditional, help: "DDIM η: 0 = deterministic, 1 = DDPM-like posterior noise; for FLUX.1 0 = the Euler ODE, 1 = the flow SDE (default: generate — 0; searching commands — 1).")
    var eta: Float?
    @Option(name: .long, help: "Sampler: ddim, ddpm or euler for Stable Diffusion; euler or flow-sde for FLUX.1; euler, flow-sde or unipc (the checkpoint's, with --eta 0) for Wan 2.1 (default: generate — the one scheduler_config.json names; searching commands — the pipeline's stochastic one: ddim, flow-sde).")
    var scheduler: String?
    @Option(name: .long, help: "Longest T5 prompt in tokens, for FLUX.1 (default: the model's generation_defaults.json, else 512 as FluxPipeline).")
    var maxSequenceLength: Int?
    @Option(name: .customLong("true-cfg"), help: "True classifier-free guidance scale on top of an embedded guidance (FLUX.1's true_cfg_scale, on --negative-prompt or the empty prompt; default 1 = off).")
    var trueCFGScale: Float?
    @Option(name: .long, help: "Image width in pixels (default: the model's).")
    var width: Int?
    @Option(name: .long, help: "Image height in pixels (default: the model's).")
    var height: Int?
    @Option(name: .long, help: "Frames of a video, 4k+1 for Wan 2.1 (video models only; default: the model's generation_defaults.json, else 81 as WanPipeline).")
    var frames: Int?

    func validate() throws {
        if let steps, steps < 1 { throw CLIError("--steps: \(steps) must be at least 1") }
        if let eta, !(eta >= 0 && eta.isFinite) { throw CLIError("--eta: \(eta) must be a finite number ≥ 0") }
        if let guidance, !guidance.isFinite { throw CLIError("--guidance: \(guidance) must be a finite number") }
        if let width, width < 1 { throw CLIError("--width: \(width) must be positive") }
        if let height, height < 1 { throw CLIError("--height: \(height) must be positive") }
        if let frames, frames < 1 { throw CLIError("--frames: \(frames) must be positive") }
        if let maxSequenceLength, maxSequenceLength < 1 { throw CLIError("--max-sequence-length: \(maxSequenceLength) must be positive") }
        if let trueCFGScale, !trueCFGScale.isFinite { throw CLIError("--true-cfg: \(trueCFGScale) must be a finite number") }
    }

    /// Settings that are allowed but probably not meant, one line each.
    var warnings: [String] {
        if let eta, eta > 1 { return ["η \(eta) > 1 adds more noise per step than the DDPM posterior (allowed, as in diffusers)"] }
        return []
    }

    /// The request with omitted flags left to the pipeline.
    func request(prompt: String, negativePrompt: String = "") -> GenerationRequest {
        GenerationRequest(prompt: prompt, negativePrompt: negativePrompt, guidance: guidance, steps: steps,
                          width: width, height: height, frames: frames, scheduler: scheduler, eta: eta,
                          maxSequenceLength: maxSequenceLength, trueCFGScale: trueCFGScale)
    }

    /// The flags with omitted ones filled from `searchDefaults` (`defaultSteps` and `defaultEta` replace its step
    /// count and η).
    func forSearch(defaultSteps: Int = searchDefaults.steps, defaultEta: Float = searchDefaults.eta) -> SearchSampler {
        SearchSampler(steps: steps ?? defaultSteps, guidance: guidance ?? Self.searchDefaults.guidance,
                      eta: eta ?? defaultEta, scheduler: scheduler, width: width, height: height,
                      frames: frames, maxSequenceLength: maxSequenceLength, trueCFGScale: trueCFGScale)
    }

    /// The sampler of plain samples (`generate` through `shapes eval` and `shapes hard-split`): the searching
    /// defaults, with η 0 for a family whose `generate` is deterministic only.
    func forPlainSamples(of family: any GeneratorPipeline.Type) -> SearchSampler {
        forSearch(defaultEta: family.generateTakesEta ? Self.searchDefaults.eta : 0)
    }
}

/// The sampler of a searching command, every setting decided.
struct SearchSampler {
    var steps: Int
    var guidance: Float
    var eta: Float
    /// nil: the pipeline's stochastic sampler.
    var scheduler: String?
    var width: Int?
    var height: Int?
    var frames: Int?
    var maxSequenceLength: Int?
    var trueCFGScale: Float?

    /// How reports name the sampler.
    var schedulerName: String { scheduler ?? "default" }

    func request(prompt: String, negativePrompt: String = "") -> GenerationRequest {
        GenerationRequest(prompt: prompt, negativePrompt: negativePrompt, guidance: guidance, steps: steps,
                          width: width, height: height, frames: frames, scheduler: scheduler, eta: eta,
                          maxSequenceLength: maxSequenceLength, trueCFGScale: trueCFGScale)
    }
}

/// `--max-memory`, for the commands that check a plan's memory before spending it (`generate`, `search`).
struct MemoryOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Memory the run may use, e.g. 16G or 512M (default: the machine's available memory, MemAvailable). A plan estimated to need more is refused before anything is loaded into it.", valueName: "size"))
    var maxMemory: String?

    func validate() throws {
        if let maxMemory, MemoryPlan.parseSize(maxMemory) == nil {
            throw CLIError("--max-memory: \"\(maxMemory)\" is not a size; give e.g. 16G, 512M or a number of bytes")
        }
    }

    /// Refuses `plan` when it does not fit the limit (--max-memory, else MemAvailable; no check where neither is known).
    func check(_ plan: MemoryPlan) throws {
        let limit: Int, source: String
        if let maxMemory, let bytes = MemoryPlan.parseSize(maxMemory) {
            (limit, source) = (bytes, "--max-memory allows")
        } else if let available = MemoryPlan.availableBytes() {
            (limit, source) = (available, "available on this machine")
        } else {
            return
        }
        do { try plan.check(limit: limit, limitSource: source) } catch { throw CLIError(error.description) }
    }
}

/// `--max-batch`: a number of samples per model call, or `auto` (`BatchSizeProbe`).
enum MaxBatch: ExpressibleByArgument, Equatable, CustomStringConvertible {
    case auto
    case fixed(Int)

    init?(argument: String) {
        if argument == "auto" { self = .auto; return }
        guard let n = Int(argument) else { return nil }
        self = .fixed(n)
    }

    var description: String {
        switch self {
        case .auto: "auto"
        case .fixed(let n): "\(n)"
        }
    }

    var defaultValueDescription: String { description }
}
