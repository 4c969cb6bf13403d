import ArgumentParser
import Benchmarks
import Foundation
import ShapesWorld
import StableDiffusion

/// `evosearch bench throughput`: parses the flags, runs `ThroughputBench` against the PyTorch child and prints
/// `ThroughputReport`.
struct BenchThroughput: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "throughput",
        abstract: "How the cost per sample falls with the batch: the UNet per row and the main job's search, ours vs diffusers.",
        discussion: """
        Two tables on a Stable Diffusion pipeline (default the embedded shapes-sd-small), each against PyTorch \
        (tools/bench/torch_throughput.py: torch and diffusers, tools/requirements.txt) in the same run on the same \
        shapes: the UNet's forward time per row at each of --rows rows; and the main job's search (EvoSearch guided \
        by the shapes verifier on --prompt, DDIM η 1, guidance 1.5) at --budget NFE with each --samples-per-call as \
        its --max-batch, NFE/s ours against diffusers replaying the same model calls in the same order. Every batch \
        size must give the same search, bit for bit. The sides alternate within each of --rounds rounds; medians \
        shown, with the targets: per-row time at 32 rows ≤ 0.5× that at 2, ours ≤ 0.25× PyTorch at 1 row, the \
        search at 16 samples per call ≤ 0.4× diffusers. About 10 minutes with the defaults; --quick in seconds. \
        Without PyTorch, prints our timings only. Run from the repository root.
        """)

    @Option(name: .long, help: "Stable Diffusion pipeline directory or embedded model name.")
    var model: String = "shapes-sd-small"
    @Option(name: .long, help: "A shapes-grammar prompt for the search (judged by the shapes verifier).")
    var prompt: String = ShapesPromptSuite.defaultSearchPrompt
    @Option(name: .long, parsing: .unconditional, help: "NFE per search (default 2048: EvoSearch populations of 32 at 20 steps).")
    var budget: Int?
    @Option(name: .long, help: "Samples per model call (--max-batch) of the searches, comma-separated (default 1,8,16,32).")
    var samplesPerCall: IntList?
    @Option(name: .long, help: "UNet batch rows of the forward timing, comma-separated (default 1,2,8,16,32).")
    var rows: IntList?
    @Option(name: .long, help: "Timed forwards per side, row count and round (default 10).")
    var runs: Int?
    @Option(name: .long, help: "Rounds (default 3).")
    var rounds: Int?
    @Flag(name: .long, help: "A smoke run: 160 NFE, 1 and 4 samples per call, 1 and 2 rows, 2 forwards, one round.")
    var quick = false
    @Option(name: .long, help: "Python with torch and diffusers.")
    var python: String = "python3"
    @Option(name: .long, help: "The PyTorch side.")
    var script: String = "tools/bench/torch_throughput.py"
    @Option(name: .long, help: "PyTorch threads.")
    var threads: Int = 2

    func run() throws {
        var settings = quick ? ThroughputBench.Settings.quick(prompt: prompt) : ThroughputBench.Settings(prompt: prompt)
        if let budget { settings.budget = budget }
        if let samplesPerCall { settings.samplesPerCall = samplesPerCall.values }
        if let rows { settings.forwardRows = rows.values }
        if let runs { settings.forwardRuns = runs }
        if let rounds { settings.rounds = rounds }
        if settings.budget < settings.steps { throw CLIError("--budget: \(settings.budget) is less than one rollout (\(settings.steps) NFE)") }
        if settings.samplesPerCall.isEmpty || settings.samplesPerCall.contains(where: { $0 < 1 }) {
            throw CLIError("--samples-per-call: every value must be at least 1")
        }
        if settings.forwardRows.isEmpty || settings.forwardRows.contains(where: { $0 < 1 }) { throw CLIError("--rows: every value must be at least 1") }
        if settings.forwardRuns < 1 || settings.rounds < 1 || threads < 1 { throw CLIError("--runs, --rounds and --threads must be at least 1") }
        let judged: JudgedPrompt
        do { judged = JudgedPrompt(image: try ShapesPrompt(parsing: prompt)) } catch { throw CLIError("--prompt: \(error)") }

        let directory = try EmbeddedModels().resolvePipeline(model)
        let pipeline = try loadPipeline(directory.path)
        guard let sd = pipeline as? StableDiffusionPipeline else {
            throw CLIError("--model \(model): \(type(of: pipeline).className); bench throughput times Stable Diffusion pipelines")
        }
        let note: (String) -> Void = { FileHandle.standardError.write(Data("bench: \($0)\n".utf8)) }
        var reference: TorchThroughputChild?
        if !FileManager.default.fileExists(atPath: script) {
            note("PyTorch reference unavailable (no \(script); run from the repository root); our timings only")
        } else {
            do { reference = try TorchThroughputChild(python: python, script: script, pipeline: directory, settings: settings, threads: threads) } catch {
                note("PyTorch reference unavailable (\(error)); our timings only")
            }
        }
        note("sgemm peak (2048³)")
        let peak = sgemmPeakGFLOPs()
        let bench = ThroughputBench(settings: settings, progress: note)
        let forward = try bench.forward(unet: sd.unet, contextTokens: sd.textEncoder.config.maxPositions, reference: reference)
        let search = try bench.search(pipeline: pipeline, reward: judged.verifierReward, reference: reference)
        print(ThroughputReport(model: directory.lastPathComponent, settings: settings, forward: forward, search: search,
                               reference: reference?.versions, sgemmPeak: peak).markdown)
    }
}
