import Foundation
import ModelIO
import Models
import RandomStreams
import Rewards
import Sampling
import Search
import TensorCore

/// The PyTorch side of `ThroughputBench`: the same work on diffusers, timed in the same run.
public protocol ThroughputReference {
    /// Seconds of each of `runs` UNet forwards on `rows` rows (after one untimed forward), and the FLOPs of one
    /// forward as PyTorch counts them (nil when not counted).
    func forward(rows: Int, runs: Int) throws -> (seconds: [Double], gflop: Double?)
    /// Seconds to make `calls` in order: each evaluation a guided UNet call plus the sampler step, each decode
    /// the VAE.
    func replay(_ calls: [RecordingTrajectory.Call]) throws -> Double
}

/// tools/bench/torch_throughput.py as a `ThroughputReference`, with a Stable Diffusion pipeline directory loaded.
public final class TorchThroughputChild: ThroughputReference {
    private let child: JSONLineChild
    /// "torch X, diffusers Y, N threads".
    public let versions: String

    public init(python: String, script: String, pipeline: URL, settings: ThroughputBench.Settings, threads: Int) throws {
        child = try JSONLineChild(executable: python, arguments: [script, "--threads", "\(threads)"])
        do {
            let meta = try child.read(expecting: "meta")
            versions = "torch \(meta["torch"]?.stringValue ?? "?"), diffusers \(meta["diffusers"]?.stringValue ?? "?"), "
                + "\(meta["threads"]?.intValue ?? threads) threads"
            _ = try child.request(["cmd": "load", "model": pipeline.path, "prompt": settings.prompt, "steps": settings.steps,
                                   "guidance": Double(settings.guidance), "eta": Double(settings.eta)])
        } catch { child.stop(); throw error }
    }

    deinit { child.stop() }

    public func forward(rows: Int, runs: Int) throws -> (seconds: [Double], gflop: Double?) {
        let reply = try child.request(["cmd": "forward", "rows": rows, "runs": runs, "warmup": 1])
        return (try seconds(reply), reply["gflop"]?.doubleValue)
    }

    public func replay(_ calls: [RecordingTrajectory.Call]) throws -> Double {
        let list = calls.map { [$0.rows, $0.step ?? -1] }
        return try seconds(child.request(["cmd": "replay", "calls": list, "runs": 1]))[0]
    }

    private func seconds(_ reply: JSONValue) throws -> [Double] {
        guard let values = reply["seconds"]?.arrayValue?.compactMap(\.doubleValue), !values.isEmpty else {
            throw JSONLineChild.Failure("torch_throughput.py: a times reply without seconds: \(reply)")
        }
        return values
    }
}

public struct ThroughputBenchError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// `evosearch bench throughput`: how the cost per sample falls with the batch, ours against diffusers in the same
/// run on the same batch shapes.
///
/// - Forward: the UNet alone at each of `forwardRows` rows (random latents at the sample size, the text
///   encoder's context shape, one timestep), `forwardRuns` timed forwards per side per round.
/// - Search: the main job's search (EvoSearch with its derived schedule, the shapes verifier, `prompt`, DDIM η)
///   at `budget` NFE with `--max-batch` b for each b of `samplesPerCall`. The search records its model calls
///   (`RecordingTrajectory`) and the PyTorch side replays them: same rows per call, same steps, same decodes.
///   Ours is the search's wall time less its reward time (the reward is not replayed). Every batch size must give
///   the same search, bit for bit (best reward and lineage); a difference throws.
///
/// Sides alternate within each round, so a change in the machine's load hits both alike; tables show medians.
public struct ThroughputBench {
    public struct Settings: Sendable, Equatable {
        public var prompt: String
        public var steps = 20
        public var guidance: Float = 1.5
        public var eta: Float = 1
        /// NFE per search. 2048 at 20 steps gives EvoSearch's derived schedule populations of 32, so every batch
        /// in `samplesPerCall` is reached; the main job's own 320 NFE have populations of 5.
        public var budget = 2048
        public var samplesPerCall = [1, 8, 16, 32]
        public var forwardRows = [1, 2, 8, 16, 32]
        public var forwardRuns = 10
        public var rounds = 3
        public var seed: UInt64 = 0

        public init(prompt: String) { self.prompt = prompt }

        /// A few seconds' worth, for tests and a smoke run.
        public static func quick(prompt: String) -> Settings {
            var s = Settings(prompt: prompt)
            s.budget = 8 * s.steps; s.samplesPerCall = [1, 4]; s.forwardRows = [1, 2]; s.forwardRuns = 2; s.rounds = 1
            return s
        }
    }

    public struct ForwardRow: Sendable {
        public var rows: Int
        public var ours: [Double]
        public var torch: [Double]
        /// FLOPs of one forward at these rows as PyTorch's FlopCounterMode counts them.
        public var gflop: Double? = nil
        public var oursPerRow: Double { Statistics.median(ours) / Double(rows) }
        public var torchPerRow: Double? { torch.isEmpty ? nil : Statistics.median(torch) / Double(rows) }
    }

