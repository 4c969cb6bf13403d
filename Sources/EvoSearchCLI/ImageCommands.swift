import ArgumentParser
import Foundation
import Imaging
import Rewards
import Sampling
import Search
import TensorCore

extension SchedulerKind: ExpressibleByArgument {}

/// Loads a diffusers pipeline directory with a one-line error when it is not one.
func loadPipeline(_ path: String) throws -> StableDiffusionPipeline {
    guard FileManager.default.fileExists(atPath: path) else {
        throw CLIError("--model: no directory at \(path); give a diffusers pipeline directory (with model_index.json)")
    }
    do { return try StableDiffusionPipeline(directory: URL(fileURLWithPath: path)) } catch {
        throw CLIError("--model \(path): \(error)")
    }
}

/// Writes `[3, H, W]` (or `[1, 3, H, W]`) in [0, 1] as an 8-bit PNG.
func writePNG(_ image: Tensor, to path: String) throws {
    let chw = image.rank == 4 ? image.row(0) : image
    do { try PNG.write(Image8(tensor: chw), to: path) } catch { throw CLIError(error.description) }
}

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Text-to-image with a Stable Diffusion 1.x/2.x pipeline in diffusers' layout.",
        discussion: """
        With --seed S the image is the one diffusers' StableDiffusionPipeline gives with \
        generator=torch.Generator("cpu").manual_seed(S) (same random draws in the same order). Defaults follow \
        diffusers: 50 steps, guidance 7.5, η 0, size = the UNet's sample_size × the VAE factor.
        """)

    @Option(name: .long, help: "Pipeline directory (model_index.json, unet/, vae/, text_encoder/, tokenizer/, scheduler/).")
    var model: String
    @Option(name: .long, help: "The prompt.")
    var prompt: String
    @Option(name: .long, help: "Negative prompt (default: empty, as diffusers).")
    var negativePrompt: String = ""
    @Option(name: .long, help: "Denoising steps.")
    var steps: Int = 50
    @Option(name: .long, help: "Classifier-free guidance scale (≤ 1 disables guidance).")
    var guidance: Float = 7.5
    @Option(name: .long, help: "DDIM η (0 = deterministic).")
    var eta: Float = 0
    @Option(name: .long, help: "Seed of the torch-compatible generator.")
    var seed: UInt64 = 0
    @Option(name: .long, help: "Image width in pixels (default: the model's).")
    var width: Int?
    @Option(name: .long, help: "Image height in pixels (default: the model's).")
    var height: Int?
    @Option(name: .long, help: "Sampler: ddim, ddpm or euler (default: the one scheduler_config.json names).")
    var scheduler: SchedulerKind?
    @Option(name: .long, help: "Where to write the PNG.")
    var output: String
    @Flag(name: .long, help: "No progress output.")
    var quiet = false

    func run() throws {
        if steps < 1 { throw CLIError("--steps: \(steps) must be at least 1") }
        if eta < 0 { throw CLIError("--eta: \(eta) must be ≥ 0") }
        try checkWritable(output, option: "--output")
        let pipeline = try loadPipeline(model)
        let started = Date()
        let image: Tensor
        do {
            image = try pipeline.generate(prompt: prompt, negativePrompt: negativePrompt, steps: steps, guidance: guidance, eta: eta,
                                          seed: seed, height: height, width: width, scheduler: scheduler) { done, total in
                if !quiet { FileHandle.standardError.write(Data("\rstep \(done)/\(total)".utf8)) }
            }
        } catch { throw CLIError("\(error)") }
        if !quiet { FileHandle.standardError.write(Data("\n".utf8)) }
        try writePNG(image, to: output)
        print("wrote \(output) (\(image.shape[3])×\(image.shape[2]), \(steps) steps, \(String(format: "%.1f", Date().timeIntervalSince(started))) s)")
    }
}

