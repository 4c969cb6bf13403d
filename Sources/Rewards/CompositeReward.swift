import Foundation
import TensorCore

/// A weighted sum of rewards: score = Σ wᵢ·rᵢ(x), where rᵢ is a component's score or, for a z-scored component,
/// its z-score over the batch being scored: (rᵢ − mean)/std with the mean and (population) std of the batch's
/// finite scores of that component.
///
/// Z-scoring makes rewards of different scales comparable when a strategy only ranks or resamples within a
/// population, but it makes a sample's reward depend on the rest of its batch: the search engine scores at most
/// `--max-batch` samples per call, so set `--max-batch` to at least the population size for a population-wide
/// z-score, and read rewards of different generations as relative, not absolute. A component whose batch has
/// fewer than two finite scores, or no spread, contributes 0. NaN from any component makes the sum NaN.
public struct WeightedSumReward: Reward {
    public struct Term: Sendable {
        public let reward: any Reward
        public let weight: Float
        public let zScore: Bool
        public init(reward: any Reward, weight: Float, zScore: Bool = false) {
            self.reward = reward; self.weight = weight; self.zScore = zScore
        }
    }

    public let terms: [Term]
    public let name: String

    /// `name` defaults to the composite syntax of the terms ("clip:1,zscore(aesthetic):0.5").
    public init(_ terms: [Term], name: String? = nil) {
        precondition(!terms.isEmpty, "WeightedSumReward: no terms")
        self.terms = terms
        self.name = name ?? terms.map { t in
            let n = t.zScore ? "zscore(\(t.reward.name))" : t.reward.name
            return "\(n):\(formatWeight(t.weight))"
        }.joined(separator: ",")
    }

    /// True with a z-scored term.
    public var dependsOnBatch: Bool { terms.contains { $0.zScore } }

    /// What every term takes.
    public var takes: RewardInput { terms.reduce([.images, .videos]) { $0.intersection($1.reward.takes) } }

    public func scores(_ samples: Tensor) throws -> [Float] {
        let n = samples.rows
        if samples.count == 0 { return [] }
        var total = [Double](repeating: 0, count: n)
        for t in terms {
            var s = try t.reward.scores(samples)
            guard s.count == n else {
                throw RewardError.scoringFailed(reward: t.reward.name, reason: "returned \(s.count) scores for \(n) samples")
            }
            if t.zScore { s = WeightedSumReward.zScores(s) }
            for i in 0..<n { total[i] += Double(t.weight) * Double(s[i]) }
        }
        return total.map { Float($0) }
    }

    /// (x − mean)/std over the finite entries (population std); non-finite entries stay as they are; 0 for every
    /// finite entry when fewer than two are finite or they do not vary.
    public static func zScores(_ s: [Float]) -> [Float] {
        let finite = s.filter(\.isFinite).map(Double.init)
        guard finite.count >= 2 else { return s.map { $0.isFinite ? 0 : $0 } }
        let mean = finite.reduce(0, +) / Double(finite.count)
        let variance = finite.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(finite.count)
        let std = variance.squareRoot()
        guard std > 0 else { return s.map { $0.isFinite ? 0 : $0 } }
        return s.map { $0.isFinite ? Float((Double($0) - mean) / std) : $0 }
    }
}

func formatWeight(_ w: Float) -> String {
    w == w.rounded() && abs(w) < 1e6 ? String(Int(w)) : "\(w)"
}
