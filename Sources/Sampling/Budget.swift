import Foundation

/// Counts the compute a search spends, against a hard limit in NFE.
///
/// One NFE is one denoiser evaluation of one sample (a classifier-free-guidance pair is one NFE and two
/// forward passes). Reward calls are counted per sample scored. Strategies ask `canAfford` before every
/// batch and never exceed `limit`.
public struct Budget: Sendable, Equatable {
    /// Maximum NFE the search may spend.
    public let limit: Int
    public private(set) var nfe: Int = 0
    public private(set) var forwardPasses: Int = 0
    public private(set) var rewardCalls: Int = 0

    public init(limit: Int) { self.limit = limit }

    public var remaining: Int { limit - nfe }
    public func canAfford(_ n: Int) -> Bool { nfe + n <= limit }

    /// Records `n` denoiser evaluations, each costing `passesPerNFE` forward passes (2 with CFG).
    public mutating func spend(nfe n: Int, passesPerNFE: Int = 1) {
        precondition(canAfford(n), "Budget: spending \(n) NFE would exceed the limit \(limit) (used \(nfe))")
        nfe += n
        forwardPasses += n * passesPerNFE
    }

    public mutating func countRewardCalls(_ n: Int) { rewardCalls += n }
}
