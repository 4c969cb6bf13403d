import Foundation
import TensorCore

/// A reward simple enough that the reward-tilted version of a Gaussian can be integrated exactly:
/// `logTiltedMass(mean:std:alpha:)` = log ∫ N(x; μ, diag σ²)·exp(r(x)/α) dx.
///
/// With a Gaussian mixture prior p = Σ wₖ N(μₖ, σₖ²), the tilted target p*(x) ∝ p(x)·exp(r(x)/α) puts mass
/// ∝ wₖ·exp(logTiltedMass(μₖ, σₖ, α)) on component k; the toy worlds use this to measure mode coverage.
public protocol ToyReward: Reward {
    /// The reward's dimension (entries per sample row), or nil if any row size is accepted.
    var dimension: Int? { get }
    /// r(x) at one point, in Float64.
    func value(at x: [Double]) -> Double
    /// log ∫ N(x; mean, diag std²)·exp(r(x)/alpha) dx, for alpha > 0 and std > 0 per axis.
    func logTiltedMass(mean: [Double], std: [Double], alpha: Double) -> Double
}

extension ToyReward {
    /// Scores each row with `value(at:)`, rounded to Float.
    func scoreRows(_ samples: Tensor) throws(RewardError) -> [Float] {
        if samples.count == 0 { return [] }
        let n = samples.rowSize
        if let d = dimension, n != d {
            throw .unsupportedSamples(reward: name, shape: samples.shape, expected: "rows of \(d) scalars")
        }
        var row = [Double](repeating: 0, count: n)
        return (0..<samples.rows).map { i in
            for j in 0..<n { row[j] = Double(samples.scalars[i * n + j]) }
            return Float(value(at: row))
        }
    }
}

private func checkTiltArguments(_ name: String, mean: [Double], std: [Double], alpha: Double, dimension: Int?) {
    precondition(alpha > 0 && alpha.isFinite, "\(name).logTiltedMass: alpha must be finite and > 0, got \(alpha)")
    precondition(mean.count == std.count, "\(name).logTiltedMass: mean has \(mean.count) entries, std \(std.count)")
    precondition(std.allSatisfy { $0 > 0 }, "\(name).logTiltedMass: std entries must be > 0")
    if let d = dimension {
        precondition(mean.count == d, "\(name).logTiltedMass: mean has \(mean.count) entries, the reward's dimension is \(d)")
    }
}

/// r(x) = scale·exp(−‖x − c‖² / (2·width²)): a smooth bump of height `scale` at `center`.
///
/// Tilted mass: exp(r/α) is not Gaussian, but it has the everywhere-convergent series
/// exp(λg) = Σₙ λⁿgⁿ/n! (λ = scale/α, g = exp(−‖x−c‖²/(2w²))), and gⁿ is an unnormalised Gaussian, so
///
///     ∫ N(x; μ, σ²)·exp(λg) dx = Σₙ (λⁿ/n!)·Πⱼ (1 + nσⱼ²/w²)^(−½)·exp(−n(μⱼ−cⱼ)² / (2(w² + nσⱼ²)))
///
/// exactly, in any dimension. All terms are positive (no cancellation); they are summed in log space and the
/// series is cut once the remaining tail is provably below 1e-17 of the sum, so the result is accurate to
/// Float64 rounding (~1e-14 relative). Cost O(d·(λ + 40√λ + 60)). Requires `scale ≥ 0` (a negative scale
/// would make the series alternate); this is checked at construction.
public struct GaussianBumpReward: ToyReward {
    public let center: [Double]
    public let width: Double
    public let scale: Double

    /// `width > 0`, `scale ≥ 0`, both finite; `center` non-empty.
    public init(center: [Double], width: Double, scale: Double = 1) {
        precondition(!center.isEmpty, "GaussianBumpReward: empty center")
        precondition(width > 0 && width.isFinite, "GaussianBumpReward: width must be finite and > 0, got \(width)")
        precondition(scale >= 0 && scale.isFinite, "GaussianBumpReward: scale must be finite and ≥ 0, got \(scale)")
        self.center = center
        self.width = width
        self.scale = scale
    }

    public var name: String { "gaussian-bump" }
    public var dimension: Int? { center.count }

    public func value(at x: [Double]) -> Double {
        var q = 0.0
        for j in 0..<center.count { let r = x[j] - center[j]; q += r * r }
        return scale * Foundation.exp(-q / (2 * width * width))
    }

    public func scores(_ samples: Tensor) throws -> [Float] { try scoreRows(samples) }

