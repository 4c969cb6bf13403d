import Foundation
import Testing
import TensorCore
@testable import Schedulers

/// `renoise` must carry the exact forward marginal at `from` to the exact forward marginal at `to`, and keep
/// the right dependence on the clean sample. Checked with 1-D Gaussian data x₀ ~ N(μ, s²), for which every
/// marginal is Gaussian: x_i = a_i·x₀ + b_i·ε has mean a_i·μ, variance a_i²s² + b_i², Cov(x_i, x₀) = a_i·s².
@Suite("renoise")
struct RenoiseTests {
    static let mu: Float = 0.7
    static let s: Float = 0.5
    static let count = 60_000

    /// Forward coefficients (a_i, b_i) of state index i, written from each scheduler's own parameterisation.
    static func checkRenoise(_ scheduler: some DenoisingScheduler, label: String, seed: UInt64,
                             coefficients: (Int) -> (a: Float, b: Float),
                             sourceLocation: SourceLocation = #_sourceLocation) {
        let n = scheduler.stepCount
        let pairs = [(n, 0), (n, n / 2), (n / 2, 1), (n - 1, 0)]
        var rng = TestGaussian(seed: seed)
        for (from, to) in pairs {
            let clean = rng.normals(count).map { mu + s * $0 }
            let (af, bf) = coefficients(from)
            let eps = rng.normals(count)
            let start = Tensor(shape: [count, 1], scalars: zip(clean, eps).map { af * $0 + bf * $1 })
            let fresh = Tensor(shape: [count, 1], scalars: rng.normals(count))
            let out = scheduler.renoise(start, from: from, to: to, noise: fresh).scalars

            let (at, bt) = coefficients(to)
            let wantMean = Double(at * mu)
            let wantVar = Double(at * at * s * s + bt * bt)
            let wantCov = Double(at * s * s)
            let (mean, variance) = meanAndVariance(out)
            let cleanMean = clean.reduce(0.0) { $0 + Double($1) } / Double(count)
            var cov = 0.0
            for (x, c) in zip(out, clean) { cov += (Double(x) - mean) * (Double(c) - cleanMean) }
            cov /= Double(count - 1)
            let m = Double(count)
            let tag = "\(label) \(from)→\(to)"
            #expect(abs(mean - wantMean) <= 5 * (wantVar / m).squareRoot(), "\(tag): mean \(mean) vs \(wantMean)",
                    sourceLocation: sourceLocation)
            #expect(abs(variance - wantVar) <= 5 * wantVar * (2 / m).squareRoot(),
                    "\(tag): variance \(variance) vs \(wantVar)", sourceLocation: sourceLocation)
            let covSE = ((wantVar * Double(s * s) + wantCov * wantCov) / m).squareRoot()
            #expect(abs(cov - wantCov) <= 5 * covSE, "\(tag): Cov(x, x0) \(cov) vs \(wantCov)",
                    sourceLocation: sourceLocation)
        }
        // Renoising to the same index adds nothing.
        let x = Tensor(shape: [2, 3], scalars: [0.1, -0.4, 2.0, 0.3, 0.0, -1.1])
        let same = scheduler.renoise(x, from: n / 2, to: n / 2, noise: Tensor(repeating: 7, shape: [2, 3]))
        #expect(same.maxAbsDifference(x) <= 1e-6, "\(label): identity renoise", sourceLocation: sourceLocation)
    }

    @Test func ddpm() {
        let sched = DDPMScheduler(config: DDPMConfig(betaStart: 0.00085, betaEnd: 0.012, betaSchedule: .scaledLinear,
                                                     clipSample: false, stepsOffset: 1), numInferenceSteps: 10)
        Self.checkRenoise(sched, label: "DDPM", seed: 1) { i in
            let a = sched.alphaCumprod(atIndex: i)
            return (a.squareRoot(), (1 - a).squareRoot())
        }
    }

    @Test func ddimTrailingWithOffGridFinalLevel() {
        let sched = DDIMScheduler(config: DDIMConfig(betaSchedule: .squaredcosCapV2, clipSample: false,
                                                     timestepSpacing: .trailing), numInferenceSteps: 7, eta: 1)
        // With trailing spacing and 1000 mod 7 ≠ 0 the last step lands on training timestep 0, not ᾱ = 1.
        #expect(sched.alphaCumprod(atIndex: 7) == sched.noiseSchedule.alphasCumprod[0])
        Self.checkRenoise(sched, label: "DDIM", seed: 2) { i in
            let a = sched.alphaCumprod(atIndex: i)
            return (a.squareRoot(), (1 - a).squareRoot())
        }
    }

    @Test func euler() {
        let sched = EulerDiscreteScheduler(config: EulerDiscreteConfig(betaStart: 0.00085, betaEnd: 0.012,
                                                                       betaSchedule: .scaledLinear,
                                                                       timestepSpacing: .leading, stepsOffset: 1),
                                           numInferenceSteps: 10)
        Self.checkRenoise(sched, label: "Euler", seed: 3) { i in (1, sched.sigmas[i]) }
    }

    @Test func flowMatchEuler() throws {
        let sched = try FlowMatchEulerDiscreteScheduler(config: FlowMatchEulerDiscreteConfig(shift: 3), numInferenceSteps: 8)
        Self.checkRenoise(sched, label: "FlowMatchEuler", seed: 4) { i in (1 - sched.sigmas[i], sched.sigmas[i]) }
    }

    @Test func flowMatchSDE() {
        let sched = FlowMatchSDEScheduler(config: FlowMatchSDEConfig(flowShift: 3), numInferenceSteps: 8)
        Self.checkRenoise(sched, label: "FlowMatchSDE", seed: 5) { i in (1 - sched.sigmas[i], sched.sigmas[i]) }
    }
}
