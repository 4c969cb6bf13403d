import Foundation
import Testing
@testable import Models
import TensorCore

/// A 2-D mixture with unequal weights, an isotropic and two diagonal components.
func threeComponentMixture() -> GaussianMixture {
    try! GaussianMixture(dimension: 2, components: [
        .init(weight: 2, mean: [-2, 0], std: .isotropic(0.3)),
        .init(weight: 1, mean: [2, 0.5], std: .diagonal([0.3, 0.6])),
        .init(weight: 1, mean: [0, 2.5], std: .diagonal([0.8, 0.25])),
    ])
}

@Suite struct GaussianMixtureTests {
    @Test func validationNamesTheField() {
        func error(_ d: Int, _ comps: [GaussianMixture.Component]) -> String? {
            do { _ = try GaussianMixture(dimension: d, components: comps); return nil } catch { return error.description }
        }
        let ok = GaussianMixture.Component(weight: 1, mean: [0, 0], std: .isotropic(1))
        #expect(error(2, []) == "GaussianMixture: components is empty; give at least one component")
        #expect(error(0, [ok]) == "GaussianMixture: dimension must be ≥ 1, got 0")
        #expect(error(2, [ok, .init(weight: 0, mean: [0, 0], std: .isotropic(1))])
                == "GaussianMixture: components[1].weight must be a finite number > 0, got 0.0")
        #expect(error(2, [ok, .init(weight: 1, mean: [0, 0, 1], std: .isotropic(1))])
                == "GaussianMixture: components[1].mean has 3 entries, dimension is 2")
        #expect(error(2, [.init(weight: 1, mean: [0, .nan], std: .isotropic(1))])
                == "GaussianMixture: components[0].mean[1] must be finite, got nan")
        #expect(error(2, [.init(weight: 1, mean: [0, 0], std: .isotropic(-1))])
                == "GaussianMixture: components[0].std must be a finite number > 0, got -1.0")
        #expect(error(2, [.init(weight: 1, mean: [0, 0], std: .diagonal([1]))])
                == "GaussianMixture: components[0].std has 1 entries, dimension is 2")
        #expect(error(2, [.init(weight: 1, mean: [0, 0], std: .diagonal([1, 0]))])
                == "GaussianMixture: components[0].std[1] must be a finite number > 0, got 0.0")
        #expect(error(2, [ok]) == nil)
    }

    @Test func weightsAreNormalisedAndMeanIsWeighted() {
        let m = threeComponentMixture()
        #expect(m.weights == [0.5, 0.25, 0.25])
        #expect(abs(m.mean[0] - (-1 + 0.5 + 0)) < 1e-12)
        #expect(abs(m.mean[1] - (0 + 0.125 + 0.625)) < 1e-12)
    }

    @Test func logDensityMatchesDirectFormulaAndIntegratesToOne() {
        let m = threeComponentMixture()
        // Direct evaluation at a few points.
        for p in [[0.3, -0.2], [-2.1, 0.1], [5.0, 5.0]] {
            var direct = 0.0
            for (k, c) in m.components.enumerated() {
                let s = m.std(ofComponent: k)
                var dens = c.weight
                for j in 0..<2 {
                    dens *= exp(-pow(p[j] - c.mean[j], 2) / (2 * s[j] * s[j])) / (s[j] * (2 * Double.pi).squareRoot())
                }
                direct += dens
            }
            #expect(abs(m.logDensity(at: p) - log(direct)) < 1e-10)
        }
        // Riemann sum over a grid covering the mass.
        let h = 0.02
        var total = 0.0
        for i in 0..<500 { for j in 0..<400 {
            total += exp(m.logDensity(at: [-5 + (Double(i) + 0.5) * h, -2 + (Double(j) + 0.5) * h])) * h * h
        } }
        #expect(abs(total - 1) < 1e-4)
        // Batched form agrees with the pointwise one.
        let x = Tensor(shape: [2, 2], scalars: [0.25, -0.5, 2, 0.5])
        let batch = m.logDensity(x)
        #expect(abs(batch[0] - m.logDensity(at: [0.25, -0.5])) < 1e-12)
        #expect(abs(batch[1] - m.logDensity(at: [2, 0.5])) < 1e-12)
    }

    @Test func logDensityIsStableFarFromEveryMode() {
        let single = try! GaussianMixture(dimension: 1, components: [.init(weight: 1, mean: [0], std: .isotropic(0.1))])
        let x = 1000.0
        let expected = -x * x / (2 * 0.01) - log(0.1) - 0.5 * log(2 * Double.pi)
        #expect(abs(single.logDensity(at: [x]) - expected) < 1e-6 * abs(expected))
        let m = threeComponentMixture()
        let far = m.logDensity(at: [300, -400])
        #expect(far.isFinite && far < -1e5)
        let r = m.responsibilities(at: [300, -400])
        #expect(r.allSatisfy { $0.isFinite } && abs(r.reduce(0, +) - 1) < 1e-12)
    }

    @Test func responsibilitiesAndAssignments() {
        let m = threeComponentMixture()
        let x = Tensor(shape: [4, 2], scalars: [-2, 0, 2.1, 0.4, 0, 2.4, 0, 0.9])
        let r = m.responsibilities(x)
        for row in r { #expect(abs(row.reduce(0, +) - 1) < 1e-12) }
        #expect(m.mostResponsibleComponent(x).prefix(3) == [0, 1, 2])
        // Ratio of responsibilities is the ratio of weighted component densities.
        let p = [0.0, 0.9]
        let rr = m.responsibilities(at: p)
        func logComp(_ k: Int) -> Double {
            let c = m.components[k], s = m.std(ofComponent: k)
            var acc = log(c.weight)
            for j in 0..<2 {
                let z = (p[j] - c.mean[j]) / s[j]
                acc -= 0.5 * z * z + log(s[j])
            }
            return acc
        }
        #expect(abs(log(rr[1] / rr[2]) - (logComp(1) - logComp(2))) < 1e-9)
    }

    @Test func sampleUsesTheGivenRandomness() {
        let m = threeComponentMixture()  // cumulative weights 0.5, 0.75, 1
        let z = Tensor(shape: [4, 2], scalars: [1, -1, 0, 0, 2, 1, 0.5, 0.5])
        let x = m.sample(componentUniforms: [0.1, 0.5, 0.74, 0.999], normals: z)
        let expected: [Float] = [-2 + 0.3, -0.3, 2, 0.5, 2 + 0.6, 0.5 + 0.6, 0 + 0.4, 2.5 + 0.125]
        #expect(x.shape == [4, 2])
        #expect(x.maxAbsDifference(Tensor(shape: [4, 2], scalars: expected)) < 1e-6)
    }

    @Test func noisedMarginalScalesMeansAndAddsVariance() {
        let m = threeComponentMixture()
        let n = m.noisedVP(alphaBar: 0.64)
        #expect(n.components[1].mean == [1.6, 0.4])
        #expect(n.weights == m.weights)
        let s = n.std(ofComponent: 1)
        #expect(abs(s[0] - (0.64 * 0.09 + 0.36).squareRoot()) < 1e-12)
        #expect(abs(s[1] - (0.64 * 0.36 + 0.36).squareRoot()) < 1e-12)
        let f = m.noisedFlow(sigma: 1)
        for k in 0..<3 { #expect(f.components[k].mean == [0, 0] && f.std(ofComponent: k) == [1, 1]) }
        if case .isotropic(let v) = m.noisedFlow(sigma: 0.5).components[0].std {
            #expect(abs(v - (0.25 * 0.09 + 0.25).squareRoot()) < 1e-12)
        } else {
            Issue.record("isotropic std should stay isotropic")
        }
    }
}
