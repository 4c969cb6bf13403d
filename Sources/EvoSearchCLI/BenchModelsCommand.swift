import ArgumentParser
import Benchmarks
import Foundation
import TensorCore

/// `evosearch bench models`: forward-pass times of our UNet, VAE decoder and CLIP text encoder against PyTorch
/// CPU, measured in the same run on identical inputs and weights.
///
/// PyTorch runs in a child process (`tools/bench/torch_models.py --serve`) that builds the random-weight models
/// (once, in the cache directory), writes each case's inputs and its own output, counts FLOPs and times its
/// forward passes when asked. Timing alternates between PyTorch and us in blocks for each case, so a change in
/// the machine's background load during the run hits both sides alike; the ratio is median / median.
struct BenchModels: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "Times the UNet, VAE decoder, CLIP text encoder and reward models against PyTorch CPU in the same run.",
        discussion: """
        Cases: the committed fixtures (Tests/ModelsTests/Fixtures/sd), the small SD-style UNet (32,64,64) at a 16×16 \
        latent, and SD 2.1-sized models with random weights (UNet at a 32×32 latent, text encoder, VAE decoder at a \
        32×32 latent) and a FLUX.1-width transformer with one double and one single block (bf16, 1024 image + 512 \
        text tokens) and a Wan 2.1 T2V 1.3B-width transformer with two blocks (bf16, 768 video + 512 text tokens), \
        built once by tools/bench/torch_models.py in --cache-dir (not committed), and the embedded \
        shapes-flux-small transformer as committed (a guided step's 2 rows). Prints a markdown \
        table: median forward time over --runs (--large-runs for the SD-sized models), the ratio ours/PyTorch with \
        the product targets (small UNets ≤ 0.25×, SD 2.1 UNet ≤ 1.0×, stretch 0.9×, Flux blocks ≤ 0.9×, Wan blocks ≤ 0.9×, \
        shapes-flux-small ≤ 0.5×), GFLOP counted by PyTorch's \
        FlopCounterMode, our GFLOP/s and its share of the OpenBLAS sgemm peak (2048³ Tensor.matmul), CPU time / \
        wall time of each side (≈ 2 when both cores work), the peak resident memory of each process while it loaded \
        and ran the case, and the parity error of our output against PyTorch's. \
        Also the peak memory of a fresh process that loads the SD 2.1 UNet from its f16 weights. Run from the \
        repository root. Without Python/torch, prints our timings only. Then reward scoring of a population, ours \
        against the Python packages: CLIP (transformers), ImageReward (image-reward, BLIP ViT-B/16 + BERT-base) and \
        aesthetic-v2.5 (aesthetic-predictor-v2-5, SigLIP base 224 px) — see tools/bench/torch_clip.py and \
        tools/bench/torch_rewards.py.
        """)

    @Option(name: .long, help: "Python with torch, diffusers and transformers.")
    var python: String = "python3"
    @Option(name: .long, help: "The PyTorch side (run from the repository root).")
    var script: String = "tools/bench/torch_models.py"
    @Option(name: .long, help: "Timed forward passes per side for the fixture-sized models.")
    var runs: Int = 20
    @Option(name: .long, help: "Timed forward passes per side for the SD-sized models.")
    var largeRuns: Int = 5
    @Flag(name: .long, help: "Skip the CLIP reward scoring benchmark (32 images at 224 px, ViT-B/32-shaped).")
    var skipClip = false
    @Flag(name: .long, help: "Skip the ImageReward and aesthetic-v2.5 scoring benchmarks (ViT-B-sized random models).")
    var skipRewardModels = false
    @Option(name: .long, help: "Images per population in the ImageReward / aesthetic-v2.5 scoring benchmarks.")
    var rewardImages: Int = 8
    @Flag(name: .long, help: "Skip the SD 2.1-sized models (UNet, text encoder, VAE decoder), the Flux and Wan blocks and the load-memory measurement.")
    var skipSd21 = false
    @Option(name: .long, help: "Where the random-weight models and the shared inputs live (not committed).")
    var cacheDir: String = ".bench-cache"
    @Option(name: .long, help: "Directory of the committed SD fixtures.")
    var fixtures: String = "Tests/ModelsTests/Fixtures/sd"
    @Option(name: .long, help: "Only these cases, comma-separated (see the table for names).")
    var models: String?
    @Option(name: .long, help: "Threads for PyTorch (our side uses one thread per CPU the process may run on).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    @Option(name: .long, help: "Also write every case's raw run times (seconds) and figures as JSON here.")
    var json: String?

    @Option(name: .long, help: .hidden)
    var measureLoad: String?
    @Option(name: .long, help: .hidden)
    var variant: String?

    func run() throws {
        if let dir = measureLoad {
            let figures = try LoadMemoryFigures.measureUNetLoad(directory: URL(fileURLWithPath: dir), variant: variant)
            let data = try JSONSerialization.data(withJSONObject: figures.json, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        if runs < 1 || largeRuns < 1 { throw CLIError("--runs and --large-runs must be at least 1") }
        if let json { try checkWritable(json, option: "--json") }
        var cases = ModelBenchCase.all.filter { !(skipSd21 && $0.large) }
        if let models {
            let names = models.split(separator: ",").map(String.init)
            if let bad = names.first(where: { n in !ModelBenchCase.all.contains { $0.name == n } }) {
                throw CLIError("--models: unknown case \"\(bad)\"; use \(ModelBenchCase.all.map(\.name).joined(separator: ", "))")
            }
            cases = cases.filter { names.contains($0.name) }
        }
        let cores = ProcessInfo.processInfo.activeProcessorCount

        var torch: JSONLineChild?
        var versions: String?
        if !FileManager.default.fileExists(atPath: script) {
            print("PyTorch reference unavailable (no \(script); run from the repository root); printing Swift timings only.")
        } else {
            do {
                let t = try JSONLineChild(executable: python, arguments: [script, "--serve", "--json", "--cache-dir", cacheDir,
                                                                          "--threads", "\(threads)"], echoPrefix: "torch_models:")
                let meta = try t.read(expecting: "meta")
                versions = ["torch", "diffusers", "transformers"].map { "\($0) \(meta[$0]?.stringValue ?? "?")" }.joined(separator: ", ")
                torch = t
            } catch {
                print("PyTorch reference unavailable (\(error)); printing Swift timings only.")
            }
        }
        defer { torch?.stop() }

        note("sgemm peak (2048³)")
        var ourPeak = sgemmPeakGFLOPs()
        var torchPeak = (try? torch?.request(["cmd": "sgemm"]))??["gflops"]?.doubleValue

        let harness = ModelForwardBench(runs: runs, largeRuns: largeRuns, cacheDir: cacheDir, fixtures: fixtures,
                                        note: { s in FileHandle.standardError.write(Data("bench: \(s)\n".utf8)) })
        var rows: [ModelBenchRow] = []
        var loadLine: String?
        for c in cases {
            do {
                if let r = try harness.measure(c, torch: torch) { rows.append(r) }
                if c.name == "sd21-unet" { loadLine = measureLoadInChild(harness.location(of: c), torch: torch) }
            } catch {
                print("bench: \(c.name): skipped: \(error)")
            }
        }
        // The peak is a best case: measured again at the end, the higher figure counts (background load only lowers it).
        ourPeak = max(ourPeak, sgemmPeakGFLOPs())
        if let again = (try? torch?.request(["cmd": "sgemm"]))??["gflops"]?.doubleValue { torchPeak = max(torchPeak ?? 0, again) }
        printReport(rows: rows, ourPeak: ourPeak, torchPeak: torchPeak, withTorch: torch != nil, versions: versions, cores: cores,
                    loadLine: loadLine)
        if let json {
            let cases: [[String: Any]] = rows.map { r in
                var o: [String: Any] = ["name": r.benchCase.name, "input": r.input, "ours_seconds": r.ourTimes, "ours_cpu_per_wall": r.ourCPUPerWall]
                if let g = r.gflop { o["gflop"] = g }
                if !r.torchTimes.isEmpty { o["torch_seconds"] = r.torchTimes }
                if !r.widenedTimes.isEmpty { o["ours_f32_weights_seconds"] = r.widenedTimes }
                if let t = r.torchCPUPerWall { o["torch_cpu_per_wall"] = t }
                if let p = r.parity { o["parity"] = Double(p) }
                if let kb = r.ourPeakKB { o["ours_peak_rss_kb"] = kb }
                if let kb = r.torchPeakKB { o["torch_peak_rss_kb"] = kb }
                return o
            }
            var out: [String: Any] = ["cases": cases, "sgemm_gflops_ours": ourPeak, "threads_torch": threads]
            if let torchPeak { out["sgemm_gflops_torch"] = torchPeak }
            if let loadLine { out["load_memory"] = loadLine }
            try write(try JSONSerialization.data(withJSONObject: out, options: [.prettyPrinted, .sortedKeys]), to: json)
        }
        torch?.stop()
        torch = nil
        if !skipClip {
            // The CLIP reward scoring a population (32 images at 224 px, ViT-B/32-shaped random model).
            do { print(try benchCLIPScoring(python: python, cacheDir: cacheDir, threads: threads).summary) } catch {
                print("CLIP scoring: skipped (\(error))")
            }
        }
        if !skipRewardModels {
            for reward in RewardScoringBench.all {
                note("\(reward.name) scoring: PyTorch builds the model (first run: minutes)")
                do {
                    print(try reward.run(python: python, cacheDir: cacheDir, images: rewardImages, threads: threads).summary)
                } catch {
                    print("\(reward.name) scoring: skipped (\(error))")
                }
            }
        }
    }

    /// Runs `bench models --measure-load` as a fresh child on the SD 2.1 UNet (and the PyTorch script's
    /// from_pretrained measurement) and describes the figures.
    func measureLoadInChild(_ at: (modelDir: String, inputsFile: String, variant: String?), torch: JSONLineChild?) -> String? {
        guard FileManager.default.fileExists(atPath: at.modelDir) else { return nil }
        note("sd21-unet: peak memory of loading from f16 in a fresh process")
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var args = ["bench", "models", "--measure-load", at.modelDir]
        if let v = at.variant { args += ["--variant", v] }
        guard let reply = JSONLineChild.runOnce(executable: exe, arguments: args), let ours = LoadMemoryFigures(json: reply) else {
            return "Peak memory loading sd21-unet: the child process failed."
        }
        let weightBytes = ((try? FileManager.default.contentsOfDirectory(atPath: at.modelDir)) ?? [])
            .filter { $0.hasSuffix(".safetensors") }
            .compactMap { try? FileManager.default.attributesOfItem(atPath: "\(at.modelDir)/\($0)")[.size] as? Int }
            .reduce(0, +)
        var line = ours.summary(model: "the SD 2.1 UNet from f16 safetensors", weightBytes: weightBytes)
        line += " Target ≤ 2.2 GiB: " + (Double(ours.peakKB) / 1_048_576 <= 2.2 ? "pass." : "**FAIL**.")
        if torch != nil, let t = JSONLineChild.runOnce(executable: python, arguments: [script, "--cache-dir", cacheDir, "--threads", "\(threads)",
                                                                                        "--json", "--measure-load", "sd21-unet"]) {
            line += String(format: " PyTorch from_pretrained(float32) of the same files: %.2f GiB peak RSS (includes the torch runtime), %.1f s.",
                           Double(t["peak_rss_kb"]?.intValue ?? 0) / 1_048_576, t["seconds"]?.doubleValue ?? 0)
        }
        return line
    }

    // MARK: Report

    func printReport(rows: [ModelBenchRow], ourPeak: Double, torchPeak: Double?, withTorch: Bool, versions: String?, cores: Int,
                     loadLine: String?) {
        print("")
        var setup = "Threads: ours \(NN.threads) (WorkerPool; OpenBLAS single-threaded inside each split GEMM; \(NN.instructionSet) build)"
        if withTorch { setup += ", PyTorch \(threads) (torch.set_num_threads)" }
        if let versions { setup += ". \(versions)" }
        print(setup + ".")
        var peakLine = String(format: "sgemm peak, 2048³: ours (Tensor.matmul → OpenBLAS) %.1f GFLOP/s", ourPeak)
        if let torchPeak { peakLine += String(format: ", torch.mm %.1f GFLOP/s", torchPeak) }
        print(peakLine + ".\n")
        print("| model | input | GFLOP | ours ms | torch ms | ours/torch | target | best ours/torch | ours GFLOP/s | % sgemm peak | torch GFLOP/s | CPU/wall ours · torch | peak RSS MiB ours · torch | parity | f16 weights / f32 weights |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        var failures: [String] = []
        for r in rows {
            let ratio = r.torch.map { r.ours / $0 }
            var target = "—"
            if let t = r.benchCase.target {
                target = String(format: "≤ %.2f", t.max)
                if let s = t.stretch { target += String(format: " (stretch %.2f)", s) }
                if let ratio {
                    let pass = ratio <= t.max
                    target += pass ? " pass" : " **FAIL**"
                    if pass, let s = t.stretch { target += ratio <= s ? ", stretch pass" : ", stretch missed" }
                    if !pass { failures.append(r.benchCase.name) }
                }
            }
            let f = { (x: Double?, fmt: String) -> String in x.map { String(format: fmt, $0) } ?? "—" }
            let ourRate = r.gflop.map { $0 / r.ours }
            let torchRate = r.gflop.flatMap { g in r.torch.map { g / $0 } }
            print("| \(r.benchCase.name) | \(r.input) | \(f(r.gflop, "%.3f")) | \(f(r.ours * 1e3, "%.2f")) | \(f(r.torch.map { $0 * 1e3 }, "%.2f")) | "
                + "\(f(ratio, "%.2f")) | \(target) | \(f(r.torchBest.map { r.oursBest / $0 }, "%.2f")) | \(f(ourRate, "%.1f")) | \(f(ourRate.map { 100 * $0 / ourPeak }, "%.0f%%")) | "
                + "\(f(torchRate, "%.1f")) | \(String(format: "%.2f", r.ourCPUPerWall)) · \(f(r.torchCPUPerWall, "%.2f")) | "
                + "\(f(r.ourPeakKB.map { Double($0) / 1024 }, "%.0f")) · \(f(r.torchPeakKB.map { Double($0) / 1024 }, "%.0f")) | "
                + "\(r.parity.map { String(format: "%.0e", $0) } ?? "—") | \(f(r.storedOverWidened, "%.3f"))\(r.storedOverWidened.map { $0 <= 1.05 ? " (≤ 1.05 pass)" : " (≤ 1.05 **FAIL**)" } ?? "") |")
        }
        print("")
        if let loadLine { print(loadLine) }
        print("Times are medians (\(runs) runs per side, \(largeRuns) for the SD-sized models), alternating PyTorch and ours in blocks "
            + "of 2 runs (1 for SD-sized), each fixture-sized block after one untimed forward per side; ours/torch = ratio of medians (the target's measure); best = ratio of the fastest runs "
            + "(less sensitive to background load); GFLOP/s from medians; sgemm peak = best 2048³ run at start or end; "
            + "peak RSS = each process's VmHWM from just before it loaded the case to the end of its timing (it starts from what the process "
            + "already held: the torch runtime, or memory our earlier cases freed and malloc keeps); "
            + "parity = max |ours − torch| / max |torch| on the case's output; f16 weights / f32 weights = our median with the "
            + "checkpoint's f16 weights kept mapped over our median with them widened to f32 at load, timed in the same blocks.")
        if !failures.isEmpty { print("Targets missed: \(failures.joined(separator: ", ")).") }
        // PyTorch keeps 2 cores busy on every UNet (CPU/wall ≈ 1.9), both sides do on the SD-sized models (our
        // smallest fixtures run single-threaded by design); much less means other jobs took the cores, which hurts
        // PyTorch's OpenMP barriers more than us: the ratios of medians are then unreliable.
        let busy = rows.filter { r in
            guard cores >= 2, r.benchCase.kind == .unet || r.benchCase.large else { return false }
            return (r.torchCPUPerWall ?? 2) < 1.7 || (r.benchCase.large && r.ourCPUPerWall < 1.7)
        }
        if !busy.isEmpty {
            print("Warning: the machine was busy (CPU/wall < 1.7 on \(busy.map(\.benchCase.name).joined(separator: ", "))); "
                + "ratios of medians are unreliable — compare the best column or rerun on an idle machine.")
        }
    }

    func note(_ s: String) { FileHandle.standardError.write(Data("bench: \(s)\n".utf8)) }
}
