import Foundation
import RandomStreams
import Testing
@testable import Models
import TensorCore

/// ∇ log of a mixture's density by central differences (Float64).
func finiteDifferenceScore(_ m: GaussianMixture, at x: [Double], h: Double = 1e-5) -> [Double] {
    (0..<x.count).map { j in
        var plus = x, minus = x
        plus[j] += h
        minus[j] -= h
        return (m.logDensity(at: plus) - m.logDensity(at: minus)) / (2 * h)
    }
}

/// Probe points (exactly representable in Float) spread around and between the modes.
let probePoints: [[Float]] = [[0.25, -0.5], [-2.125, 0.25], [1.75, 0.875], [0, 2.5], [3.5, -3], [-0.5, 1.25], [8, 8]]

@Suite struct GaussianMixtureDenoiserTests {
    let mixture = threeComponentMixture()
    let table = GaussianMixtureDenoiser.linearBetaAlphasCumprod()

    @Test func linearBetaTableMatchesDDPM() {
        #expect(table.count == 1000)
        #expect(abs(table[0] - 0.9999) < 1e-7)
        // Known value of the SD/DDPM linear schedule's last ᾱ (≈ 4.04e-5).
        #expect(abs(table[999] - 4.0358e-5) < 2e-7)
    }

    @Test(arguments: [0, 1, 120, 500, 880, 999])
    func vpEpsilonIsMinusNoiseStdTimesScore(t: Int) {
        let den = GaussianMixtureDenoiser(mixture: mixture, path: .vp(alphasCumprod: table))
        let alphaBar = Double(table[t])
        let noised = mixture.noisedVP(alphaBar: alphaBar)
        let x = Tensor(shape: [probePoints.count, 2], scalars: probePoints.flatMap { $0 })
        let eps = den.predict(x, timestep: Float(t))
        #expect(eps.shape == x.shape)
        for (i, p) in probePoints.enumerated() {
            let score = finiteDifferenceScore(noised, at: p.map(Double.init))
            for j in 0..<2 {
                let expected = -(1 - alphaBar).squareRoot() * score[j]
                let got = Double(eps.scalars[i * 2 + j])
                #expect(abs(got - expected) <= 2e-5 * Swift.max(1, abs(expected)), "t=\(t) point \(p) axis \(j): \(got) vs \(expected)")
            }
        }
    }

    @Test func vpTimestepIsRoundedAndClampedIntoTheTable() {
        let den = GaussianMixtureDenoiser(mixture: mixture, path: .vp(alphasCumprod: table))
        let x = Tensor(shape: [1, 2], scalars: [0.5, 0.5])
        #expect(den.predict(x, timestep: 500.4) == den.predict(x, timestep: 500))
        #expect(den.predict(x, timestep: 500.6) == den.predict(x, timestep: 501))
        #expect(den.predict(x, timestep: -3) == den.predict(x, timestep: 0))
        #expect(den.predict(x, timestep: 4000) == den.predict(x, timestep: 999))
        #expect(den.predict(x, timestep: 500) != den.predict(x, timestep: 501))
    }

    @Test(arguments: [0.001, 0.05, 0.3, 0.5, 0.8, 0.97])
    func flowVelocityMatchesScoreIdentity(sigma: Double) {
        // v = E[ε − x₀ | x] = −(x + σ·∇log p_σ(x)) / (1 − σ) for σ < 1.
        let den = GaussianMixtureDenoiser(mixture: mixture, path: .flow())
        let timestep = Float(sigma * 1000)
        let s = Double(timestep) / 1000
        let noised = mixture.noisedFlow(sigma: s)
        let x = Tensor(shape: [probePoints.count, 2], scalars: probePoints.flatMap { $0 })
        let v = den.predict(x, timestep: timestep)
        for (i, p) in probePoints.enumerated() {
            let xd = p.map(Double.init)
            let score = finiteDifferenceScore(noised, at: xd, h: 1e-6)
            for j in 0..<2 {
                let expected = -(xd[j] + s * score[j]) / (1 - s)
                let got = Double(v.scalars[i * 2 + j])
                #expect(abs(got - expected) <= 5e-5 * Swift.max(1, abs(expected)), "σ=\(s) point \(p) axis \(j): \(got) vs \(expected)")
            }
        }
    }

