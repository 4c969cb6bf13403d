import ArgumentParser
import Catalog
import Foundation
import ModelIO
import Models
import Rewards
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
        32×32 latent), built once by tools/bench/torch_models.py in --cache-dir (not committed). Prints a markdown \
        table: median forward time over --runs (--large-runs for the SD-sized models), the ratio ours/PyTorch with \
        the product targets (small UNets ≤ 0.25×, SD 2.1 UNet ≤ 1.0×, stretch 0.9×), GFLOP counted by PyTorch's \
        FlopCounterMode, our GFLOP/s and its share of the OpenBLAS sgemm peak (2048³ Tensor.matmul), CPU time / \
        wall time of each side (≈ 2 when both cores work) and the parity error of our output against PyTorch's. \
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
    @Flag(name: .long, help: "Skip the SD 2.1-sized models (UNet, text encoder, VAE decoder) and the load-memory measurement.")
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
        if let dir = measureLoad { try measureLoadChild(dir); return }
        if runs < 1 || largeRuns < 1 { throw CLIError("--runs and --large-runs must be at least 1") }
        if let json { try checkWritable(json, option: "--json") }
        var cases = BenchCase.all.filter { !(skipSd21 && $0.large) }
        if let models {
            let names = models.split(separator: ",").map(String.init)
            if let bad = names.first(where: { n in !BenchCase.all.contains { $0.name == n } }) {
                throw CLIError("--models: unknown case \"\(bad)\"; use \(BenchCase.all.map(\.name).joined(separator: ", "))")
            }
            cases = cases.filter { names.contains($0.name) }
        }
        let cores = ProcessInfo.processInfo.activeProcessorCount

        let torch = TorchServer.start(python: python, script: script, cacheDir: cacheDir, threads: threads)
        if let problem = torch.problem { print("PyTorch reference unavailable (\(problem)); printing Swift timings only.") }

        note("sgemm peak (2048³)")
        var ourPeak = sgemmPeak()
        var torchPeak = torch.alive ? (try? torch.request(["cmd": "sgemm"]))?["gflops"] as? Double : nil

        var rows: [Row] = []
        var loadLine: String?
        for c in cases {
            do {
                if let r = try bench(c, torch: torch, loadLine: &loadLine) { rows.append(r) }
            } catch {
                print("bench: \(c.name): skipped: \(error)")
            }
        }
        // The peak is a best case: measured again at the end, the higher figure counts (background load only lowers it).
        ourPeak = max(ourPeak, sgemmPeak())
        if torch.alive, let again = (try? torch.request(["cmd": "sgemm"]))?["gflops"] as? Double { torchPeak = max(torchPeak ?? 0, again) }
        torch.stop()
        printReport(rows: rows, ourPeak: ourPeak, torchPeak: torchPeak, torch: torch, cores: cores,
                    loadLine: loadLine)
        if let json {
            let cases: [[String: Any]] = rows.map { r in
                var o: [String: Any] = ["name": r.c.name, "input": r.input, "ours_seconds": r.ourTimes, "ours_cpu_per_wall": r.oursCPU]
                if let g = r.gflop { o["gflop"] = g }
                if !r.torchTimes.isEmpty { o["torch_seconds"] = r.torchTimes }
                if let t = r.torchCPU { o["torch_cpu_per_wall"] = t }
                if let p = r.parity { o["parity"] = Double(p) }
                return o
            }
            var out: [String: Any] = ["cases": cases, "sgemm_gflops_ours": ourPeak, "threads_torch": threads]
            if let torchPeak { out["sgemm_gflops_torch"] = torchPeak }
            if let loadLine { out["load_memory"] = loadLine }
            try write(try JSONSerialization.data(withJSONObject: out, options: [.prettyPrinted, .sortedKeys]), to: json)
        }
        if !skipClip {
            // The CLIP reward scoring a population (32 images at 224 px, ViT-B/32-shaped random model).
            do { print(try benchCLIPScoring(python: python, cacheDir: cacheDir, threads: threads).summary) } catch {
                print("CLIP scoring: skipped (\(error))")
            }
        }
        if !skipRewardModels {
            for reward in RewardScoringBench.all {
                do {
                    print(try reward.run(python: python, cacheDir: cacheDir, images: rewardImages, threads: threads).summary)
                } catch {
                    print("\(reward.name) scoring: skipped (\(error))")
                }
            }
        }
    }

    // MARK: One case

    struct Row {
        var c: BenchCase, input: String, gflop: Double?
        var ours: Double, oursBest: Double, oursCPU: Double, torch: Double?, torchBest: Double?, torchCPU: Double?
        var ourTimes: [Double] = [], torchTimes: [Double] = []
        var parity: Float?
    }

    func bench(_ c: BenchCase, torch: TorchServer, loadLine: inout String?) throws -> Row? {
        let runs = c.large ? largeRuns : runs
        let warmup = c.large ? 1 : 3
        // Rounds alternate torch and us in blocks of one run (two for the fixture-sized models), so that the
        // machine's background load, which changes over seconds, hits both sides alike.
        let rounds = c.large ? runs : (runs + 1) / 2
        // Fixture-sized forwards take milliseconds, so after the other side's turn (and the pause) the first one
        // would mostly measure waking idle threads and cold caches; each side gets one untimed forward per block.
        // A search runs its forwards back to back, which this measures.
        let blockWarmup = c.large ? 0 : 1

        var info: [String: Any]?
        var withTorch = torch.alive
        if withTorch {
            note("\(c.name): PyTorch loads\(c.large ? " (builds the random-weight model once, in \(cacheDir))" : "")")
            do { info = try torch.request(["cmd": "load", "case": c.name]) } catch {
                print("bench: \(c.name): no PyTorch timing (\(error))")
                withTorch = false
            }
        }
        let modelDir: String, inputsFile: String, variant: String?
        if let info {
            modelDir = info["model_dir"] as! String
            inputsFile = info["inputs_file"] as! String
            variant = info["variant"] as? String
        } else if c.fixture {
            modelDir = "\(fixtures)/\(c.name)"; inputsFile = "\(fixtures)/\(c.name).io.safetensors"; variant = nil
        } else {
            modelDir = "\(cacheDir)/\(c.name)"; inputsFile = "\(cacheDir)/inputs/\(c.name).safetensors"; variant = "fp16"
            guard FileManager.default.fileExists(atPath: inputsFile) else {
                print("bench: \(c.name): skipped (no \(inputsFile); the tools script makes it)")
                return nil
            }
        }
        if info == nil {  // FLOP count and input description from an earlier run of the tools script, if any
            let saved = "\(cacheDir)/inputs/\(c.name).json"
            info = (try? Data(contentsOf: URL(fileURLWithPath: saved))).flatMap { try? readJSONObject($0) }
        }

        if c.name == "sd21-unet" {
            note("sd21-unet: peak memory of loading from f16 in a fresh process")
            loadLine = measureLoadInChild(dir: modelDir, variant: variant, torch: torch)
        }

        note("\(c.name): loading ours")
        let io = try SafetensorsFile(url: URL(fileURLWithPath: inputsFile))
        let forward = try c.makeForward(dir: URL(fileURLWithPath: modelDir), variant: variant, io: io)

        note("\(c.name): timing (\(runs) runs per side)")
        var parity: Float?
        if withTorch { _ = try torch.request(["cmd": "time", "runs": 0, "warmup": warmup]) }
        for i in 0..<warmup {
            let out = forward()
            if i == 0, io.contains("output"), let ref = try? io.tensor(named: "output"), ref.shape == out.shape {
                parity = relativeError(out, ref)
            }
        }
        var ourTimes: [Double] = [], torchTimes: [Double] = []
        var ourCPU = 0.0, ourWall = 0.0, torchCPUWall: [Double] = []
        for r in 0..<rounds {
            let k = runs * (r + 1) / rounds - runs * r / rounds
            if k == 0 { continue }
            if withTorch {
                let reply = try torch.request(["cmd": "time", "runs": k, "warmup": blockWarmup])
                torchTimes += reply["seconds"] as! [Double]
                torchCPUWall.append(reply["cpu_per_wall"] as! Double)
                pause()
            }
            for _ in 0..<blockWarmup { _ = forward() }
            let cpu0 = cpuSeconds(), wall0 = now()
            for _ in 0..<k {
                let t = now()
                _ = forward()
                ourTimes.append(now() - t)
            }
            ourCPU += cpuSeconds() - cpu0; ourWall += now() - wall0
            if withTorch { pause() }
        }
        if withTorch { _ = try? torch.request(["cmd": "release"]) }
        return Row(c: c, input: (info?["input"] as? String) ?? c.inputDescription(io), gflop: info?["gflop"] as? Double,
                   ours: median(ourTimes), oursBest: ourTimes.min() ?? .nan, oursCPU: ourCPU / ourWall,
                   torch: torchTimes.isEmpty ? nil : median(torchTimes), torchBest: torchTimes.min(),
                   torchCPU: torchCPUWall.isEmpty ? nil : torchCPUWall.reduce(0, +) / Double(torchCPUWall.count),
                   ourTimes: ourTimes, torchTimes: torchTimes, parity: parity)
    }

    /// Lets the other side's worker threads stop spinning before this side starts (PyTorch's OpenMP workers;
    /// ours poll for 0.2 ms, see `WorkerPool`).
    func pause() { Thread.sleep(forTimeInterval: 0.15) }

    // MARK: Peak memory of loading

    /// The hidden child mode: load the UNet in `dir`, print one JSON line with the time and memory figures.
    func measureLoadChild(_ dir: String) throws {
        let before = procStatus()
        let t0 = now()
        let unet = try UNet2DConditionModel(directory: URL(fileURLWithPath: dir), variant: variant)
        let seconds = now() - t0
        let after = procStatus()
        withExtendedLifetime(unet) {}
        let out: [String: Any] = ["seconds": seconds, "vmhwm_kb": after["VmHWM"] ?? 0, "vmrss_kb": after["VmRSS"] ?? 0,
                                  "rss_anon_kb": after["RssAnon"] ?? 0, "rss_file_kb": after["RssFile"] ?? 0,
                                  "vmhwm_before_kb": before["VmHWM"] ?? 0]
        let data = try JSONSerialization.data(withJSONObject: out, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }

    func measureLoadInChild(dir: String, variant: String?, torch: TorchServer) -> String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var args = ["bench", "models", "--measure-load", dir]
        if let variant { args += ["--variant", variant] }
        guard let ours = runChildJSON(exe, args) else { return "Peak memory loading sd21-unet: the child process failed." }
        let gib = { (kb: Any?) -> String in String(format: "%.2f GiB", Double((kb as? Int) ?? 0) / 1_048_576) }
        let weightsFile = (try? FileManager.default.contentsOfDirectory(atPath: dir))?
            .filter { $0.hasSuffix(".safetensors") }
            .compactMap { try? FileManager.default.attributesOfItem(atPath: "\(dir)/\($0)")[.size] as? Int }
            .reduce(0, +) ?? 0
        let hwm = (ours["vmhwm_kb"] as? Int) ?? 0, anon = (ours["rss_anon_kb"] as? Int) ?? 0
        var line = "Peak memory loading the SD 2.1 UNet from f16 safetensors (\(String(format: "%.2f GiB", Double(weightsFile) / 1_073_741_824)) on disk) "
            + "in a fresh process: **\(gib(hwm))** VmHWM = \(gib(anon)) resident after loading (the f32 weights) + \(gib(hwm - anon)) "
            + "more at the peak (the f16 file's mapped pages, released when the checkpoint closes); "
            + "load took \(String(format: "%.1f", (ours["seconds"] as? Double) ?? 0)) s."
        if torch.alive, let t = runChildJSON(python, [script, "--cache-dir", cacheDir, "--threads", "\(threads)", "--json", "--measure-load", "sd21-unet"]) {
            line += " PyTorch from_pretrained(float32) of the same files: \(gib(t["peak_rss_kb"])) peak RSS (includes the torch runtime), "
                + "\(String(format: "%.1f", (t["seconds"] as? Double) ?? 0)) s."
        }
        return line
    }

    func runChildJSON(_ exe: String, _ args: [String]) -> [String: Any]? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe.contains("/") ? exe : "/usr/bin/env")
        p.arguments = exe.contains("/") ? args : [exe] + args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return nil }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n")
        guard p.terminationStatus == 0, let last = lines.last,
              let obj = try? readJSONObject(last.utf8) else { return nil }
        return obj
    }

    // MARK: Report

    func printReport(rows: [Row], ourPeak: Double, torchPeak: Double?, torch: TorchServer, cores: Int,
                     loadLine: String?) {
        print("")
        var setup = "Threads: ours \(NN.threads) (WorkerPool; OpenBLAS single-threaded inside each split GEMM; \(NN.instructionSet) build)"
        if torch.alive { setup += ", PyTorch \(threads) (torch.set_num_threads)" }
        if let v = torch.versions { setup += ". \(v)" }
        print(setup + ".")
        var peakLine = String(format: "sgemm peak, 2048³: ours (Tensor.matmul → OpenBLAS) %.1f GFLOP/s", ourPeak)
        if let torchPeak { peakLine += String(format: ", torch.mm %.1f GFLOP/s", torchPeak) }
        print(peakLine + ".\n")
        print("| model | input | GFLOP | ours ms | torch ms | ours/torch | target | best ours/torch | ours GFLOP/s | % sgemm peak | torch GFLOP/s | CPU/wall ours · torch | parity |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        var failures: [String] = []
        for r in rows {
            let ratio = r.torch.map { r.ours / $0 }
            var target = "—"
            if let t = r.c.target {
                target = String(format: "≤ %.2f", t.max)
                if let s = t.stretch { target += String(format: " (stretch %.2f)", s) }
                if let ratio {
                    let pass = ratio <= t.max
                    target += pass ? " pass" : " **FAIL**"
                    if pass, let s = t.stretch { target += ratio <= s ? ", stretch pass" : ", stretch missed" }
                    if !pass { failures.append(r.c.name) }
                }
            }
            let f = { (x: Double?, fmt: String) -> String in x.map { String(format: fmt, $0) } ?? "—" }
            let ourRate = r.gflop.map { $0 / r.ours }
            let torchRate = r.gflop.flatMap { g in r.torch.map { g / $0 } }
            print("| \(r.c.name) | \(r.input) | \(f(r.gflop, "%.3f")) | \(f(r.ours * 1e3, "%.2f")) | \(f(r.torch.map { $0 * 1e3 }, "%.2f")) | "
                + "\(f(ratio, "%.2f")) | \(target) | \(f(r.torchBest.map { r.oursBest / $0 }, "%.2f")) | \(f(ourRate, "%.1f")) | \(f(ourRate.map { 100 * $0 / ourPeak }, "%.0f%%")) | "
                + "\(f(torchRate, "%.1f")) | \(String(format: "%.2f", r.oursCPU)) · \(f(r.torchCPU, "%.2f")) | "
                + "\(r.parity.map { String(format: "%.0e", $0) } ?? "—") |")
        }
        print("")
        if let loadLine { print(loadLine) }
        print("Times are medians (\(runs) runs per side, \(largeRuns) for the SD-sized models), alternating PyTorch and ours in blocks "
            + "of 2 runs (1 for SD-sized), each fixture-sized block after one untimed forward per side; ours/torch = ratio of medians (the target's measure); best = ratio of the fastest runs "
            + "(less sensitive to background load); GFLOP/s from medians; sgemm peak = best 2048³ run at start or end; "
            + "parity = max |ours − torch| / max |torch| on the case's output.")
        if !failures.isEmpty { print("Targets missed: \(failures.joined(separator: ", ")).") }
        // PyTorch keeps 2 cores busy on every UNet (CPU/wall ≈ 1.9), both sides do on the SD-sized models (our
        // smallest fixtures run single-threaded by design); much less means other jobs took the cores, which hurts
        // PyTorch's OpenMP barriers more than us: the ratios of medians are then unreliable.
        let busy = rows.filter { r in
            guard cores >= 2, r.c.kind == .unet || r.c.large else { return false }
            return (r.torchCPU ?? 2) < 1.7 || (r.c.large && r.oursCPU < 1.7)
        }
        if !busy.isEmpty {
            print("Warning: the machine was busy (CPU/wall < 1.7 on \(busy.map(\.c.name).joined(separator: ", "))); "
                + "ratios of medians are unreliable — compare the best column or rerun on an idle machine.")
        }
    }

    func note(_ s: String) { FileHandle.standardError.write(Data("bench: \(s)\n".utf8)) }
}