    public func logTiltedMass(mean: [Double], std: [Double], alpha: Double) -> Double {
        checkTiltArguments("GaussianBumpReward", mean: mean, std: std, alpha: alpha, dimension: center.count)
        let lambda = scale / alpha
        precondition(lambda.isFinite, "GaussianBumpReward.logTiltedMass: scale/alpha overflows")
        if lambda == 0 { return 0 }
        let w2 = width * width
        let logLambda = Foundation.log(lambda)
        // Running log-sum-exp of the terms; term 0 is 1.
        var maxLog = 0.0
        var sum = 1.0
        var logFactorial = 0.0
        let cap = Int(lambda + 40 * lambda.squareRoot() + 60)
        var n = 1
        while n <= cap {
            logFactorial += Foundation.log(Double(n))
            let dn = Double(n)
            var logG = 0.0
            for j in 0..<mean.count {
                let v = std[j] * std[j]
                let r = mean[j] - center[j]
                logG += -0.5 * Foundation.log1p(dn * v / w2) - dn * r * r / (2 * (w2 + dn * v))
            }
            let logTerm = dn * logLambda - logFactorial + logG
            if logTerm > maxLog {
                sum = sum * Foundation.exp(maxLog - logTerm) + 1
                maxLog = logTerm
            } else {
                sum += Foundation.exp(logTerm - maxLog)
            }
            // Tail bound: Σ_{m>n} λᵐ/m! ≤ λⁿ⁺¹/(n+1)! · 1/(1 − λ/(n+2)) (each Gaussian factor is ≤ 1).
            if Double(n + 2) > 2 * lambda {
                let logTail = Double(n + 1) * logLambda - (logFactorial + Foundation.log(Double(n + 1))) + Foundation.log(2.0)
                if logTail < maxLog + Foundation.log(sum) - 39 { break }
            }
            n += 1
        }
        return maxLog + Foundation.log(sum)
    }
}

/// r(x) = a·x (a dot product with `direction`): unbounded, pushes samples along a direction.
///
/// Tilted mass, exact: log ∫ N(x; μ, σ²)·exp(a·x/α) dx = Σⱼ (aⱼμⱼ/α + aⱼ²σⱼ²/(2α²)).
public struct LinearReward: ToyReward {
    public let direction: [Double]

    public init(direction: [Double]) {
        precondition(!direction.isEmpty, "LinearReward: empty direction")
        self.direction = direction
    }

    public var name: String { "linear" }
    public var dimension: Int? { direction.count }

    public func value(at x: [Double]) -> Double {
        var acc = 0.0
        for j in 0..<direction.count { acc += direction[j] * x[j] }
        return acc
    }

    public func scores(_ samples: Tensor) throws -> [Float] { try scoreRows(samples) }

    public func logTiltedMass(mean: [Double], std: [Double], alpha: Double) -> Double {
        checkTiltArguments("LinearReward", mean: mean, std: std, alpha: alpha, dimension: direction.count)
        var acc = 0.0
        for j in 0..<direction.count {
            let a = direction[j] / alpha
            acc += a * mean[j] + 0.5 * a * a * std[j] * std[j]
        }
        return acc
    }
}

/// r(x) = −‖x − c‖²: best at `center`, quadratic penalty elsewhere.
///
/// Tilted mass, exact: log ∫ N(x; μ, σ²)·exp(−‖x−c‖²/α) dx = Σⱼ (−½·log(1 + 2σⱼ²/α) − (μⱼ−cⱼ)²/(α + 2σⱼ²)).
public struct NegativeSquaredDistanceReward: ToyReward {
    public let center: [Double]

    public init(center: [Double]) {
        precondition(!center.isEmpty, "NegativeSquaredDistanceReward: empty center")
        self.center = center
    }

    public var name: String { "negative-squared-distance" }
    public var dimension: Int? { center.count }

    public func value(at x: [Double]) -> Double {
        var q = 0.0
        for j in 0..<center.count { let r = x[j] - center[j]; q += r * r }
        return -q
    }

    public func scores(_ samples: Tensor) throws -> [Float] { try scoreRows(samples) }

    public func logTiltedMass(mean: [Double], std: [Double], alpha: Double) -> Double {
        checkTiltArguments("NegativeSquaredDistanceReward", mean: mean, std: std, alpha: alpha, dimension: center.count)
        var acc = 0.0
        for j in 0..<center.count {
            let v = std[j] * std[j]
            let r = mean[j] - center[j]
            acc += -0.5 * Foundation.log1p(2 * v / alpha) - r * r / (alpha + 2 * v)
        }
        return acc
    }
}

/// r(x) = value for every sample, any shape: a reward that carries no information (for statistical tests of
/// search strategies, which must then behave like plain sampling). Tilted mass: value/α.
public struct ConstantReward: ToyReward {
    public let value: Double

    public init(value: Double) {
        precondition(value.isFinite, "ConstantReward: value must be finite")
        self.value = value
    }

    public var name: String { "constant" }
    public var dimension: Int? { nil }

    public func value(at x: [Double]) -> Double { value }

    public func scores(_ samples: Tensor) throws -> [Float] {
        samples.count == 0 ? [] : [Float](repeating: Float(value), count: samples.rows)
    }

    public func logTiltedMass(mean: [Double], std: [Double], alpha: Double) -> Double {
        checkTiltArguments("ConstantReward", mean: mean, std: std, alpha: alpha, dimension: nil)
        return value / alpha
    }
}