    @Test func flowVelocityIsFiniteAtSigmaOneAndEqualsXMinusMixtureMean() {
        let den = GaussianMixtureDenoiser(mixture: mixture, path: .flow(trainTimesteps: 1000))
        let x = Tensor(shape: [probePoints.count, 2], scalars: probePoints.flatMap { $0 })
        let v = den.predict(x, timestep: 1000)
        let mean = mixture.mean
        for (i, p) in probePoints.enumerated() {
            for j in 0..<2 {
                #expect(v.scalars[i * 2 + j].isFinite)
                #expect(abs(Double(v.scalars[i * 2 + j]) - (Double(p[j]) - mean[j])) < 1e-5)
            }
        }
        // Near σ = 0 the velocity stays finite too, and beyond the range it is clamped.
        #expect(den.predict(x, timestep: 0).scalars.allSatisfy { $0.isFinite })
        #expect(den.predict(x, timestep: 1500) == v)
    }

    @Test func singleIsotropicComponentIsLinearInX() {
        // One component N(μ, s0²I): E[x₀|x] = μ + a·s0²/(a²s0² + s²)·(x − aμ) by Gaussian conditioning;
        // E[ε|x] = (x − a·E[x₀|x])/s, v = E[ε|x] − E[x₀|x] (the textbook route, which divides by s).
        let mu: [Double] = [1.5, -0.5, 0.25], s0 = 0.7
        let m = try! GaussianMixture(dimension: 3, components: [.init(weight: 3, mean: mu, std: .isotropic(s0))])
        let x = Tensor(shape: [2, 3], scalars: [0.5, 1, -2, 3, 0, 0.75])
        for (path, timestep) in [(GaussianMixtureDenoiser.Path.vp(alphasCumprod: table), Float(300)), (.flow(), Float(400))] {
            let den = GaussianMixtureDenoiser(mixture: m, path: path)
            let (a, s) = den.noiseLevel(timestep: timestep)
            let out = den.predict(x, timestep: timestep)
            let x0hat = den.posteriorMean(x, timestep: timestep)
            for i in 0..<2 { for j in 0..<3 {
                let xv = Double(x.scalars[i * 3 + j])
                let ex0 = mu[j] + a * s0 * s0 / (a * a * s0 * s0 + s * s) * (xv - a * mu[j])
                let eeps = (xv - a * ex0) / s
                let expected: Double
                if case .vp = path { expected = eeps } else { expected = eeps - ex0 }
                #expect(abs(Double(out.scalars[i * 3 + j]) - expected) < 1e-5)
                #expect(abs(Double(x0hat.scalars[i * 3 + j]) - ex0) < 1e-5)
            } }
        }
    }

    @Test func posteriorMeanMatchesSelfNormalisedImportanceSampling() {
        // E[x₀ | x] = ∫ x₀ p(x₀) N(x; a x₀, s²) dx₀ / ∫ p(x₀) N(x; a x₀, s²) dx₀, estimated with prior samples.
        var rng = PhiloxStream(NoiseKey(seed: 7, purpose: .initialNoise))
        let n = 200_000
        let x0 = mixture.sample(componentUniforms: (0..<n).map { _ in Float(rng.nextUniform()) }, normals: rng.gaussianTensor(shape: [n, 2]))
        for (den, t) in [(GaussianMixtureDenoiser(mixture: mixture, path: .flow()), Float(600)),
                         (GaussianMixtureDenoiser(mixture: mixture, path: .vp(alphasCumprod: table)), Float(400))] {
            let (a, s) = den.noiseLevel(timestep: t)
            for p in [[0.25, 0.5], [-1.0, 0.0], [0.5, 1.5]] as [[Double]] {
                var wsum = 0.0, w2 = 0.0, acc = [0.0, 0.0]
                for i in 0..<n {
                    let d0 = p[0] - a * Double(x0.scalars[2 * i]), d1 = p[1] - a * Double(x0.scalars[2 * i + 1])
                    let w = exp(-(d0 * d0 + d1 * d1) / (2 * s * s))
                    wsum += w
                    w2 += w * w
                    acc[0] += w * Double(x0.scalars[2 * i])
                    acc[1] += w * Double(x0.scalars[2 * i + 1])
                }
                let ess = wsum * wsum / w2
                #expect(ess > 1000)
                let got = den.posteriorMean(Tensor(shape: [1, 2], scalars: p.map(Float.init)), timestep: t)
                for j in 0..<2 {
                    // Posterior std is at most the prior's spread (< 2.5); 5 standard errors.
                    #expect(abs(Double(got.scalars[j]) - acc[j] / wsum) < 5 * 2.5 / ess.squareRoot(), "t=\(t) x=\(p)")
                }
            }
        }
    }

