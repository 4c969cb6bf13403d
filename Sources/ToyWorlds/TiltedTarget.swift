import Foundation
import Models
import Rewards
import TensorCore

/// The reward-tilted target of a toy world, p*(x) = p(x)·exp(r(x)/α) / Z, for a Gaussian-mixture prior p.
///
/// This is the distribution a search "should" sample from at temperature α (small α: concentrate on high
/// reward; large α: stay close to the prior). Because each mixture component tilts in closed form
/// (`ToyReward.logTiltedMass`), p* is itself a mixture of K tilted pieces with exact masses:
///
///     target weight of mode k  πₖ = wₖ·Mₖ / Σⱼ wⱼ·Mⱼ,   Mₖ = ∫ N(x; μₖ, σₖ²)·exp(r(x)/α) dx
///
/// and log Z = log Σₖ wₖMₖ. "Mode k" means component k of the prior; the tilt can move a piece away from
/// μₖ (e.g. a linear reward shifts it by σₖ²a/α) but its mass is still counted as mode k's.
public struct TiltedTarget: Sendable {
    public let mixture: GaussianMixture
    public let reward: any ToyReward
    public let alpha: Double
    /// log wₖ + log Mₖ for every component.
    public let logModeMasses: [Double]
    /// log Z = log ∫ p(x)·exp(r(x)/α) dx.
    public let logNormalizer: Double

    /// Requires α finite and > 0 and the reward's dimension (if any) to match the mixture's.
    public init(mixture: GaussianMixture, reward: any ToyReward, alpha: Double) {
        precondition(alpha > 0 && alpha.isFinite, "TiltedTarget: alpha must be finite and > 0, got \(alpha)")
        if let d = reward.dimension {
            precondition(d == mixture.dimension, "TiltedTarget: reward dimension \(d) ≠ mixture dimension \(mixture.dimension)")
        }
        self.mixture = mixture
        self.reward = reward
        self.alpha = alpha
        let logs = (0..<mixture.componentCount).map { k in
            Foundation.log(mixture.components[k].weight)
                + reward.logTiltedMass(mean: mixture.components[k].mean, std: mixture.std(ofComponent: k), alpha: alpha)
        }
        logModeMasses = logs
        let m = logs.max() ?? 0
        logNormalizer = m + Foundation.log(logs.reduce(0.0) { $0 + Foundation.exp($1 - m) })
    }

    /// πₖ: the fraction of target mass belonging to each prior component (sums to 1).
    public var modeWeights: [Double] { logModeMasses.map { Foundation.exp($0 - logNormalizer) } }

    /// log p*(x) (normalised) at one point.
    public func logDensity(at x: [Double]) -> Double {
        mixture.logDensity(at: x) + reward.value(at: x) / alpha - logNormalizer
    }

    /// Mode coverage of a set of samples against this target (see `ModeCoverage`).
    public func modeCoverage(samples: Tensor, targetModeThreshold: Double = 0.05) -> ModeCoverage {
        ModeCoverage(assignments: mixture.mostResponsibleComponent(samples), targetWeights: modeWeights,
                     targetModeThreshold: targetModeThreshold)
    }
}

/// How a set of samples distributes over the prior's modes, compared with the tilted target.
///
/// - `assignments[i]`: the prior component with the largest responsibility γₖ(xᵢ) under the *data* mixture
///   (not the target), i.e. which mode sample i landed in.
/// - `sampleFractions[k]`: fraction of samples assigned to mode k (all 0 if there are no samples).
/// - `targetModes`: the modes whose target weight πₖ is ≥ `targetModeThreshold` (default 0.05) — the modes a
///   good sampler of p* should visit.
/// - `coverage`: fraction of target modes that received at least one sample (1 if a search found every mode
///   worth finding; meaningful for a final population, not for a single best sample).
/// - `totalVariation`: ½·Σₖ |sampleFractionsₖ − πₖ| ∈ [0, 1] over all modes: 0 when the mode histogram
///   matches the target exactly, 1 when every sample sits in modes the target gives no mass. Even exact
///   samples of p* leave sampling noise of order ½·Σₖ √(πₖ(1−πₖ)/n), so compare values at equal n.
///
/// Limits: it looks only at which mode a sample falls in, not where inside it (a sample at the edge of the
/// right mode counts fully), and "mode" means prior component, so overlapping components blur it.
public struct ModeCoverage: Sendable, Equatable {
    public let assignments: [Int]
    public let counts: [Int]
    public let sampleFractions: [Double]
    public let targetWeights: [Double]
    public let targetModeThreshold: Double
    public let targetModes: [Int]
    public let coveredTargetModes: [Int]
    public let coverage: Double
    public let totalVariation: Double

    /// Builds the summary from mode assignments (each in `0..<targetWeights.count`) and target weights.
    public init(assignments: [Int], targetWeights: [Double], targetModeThreshold: Double = 0.05) {
        let k = targetWeights.count
        var counts = [Int](repeating: 0, count: k)
        for a in assignments {
            precondition(a >= 0 && a < k, "ModeCoverage: assignment \(a) out of 0..<\(k)")
            counts[a] += 1
        }
        let n = assignments.count
        let fractions = counts.map { n == 0 ? 0 : Double($0) / Double(n) }
        let modes = (0..<k).filter { targetWeights[$0] >= targetModeThreshold }
        let covered = modes.filter { counts[$0] > 0 }
        self.assignments = assignments
        self.counts = counts
        self.sampleFractions = fractions
        self.targetWeights = targetWeights
        self.targetModeThreshold = targetModeThreshold
        self.targetModes = modes
        self.coveredTargetModes = covered
        self.coverage = modes.isEmpty ? 1 : Double(covered.count) / Double(modes.count)
        self.totalVariation = 0.5 * (0..<k).reduce(0.0) { $0 + abs(fractions[$1] - targetWeights[$1]) }
    }
}
