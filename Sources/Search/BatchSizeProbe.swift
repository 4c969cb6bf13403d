import Foundation
import RandomStreams
import Sampling
import TensorCore

/// Picks the batch — samples per model call, `SearchOptions.maxBatch` — at which a trajectory's model is fastest
/// per sample, by timing it: after one untimed call on one sample (weights paged in, buffers grown), one model call
/// on b samples at the middle step for b = 1, 2, 4, … up to `largest` (and `largest` itself), each timed twice, the
/// faster counting. The probes may take `timeShare` of the search's estimated model time (the one-sample rate
/// times the budget): when that does not cover the sizes up to `fallback`, the search is too short to be worth
/// measuring and gets `fallback` (capped by `largest`); otherwise probing stops before a size that would pass the
/// share, or, once past `fallback`, after two sizes in a row slower per sample than the best so far. Of the sizes
/// within `tolerance` of the fastest, `fallback` wins if it is one of them, else the smallest — so a busy machine's
/// noisy timings move the choice away from `fallback` only for a size clearly faster.
///
/// A search's result does not depend on its batch (`SearchOptions.maxBatch`), so the probe changes only its speed.
/// Its model calls belong to no search's budget.
public struct BatchSizeProbe: Sendable {
    public struct Measurement: Sendable, Equatable {
        public var batch: Int
        public var secondsPerSample: Double
        public init(batch: Int, secondsPerSample: Double) { self.batch = batch; self.secondsPerSample = secondsPerSample }
    }

    public struct Outcome: Sendable {
        public var batch: Int
        public var measurements: [Measurement]
        /// Wall time of all the probes, the untimed first call included.
        public var seconds: Double
        /// True when the search was too short to measure beyond one sample and `fallback` was taken.
        public var tookFallback: Bool

        /// "8 (ms per sample: 1 → 4.40, 2 → 3.10, …; probes 0.12 s)".
        public var summary: String {
            let probes = String(format: "probes %.2f s", seconds)
            if tookFallback, let one = measurements.first {
                return "\(batch) (the default; too short a search to time more sizes: 1 sample "
                    + String(format: "%.2f ms; ", 1000 * one.secondsPerSample) + probes + ")"
            }
            let rates = measurements.map { "\($0.batch) → " + String(format: "%.2f", 1000 * $0.secondsPerSample) }
            return "\(batch) (ms per sample: \(rates.joined(separator: ", ")); \(probes))"
        }
    }

    public var largest: Int
    public var timeShare: Double
    public var tolerance: Double
    /// The batch of a search too short to measure: on the development machine 8 was the fastest for
    /// shapes-sd-small and shapes-wan-small and within 4 % of the fastest (4) for shapes-flux-small
    /// (docs/BENCHMARKS.md).
    public var fallback: Int

    public init(largest: Int = 32, timeShare: Double = 0.05, tolerance: Double = 0.10, fallback: Int = 8) {
        self.largest = Swift.max(1, largest); self.timeShare = timeShare; self.tolerance = tolerance
        self.fallback = Swift.max(1, fallback)
    }

    /// The sizes tried, in order: powers of two below `largest`, then `largest`.
    public var candidates: [Int] {
        var out: [Int] = []
        var b = 1
        while b < largest { out.append(b); b *= 2 }
        return out + [largest]
    }

    /// Of the batches whose time per sample is within `tolerance` of the fastest measured, `preferred` if it is
    /// one, else the smallest.
    public static func choose(_ measurements: [Measurement], tolerance: Double, preferred: Int? = nil) -> Int {
        guard let best = measurements.map(\.secondsPerSample).min() else { return 1 }
        let near = measurements.filter { $0.secondsPerSample <= best * (1 + tolerance) }.map(\.batch)
        if let preferred, near.contains(preferred) { return preferred }
        return near.min() ?? 1
    }

    /// Times `trajectory`'s model calls for a search of `budget` NFE and returns the batch to use. `clock` (seconds,
    /// monotonic) exists for tests. Throws what the model throws.
    public func run(_ trajectory: any Trajectory, budget: Int, seed: UInt64 = 0,
                    clock: () -> Double = { Double(DispatchTime.now().uptimeNanoseconds) * 1e-9 }) throws -> Outcome {
        let started = clock()
        let index = trajectory.stepCount / 2
        func states(_ b: Int) -> Tensor {
            let n = trajectory.stateShape.reduce(1, *)
            let noise = NoiseKey(seed: seed, purpose: .initialNoise, generation: 0, individual: b).gaussians(b * n)
            return trajectory.initialState(noise: Tensor(shape: [b] + trajectory.stateShape, scalars: noise))
        }
        func timed(_ x: Tensor) throws -> Double {
            let t0 = clock()
            _ = try trajectory.evaluate(x, at: index, cancellation: .never)
            return clock() - t0
        }
        let one = states(1)
        _ = try trajectory.evaluate(one, at: index, cancellation: .never)
        let t1 = Swift.min(try timed(one), try timed(one))
        var measurements = [Measurement(batch: 1, secondsPerSample: t1)]
        let limit = timeShare * t1 * Double(Swift.max(1, budget))
        var spent = 2 * t1
        let upToFallback = candidates.dropFirst().filter { $0 <= fallback }.reduce(0, +)
        if spent + 2 * t1 * Double(upToFallback) > limit {
            return Outcome(batch: Swift.min(fallback, largest), measurements: measurements, seconds: clock() - started, tookFallback: true)
        }
        var slower = 0
        for b in candidates.dropFirst() {
            let best = measurements.map(\.secondsPerSample).min()!
            if spent + 2 * best * Double(b) > limit { break }
            let x = states(b)
            let t = Swift.min(try timed(x), try timed(x))
            spent += 2 * t
            let perSample = t / Double(b)
            slower = perSample > best ? slower + 1 : 0
            measurements.append(Measurement(batch: b, secondsPerSample: perSample))
            if slower >= 2 && b >= fallback { break }
        }
        return Outcome(batch: Self.choose(measurements, tolerance: tolerance, preferred: Swift.min(fallback, largest)), measurements: measurements,
                       seconds: clock() - started, tookFallback: false)
    }
}
