import Foundation
import ModelIO
import TensorCore

/// What `ModelForwardBench.measure` found for one case: every timed run of each side and the figures around them.
public struct ModelBenchRow: Sendable {
    public var benchCase: ModelBenchCase
    public var input: String
    /// FLOPs of one forward as PyTorch's FlopCounterMode counted them (nil without the PyTorch side's record).
    public var gflop: Double?
    public var ourTimes: [Double]
    public var ourCPUPerWall: Double
    public var torchTimes: [Double]
    public var torchCPUPerWall: Double?
    /// Our times with the layer weights widened to float32 at load (UNets with half-precision weights only).
    public var widenedTimes: [Double]
    /// max |ours − PyTorch| / max |PyTorch| on the case's output.
    public var parity: Float?
    /// Peak resident memory (VmHWM, kB) of each process while it loaded and ran the case, counted from a reset just
    /// before loading (so it starts at what the process already held: the PyTorch runtime, or our earlier cases'
    /// freed memory that malloc keeps); nil where the peak could not be reset or was not reported.
    public var ourPeakKB: Int? = nil
    public var torchPeakKB: Int? = nil

    public var ours: Double { Statistics.median(ourTimes) }
    public var oursBest: Double { ourTimes.min() ?? .nan }
    public var torch: Double? { torchTimes.isEmpty ? nil : Statistics.median(torchTimes) }
    public var torchBest: Double? { torchTimes.min() }
    /// Median time with stored-precision weights / median time with widened f32 weights.
    public var storedOverWidened: Double? { widenedTimes.isEmpty ? nil : ours / Statistics.median(widenedTimes) }
}

/// Forward-pass timing of one model, ours against the PyTorch child (`tools/bench/torch_models.py --serve`) in the
/// same run on identical inputs and weights. Timing alternates between the sides in blocks (one run for SD-sized
/// models, two otherwise, each small-model block after one untimed forward per side), so a change in the machine's
/// background load hits both alike; with `compareWidened`, a UNet stored in f16/bf16 is also loaded with f32 weights
/// and timed in the same rounds, before or after the stored-precision runs in alternate rounds.
public struct ModelForwardBench: Sendable {
    public var runs: Int
    public var largeRuns: Int
    /// Where the tools script keeps its random-weight models and inputs.
    public var cacheDir: String
    /// The committed SD fixtures (models and their `<name>.io.safetensors`).
    public var fixtures: String
    public var compareWidened: Bool
    public var note: @Sendable (String) -> Void

    /// The embedded models' directory (models/ of the repository).
    public var models: String

    public init(runs: Int, largeRuns: Int, cacheDir: String, fixtures: String, models: String = "models",
                compareWidened: Bool = true, note: @escaping @Sendable (String) -> Void = { _ in }) {
        self.runs = runs; self.largeRuns = largeRuns; self.cacheDir = cacheDir; self.fixtures = fixtures
        self.models = models; self.compareWidened = compareWidened; self.note = note
    }

    /// Where a case's model and inputs are when the PyTorch side does not say (an earlier run built them).
    public func location(of c: ModelBenchCase) -> (modelDir: String, inputsFile: String, variant: String?) {
        if c.fixture { return ("\(fixtures)/\(c.name)", "\(fixtures)/\(c.name).io.safetensors", nil) }
        let inputs = "\(cacheDir)/inputs/\(c.name).safetensors"
        if let embedded = c.embedded { return ("\(models)/\(embedded)", inputs, nil) }
        return ("\(cacheDir)/\(c.name)", inputs, c.variant)
    }

