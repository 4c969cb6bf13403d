import Catalog
import Foundation
import Models
import Sampling
import Search
import ShapesWorld
import Testing
@testable import Benchmarks

/// A reference that answers with fixed times and keeps what it was asked to run.
private final class FakeReference: ThroughputReference, @unchecked Sendable {
    var forwardRows: [Int] = []
    var replays: [[RecordingTrajectory.Call]] = []
    func forward(rows: Int, runs: Int) throws -> (seconds: [Double], gflop: Double?) {
        forwardRows.append(rows)
        return ([Double](repeating: 0.01 * Double(rows), count: runs), 0.25 * Double(rows))
    }
    func replay(_ calls: [RecordingTrajectory.Call]) throws -> Double {
        replays.append(calls)
        return 2
    }
}

@Suite struct ThroughputBenchTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let model = repository.appendingPathComponent("models/shapes-sd-small")

    static func settings() -> ThroughputBench.Settings {
        var s = ThroughputBench.Settings(prompt: ShapesPromptSuite.defaultSearchPrompt)
        s.steps = 3; s.budget = 8 * 3; s.samplesPerCall = [1, 4]; s.forwardRows = [1, 3]; s.forwardRuns = 2; s.rounds = 2
        return s
    }

    /// The recorded calls are the search's whole model work: its NFE in evaluations of at most --max-batch rows,
    /// at steps inside the trajectory, and the decodes of what it scored; the reference replays exactly those.
    @Test func theReferenceReplaysTheSearchsOwnCalls() throws {
        let pipeline = try Catalog.pipelines.load(Self.model)
        let reward = JudgedPrompt(image: try ShapesPrompt(parsing: ShapesPromptSuite.defaultSearchPrompt)).verifierReward
        let fake = FakeReference()
        let settings = Self.settings()
        let rows = try ThroughputBench(settings: settings).search(pipeline: pipeline, reward: reward, reference: fake)

        #expect(rows.map(\.samplesPerCall) == [1, 4])
        #expect(fake.replays.count == 4)   // 2 rounds × 2 batch sizes
        for (i, calls) in fake.replays.enumerated() {
            let b = settings.samplesPerCall[i % 2]
            let evaluations = calls.filter { $0.step != nil }
            #expect(evaluations.map(\.rows).reduce(0, +) == rows[i % 2].nfe)
            #expect(evaluations.allSatisfy { $0.rows <= b && (0..<settings.steps).contains($0.step!) })
            #expect(calls.contains { $0.step == nil })
            #expect(calls.filter { $0.step == nil }.allSatisfy { $0.rows <= b })
        }
        #expect(rows[0].nfe == settings.budget && rows[1].nfe == settings.budget)
        #expect(rows[0].largestCall == 1 && rows[1].largestCall > 1)
        #expect(rows[1].modelCalls < rows[0].modelCalls)
        // The same rounds give the same calls.
        #expect(fake.replays[0] == fake.replays[2] && fake.replays[1] == fake.replays[3])
        #expect(rows.allSatisfy { $0.ours.count == 2 && $0.ours.allSatisfy { $0 > 0 } && $0.torch == [2, 2] })
        #expect(rows[0].torchNFEPerSecond == Double(settings.budget) / 2)
    }

    @Test func forwardTimesEachRowCountOnBothSides() throws {
        let unet = try UNet2DConditionModel(directory: Self.model.appendingPathComponent("unet"))
        let fake = FakeReference()
        let rows = try ThroughputBench(settings: Self.settings()).forward(unet: unet, contextTokens: 8, reference: fake)
        #expect(rows.map(\.rows) == [1, 3])
        #expect(fake.forwardRows == [1, 3, 1, 3])
        #expect(rows.allSatisfy { $0.ours.count == 4 && $0.torch.count == 4 })
        #expect(abs(rows[1].torchPerRow! - 0.01) < 1e-12)
        #expect(rows.map(\.gflop) == [0.25, 0.75])
    }

    /// The targets are read from the measured figures: per-row 32 vs 2 rows, 1 row vs PyTorch, 16 samples per call.
    @Test func theReportJudgesTheTargetsFromTheFigures() {
        typealias F = ThroughputBench.ForwardRow
        typealias S = ThroughputBench.SearchRow
        let search = [S(samplesPerCall: 16, nfe: 2048, modelCalls: 300, largestCall: 16, ours: [3], torch: [10], bestReward: 1)]
        let fast = ThroughputReport(model: "m", settings: Self.settings(),
                                    forward: [F(rows: 1, ours: [0.002], torch: [0.01], gflop: 0.1), F(rows: 2, ours: [0.010], torch: []),
                                              F(rows: 32, ours: [0.064], torch: [])],
                                    search: search, reference: "torch test", sgemmPeak: 100)
        #expect(fast.perRowRatio(32, over: 2).map { abs($0 - 0.4) < 1e-9 } == true)
        #expect(fast.markdown.contains("Per-row time at 32 rows / at 2 rows: 0.40 (target ≤ 0.50: pass)"))
        #expect(fast.markdown.contains("At 1 row, ours / PyTorch: 0.20 (target ≤ 0.25: pass)"))
        #expect(fast.markdown.contains("| 1 | 0.100 | 2.00 | 2.00 | 50.0 | 50% |"))   // 0.1 GFLOP in 2 ms of a 100 GFLOP/s peak
        #expect(fast.markdown.contains("At 16 samples per call, ours / diffusers: 0.30 (target ≤ 0.40: pass)"))
        let slow = ThroughputReport(model: "m", settings: Self.settings(),
                                    forward: [F(rows: 1, ours: [0.003], torch: [0.01]), F(rows: 2, ours: [0.010], torch: []),
                                              F(rows: 32, ours: [0.128], torch: [])],
                                    search: [S(samplesPerCall: 16, nfe: 2048, modelCalls: 300, largestCall: 16, ours: [5], torch: [10], bestReward: 1)],
                                    reference: nil)
        #expect(slow.markdown.contains("0.80 (target ≤ 0.50: not yet)"))
        #expect(slow.markdown.contains("0.30 (target ≤ 0.25: not yet)"))
        #expect(slow.markdown.contains("0.50 (target ≤ 0.40: not yet)"))
        #expect(slow.markdown.contains("none (PyTorch unavailable"))
    }

    /// The PyTorch side itself, where torch and diffusers are installed.
    @Test(.enabled(if: JSONLineChild.runOnce(executable: "python3", arguments: ["-c", "import torch, diffusers, json; print(json.dumps({'ok': 1}))"]) != nil))
    func thePyTorchChildTimesForwardsAndReplays() throws {
        let script = Self.repository.appendingPathComponent("tools/bench/torch_throughput.py").path
        let child = try TorchThroughputChild(python: "python3", script: script, pipeline: Self.model, settings: Self.settings(), threads: 1)
        #expect(child.versions.contains("diffusers"))
        let timing = try child.forward(rows: 2, runs: 3)
        #expect(timing.seconds.count == 3 && timing.seconds.allSatisfy { $0 > 0 })
        let gflop = try #require(timing.gflop)
        #expect(gflop > 0.3 && gflop < 0.6)   // the small UNet at 16×16: ≈ 0.22 GFLOP per row
        let seconds = try child.replay([.init(rows: 2, step: 0), .init(rows: 2, step: 2), .init(rows: 2, step: nil)])
        #expect(seconds > 0)
        #expect(throws: (any Error).self) { try child.replay([.init(rows: 1, step: 99)]) }
    }
}