    public struct SearchRow: Sendable {
        public var samplesPerCall: Int
        public var nfe: Int
        /// Denoiser calls and the most samples any of them took.
        public var modelCalls: Int
        public var largestCall: Int
        public var ours: [Double]
        public var torch: [Double]
        public var bestReward: Float
        public var oursNFEPerSecond: Double { Double(nfe) / Statistics.median(ours) }
        public var torchNFEPerSecond: Double? { torch.isEmpty ? nil : Double(nfe) / Statistics.median(torch) }
    }

    public var settings: Settings
    public var progress: (String) -> Void

    public init(settings: Settings, progress: @escaping (String) -> Void = { _ in }) {
        self.settings = settings; self.progress = progress
    }

    /// The generation request both sides run.
    public var request: GenerationRequest {
        GenerationRequest(prompt: settings.prompt, guidance: settings.guidance, steps: settings.steps, eta: settings.eta)
    }

    /// Per-row forward times of `unet` at each of `settings.forwardRows`, with a context of `contextTokens` ×
    /// the UNet's cross-attention width.
    public func forward(unet: UNet2DConditionModel, contextTokens: Int, reference: (any ThroughputReference)?) throws -> [ForwardRow] {
        let c = unet.config
        let size = c.sampleSize ?? 64
        var rows = settings.forwardRows.map { ForwardRow(rows: $0, ours: [], torch: []) }
        let timestep = Float(500)
        for round in 0..<settings.rounds {
            for i in rows.indices {
                let r = rows[i].rows
                progress("forward · \(r) rows · round \(round + 1)/\(settings.rounds)")
                let stream = NoiseKey(seed: settings.seed, purpose: .initialNoise, generation: round, individual: r)
                let sample = Tensor(shape: [r, c.inChannels, size, size], scalars: stream.gaussians(r * c.inChannels * size * size))
                let width = c.crossAttentionDim[0]
                let context = Tensor(shape: [r, contextTokens, width], scalars: NoiseKey(seed: settings.seed, purpose: .mutation,
                                     generation: round, individual: r).gaussians(r * contextTokens * width))
                let timesteps = [Float](repeating: timestep, count: r)
                _ = try unet(sample, timesteps: timesteps, context: context)
                for _ in 0..<settings.forwardRuns {
                    let t0 = Clock.wallSeconds()
                    _ = try unet(sample, timesteps: timesteps, context: context)
                    rows[i].ours.append(Clock.wallSeconds() - t0)
                }
                if let reference {
                    let timing = try reference.forward(rows: r, runs: settings.forwardRuns)
                    rows[i].torch += timing.seconds
                    rows[i].gflop = timing.gflop ?? rows[i].gflop
                }
            }
        }
        return rows
    }

    /// The main job's search at each of `settings.samplesPerCall`, and its replay on `reference`.
    public func search(pipeline: any GeneratorPipeline, reward: any Reward, reference: (any ThroughputReference)?) throws -> [SearchRow] {
        var rows: [SearchRow] = []
        var first: SearchResult?
        for round in 0..<settings.rounds {
            for (i, b) in settings.samplesPerCall.enumerated() {
                progress("search · \(b) samples per call · round \(round + 1)/\(settings.rounds)")
                let trajectory = RecordingTrajectory(try pipeline.makeTrajectory(request))
                let result = try EvoSearch().search(trajectory, reward: reward, budget: settings.budget,
                                                    options: SearchOptions(seed: settings.seed, maxBatch: b))
                if let error = result.error { throw ThroughputBenchError("the search at \(b) samples per call failed: \(error)") }
                if let reference = first {
                    guard result.best.reward == reference.best.reward,
                          result.history.map({ [$0.id, $0.parent ?? -1] }) == reference.history.map({ [$0.id, $0.parent ?? -1] }) else {
                        throw ThroughputBenchError("the search at \(b) samples per call differs from the one at \(settings.samplesPerCall[0]) "
                                                   + "(best reward \(result.best.reward) vs \(reference.best.reward), or the lineage)")
                    }
                } else {
                    first = result
                }
                let calls = trajectory.calls
                if round == 0 {
                    let denoise = calls.filter { $0.step != nil }
                    rows.append(SearchRow(samplesPerCall: b, nfe: result.nfe, modelCalls: denoise.count,
                                          largestCall: denoise.map(\.rows).max() ?? 0, ours: [], torch: [], bestReward: result.best.reward))
                }
                rows[i].ours.append(result.wallSeconds - result.rewardSeconds)
                if let reference { rows[i].torch.append(try reference.replay(calls)) }
            }
        }
        return rows
    }
}

/// What `bench throughput` prints: the two tables and the issue's targets, as markdown.
public struct ThroughputReport {
    public var model: String
    public var settings: ThroughputBench.Settings
    public var forward: [ThroughputBench.ForwardRow]
    public var search: [ThroughputBench.SearchRow]
    /// The reference's versions, nil without one.
    public var reference: String?
    /// Our sgemm rate (GFLOP/s, `sgemmPeakGFLOPs`), the ceiling the forward rates are read against.
    public var sgemmPeak: Double?

