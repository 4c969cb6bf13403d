import Foundation
import TensorCore

/// One fully denoised sample that the reward scored, with where it came from.
public struct ScoredSample: Sendable, Codable, Equatable {
    /// Unique within one search, in the order samples were created.
    public var id: Int
    /// Generation (EvoSearch), iteration (zero-order, search over paths) or 0.
    public var generation: Int
    /// The individual this one was derived from, if any.
    public var parent: Int?
    /// How it was made: "initial", "elite", "mutation", "resampled", "neighbour", "branch", …
    public var origin: String
    /// The reward; `-infinity` when the reward returned NaN (see the result's warnings).
    public var reward: Float
    /// NFE spent by the search when this sample was scored.
    public var nfe: Int
    /// The fully denoised state (the latent, not the decoded pixels), flattened: `SearchResult.stateShape`.
    /// The trajectory's `decode` turns it into the sample the reward scored, so what a search keeps per sample
    /// is the latent's size whatever the image or video size.
    public var state: [Float]

    public init(id: Int, generation: Int, parent: Int?, origin: String, reward: Float, nfe: Int, state: [Float]) {
        self.id = id; self.generation = generation; self.parent = parent; self.origin = origin
        self.reward = reward; self.nfe = nfe; self.state = state
    }
}

/// Best reward found so far after a given NFE.
public struct CurvePoint: Sendable, Codable, Equatable {
    public var nfe: Int
    public var bestReward: Float
}

/// What a search returns: the best sample ever scored, the final population and the accounting.
public struct SearchResult: Sendable {
    public var method: String
    /// The NFE limit.
    public var budget: Int
    public var nfe: Int
    public var forwardPasses: Int
    public var rewardCalls: Int
    public var wallSeconds: Double
    /// Highest-reward fully denoised sample (ties: the earliest).
    public var best: ScoredSample
    /// The final population (EvoSearch's last generation, the particles, the beams, the kept paths …).
    public var population: [ScoredSample]
    /// Every fully denoised sample scored, in scoring order.
    public var history: [ScoredSample]
    public var curve: [CurvePoint]
    /// Non-fatal problems (NaN rewards, interruption), one line each.
    public var warnings: [String]
    /// The settings the strategy actually used (after deriving defaults), for reports.
    public var settings: [String: String]
    /// True when the search stopped early (Ctrl-C, or a failed model or reward call) and this is the best
    /// found so far.
    public var interrupted: Bool
    /// Why the search failed, when a model or reward call threw (`interrupted` is then true too).
    public var error: String? = nil
    /// Shape of one state (`ScoredSample.state`) and of one decoded sample, without the batch axis.
    public var stateShape: [Int] = []
    public var sampleShape: [Int] = []
    /// Wall time inside the model (denoiser evaluations and decoding) and inside the reward; the rest of
    /// `wallSeconds` is the search's own overhead.
    public var modelSeconds: Double = 0
    public var rewardSeconds: Double = 0

    /// Fraction of the wall time spent outside model and reward calls.
    public var overheadFraction: Double {
        wallSeconds > 0 ? max(0, wallSeconds - modelSeconds - rewardSeconds) / wallSeconds : 0
    }

    /// The states of `samples` as one batch `[samples.count] + stateShape`, ready for the trajectory's `decode`.
    public func states(of samples: [ScoredSample]) -> Tensor {
        Tensor(shape: [samples.count] + stateShape, scalars: samples.flatMap(\.state))
    }

    /// The `k` best scored samples, best first.
    public func top(_ k: Int) -> [ScoredSample] {
        Array(history.enumerated().sorted { a, b in
            a.element.reward != b.element.reward ? a.element.reward > b.element.reward : a.offset < b.offset
        }.prefix(k).map(\.element))
    }
}
