import Foundation
import TensorCore

/// The exact denoiser of a `GaussianMixture` data distribution, in closed form (no network, no training).
///
/// Both paths write the noisy state as `x = a·x₀ + s·ε` with x₀ ~ mixture and ε ~ N(0, I). Given the
/// component k, (x₀, ε, x) are jointly Gaussian and axis-separable, so with vₖ = a²σₖ² + s² (per axis):
///
///     E[ε  | x, k] = s·(x − a·μₖ) / vₖ
///     E[x₀ | x, k] = μₖ + a·σₖ²·(x − a·μₖ) / vₖ
///
/// and the posterior over components is γₖ(x) ∝ wₖ·N(x; a·μₖ, vₖ) (log-sum-exp). The outputs are
/// Σₖ γₖ·(…) of these, evaluated in Float64:
/// - `.vp(alphasCumprod:)`: x_t = √ᾱ_t·x₀ + √(1−ᾱ_t)·ε, output ε̂ = E[ε | x_t] (diffusers' "epsilon"
///   prediction). The timestep t selects ᾱ_t = alphasCumprod[round(t)], clamped into the table. This equals
///   (x_t − √ᾱ·E[x₀|x_t]) / √(1−ᾱ) and −√(1−ᾱ)·∇log p_t(x_t).
/// - `.flow(trainTimesteps:)`: x_σ = (1−σ)·x₀ + σ·ε with σ = t / trainTimesteps (clamped to [0, 1]),
///   output the velocity v = E[ε − x₀ | x_σ] (diffusers' FlowMatch convention, dx/dσ). Per component this is
///   (s − a·σₖ²)·(x − a·μₖ)/vₖ − μₖ, which never divides by σ: it is finite for every σ ∈ [0, 1]; at σ = 1
///   it is x − E[x₀] (the mixture mean). Equivalently v = −(x + σ·∇log p_σ(x)) / (1−σ) for σ < 1.
///
/// Rows are independent; large batches are split across cores. Inputs are any shape `[N, …]` whose rows
/// hold `mixture.dimension` scalars; the output has the input's shape.
public struct GaussianMixtureDenoiser: Denoiser {
    /// The noising path and how a float timestep maps to a noise level.
    public enum Path: Sendable, Equatable {
        /// Variance preserving, with the scheduler's cumulative-alpha table indexed by training timestep.
        case vp(alphasCumprod: [Float])
        /// Rectified flow, σ = timestep / trainTimesteps.
        case flow(trainTimesteps: Int = 1000)
    }

    public let mixture: GaussianMixture
    public let path: Path

    /// `alphasCumprod` must be non-empty with entries in [0, 1]; `trainTimesteps` must be ≥ 1.
    public init(mixture: GaussianMixture, path: Path) {
        switch path {
        case .vp(let table):
            precondition(!table.isEmpty, "GaussianMixtureDenoiser: empty alphasCumprod table")
            precondition(table.allSatisfy { $0 >= 0 && $0 <= 1 }, "GaussianMixtureDenoiser: alphasCumprod entries must lie in [0, 1]")
        case .flow(let n):
            precondition(n >= 1, "GaussianMixtureDenoiser: trainTimesteps must be ≥ 1, got \(n)")
        }
        self.mixture = mixture
        self.path = path
    }

    /// The (signal scale a, noise std s) of `x = a·x₀ + s·ε` at a timestep.
    public func noiseLevel(timestep: Float) -> (signalScale: Double, noiseStd: Double) {
        switch path {
        case .vp(let table):
            let i = timestep.isFinite ? Swift.min(Swift.max(Int(timestep.rounded()), 0), table.count - 1) : (timestep > 0 ? table.count - 1 : 0)
            let alphaBar = Double(table[i])
            return (alphaBar.squareRoot(), (1 - alphaBar).squareRoot())
        case .flow(let n):
            let sigma = Swift.min(Swift.max(Double(timestep) / Double(n), 0), 1)
            return (1 - sigma, sigma)
        }
    }

