import Foundation
import RandomStreams
import Testing
@testable import Benchmarks

@Suite struct BootstrapTests {
    /// n standard normals times `sd` plus `mean`, from a seeded stream.
    static func normals(_ n: Int, mean: Double, sd: Double, seed: UInt64) -> [Double] {
        var s = PhiloxStream(NoiseKey(seed: seed, purpose: .worldSampling))
        return (0..<n).map { _ in mean + sd * s.nextGaussian() }
    }

    /// n exponential(1) draws (mean 1, skewed), from a seeded stream.
    static func exponentials(_ n: Int, seed: UInt64) -> [Double] {
        var s = PhiloxStream(NoiseKey(seed: seed, purpose: .worldSampling, individual: 1))
        return (0..<n).map { _ in -log(s.nextUniform()) }
    }

    @Test func pairedIntervalOfASeriesAgainstItselfIsExactlyZero() throws {
        let a = Self.normals(300, mean: 0.4, sd: 0.3, seed: 1)
        let i = try #require(Bootstrap(resamples: 500, seed: 3).pairedDifferenceInterval(a, a))
        #expect(i == Interval(lower: 0, upper: 0))
        #expect(Outcome(i) == .tie)
    }

    @Test func aConstantShiftGivesAnIntervalOfExactlyThatShift() throws {
        // Paired differences are all exactly 0.5 (binary fractions), so every resample's mean is 0.5.
        let b = (0..<200).map { Double($0 % 7) / 8 }
        let a = b.map { $0 + 0.5 }
        let i = try #require(Bootstrap(resamples: 300).pairedDifferenceInterval(a, b))
        #expect(i == Interval(lower: 0.5, upper: 0.5))
        #expect(Outcome(i) == .win)
    }

    @Test func intervalOnKnownDataCoversTheAnalyticMeanWithTheNormalWidth() throws {
        // N(3, 2²), n = 2000: the 95% interval of the mean is about ±1.96·2/√2000 = ±0.0877.
        let x = Self.normals(2000, mean: 3, sd: 2, seed: 11)
        let i = try #require(Bootstrap(resamples: 2000, seed: 5).meanInterval(x))
        #expect(i.contains(3))
        let expected = 2 * 1.96 * 2 / 2000.0.squareRoot()
        #expect(abs(i.width - expected) / expected < 0.1, "width \(i.width), expected ≈ \(expected)")
    }

    @Test func coverageOfTheMeanOfSkewedDataIsNearTheNominalLevel() {
        // 300 data sets of 100 exponential(1) draws (true mean 1): a 95% percentile interval should cover 1 in
        // about 95% of them (percentile intervals under-cover skewed data slightly; 4 standard errors of a
        // binomial proportion at 300 trials is ±0.05).
        let bootstrap = Bootstrap(resamples: 400, seed: 2)
        var covered = 0
        for k in 0..<300 {
            if bootstrap.meanInterval(Self.exponentials(100, seed: UInt64(1000 + k)))!.contains(1) { covered += 1 }
        }
        let rate = Double(covered) / 300
        #expect(rate > 0.89 && rate < 0.99, "coverage \(rate)")
    }

    @Test func intervalsDependOnlyOnDataSeedAndResampleCount() throws {
        let x = Self.exponentials(150, seed: 9)
        let a = try #require(Bootstrap(resamples: 300, seed: 4).meanInterval(x))
        _ = Bootstrap(resamples: 300, seed: 4).meanInterval(Self.exponentials(40, seed: 1))
        #expect(Bootstrap(resamples: 300, seed: 4).meanInterval(x) == a)
        #expect(Bootstrap(resamples: 300, seed: 5).meanInterval(x) != a)
        #expect(Bootstrap().meanInterval([]) == nil)
    }

    @Test func aDifferenceIsAWinOrALossOnlyWhenItsIntervalExcludesZero() {
        #expect(Outcome(Interval(lower: 0.01, upper: 0.2)) == .win)
        #expect(Outcome(Interval(lower: -0.2, upper: -0.01)) == .loss)
        #expect(Outcome(Interval(lower: -0.1, upper: 0.3)) == .tie)
        #expect(Outcome(Interval(lower: 0, upper: 0.3)) == .tie)
        #expect(Outcome(Interval(lower: -0.3, upper: 0)) == .tie)
        #expect(Outcome(Interval(lower: 0, upper: 0)) == .tie)
    }

    @Test func quantilesInterpolateBetweenOrderStatistics() {
        #expect(Bootstrap.quantile([1, 2, 3, 4, 5], 0.25) == 2)
        #expect(abs(Bootstrap.quantile([1, 2, 3, 4, 5], 0.1) - 1.4) < 1e-12)
        #expect(Bootstrap.quantile([7], 0.975) == 7)
        #expect(Bootstrap.quantile([1, 3], 1) == 3)
    }

    @Test func standardErrorIsTheSampleStandardDeviationOverRootN() {
        // Sample sd of [2, 4, 4, 4, 5, 5, 7, 9] is √(32/7).
        #expect(abs(Statistics.standardError([2, 4, 4, 4, 5, 5, 7, 9]) - (32.0 / 7).squareRoot() / 8.0.squareRoot()) < 1e-12)
        #expect(Statistics.standardError([3]).isNaN)
    }
}