/// One benchmark case; the list mirrors `CASES` in tools/bench/torch_models.py.
struct BenchCase: Sendable {
    enum Kind: Sendable { case unet, vae, text }
    struct Target: Sendable { var max: Double; var stretch: Double? }
    var name: String, kind: Kind, fixture: Bool, large: Bool, target: Target?

    static let smallUNet = Target(max: 0.25, stretch: nil)
    static let all: [BenchCase] = [
        BenchCase(name: "unet-sd1", kind: .unet, fixture: true, large: false, target: smallUNet),
        BenchCase(name: "unet-sd2", kind: .unet, fixture: true, large: false, target: smallUNet),
        BenchCase(name: "unet-heads", kind: .unet, fixture: true, large: false, target: smallUNet),
        BenchCase(name: "vae-small", kind: .vae, fixture: true, large: false, target: nil),
        BenchCase(name: "vae-three", kind: .vae, fixture: true, large: false, target: nil),
        BenchCase(name: "text-quickgelu", kind: .text, fixture: true, large: false, target: nil),
        BenchCase(name: "text-gelu", kind: .text, fixture: true, large: false, target: nil),
        BenchCase(name: "small-unet", kind: .unet, fixture: false, large: false, target: smallUNet),
        BenchCase(name: "sd21-unet", kind: .unet, fixture: false, large: true, target: Target(max: 1.0, stretch: 0.9)),
        BenchCase(name: "sd21-text", kind: .text, fixture: false, large: true, target: nil),
        BenchCase(name: "sd-vae", kind: .vae, fixture: false, large: true, target: nil),
    ]

