import Foundation
import Sampling
import Search
import TensorCore
import Testing
import ToyWorlds

/// A toy trajectory whose model calls advance a fake clock by `cost(rows)` seconds, and which counts its calls.
private final class CostedTrajectory: TrajectoryWrapper, @unchecked Sendable {
    let base: any Trajectory
    let cost: (Int) -> Double
    var now = 0.0
    var calls: [Int] = []
    init(cost: @escaping (Int) -> Double) throws {
        base = try ToyScenario.builtin(named: "rare-mode-bump").makeTrajectory()
        self.cost = cost
    }
    func evaluate(_ states: Tensor, at index: Int, cancellation: CancellationCheck) throws -> Tensor {
        calls.append(states.shape[0])
        now += cost(states.shape[0])
        return try base.evaluate(states, at: index, cancellation: cancellation)
    }
}

@Suite struct BatchSizeProbeTests {
    typealias M = BatchSizeProbe.Measurement

    @Test func candidatesArePowersOfTwoThenTheLargest() {
        #expect(BatchSizeProbe(largest: 32).candidates == [1, 2, 4, 8, 16, 32])
        #expect(BatchSizeProbe(largest: 5).candidates == [1, 2, 4, 5])
        #expect(BatchSizeProbe(largest: 1).candidates == [1])
    }

    @Test func thePreferredThenTheSmallestBatchWithinTheToleranceWins() {
        let m = [M(batch: 1, secondsPerSample: 4), M(batch: 2, secondsPerSample: 2.05), M(batch: 4, secondsPerSample: 2),
                 M(batch: 8, secondsPerSample: 2.15)]
        #expect(BatchSizeProbe.choose(m, tolerance: 0.03) == 2)
        #expect(BatchSizeProbe.choose(m, tolerance: 0) == 4)
        #expect(BatchSizeProbe.choose(m, tolerance: 0.10, preferred: 8) == 8)   // 7.5 % slower than 4: kept
        #expect(BatchSizeProbe.choose(m, tolerance: 0.05, preferred: 8) == 2)   // not within 5 %: the smallest that is
        #expect(BatchSizeProbe.choose([], tolerance: 0.03) == 1)
    }

    /// A per-call overhead that amortises until 8 samples, after which each sample costs more (a cache spill): the
    /// probe picks 8 over the preferred 2, stops after two slower sizes, and never calls more than `largest` at once.
    @Test func aLongSearchIsTimedAndGetsTheFastestBatch() throws {
        let t = try CostedTrajectory { rows in 0.010 + 0.001 * Double(rows) * (rows > 8 ? 3 : 1) }
        let outcome = try BatchSizeProbe(largest: 64, fallback: 2).run(t, budget: 100_000, clock: { t.now })
        #expect(outcome.batch == 8)   // 2 (the preferred) is 2.7× slower per sample
        #expect(!outcome.tookFallback)
        #expect(outcome.measurements.map(\.batch) == [1, 2, 4, 8, 16, 32])   // 16 and 32 slower: stop before 64
        #expect(t.calls == [1, 1, 1] + [2, 2, 4, 4, 8, 8, 16, 16, 32, 32])
        #expect(abs(outcome.measurements[3].secondsPerSample - 0.018 / 8) < 1e-12)
        #expect(abs(outcome.seconds - t.now) < 1e-12)
    }

    /// A search whose model time is too short for the probes' share takes the fallback, capped by `largest`.
    @Test func aShortSearchTakesTheFallback() throws {
        let t = try CostedTrajectory { rows in 0.010 + 0.001 * Double(rows) }
        let outcome = try BatchSizeProbe(largest: 32).run(t, budget: 100, clock: { t.now })
        #expect(outcome.tookFallback && outcome.batch == 8)
        #expect(t.calls == [1, 1, 1])
        #expect(try BatchSizeProbe(largest: 5).run(t, budget: 100, clock: { t.now }).batch == 5)
        #expect(outcome.summary.hasPrefix("8 (the default; too short a search to time more sizes: 1 sample 11.00 ms; probes"))
    }

    /// Past the share the probe stops before the next size, and picks among what it measured.
    @Test func theShareCapsTheProbes() throws {
        let t = try CostedTrajectory { rows in 0.001 + 0.001 * Double(rows) }
        // One sample: 2 ms; share 5 % of 2 ms × 1000 = 0.1 s. After 16 the probes have taken 0.072 s, and 32 (at
        // 16's rate, 2 × 34 ms) would pass 0.1 s.
        let outcome = try BatchSizeProbe(largest: 32, tolerance: 0.03).run(t, budget: 1000, clock: { t.now })
        #expect(outcome.measurements.map(\.batch) == [1, 2, 4, 8, 16])
        #expect(outcome.batch == 16)   // 1.0625 ms per sample; 8's 1.125 is more than 3 % slower
        #expect(try BatchSizeProbe(largest: 32).run(t, budget: 1000, clock: { t.now }).batch == 8)   // within 10 %: the preferred
        #expect(!t.calls.contains(32))
    }
}