    /// Deterministic samplers written out here (no scheduler dependency): DDIM η = 0 on `table` and Euler on
    /// the flow ODE. With the exact denoiser both must reproduce the mixture's mode weights.
    @Test(arguments: ["vp", "flow"])
    func samplingWithTheExactDenoiserReproducesTheMixture(path: String) {
        var rng = PhiloxStream(NoiseKey(seed: 11, purpose: .initialNoise))
        let n = 4000, steps = 60
        var x = rng.gaussianTensor(shape: [n, 2])
        if path == "vp" {
            let den = GaussianMixtureDenoiser(mixture: mixture, path: .vp(alphasCumprod: table))
            let ts = (0..<steps).map { 999 - $0 * 1000 / steps }  // 999, 983, …
            for (i, t) in ts.enumerated() {
                let eps = den.predict(x, timestep: Float(t))
                let ab = table[t], abPrev: Float = i + 1 < steps ? table[ts[i + 1]] : 1
                let x0 = (x - eps * (1 - ab).squareRoot()) / ab.squareRoot()
                x = x0 * abPrev.squareRoot() + eps * (1 - abPrev).squareRoot()
            }
        } else {
            let den = GaussianMixtureDenoiser(mixture: mixture, path: .flow())
            for i in 0..<steps {
                let sigma = 1 - Float(i) / Float(steps), next = 1 - Float(i + 1) / Float(steps)
                let v = den.predict(x, timestep: sigma * 1000)
                x = x + v * (next - sigma)
            }
        }
        let assignment = mixture.mostResponsibleComponent(x)
        for k in 0..<3 {
            let frac = Double(assignment.filter { $0 == k }.count) / Double(n)
            let w = mixture.weights[k]
            #expect(abs(frac - w) < 4 * (w * (1 - w) / Double(n)).squareRoot() + 0.01, "\(path) mode \(k): \(frac) vs \(w)")
        }
        // Samples land inside their mode: mean within-mode squared Mahalanobis distance ≈ dimension (2).
        var maha = 0.0
        for i in 0..<n {
            let k = assignment[i], c = mixture.components[k], s = mixture.std(ofComponent: k)
            for j in 0..<2 { maha += pow((Double(x.scalars[2 * i + j]) - c.mean[j]) / s[j], 2) }
        }
        #expect(abs(maha / Double(n) - 2) < 0.25, "\(path): mean Mahalanobis² \(maha / Double(n))")
    }

    @Test func largeBatchesSplitAcrossCoresGiveTheSameRows() {
        var rng = PhiloxStream(NoiseKey(seed: 3, purpose: .initialNoise))
        let d = 64
        let comps = (0..<8).map { k in
            GaussianMixture.Component(weight: Double(k + 1), mean: (0..<d).map { _ in rng.nextGaussian() }, std: .isotropic(0.5 + 0.1 * Double(k)))
        }
        let m = try! GaussianMixture(dimension: d, components: comps)
        let den = GaussianMixtureDenoiser(mixture: m, path: .flow())
        let x = rng.gaussianTensor(shape: [600, d]).reshaped([600, 1, d])
        let batch = den.predict(x, timestep: 350)
        #expect(batch.shape == [600, 1, d])
        for i in stride(from: 0, to: 600, by: 37) {
            #expect(den.predict(x.gatherRows([i]), timestep: 350).scalars == batch.row(i).scalars)
        }
    }
}