    /// Loads the model and returns one forward pass on the case's inputs (UNet: ε; VAE: decode; text: last hidden state).
    func makeForward(dir: URL, variant: String?, io: SafetensorsFile) throws -> () -> Tensor {
        switch kind {
        case .unet:
            let unet = try UNet2DConditionModel(directory: dir, variant: variant)
            let sample = try io.tensor(named: "sample"), context = try io.tensor(named: "encoder_hidden_states")
            let timesteps = try io.tensor(named: "timestep").scalars
            return { unet(sample, timesteps: timesteps, context: context) }
        case .vae:
            let vae = try AutoencoderKL(directory: dir, variant: variant)
            let latents = try io.tensor(named: "latents")
            return { vae.decode(latents) }
        case .text:
            let model = try CLIPTextModel(directory: dir, variant: variant)
            let t = try io.tensor(named: "input_ids")
            let ids = (0..<t.shape[0]).map { t.row($0).scalars.map { Int($0) } }
            return { (try? model(ids))?.lastHiddenState ?? Tensor(zeros: [0]) }
        }
    }

    func inputDescription(_ io: SafetensorsFile) -> String {
        func dims(_ n: String) -> [Int] { (try? io.info(named: n).shape) ?? [] }
        switch kind {
        case .unet:
            let c = dims("encoder_hidden_states")
            return dims("sample").map(String.init).joined(separator: "×") + (c.count == 3 ? ", ctx \(c[1])×\(c[2])" : "")
        case .vae: return dims("latents").map(String.init).joined(separator: "×") + " latent"
        case .text: return dims("input_ids").map(String.init).joined(separator: "×") + " tokens"
        }
    }
}