    public init(model: String, settings: ThroughputBench.Settings, forward: [ThroughputBench.ForwardRow],
                search: [ThroughputBench.SearchRow], reference: String?, sgemmPeak: Double? = nil) {
        self.model = model; self.settings = settings; self.forward = forward; self.search = search; self.reference = reference
        self.sgemmPeak = sgemmPeak
    }

    /// Per-row time at `rows` over per-row time at `base` rows, ours; nil when either was not measured.
    public func perRowRatio(_ rows: Int, over base: Int) -> Double? {
        guard let a = forward.first(where: { $0.rows == rows }), let b = forward.first(where: { $0.rows == base }) else { return nil }
        return a.oursPerRow / b.oursPerRow
    }

    public var markdown: String {
        func ms(_ s: Double?) -> String { s.map { String(format: "%.2f", 1000 * $0) } ?? "–" }
        func ratio(_ a: Double, _ b: Double?) -> String { b.map { String(format: "%.2f", a / $0) } ?? "–" }
        let s = settings
        var t = "### \(model): the UNet's forward per row\n\n"
        t += "| rows | GFLOP | ours ms | ours ms/row | ours GFLOP/s | of sgemm peak | PyTorch ms | PyTorch ms/row | ours / PyTorch |\n"
        t += "|---|---|---|---|---|---|---|---|---|\n"
        for r in forward {
            let rate = r.gflop.map { $0 / Statistics.median(r.ours) }
            var share = "–"
            if let rate, let peak = sgemmPeak { share = String(format: "%.0f%%", 100 * rate / peak) }
            t += "| \(r.rows) | \(r.gflop.map { String(format: "%.3f", $0) } ?? "–") | \(ms(Statistics.median(r.ours))) | \(ms(r.oursPerRow)) "
                + "| \(rate.map { String(format: "%.1f", $0) } ?? "–") | \(share) "
                + "| \(ms(r.torch.isEmpty ? nil : Statistics.median(r.torch))) | \(ms(r.torchPerRow)) | \(ratio(r.oursPerRow, r.torchPerRow)) |\n"
        }
        let rounds = s.rounds == 1 ? "one round" : "\(s.rounds) rounds"
        t += "\nMedians of \(rounds) × \(s.forwardRuns) forwards per side, the sides alternating per row count. GFLOP: "
            + "PyTorch's FlopCounterMode count of one forward (direct convolutions; our 3×3 convolutions run Winograd, "
            + "which needs fewer multiply-adds than counted)\(sgemmPeak.map { String(format: "; sgemm peak %.0f GFLOP/s (2048³)", $0) } ?? "").\n"
        if let r = perRowRatio(32, over: 2) {
            t += String(format: "Per-row time at 32 rows / at 2 rows: %.2f (target ≤ 0.50: %@).\n", r, r <= 0.5 ? "pass" : "not yet")
        }
        if let one = forward.first(where: { $0.rows == 1 }), let torch = one.torchPerRow {
            let r = one.oursPerRow / torch
            t += String(format: "At 1 row, ours / PyTorch: %.2f (target ≤ 0.25: %@).\n", r, r <= 0.25 ? "pass" : "not yet")
        }
        t += "\n### \(model): the main job's search (EvoSearch, \(s.budget) NFE, \(s.steps) steps, guidance \(s.guidance), η \(s.eta))\n\n"
        t += "| samples per call | denoiser calls | largest call | ours s | ours NFE/s | diffusers s | diffusers NFE/s | ours / diffusers |\n"
        t += "|---|---|---|---|---|---|---|---|\n"
        for r in search {
            let ours = Statistics.median(r.ours), torch = r.torch.isEmpty ? nil : Statistics.median(r.torch)
            t += "| \(r.samplesPerCall) | \(r.modelCalls) | \(r.largestCall) | " + String(format: "%.2f | %.0f", ours, r.oursNFEPerSecond)
                + " | \(torch.map { String(format: "%.2f", $0) } ?? "–") | \(r.torchNFEPerSecond.map { String(format: "%.0f", $0) } ?? "–") "
                + "| \(ratio(ours, torch)) |\n"
        }
        t += "\nMedians of \(rounds). Ours: the search's wall time less its reward calls; diffusers: the same model "
            + "calls replayed in order (guided UNet batch, DDIMScheduler.step, VAE decodes). Every batch size gave the same "
            + "search (best reward \(search.first.map { String(format: "%.4f", $0.bestReward) } ?? "–"), same lineage).\n"
        if let row = search.first(where: { $0.samplesPerCall == 16 }), !row.torch.isEmpty {
            let r = Statistics.median(row.ours) / Statistics.median(row.torch)
            t += String(format: "At 16 samples per call, ours / diffusers: %.2f (target ≤ 0.40: %@).\n", r, r <= 0.4 ? "pass" : "not yet")
        }
        t += "\nReference: \(reference ?? "none (PyTorch unavailable; our timings only)").\n"
        return t
    }
}
