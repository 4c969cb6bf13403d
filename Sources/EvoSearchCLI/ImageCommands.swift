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

    @Option(name: .long, help: "Pipeline directory (model_index.json, unet/, vae/, text_encoder/, tokenizer/, scheduler/) or embedded model name (\(EmbeddedModels.names.joined(separator: ", "))).")
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
        let directory = try EmbeddedModels().resolvePipeline(model)
        try checkWritable(output, option: "--output")
        let pipeline = try loadPipeline(directory.path)
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