/// The PyTorch side: `torch_models.py --serve`, one JSON command per line on stdin, one JSON reply per line.
final class TorchServer: @unchecked Sendable {
    private var process: Process?
    private var input: FileHandle?
    private var reader: LineReader?
    private(set) var problem: String?
    private(set) var versions: String?
    private let stderrTail = LockedList()
    var alive: Bool { process != nil && problem == nil }

    static func start(python: String, script: String, cacheDir: String, threads: Int) -> TorchServer {
        let s = TorchServer()
        guard FileManager.default.fileExists(atPath: script) else { s.problem = "no \(script); run from the repository root"; return s }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python.contains("/") ? python : "/usr/bin/env")
        p.arguments = (python.contains("/") ? [] : [python]) + [script, "--serve", "--json", "--cache-dir", cacheDir, "--threads", "\(threads)"]
        let stdin = Pipe(), stdout = Pipe()
        p.standardInput = stdin; p.standardOutput = stdout
        let tail = s.stderrTail
        collectStderr(of: p, into: tail, echoing: "torch_models:")
        do { try p.run() } catch { s.problem = "cannot run \(python): \(error.localizedDescription)"; return s }
        s.process = p; s.input = stdin.fileHandleForWriting; s.reader = LineReader(stdout.fileHandleForReading)
        guard let first = s.reader?.nextLine(), let meta = try? readJSONObject(first.utf8),
              meta["type"] as? String == "meta" else {
            p.waitUntilExit()
            Thread.sleep(forTimeInterval: 0.1)
            s.problem = "\(python) \(script) failed: " + (tail.items.last ?? "exit status \(p.terminationStatus)")
            s.process = nil
            return s
        }
        s.versions = "torch \(meta["torch"] ?? "?"), diffusers \(meta["diffusers"] ?? "?"), transformers \(meta["transformers"] ?? "?")"
        return s
    }

    /// Sends a command and returns the reply; an error reply throws.
    func request(_ command: [String: Any]) throws -> [String: Any] {
        guard alive, let input, let reader else { throw CLIError("PyTorch server is not running") }
        var data = try JSONSerialization.data(withJSONObject: command)
        data.append(0x0A)
        input.write(data)
        guard let line = reader.nextLine() else {
            problem = "PyTorch server exited: " + (stderrTail.items.last ?? "")
            throw CLIError(problem!)
        }
        guard let reply = try? readJSONObject(line.utf8) else { throw CLIError("PyTorch server: unreadable reply \(line)") }
        if reply["type"] as? String == "error" { throw CLIError("PyTorch: \(reply["message"] ?? "error")") }
        return reply
    }

    func stop() {
        guard let process else { return }
        if alive { input?.write(Data("{\"cmd\": \"quit\"}\n".utf8)) }
        try? input?.close()
        process.waitUntilExit()
        self.process = nil
    }
}

