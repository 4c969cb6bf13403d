import Foundation
import RandomStreams
import Testing
import Rewards
import TensorCore

/// log ∫ N(x; μ, diag σ²)·exp(r(x)/α) dx in 2-D by a midpoint rule on a fine grid (±9σ around μ, plus the
/// reward's region of interest when given).
func gridLogTiltedMass(_ r: any ToyReward, mean: [Double], std: [Double], alpha: Double, h: Double = 0.01,
                       box: (ClosedRange<Double>, ClosedRange<Double>)? = nil) -> Double {
    let bx = box?.0 ?? (mean[0] - 9 * std[0])...(mean[0] + 9 * std[0])
    let by = box?.1 ?? (mean[1] - 9 * std[1])...(mean[1] + 9 * std[1])
    let nx = Int((bx.upperBound - bx.lowerBound) / h), ny = Int((by.upperBound - by.lowerBound) / h)
    var logs = [Double]()
    logs.reserveCapacity(nx * ny)
    for i in 0..<nx { for j in 0..<ny {
        let x = [bx.lowerBound + (Double(i) + 0.5) * h, by.lowerBound + (Double(j) + 0.5) * h]
        var lp = 0.0
        for k in 0..<2 { lp += -pow(x[k] - mean[k], 2) / (2 * std[k] * std[k]) - log(std[k] * (2 * Double.pi).squareRoot()) }
        logs.append(lp + r.value(at: x) / alpha)
    } }
    let m = logs.max()!
    return m + log(logs.reduce(0) { $0 + exp($1 - m) } * h * h)
}

@Suite struct ToyRewardTests {
    @Test func valuesNamesAndScores() throws {
        let bump = GaussianBumpReward(center: [1, 2], width: 0.5, scale: 2)
        #expect(bump.name == "gaussian-bump")
        #expect(abs(bump.value(at: [1.5, 2]) - 2 * exp(-0.25 / 0.5)) < 1e-12)
        let x = Tensor(shape: [2, 2], scalars: [1, 2, 1.5, 2])
        #expect(try bump.scores(x) == [2, Float(2 * exp(-0.5))])
        let lin = LinearReward(direction: [2, -1])
        #expect(try lin.name == "linear" && lin.scores(x) == [0, 1])
        let nsd = NegativeSquaredDistanceReward(center: [1, 0])
        #expect(try nsd.name == "negative-squared-distance" && nsd.scores(x) == [-4, -4.25])
        let c = ConstantReward(value: 0.5)
        #expect(try c.name == "constant" && c.scores(Tensor(zeros: [3, 4, 4])) == [0.5, 0.5, 0.5])
        #expect(try c.scores(Tensor(zeros: [0, 2])) == [])
    }

    @Test(arguments: [0.05, 0.1, 0.5, 2.0])
    func tiltedMassesMatchGridQuadratureIn2D(alpha: Double) {
        let mean = [0.4, -0.3], std = [0.3, 0.5]
        let rewards: [any ToyReward] = [
            GaussianBumpReward(center: [0.6, 0.1], width: 0.4, scale: 1),   // bump on the Gaussian
            GaussianBumpReward(center: [2, -1], width: 0.6, scale: 1.5),    // bump in its tail
            GaussianBumpReward(center: [0, 0], width: 1, scale: 0),          // flat
            LinearReward(direction: [0.3, -0.2]),
            NegativeSquaredDistanceReward(center: [1, 1]),
            ConstantReward(value: -0.7),
        ]
        for r in rewards {
            let exact = r.logTiltedMass(mean: mean, std: std, alpha: alpha)
            // Tilted pieces can move far from μ (linear reward: by σ²a/α); integrate over a wide box.
            let grid = gridLogTiltedMass(r, mean: mean, std: std, alpha: alpha, h: 0.02, box: (-6...6, -6...6))
            #expect(abs(exact - grid) < 1e-6 * Swift.max(1, abs(exact)), "\(r.name) α=\(alpha): \(exact) vs grid \(grid)")
        }
    }

    @Test func bumpTiltedMassForLargeLambdaMatchesGrid() {
        // λ = scale/α = 200: the integrand is e^200-peaked at the bump; the series must still converge.
        let r = GaussianBumpReward(center: [0.2, 0.2], width: 0.3, scale: 4)
        let exact = r.logTiltedMass(mean: [0, 0], std: [0.4, 0.3], alpha: 0.02)
        let grid = gridLogTiltedMass(r, mean: [0, 0], std: [0.4, 0.3], alpha: 0.02, h: 0.004, box: (-1.5...1.5, -1.5...1.5))
        #expect(abs(exact - grid) < 1e-6 * abs(exact), "\(exact) vs \(grid)")
    }

    @Test func bumpTiltedMassInSixteenDimensionsMatchesMonteCarlo() {
        var rng = PhiloxStream(NoiseKey(seed: 5, purpose: .initialNoise))
        let d = 16
        let mean = (0..<d).map { _ in 0.3 * rng.nextGaussian() }, std = (0..<d).map { _ in 0.3 + 0.2 * rng.nextUniform() }
        let r = GaussianBumpReward(center: [Double](repeating: 0, count: d), width: 1.5, scale: 1)
        let alpha = 0.5
        let n = 200_000
        var sum = 0.0, sumSq = 0.0
        for _ in 0..<n {
            let x = (0..<d).map { mean[$0] + std[$0] * rng.nextGaussian() }
            let f = exp(r.value(at: x) / alpha)
            sum += f
            sumSq += f * f
        }
        let mc = sum / Double(n), se = (sumSq / Double(n) - mc * mc).squareRoot() / Double(n).squareRoot()
        let exact = exp(r.logTiltedMass(mean: mean, std: std, alpha: alpha))
        #expect(abs(exact - mc) < 4 * se, "series \(exact) vs Monte Carlo \(mc) ± \(se)")
    }

    @Test func closedFormsMatchHandValues() {
        // Linear: log E[exp(a·x/α)] = a·μ/α + ‖a‖²σ²/(2α²); 1-D sanity values.
        let lin = LinearReward(direction: [1])
        #expect(abs(lin.logTiltedMass(mean: [2], std: [0.5], alpha: 1) - (2 + 0.125)) < 1e-12)
        // Negative squared distance at μ = c: −½·log(1 + 2σ²/α).
        let nsd = NegativeSquaredDistanceReward(center: [0])
        #expect(abs(nsd.logTiltedMass(mean: [0], std: [1], alpha: 2) - (-0.5 * log(2.0))) < 1e-12)
        #expect(ConstantReward(value: 3).logTiltedMass(mean: [0, 0], std: [1, 1], alpha: 0.5) == 6)
        #expect(GaussianBumpReward(center: [5], width: 1, scale: 0).logTiltedMass(mean: [0], std: [1], alpha: 0.1) == 0)
    }
}
