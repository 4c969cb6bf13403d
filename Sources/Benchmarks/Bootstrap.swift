import RandomStreams

/// A closed interval [lower, upper] around an estimate.
public struct Interval: Sendable, Equatable, CustomStringConvertible {
    public var lower: Double
    public var upper: Double
    public init(lower: Double, upper: Double) { self.lower = lower; self.upper = upper }

    public func contains(_ x: Double) -> Bool { lower <= x && x <= upper }
    public var excludesZero: Bool { lower > 0 || upper < 0 }
    public var width: Double { upper - lower }
    public var description: String { "[\(lower), \(upper)]" }
}

/// What a paired difference a − b (higher is better) says about a against b.
public enum Outcome: String, Sendable, Equatable {
    /// The whole interval lies above zero: a wins.
    case win
    /// The whole interval lies below zero: a loses.
    case loss
    /// The interval includes zero: no difference shown.
    case tie

    /// A difference is a win or a loss only when its interval excludes zero.
    public init(_ interval: Interval) {
        self = interval.lower > 0 ? .win : interval.upper < 0 ? .loss : .tie
    }
}

/// Percentile bootstrap intervals with explicit, seeded resampling.
///
/// Each interval resamples the n observations (indices 0..<n with replacement) `resamples` times from a
/// Philox stream keyed by `seed` alone, so an interval depends only on its data, the seed and the resample
/// count — not on which other intervals were computed before it. The interval is the (1 − level)/2 and
/// (1 + level)/2 quantiles of the resampled statistic (linear interpolation between order statistics).
/// Percentile intervals assume n is large enough for the statistic's resampling distribution to stand in for
/// its sampling distribution; benchmark cells here have hundreds of observations.
public struct Bootstrap: Sendable {
    public var resamples: Int
    public var seed: UInt64
    public var level: Double

    public init(resamples: Int = 2000, seed: UInt64 = 0, level: Double = 0.95) {
        precondition(resamples >= 1 && level > 0 && level < 1, "Bootstrap: resamples ≥ 1 and level in (0, 1)")
        self.resamples = resamples; self.seed = seed; self.level = level
    }

    /// The interval of `statistic` over resamples of `count` observations; `statistic` receives how many
    /// times each observation was drawn (a weight vector summing to `count`). nil for no observations.
    public func interval(count: Int, statistic: ([Int]) -> Double) -> Interval? {
        guard count > 0 else { return nil }
        var stream = PhiloxStream(NoiseKey(seed: seed, purpose: .selection))
        var values: [Double] = []
        values.reserveCapacity(resamples)
        var weights = [Int](repeating: 0, count: count)
        for _ in 0..<resamples {
            for i in weights.indices { weights[i] = 0 }
            for _ in 0..<count { weights[stream.nextInt(below: count)] += 1 }
            values.append(statistic(weights))
        }
        values.sort()
        let alpha = (1 - level) / 2
        return Interval(lower: Self.quantile(values, alpha), upper: Self.quantile(values, 1 - alpha))
    }

    /// The interval of the mean of `values`.
    public func meanInterval(_ values: [Double]) -> Interval? {
        interval(count: values.count) { w in Self.weightedMean(values, w) }
    }

    /// The interval of the mean paired difference a[i] − b[i] (a and b observed on the same seeds, in order).
    public func pairedDifferenceInterval(_ a: [Double], _ b: [Double]) -> Interval? {
        precondition(a.count == b.count, "pairedDifferenceInterval: \(a.count) against \(b.count) observations")
        let d = zip(a, b).map { $0 - $1 }
        return meanInterval(d)
    }

    /// Σ wᵢ·xᵢ / Σ wᵢ.
    public static func weightedMean(_ x: [Double], _ w: [Int]) -> Double {
        var s = 0.0, n = 0
        for i in x.indices where w[i] != 0 { s += Double(w[i]) * x[i]; n += w[i] }
        return s / Double(n)
    }

    /// The q-quantile of sorted values, interpolating linearly between order statistics (R's type 7).
    public static func quantile(_ sorted: [Double], _ q: Double) -> Double {
        let h = Double(sorted.count - 1) * q
        let lo = Int(h.rounded(.down)), hi = min(lo + 1, sorted.count - 1)
        return sorted[lo] + (h - Double(lo)) * (sorted[hi] - sorted[lo])
    }
}

extension Statistics {
    /// The standard error of the mean, sd / √n (NaN for fewer than two values).
    public static func standardError(_ values: [Double]) -> Double {
        values.count < 2 ? .nan : meanAndStandardDeviation(values).standardDeviation / Double(values.count).squareRoot()
    }
}