/// Sends a child's stderr lines to `lines` (the last one says why it failed); lines starting with `echoing` are
/// also printed on our stderr (progress notes). Call before `run()`.
func collectStderr(of process: Process, into lines: LockedList, echoing prefix: String? = nil) {
    let pipe = Pipe()
    process.standardError = pipe
    pipe.fileHandleForReading.readabilityHandler = { h in
        let data = h.availableData
        if data.isEmpty { h.readabilityHandler = nil; return }   // end of file: the child has exited
        let text = String(decoding: data, as: UTF8.self)
        for line in text.split(separator: "\n") where !line.isEmpty {
            lines.append(String(line))
            if let prefix, line.hasPrefix(prefix) { FileHandle.standardError.write(Data("\(line)\n".utf8)) }
        }
    }
}

/// Blocking line reader over a pipe.
final class LineReader {
    private let handle: FileHandle
    private var buffer = Data()
    init(_ handle: FileHandle) { self.handle = handle }

    func nextLine() -> String? {
        while true {
            if let i = buffer.firstIndex(of: 0x0A) {
                let line = buffer[buffer.startIndex..<i]
                buffer.removeSubrange(buffer.startIndex...i)
                return String(decoding: line, as: UTF8.self)
            }
            let chunk = handle.availableData
            if chunk.isEmpty { return nil }
            buffer.append(chunk)
        }
    }
}