    /// Times one case; nil when neither side can provide its model (no PyTorch and nothing cached).
    public func measure(_ c: ModelBenchCase, torch: JSONLineChild?) throws -> ModelBenchRow? {
        let runs = c.large ? largeRuns : self.runs
        let warmup = c.large ? 1 : 3
        let rounds = c.large ? runs : (runs + 1) / 2
        let blockWarmup = c.large ? 0 : 1

        var info: JSONValue?
        var torch = torch
        if let t = torch {
            note("\(c.name): PyTorch loads\(c.large ? " (builds the random-weight model once, in \(cacheDir))" : "")")
            do { info = try t.request(["cmd": "load", "case": c.name]) } catch {
                note("\(c.name): no PyTorch timing (\(error))")
                torch = nil
            }
        }
        var (modelDir, inputsFile, variant) = location(of: c)
        if let info, let dir = info["model_dir"]?.stringValue, let inputs = info["inputs_file"]?.stringValue {
            modelDir = dir; inputsFile = inputs; variant = info["variant"]?.stringValue
        } else {
            guard FileManager.default.fileExists(atPath: inputsFile) else {
                note("\(c.name): skipped (no \(inputsFile); tools/bench/torch_models.py makes it)")
                return nil
            }
            // FLOP count and input description from an earlier run of the tools script, if any.
            info = (try? Data(contentsOf: URL(fileURLWithPath: "\(cacheDir)/inputs/\(c.name).json"))).flatMap { try? JSONValue.parse($0) }
        }

        note("\(c.name): loading ours")
        let peakReset = ProcessStatus.resetPeak()
        let io = try SafetensorsFile(url: URL(fileURLWithPath: inputsFile))
        let dir = URL(fileURLWithPath: modelDir)
        let forward = try c.makeForward(dir: dir, variant: variant, io: io)
        let widened = compareWidened && c.kind == .unet && variant != nil
            ? try c.makeForward(dir: dir, variant: variant, io: io, widenWeights: true) : nil

        note("\(c.name): timing (\(runs) runs per side)")
        var parity: Float?
        if let torch { _ = try torch.request(["cmd": "time", "runs": 0, "warmup": warmup]) }
        for i in 0..<warmup {
            let out = try forward()
            if i == 0, io.contains("output"), let ref = try? io.tensor(named: "output"), ref.shape == out.shape {
                parity = out.maxAbsDifference(ref) / max(ref.scalars.map(abs).max() ?? 0, 1e-12)
            }
            if let widened { _ = try widened() }
        }
        var ourTimes: [Double] = [], torchTimes: [Double] = [], widenedTimes: [Double] = []
        var ourCPU = 0.0, ourWall = 0.0, torchCPUWall: [Double] = []
        var torchPeakKB: Int?
        for r in 0..<rounds {
            let k = runs * (r + 1) / rounds - runs * r / rounds
            if k == 0 { continue }
            if let t = torch {
                let reply = try t.request(["cmd": "time", "runs": k, "warmup": blockWarmup])
                torchTimes += reply["seconds"]?.arrayValue?.compactMap(\.doubleValue) ?? []
                if let kb = reply["peak_rss_kb"]?.intValue { torchPeakKB = kb }
                if let cpu = reply["cpu_per_wall"]?.doubleValue { torchCPUWall.append(cpu) }
                pause()
            }
            // The widened variant goes first in every other round, so neither variant always follows the
            // other side's turn (cold caches).
            let widenedFirst = r % 2 == 1
            func timeWidened() throws {
                guard let widened else { return }
                for _ in 0..<blockWarmup { _ = try widened() }
                for _ in 0..<k { widenedTimes.append(try Self.time(widened)) }
            }
            if widenedFirst { try timeWidened() }
            for _ in 0..<blockWarmup { _ = try forward() }
            let cpu0 = Clock.processCPUSeconds(), wall0 = Clock.wallSeconds()
            for _ in 0..<k { ourTimes.append(try Self.time(forward)) }
            ourCPU += Clock.processCPUSeconds() - cpu0; ourWall += Clock.wallSeconds() - wall0
            if !widenedFirst { try timeWidened() }
            if torch != nil { pause() }
        }
        let ourPeakKB = peakReset ? ProcessStatus.current().peakResidentKB : nil
        if let torch { _ = try? torch.request(["cmd": "release"]) }
        var row = ModelBenchRow(benchCase: c, input: info?["input"]?.stringValue ?? c.inputDescription(io), gflop: info?["gflop"]?.doubleValue,
                             ourTimes: ourTimes, ourCPUPerWall: ourCPU / max(ourWall, 1e-12), torchTimes: torchTimes,
                             torchCPUPerWall: torchCPUWall.isEmpty ? nil : torchCPUWall.reduce(0, +) / Double(torchCPUWall.count),
                             widenedTimes: widenedTimes, parity: parity)
        row.ourPeakKB = ourPeakKB
        row.torchPeakKB = torchPeakKB
        return row
    }

    static func time(_ f: () throws -> Tensor) throws -> Double {
        let t = Clock.wallSeconds()
        _ = try f()
        return Clock.wallSeconds() - t
    }

    /// Lets the other side's worker threads stop spinning before this side starts (PyTorch's OpenMP workers;
    /// ours poll for 0.2 ms, see `WorkerPool`).
    func pause() { Thread.sleep(forTimeInterval: 0.15) }
}

/// OpenBLAS sgemm GFLOP/s on n³ through `Tensor.matmul` (best of 7 after 2 warm-ups), the peak the model
/// tables compare against.
public func sgemmPeakGFLOPs(n: Int = 2048) -> Double {
    var state: UInt32 = 12345
    func next() -> Float { state = state &* 1_664_525 &+ 1_013_904_223; return Float(state >> 8) / Float(1 << 23) - 1 }
    let a = Tensor(shape: [n, n], scalars: (0..<(n * n)).map { _ in next() })
    let b = Tensor(shape: [n, n], scalars: (0..<(n * n)).map { _ in next() })
    var times: [Double] = []
    for i in 0..<9 {
        let t = Clock.wallSeconds()
        _ = Tensor.matmul(a, b)
        if i >= 2 { times.append(Clock.wallSeconds() - t) }
    }
    return 2 * Double(n * n * n) / (times.min() ?? .nan) / 1e9
}
