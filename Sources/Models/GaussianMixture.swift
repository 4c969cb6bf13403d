import Foundation
import TensorCore

/// Why a `GaussianMixture` could not be built: `field` names the offending entry (e.g. `components[1].std[0]`),
/// `problem` says what is wrong with it.
public struct GaussianMixtureError: Error, Equatable, CustomStringConvertible, Sendable {
    public var field: String
    public var problem: String

    public init(field: String, problem: String) {
        self.field = field
        self.problem = problem
    }

    public var description: String { "GaussianMixture: \(field) \(problem)" }
}

/// A finite mixture of axis-aligned Gaussians in ℝᵈ: p(x) = Σₖ wₖ·N(x; μₖ, diag σₖ²).
///
/// It is the "data distribution" of the analytic toy worlds. Everything is exact and computed in Float64:
/// the log density (stable log-sum-exp over components), responsibilities (for assigning samples to modes),
/// sampling from explicitly supplied randomness, and the noised marginal of `a·x₀ + s·ε` (ε ~ N(0, I)),
/// which is again a mixture with means `a·μₖ` and variances `a²σₖ² + s²`.
///
/// Limits: covariances are diagonal (isotropic or per-axis), not full; the dimension is whatever the caller
/// gives but every evaluation costs O(K·d) per row.
public struct GaussianMixture: Sendable, Equatable {
    /// A component's standard deviation: one value for every axis, or one value per axis.
    public enum Std: Sendable, Equatable {
        case isotropic(Double)
        case diagonal([Double])

        /// The per-axis standard deviations in dimension `d`.
        public func values(dimension d: Int) -> [Double] {
            switch self {
            case .isotropic(let s): return [Double](repeating: s, count: d)
            case .diagonal(let s): return s
            }
        }
    }

    /// One weighted Gaussian. After the mixture is built, `weight` is normalised (the weights sum to 1).
    public struct Component: Sendable, Equatable {
        public var weight: Double
        public var mean: [Double]
        public var std: Std

        public init(weight: Double, mean: [Double], std: Std) {
            self.weight = weight
            self.mean = mean
            self.std = std
        }
    }

    public let dimension: Int
    /// The components, with weights normalised to sum to 1.
    public let components: [Component]

    // Flattened parameters, row-major [K, d].
    let meansFlat: [Double]
    let variancesFlat: [Double]
    let logWeights: [Double]
    /// The components at signal scale 1, noise 0 (the data density), precomputed.
    private let dataKernel: NoisedKernel

    /// Validates and normalises: at least one component; weights finite and > 0 (rescaled to sum to 1);
    /// means of length `dimension` with finite entries; stds finite and > 0, of length `dimension` when
    /// diagonal. Throws a `GaussianMixtureError` naming the first bad field.
    public init(dimension: Int, components: [Component]) throws(GaussianMixtureError) {
        guard dimension >= 1 else {
            throw GaussianMixtureError(field: "dimension", problem: "must be ≥ 1, got \(dimension)")
        }
        guard !components.isEmpty else {
            throw GaussianMixtureError(field: "components", problem: "is empty; give at least one component")
        }
        for (k, c) in components.enumerated() {
            guard c.weight.isFinite && c.weight > 0 else {
                throw GaussianMixtureError(field: "components[\(k)].weight", problem: "must be a finite number > 0, got \(c.weight)")
            }
            guard c.mean.count == dimension else {
                throw GaussianMixtureError(field: "components[\(k)].mean", problem: "has \(c.mean.count) entries, dimension is \(dimension)")
            }
            if let j = c.mean.firstIndex(where: { !$0.isFinite }) {
                throw GaussianMixtureError(field: "components[\(k)].mean[\(j)]", problem: "must be finite, got \(c.mean[j])")
            }
            switch c.std {
            case .isotropic(let s):
                guard s.isFinite && s > 0 else {
                    throw GaussianMixtureError(field: "components[\(k)].std", problem: "must be a finite number > 0, got \(s)")
                }
            case .diagonal(let s):
                guard s.count == dimension else {
                    throw GaussianMixtureError(field: "components[\(k)].std", problem: "has \(s.count) entries, dimension is \(dimension)")
                }
                if let j = s.firstIndex(where: { !($0.isFinite && $0 > 0) }) {
                    throw GaussianMixtureError(field: "components[\(k)].std[\(j)]", problem: "must be a finite number > 0, got \(s[j])")
                }
            }
        }
        let total = components.reduce(0.0) { $0 + $1.weight }
        guard total.isFinite else {
            throw GaussianMixtureError(field: "components", problem: "weights sum to \(total); use smaller weights")
        }
        self.dimension = dimension
        self.components = components.map { Component(weight: $0.weight / total, mean: $0.mean, std: $0.std) }
        let means = components.flatMap(\.mean)
        let variances = components.flatMap { $0.std.values(dimension: dimension).map { $0 * $0 } }
        let logWeights = components.map { Foundation.log($0.weight / total) }
        self.meansFlat = means
        self.variancesFlat = variances
        self.logWeights = logWeights
        self.dataKernel = NoisedKernel(means: means, variances: variances, logWeights: logWeights, dimension: dimension,
                                       signalScale: 1, noiseStd: 0)
    }