// MARK: - Measurement helpers

/// OpenBLAS sgemm GFLOP/s on 2048³ through `Tensor.matmul` (best of 7 after 2 warm-ups).
func sgemmPeak(n: Int = 2048) -> Double {
    var state: UInt32 = 12345
    func next() -> Float { state = state &* 1_664_525 &+ 1_013_904_223; return Float(state >> 8) / Float(1 << 23) - 1 }
    let a = Tensor(shape: [n, n], scalars: (0..<(n * n)).map { _ in next() })
    let b = Tensor(shape: [n, n], scalars: (0..<(n * n)).map { _ in next() })
    var times: [Double] = []
    for i in 0..<9 {
        let t = now()
        _ = Tensor.matmul(a, b)
        if i >= 2 { times.append(now() - t) }
    }
    return 2 * Double(n * n * n) / (times.min() ?? .nan) / 1e9
}

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// CPU time of the whole process (all threads).
func cpuSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    if s.isEmpty { return .nan }
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// max |a − b| / max |b|.
func relativeError(_ a: Tensor, _ b: Tensor) -> Float {
    let scale = max(b.scalars.map(abs).max() ?? 0, 1e-12)
    return a.maxAbsDifference(b) / scale
}

/// The kB figures of /proc/self/status (VmHWM, VmRSS, RssAnon, RssFile, …).
func procStatus() -> [String: Int] {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return [:] }
    var out: [String: Int] = [:]
    for line in text.split(separator: "\n") {
        let parts = line.split(separator: ":", maxSplits: 1)
        guard parts.count == 2 else { continue }
        let value = parts[1].trimmingCharacters(in: .whitespaces)
        if value.hasSuffix(" kB"), let v = Int(value.dropLast(3).trimmingCharacters(in: .whitespaces)) { out[String(parts[0])] = v }
    }
    return out
}

