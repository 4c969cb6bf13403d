import ArgumentParser
import Catalog
import Foundation
import Imaging
import Reports
import Rewards
import Sampling
import Search
import TensorCore

/// Loads a diffusers pipeline directory with the family its model_index.json names; one-line error otherwise.
func loadPipeline(_ path: String) throws -> any GeneratorPipeline {
    guard FileManager.default.fileExists(atPath: path) else {
        throw CLIError("--model: no directory at \(path); give a diffusers pipeline directory (with model_index.json)")
    }
    do { return try Catalog.pipelines.load(URL(fileURLWithPath: path)) } catch {
        throw CLIError("--model \(path): \(error)")
    }
}

/// `loadPipeline` for the commands whose rewards and reports take images only (`bench remote`): a video model is one
/// line saying so before anything is spent.
func loadImagePipeline(_ path: String, command: String) throws -> any GeneratorPipeline {
    let pipeline = try loadPipeline(path)
    guard pipeline.sampleKind == .image else {
        throw CLIError("--model \(path): \(type(of: pipeline).className) makes videos; `evosearch \(command)` scores and reports images (make its videos with `evosearch generate --output-dir`)")
    }
    return pipeline
}

/// For the benches that run one world (`bench shapes`, `bench claims`; `--video` picks the moving-shapes world):
/// one line naming the first model (with its flag) that makes the other kind of sample, before anything is loaded.
func checkModelKinds(_ models: [(URL?, String)], kind: SampleKind, command: String) throws {
    for case let (dir?, option) in models {
        let made: SampleKind
        do { made = try Catalog.pipelines.family(of: dir).kind } catch { throw CLIError("\(option) \(dir.path): \(error)") }
        if made != kind {
            let video = kind == .video
            throw CLIError("\(option) \(dir.path): the model makes \(made.rawValue)s; \(command)\(video ? " --video" : "") needs \(video ? "a video" : "an image") model" + (video ? "" : " (add --video for video models)"))
        }
    }
}

/// A request error as a one-line CLI error naming the flag at fault.
func cliError(_ error: any Error) -> CLIError {
    guard let e = error as? GenerationRequestError else { return CLIError("\(error)") }
    let flag: String
    switch e.field {
    case .prompt: flag = "--prompt"
    case .negativePrompt: flag = "--negative-prompt"
    case .guidance: flag = "--guidance"
    case .steps: flag = "--steps"
    case .size: flag = "--width/--height"
    case .frames: flag = "--frames"
    case .scheduler: flag = "--scheduler"
    case .eta: flag = "--eta"
    case .maxSequenceLength: flag = "--max-sequence-length"
    case .trueCFGScale: flag = "--true-cfg"
    }
    return CLIError("\(flag): \(e.message)")
}

/// Writes `[3, H, W]` (or `[1, 3, H, W]`) in [0, 1] as an 8-bit PNG.
func writePNG(_ image: Tensor, to path: String) throws {
    let chw = image.rank == 4 ? image.row(0) : image
    do { try PNG.write(Image8(tensor: chw), to: path) } catch { throw CLIError(error.description) }
}

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Text-to-image or text-to-video with a pipeline in diffusers' layout (\(Catalog.pipelines.classNames.joined(separator: ", "))).",
        discussion: """
        The family is the one model_index.json names. With --seed S the sample is the one diffusers' pipeline gives \
        with generator=torch.Generator("cpu").manual_seed(S) (same random draws in the same order). Omitted flags \
        take the diffusers pipeline's defaults (Stable Diffusion: 50 steps, guidance 7.5, η 0, size = the UNet's \
        sample_size × the VAE factor, the sampler scheduler_config.json names; WanPipeline: 50 steps, guidance 5, \
        832×480, 81 frames). Images go to --output (PNG); videos to --output-dir as frame-0000.png, frame-0001.png, …
        """)

    @Option(name: .long, help: "Pipeline directory (model_index.json and its components) or embedded model name (\(EmbeddedModels.names.joined(separator: ", "))).")
    var model: String
    @Option(name: .long, help: "The prompt.")
    var prompt: String
    @Option(name: .long, help: "Negative prompt (default: empty, as diffusers).")
    var negativePrompt: String = ""
    @Option(name: .long, help: "Seed of the torch-compatible generator.")
    var seed: UInt64 = 0
    @OptionGroup(title: "Sampler") var sampler: SamplerOptions
    @OptionGroup var memory: MemoryOptions
    @Option(name: .long, help: "Where to write the PNG (image models).")
    var output: String?
    @Option(name: .long, help: "Directory for the frames frame-0000.png, frame-0001.png, … (video models); frames of an earlier, longer video there are removed.")
    var outputDir: String?
    @Flag(name: .long, help: "No progress output.")
    var quiet = false

    func validate() throws {
        if (output == nil) == (outputDir == nil) {
            throw CLIError("give --output FILE.png for an image model or --output-dir DIR for a video model (one of them)")
        }
    }

    func run() throws {
        let directory = try EmbeddedModels().resolvePipeline(model)
        if let output { try checkWritable(output, option: "--output") }
        let pipeline = try loadPipeline(directory.path)
        switch (pipeline.sampleKind, output, outputDir) {
        case (.video, .some, _):
            throw CLIError("--output: \(model) makes videos; give --output-dir DIR for its frames")
        case (.image, _, .some):
            throw CLIError("--output-dir: \(model) makes images; give --output FILE.png")
        case (.video, _, .some(let dir)):
            try checkWritable(URL(fileURLWithPath: dir).appendingPathComponent(FrameSequence.name(0)).path, option: "--output-dir")
        default: break
        }
        let started = Date()
        let sample: Tensor
        let status = StatusLine(quiet: quiet)
        do {
            defer { status.end() }
            let request = sampler.request(prompt: prompt, negativePrompt: negativePrompt)
            try memory.check(.generation(try pipeline.memoryEstimate(for: request)))
            for w in sampler.warnings + pipeline.promptWarnings(for: request) {
                FileHandle.standardError.write(Data("warning: \(w)\n".utf8))
            }
            sample = try pipeline.generate(request, seed: seed) { done, total in status.show("step \(done)/\(total)") }
        } catch { throw cliError(error) }
        let steps = sampler.steps ?? pipeline.defaults.steps
        let seconds = String(format: "%.1f", Date().timeIntervalSince(started))
        if let output {
            try writePNG(sample, to: output)
            print("wrote \(output) (\(sample.shape[3])×\(sample.shape[2]), \(steps) steps, \(seconds) s)")
        } else if let outputDir {
            let files: [URL]
            do { files = try FrameSequence.write(sample, to: URL(fileURLWithPath: outputDir)) } catch {
                throw CLIError("--output-dir: \(error)")
            }
            let shape = sample.shape
            print("wrote \(files.count) frames to \(outputDir) (\(shape[4])×\(shape[3]), \(steps) steps, \(seconds) s)")
        }
    }
}