struct SearchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Search over a Stable Diffusion pipeline's denoising trajectory for images a reward prefers.",
        discussion: """
        The sampler defaults to DDIM with η = 1, whose per-step noise is what EvoSearch mutates at intermediate \
        steps. Rewards: \(RewardRegistry.names.joined(separator: ", ")) or weighted sums of them (see --reward); \
        model-based ones load --reward-model once, before the search, and embed --prompt once. Writes best.png and \
        result.json to --output-dir.
        """)

    @Option(name: .long, help: "Pipeline directory (diffusers layout).")
    var model: String
    @Option(name: .long, help: "The prompt.")
    var prompt: String
    @Option(name: .long, help: "Negative prompt.")
    var negativePrompt: String = ""
    @OptionGroup var method: MethodOptions
    @Option(name: .long, help: ArgumentHelp(rewardHelp))
    var reward: String
    @Option(name: .long, help: ArgumentHelp(rewardModelHelp))
    var rewardModel: [String] = []
    @Option(name: .long, help: "Compute budget in NFE (one guided UNet evaluation of one latent).")
    var budget: Int
    @Option(name: .long, help: "Denoising steps.")
    var steps: Int = 50
    @Option(name: .long, help: "Classifier-free guidance scale.")
    var guidance: Float = 7.5
    @Option(name: .long, help: "DDIM η of the sampler (1 = DDPM-like posterior noise).")
    var eta: Float = 1
    @Option(name: .long, help: "Sampler: ddim, ddpm or euler (default: ddim).")
    var scheduler: SchedulerKind = .ddim
    @Option(name: .long, help: "Image width in pixels (default: the model's).")
    var width: Int?
    @Option(name: .long, help: "Image height in pixels (default: the model's).")
    var height: Int?
    @Option(name: .long, help: "Seed of every random stream of the search.")
    var seed: UInt64 = 0
    @Option(name: .long, help: "Largest batch per UNet call.")
    var maxBatch: Int = 8
    @Option(name: .long, help: "Output directory for best.png and result.json.")
    var outputDir: String = "out/search"
    @Flag(name: .long, help: "No progress output.")
    var quiet = false

    func run() throws {
        // Parse the reward first (cheap, catches typos); load its models after the other checks.
        do { _ = try RewardRegistry.parse(reward) } catch { throw CLIError("--reward: \(error.description)") }
        if steps < 1 { throw CLIError("--steps: \(steps) must be at least 1") }
        if maxBatch < 1 { throw CLIError("--max-batch: \(maxBatch) must be at least 1") }
        let strategy = try method.strategy(stepCount: steps, budget: budget)
        do {
            try requireAtLeastOneRollout(stepCount: steps, budget: budget)
            try strategy.validate(stepCount: steps, budget: budget)
        } catch { throw CLIError(error.description) }
        try checkWritable(outputDir + "/result.json", option: "--output-dir")
        let scorer = try buildReward(reward, modelArguments: rewardModel, prompt: prompt)
        let pipeline = try loadPipeline(model)
        let trajectory: DenoisingTrajectory
        do {
            let sched = try pipeline.scheduler(scheduler, steps: steps, eta: eta)
            let shape = try pipeline.latentShape(height: height ?? pipeline.defaultSize, width: width ?? pipeline.defaultSize)
            let denoiser = try pipeline.denoiser(prompt: prompt, negativePrompt: negativePrompt, guidance: guidance)
            trajectory = DenoisingTrajectory(denoiser: denoiser, scheduler: sched, stateShape: shape,
                                             passesPerNFE: denoiser.passesPerNFE, decoder: { pipeline.decode(latents: $0) })
        } catch { throw CLIError("\(error)") }
        let printer = ProgressPrinter(quiet: quiet)
        let interrupt = InterruptFlag()
        let result: SearchResult
        do {
            result = try strategy.search(trajectory, reward: scorer, budget: budget,
                                         options: SearchOptions(seed: seed, maxBatch: maxBatch, progress: { printer.report($0) },
                                                                isCancelled: { interrupt.isRaised }))
        } catch { throw CLIError(error.description) }
        printer.finish()
        if result.history.isEmpty {
            throw CLIError("no image was finished before the search stopped; nothing written")
        }
        let f = pipeline.vaeScaleFactor
        let imageShape = [3, trajectory.stateShape[1] * f, trajectory.stateShape[2] * f]
        try writePNG(Tensor(shape: imageShape, scalars: result.best.sample), to: outputDir + "/best.png")
        let extra: [String: Any] = ["prompt": prompt, "negative_prompt": negativePrompt, "model": model, "reward": reward,
                                    "reward_model": rewardModel,
                                    "seed": seed, "steps": steps, "guidance": Double(guidance), "eta": Double(eta),
                                    "scheduler": scheduler.rawValue]
        try write(try result.jsonData(includeSamples: false, extra: extra), to: outputDir + "/result.json")
        print("\(result.method): best \(reward) \(format(result.best.reward)) after \(result.nfe)/\(budget) NFE (\(result.forwardPasses) UNet passes), \(result.rewardCalls) reward calls, \(String(format: "%.1f", result.wallSeconds)) s")
        for w in result.warnings { print("warning: \(w)") }
        print("wrote \(outputDir)/best.png and \(outputDir)/result.json")
        if result.interrupted { throw ExitCode(130) }
    }
}