// MARK: - ImageReward and aesthetic-v2.5 scoring

/// Scoring a population with `imagereward` or `aesthetic-v2.5`, ours against the Python package on PyTorch CPU in the
/// same run: `tools/bench/torch_rewards.py --serve --reward NAME` builds the random-weight model (ViT-B-sized: BLIP
/// ViT-B/16 + BERT-base for ImageReward, SigLIP base-patch16-224 for the aesthetic predictor — the published models are
/// larger, see the script) and the images once in the cache directory, reports its scores and times its side on
/// request. Rounds alternate PyTorch and us (one population each) after a warm-up of each, as `benchCLIPScoring` does;
/// images/s = images / median seconds per population.
struct RewardScoringBench: Sendable {
    var name: String
    var model: String
    static let all = [
        RewardScoringBench(name: "imagereward", model: "BLIP ViT-B/16 + BERT-base, random"),
        RewardScoringBench(name: "aesthetic-v2.5", model: "SigLIP base-patch16-224 + head, random"),
    ]

    struct Result {
        var name: String, model: String, images: Int, size: Int
        var ours: Double
        /// Images/s of the package's own API (ImageReward: `inference_rank`, one forward per image).
        var torch: Double?
        /// ImageReward only: the package's modules run on the whole population at once.
        var torchBatched: Double?
        var maxScoreDifference: Float?
        var problem: String?