    /// ε̂ for `.vp`, the velocity for `.flow` (see the type's documentation).
    /// Exact and quick: runs to the end whatever `cancellation` says.
    public func predict(_ x: Tensor, timestep: Float, cancellation: CancellationCheck) -> Tensor {
        predict(x, timestep: timestep)
    }

    public func predict(_ x: Tensor, timestep: Float) -> Tensor {
        switch path {
        case .vp: return evaluate(x, timestep: timestep, output: .epsilon)
        case .flow: return evaluate(x, timestep: timestep, output: .velocity)
        }
    }

    /// E[x₀ | x] at the timestep (the exact "x0 prediction"), same shape as `x`.
    public func posteriorMean(_ x: Tensor, timestep: Float) -> Tensor {
        evaluate(x, timestep: timestep, output: .cleanSample)
    }

    /// The exact VP timestep-0…(T−1) cumulative-alpha table of DDPM's "linear" beta schedule
    /// (β linearly spaced in [betaStart, betaEnd], ᾱ_t = Π(1−β)), computed in Float32 like diffusers.
    /// For tests and for callers that have no scheduler at hand.
    public static func linearBetaAlphasCumprod(trainTimesteps: Int = 1000, betaStart: Float = 0.0001, betaEnd: Float = 0.02) -> [Float] {
        precondition(trainTimesteps >= 1, "linearBetaAlphasCumprod: trainTimesteps must be ≥ 1")
        var out = [Float]()
        out.reserveCapacity(trainTimesteps)
        var acc: Float = 1
        for i in 0..<trainTimesteps {
            let beta = trainTimesteps == 1 ? betaStart : betaStart + (betaEnd - betaStart) * Float(i) / Float(trainTimesteps - 1)
            acc *= 1 - beta
            out.append(acc)
        }
        return out
    }

    // MARK: Kernel

    private enum Output { case epsilon, velocity, cleanSample }

    private struct OutputBuffer: @unchecked Sendable { let base: UnsafeMutablePointer<Float> }

    private func evaluate(_ x: Tensor, timestep: Float, output: Output) -> Tensor {
        let d = mixture.dimension
        precondition(x.count == 0 || x.rowSize == d,
                     "GaussianMixtureDenoiser: rows of \(x.shape) have \(x.rowSize) scalars, the mixture's dimension is \(d)")
        let n = x.count == 0 ? 0 : x.rows
        let (a, s) = noiseLevel(timestep: timestep)
        let kernel = NoisedKernel(mixture, signalScale: a, noiseStd: s)
        let input = x.scalars
        var out = [Float](repeating: 0, count: x.count)
        out.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            let target = OutputBuffer(base: base)
            Parallel.forRanges(n, costPerItem: 8 * kernel.k * d) { range in
                var gamma = [Double](repeating: 0, count: kernel.k)
                var row = [Double](repeating: 0, count: d)
                var acc = [Double](repeating: 0, count: d)
                for i in range {
                    for j in 0..<d { row[j] = Double(input[i * d + j]) }
                    _ = kernel.logDensity(row, scratch: &gamma)
                    for j in 0..<d { acc[j] = 0 }
                    for c in 0..<kernel.k {
                        let g = gamma[c]
                        if g == 0 { continue }
                        let base = c * d
                        for j in 0..<d {
                            let r = (row[j] - kernel.shiftedMeans[base + j]) * kernel.inverseVariances[base + j]
                            let term: Double
                            switch output {
                            case .epsilon:
                                term = s * r
                            case .velocity:
                                term = (s - a * kernel.dataVariances[base + j]) * r - kernel.means[base + j]
                            case .cleanSample:
                                term = kernel.means[base + j] + a * kernel.dataVariances[base + j] * r
                            }
                            acc[j] += g * term
                        }
                    }
                    for j in 0..<d { target.base[i * d + j] = Float(acc[j]) }
                }
            }
        }
        return Tensor(shape: x.shape, scalars: out)
    }
}
