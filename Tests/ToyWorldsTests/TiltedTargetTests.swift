import Foundation
import RandomStreams
import Testing
import Models
import Rewards
import TensorCore
import ToyWorlds

/// Target mode weights by brute force on a 2-D grid: πₖ ∝ Σ_x γₖ(x)·p(x)·exp(r(x)/α), γ the data
/// responsibilities (so γₖp = wₖNₖ). Also returns the grid integral of the normalised target density.
func gridTargetModeWeights(_ target: TiltedTarget, box: ClosedRange<Double>, h: Double) -> (weights: [Double], normalisedMass: Double) {
    let m = target.mixture
    let n = Int((box.upperBound - box.lowerBound) / h)
    var acc = [Double](repeating: 0, count: m.componentCount)
    var mass = 0.0
    for i in 0..<n { for j in 0..<n {
        let x = [box.lowerBound + (Double(i) + 0.5) * h, box.lowerBound + (Double(j) + 0.5) * h]
        let logTarget = target.logDensity(at: x)
        let f = exp(logTarget)
        mass += f * h * h
        let gamma = m.responsibilities(at: x)
        for k in 0..<acc.count { acc[k] += gamma[k] * f }
    } }
    let total = acc.reduce(0, +)
    return (acc.map { $0 / total }, mass)
}

@Suite struct TiltedTargetTests {
    @Test(arguments: ["rare-mode-bump", "twin-rare-modes-flow", "rare-mode-constant"])
    func targetModeWeightsSumToOneAndMatchGridIntegration(name: String) throws {
        let s = try ToyScenario.builtin(named: name)
        let target = s.makeTarget()
        let w = s.targetModeWeights()
        #expect(abs(w.reduce(0, +) - 1) < 1e-12)
        let grid = gridTargetModeWeights(target, box: -6...6, h: 0.03)
        #expect(abs(grid.normalisedMass - 1) < 1e-6, "∫p* = \(grid.normalisedMass)")
        for k in 0..<w.count { #expect(abs(w[k] - grid.weights[k]) < 1e-6, "\(name) mode \(k): \(w[k]) vs \(grid.weights[k])") }
    }

    @Test func otherRewardKindsAndTemperaturesMatchGridIntegration() throws {
        let base = try ToyScenario.builtin(named: "twin-rare-modes-flow")
        for (reward, alpha) in [(ToyScenario.RewardSpec.linear(direction: [0.5, -1]), 0.7),
                                (.negativeSquaredDistance(center: [1, -1]), 1.5),
                                (.gaussianBump(center: [0, -2], width: 1, scale: 1), 0.3)] {
            var s = base
            s.reward = reward
            s.alpha = alpha
            let grid = gridTargetModeWeights(s.makeTarget(), box: -7...7, h: 0.03)
            let w = s.targetModeWeights()
            #expect(abs(grid.normalisedMass - 1) < 1e-6)
            for k in 0..<w.count { #expect(abs(w[k] - grid.weights[k]) < 1e-6, "\(reward.kind) mode \(k)") }
        }
        // A constant reward leaves the prior: target weights are the mixture weights at any α.
        var flat = base
        flat.reward = .constant(value: 3)
        let w = flat.targetModeWeights(alpha: 0.01)
        for (a, b) in zip(w, flat.makeMixture().weights) { #expect(abs(a - b) < 1e-12) }
    }

    @Test func builtinTargetsPutTheirMassWhereDocumented() throws {
        let rare = try ToyScenario.builtin(named: "rare-mode-bump").targetModeWeights()
        #expect(rare[3] > 0.98)
        let twin = try ToyScenario.builtin(named: "twin-rare-modes-flow").targetModeWeights()
        #expect(twin[4] > 0.4 && twin[5] > 0.4 && abs(twin[4] - twin[5]) < 1e-9)
        #expect(twin[0..<4].allSatisfy { $0 < 0.03 })
        #expect(try ToyScenario.builtin(named: "d64-linear-vp").targetModeWeights()[5] > 0.95)
        #expect(try ToyScenario.builtin(named: "d64-bump-flow").targetModeWeights()[5] > 0.9)
    }

    /// Search is meaningful on every rewarded built-in: the high-reward region (threshold per world) holds a
    /// few percent of the prior, so Best-of-4 seldom reaches it and Best-of-64 usually does. Estimated with
    /// exact prior samples (the exact denoiser reproduces the prior; see ModelsTests).
    @Test(arguments: [("rare-mode-bump", 0.5), ("twin-rare-modes-flow", 0.4), ("d64-linear-vp", 2.0), ("d64-bump-flow", 0.3)])
    func highRewardRegionIsRareUnderThePrior(name: String, threshold: Double) throws {
        let s = try ToyScenario.builtin(named: name)
        var rng = PhiloxStream(NoiseKey(seed: 99, purpose: .initialNoise))
        let n = 40_000
        let x = s.makeMixture().sample(componentUniforms: (0..<n).map { _ in Float(rng.nextUniform()) }, normals: rng.gaussianTensor(shape: [n, s.dimension]))
        let scores = try s.makeReward().scores(x)
        let p = Double(scores.filter { Double($0) >= threshold }.count) / Double(n)
        let bestOf4 = 1 - pow(1 - p, 4), bestOf64 = 1 - pow(1 - p, 64)
        #expect(bestOf4 < 0.2 && bestOf64 > 0.7, "\(name): p = \(p), P(best-of-4 hits) = \(bestOf4), P(best-of-64 hits) = \(bestOf64)")
    }

    @Test func modeCoverageOnAHandMadeSet() throws {
        // Constant reward: the target is the prior, weights [0.5, 0.25, 0.25].
        let s = try ToyScenario(name: "hand", dimension: 2, path: .vp, steps: 10, mixture: [
            .init(weight: 2, mean: [-3, 0], std: .isotropic(0.5)),
            .init(weight: 1, mean: [3, 0], std: .isotropic(0.5)),
            .init(weight: 1, mean: [0, 3], std: .isotropic(0.5)),
        ], reward: .constant(value: 1))
        // Three samples near mode 0 (one far out but still closest to it), one near mode 1, none near mode 2.
        let samples = Tensor(shape: [4, 2], scalars: [-3, 0, -2.5, 0.4, -9, -1, 3.2, -0.1])
        let c = s.modeCoverage(samples: samples)
        #expect(c.assignments == [0, 0, 0, 1])
        #expect(c.counts == [3, 1, 0])
        #expect(c.sampleFractions == [0.75, 0.25, 0])
        #expect(c.targetModes == [0, 1, 2])
        #expect(c.coveredTargetModes == [0, 1])
        #expect(abs(c.coverage - 2.0 / 3) < 1e-12)
        #expect(abs(c.totalVariation - 0.25) < 1e-12)
        // Threshold: modes under 5 % of the target are not "target modes".
        let skewed = ModeCoverage(assignments: [0, 0, 2], targetWeights: [0.9, 0.06, 0.04])
        #expect(skewed.targetModes == [0, 1])
        #expect(skewed.coverage == 0.5)
        #expect(abs(skewed.totalVariation - 0.5 * (abs(2.0 / 3 - 0.9) + 0.06 + abs(1.0 / 3 - 0.04))) < 1e-12)
        // No samples: nothing covered, TV = ½·Σπ = ½.
        let empty = s.modeCoverage(samples: Tensor(zeros: [0, 2]))
        #expect(empty.coverage == 0 && abs(empty.totalVariation - 0.5) < 1e-12)
    }
}