        var summary: String {
            let f = { (x: Double) in String(format: "%.2f", x) }
            var s = "\(name) scoring (\(model), \(images) × \(size) px): ours \(f(ours)) img/s"
            if let t = torch {
                s += ", PyTorch \(f(t)) img/s (\(name == "imagereward" ? "inference_rank" : "package model + processor")), ours/PyTorch speed \(f(ours / t))×"
                if let b = torchBatched { s += "; PyTorch batched \(f(b)) img/s, ours/batched \(f(ours / b))×" }
            } else {
                s += ", no PyTorch figure (\(problem ?? "unavailable"))"
            }
            if let d = maxScoreDifference { s += ", max |Δscore| \(String(format: "%.1e", d))" }
            return s
        }
    }

    func run(python: String, script: String = "tools/bench/torch_rewards.py", cacheDir: String, images: Int,
             rounds: Int = 3, threads: Int) throws -> Result {
        precondition(images >= 2 && rounds >= 1, "RewardScoringBench: at least 2 images and 1 round")
        let size = 224
        var torch: TorchCLIPServer?
        var problem: String?
        var ready: [String: Any]?
        FileHandle.standardError.write(Data("bench: \(name) scoring: PyTorch builds the model (first run: minutes)\n".utf8))
        do {
            let t = try TorchCLIPServer(python: python, script: script, arguments: [
                "--serve", "--reward", name, "--cache-dir", cacheDir, "--images", "\(images)", "--size", "\(size)",
                "--threads", "\(threads)"])
            ready = try t.readMessage(expecting: "ready")
            torch = t
        } catch {
            problem = "\(error)"
        }
        defer { torch?.stop() }
        let modelDir = ready?["model_dir"] as? String ?? URL(fileURLWithPath: cacheDir).appendingPathComponent("\(name)-bench").path
        let imagesFile = ready?["images_file"] as? String
            ?? URL(fileURLWithPath: cacheDir).appendingPathComponent("reward-bench-images-\(images)x\(size).safetensors").path
        let prompt = ready?["prompt"] as? String ?? "a photo of a red fox in the snow, highly detailed"
        guard FileManager.default.fileExists(atPath: modelDir), FileManager.default.fileExists(atPath: imagesFile) else {
            throw CLIError("no model in \(modelDir) (tools/bench/torch_rewards.py builds it: \(problem ?? "?"))")
        }
        let reward: any Reward
        do {
            reward = try Catalog.rewards.make(name, models: RewardModels(shared: URL(fileURLWithPath: modelDir)), prompt: prompt)
        } catch { throw CLIError("\(error)") }
        let population = try SafetensorsFile(url: URL(fileURLWithPath: imagesFile)).tensor(named: "images")
        let ours = try reward.scores(population)  // warm-up and parity
        var maxDiff: Float?
        if let theirs = ready?["scores"] as? [Double], theirs.count == ours.count {
            maxDiff = zip(ours, theirs).map { abs($0 - Float($1)) }.max()
        }
        var ourTimes: [Double] = [], torchTimes: [Double] = [], batchedTimes: [Double] = []
        for _ in 0..<rounds {
            if let t = torch {
                do {
                    try t.send(["cmd": "time", "runs": 1])
                    let reply = try t.readMessage(expecting: "times")
                    torchTimes += (reply["seconds"] as? [Double]) ?? []
                    batchedTimes += (reply["batched_seconds"] as? [Double]) ?? []
                } catch {
                    problem = "PyTorch side stopped: \(error)"
                    torch?.stop(); torch = nil
                }
                Thread.sleep(forTimeInterval: 0.15)  // let PyTorch's worker threads go idle
            }
            let start = now()
            _ = try reward.scores(population)
            ourTimes.append(now() - start)
        }
        let rate = { (t: [Double]) -> Double? in t.isEmpty ? nil : Double(images) / median(t) }
        return Result(name: name, model: model, images: images, size: size, ours: rate(ourTimes)!, torch: rate(torchTimes),
                      torchBatched: rate(batchedTimes), maxScoreDifference: maxDiff,
                      problem: torchTimes.isEmpty ? (problem ?? "no timings") : nil)
    }
}