    /// Number of components K.
    public var componentCount: Int { components.count }

    /// Normalised weights wₖ.
    public var weights: [Double] { components.map(\.weight) }

    /// The mixture mean Σₖ wₖ μₖ.
    public var mean: [Double] {
        var m = [Double](repeating: 0, count: dimension)
        for c in components { for j in 0..<dimension { m[j] += c.weight * c.mean[j] } }
        return m
    }

    /// Per-axis standard deviations of component `k`.
    public func std(ofComponent k: Int) -> [Double] { components[k].std.values(dimension: dimension) }

    // MARK: Densities

    /// log p(x) for each row of a batch `[N, …]` whose rows have `dimension` scalars.
    public func logDensity(_ x: Tensor) -> [Double] {
        let kernel = dataKernel
        return mapRows(x) { row, scratch in kernel.logDensity(row, scratch: &scratch) }
    }

    /// log p(x) at one point.
    public func logDensity(at point: [Double]) -> Double {
        precondition(point.count == dimension, "GaussianMixture.logDensity: point has \(point.count) entries, dimension is \(dimension)")
        var scratch = [Double](repeating: 0, count: componentCount)
        return dataKernel.logDensity(point, scratch: &scratch)
    }

    /// Posterior component probabilities γₖ(x) = wₖN(x; μₖ, Σₖ) / p(x) for one point (sums to 1).
    public func responsibilities(at point: [Double]) -> [Double] {
        precondition(point.count == dimension, "GaussianMixture.responsibilities: point has \(point.count) entries, dimension is \(dimension)")
        var scratch = [Double](repeating: 0, count: componentCount)
        _ = dataKernel.logDensity(point, scratch: &scratch)
        return scratch
    }

    /// Responsibilities for each row of a batch: N arrays of K probabilities.
    public func responsibilities(_ x: Tensor) -> [[Double]] {
        let kernel = dataKernel
        return mapRows(x) { row, scratch in
            _ = kernel.logDensity(row, scratch: &scratch)
            return scratch
        }
    }

    /// For each row, the index of the component with the largest responsibility (ties: lowest index).
    public func mostResponsibleComponent(_ x: Tensor) -> [Int] {
        let kernel = dataKernel
        return mapRows(x) { row, scratch in
            _ = kernel.logDensity(row, scratch: &scratch)
            var best = 0
            for k in 1..<scratch.count where scratch[k] > scratch[best] { best = k }
            return best
        }
    }

    // MARK: Sampling and noising

    /// Draws N samples from explicit randomness: row i uses component k = the first with
    /// `componentUniforms[i] < w₀+…+wₖ` (uniforms in [0, 1)), and `x = μₖ + σₖ ⊙ normals[i]`.
    /// `normals` has shape `[N, dimension]` (or any shape with N rows of `dimension` scalars); the result has
    /// the shape of `normals`.
    public func sample(componentUniforms: [Float], normals: Tensor) -> Tensor {
        precondition(normals.rowSize == dimension || normals.count == 0,
                     "GaussianMixture.sample: normals rows have \(normals.rowSize) scalars, dimension is \(dimension)")
        precondition(componentUniforms.count == normals.rows,
                     "GaussianMixture.sample: \(componentUniforms.count) uniforms for \(normals.rows) rows")
        var cumulative = [Double]()
        var acc = 0.0
        for c in components { acc += c.weight; cumulative.append(acc) }
        var out = normals.scalars
        let d = dimension
        for i in 0..<componentUniforms.count {
            let u = Double(componentUniforms[i])
            let k = cumulative.firstIndex(where: { u < $0 }) ?? (componentCount - 1)
            for j in 0..<d {
                let idx = i * d + j
                out[idx] = Float(meansFlat[k * d + j] + variancesFlat[k * d + j].squareRoot() * Double(normals.scalars[idx]))
            }
        }
        return Tensor(shape: normals.shape, scalars: out)
    }

    /// The law of `a·x₀ + s·ε` with x₀ ~ self and ε ~ N(0, I) independent: components N(a·μₖ, a²σₖ² + s²),
    /// same weights. `a = √ᾱ, s = √(1−ᾱ)` is the VP marginal; `a = 1−σ, s = σ` the rectified-flow one.
    /// Requires the resulting stds to be > 0 (not both `a·σₖ` and `s` zero).
    public func noised(signalScale a: Double, noiseStd s: Double) -> GaussianMixture {
        let comps = components.map { c -> Component in
            let std: Std
            switch c.std {
            case .isotropic(let v): std = .isotropic((a * a * v * v + s * s).squareRoot())
            case .diagonal(let v): std = .diagonal(v.map { (a * a * $0 * $0 + s * s).squareRoot() })
            }
            return Component(weight: c.weight, mean: c.mean.map { a * $0 }, std: std)
        }
        do {
            return try GaussianMixture(dimension: dimension, components: comps)
        } catch {
            preconditionFailure("GaussianMixture.noised(signalScale: \(a), noiseStd: \(s)): \(error)")
        }
    }

    /// The VP forward marginal at cumulative signal level ᾱ: √ᾱ·x₀ + √(1−ᾱ)·ε.
    public func noisedVP(alphaBar: Double) -> GaussianMixture {
        noised(signalScale: alphaBar.squareRoot(), noiseStd: (1 - alphaBar).squareRoot())
    }

    /// The rectified-flow marginal at σ: (1−σ)·x₀ + σ·ε.
    public func noisedFlow(sigma: Double) -> GaussianMixture {
        noised(signalScale: 1 - sigma, noiseStd: sigma)
    }

    /// Applies `body` to every row (as Float64) in order; `scratch` is a reusable K-sized buffer.
    private func mapRows<T>(_ x: Tensor, _ body: ([Double], inout [Double]) -> T) -> [T] {
        precondition(x.count == 0 || x.rowSize == dimension,
                     "GaussianMixture: rows of \(x.shape) have \(x.rowSize) scalars, dimension is \(dimension)")
        let n = x.count == 0 ? 0 : x.rows
        var scratch = [Double](repeating: 0, count: componentCount)
        var row = [Double](repeating: 0, count: dimension)
        var out = [T]()
        out.reserveCapacity(n)
        for i in 0..<n {
            for j in 0..<dimension { row[j] = Double(x.scalars[i * dimension + j]) }
            out.append(body(row, &scratch))
        }
        return out
    }
}

/// The mixture's components seen through `x = a·x₀ + s·ε`, with per-component constants precomputed.
/// Shared by the mixture's density functions and the exact denoiser.
struct NoisedKernel: Sendable, Equatable {
    let k: Int
    let d: Int
    let a: Double
    let s: Double
    /// μₖ (data means), [K, d].
    let means: [Double]
    /// σₖ² (data variances), [K, d].
    let dataVariances: [Double]
    /// a·μₖ, [K, d].
    let shiftedMeans: [Double]
    /// 1 / (a²σₖ² + s²), [K, d].
    let inverseVariances: [Double]
    /// log wₖ − ½ Σⱼ log(2π vₖⱼ).
    let logConstants: [Double]

    init(_ m: GaussianMixture, signalScale a: Double, noiseStd s: Double) {
        self.init(means: m.meansFlat, variances: m.variancesFlat, logWeights: m.logWeights, dimension: m.dimension,
                  signalScale: a, noiseStd: s)
    }

    init(means: [Double], variances: [Double], logWeights: [Double], dimension: Int, signalScale a: Double, noiseStd s: Double) {
        k = logWeights.count
        d = dimension
        self.a = a
        self.s = s
        self.means = means
        dataVariances = variances
        shiftedMeans = means.map { a * $0 }
        let vars = variances.map { a * a * $0 + s * s }
        precondition(vars.allSatisfy { $0 > 0 }, "GaussianMixture: noised variance is 0 (signal scale \(a), noise std \(s))")
        inverseVariances = vars.map { 1 / $0 }
        let log2pi = Foundation.log(2 * Double.pi)
        var consts = [Double](repeating: 0, count: k)
        for c in 0..<k {
            var acc = 0.0
            for j in 0..<d { acc += log2pi + Foundation.log(vars[c * d + j]) }
            consts[c] = logWeights[c] - 0.5 * acc
        }
        logConstants = consts
    }

    /// Returns log p(x) and leaves the responsibilities γₖ(x) in `scratch` (count K).
    @inline(__always)
    func logDensity(_ x: UnsafeBufferPointer<Double>, scratch: inout [Double]) -> Double {
        var maxLog = -Double.infinity
        for c in 0..<k {
            var q = 0.0
            let base = c * d
            for j in 0..<d {
                let r = x[j] - shiftedMeans[base + j]
                q += r * r * inverseVariances[base + j]
            }
            let l = logConstants[c] - 0.5 * q
            scratch[c] = l
            if l > maxLog { maxLog = l }
        }
        var total = 0.0
        for c in 0..<k {
            let e = Foundation.exp(scratch[c] - maxLog)
            scratch[c] = e
            total += e
        }
        for c in 0..<k { scratch[c] /= total }
        return maxLog + Foundation.log(total)
    }

    func logDensity(_ x: [Double], scratch: inout [Double]) -> Double {
        x.withUnsafeBufferPointer { logDensity($0, scratch: &scratch) }
    }
}
