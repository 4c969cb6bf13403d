import TensorCore

/// Scores a batch of decoded samples; higher is better.
///
/// `scores` takes `[N, …]` and returns N values. A reward may return NaN for a sample it cannot judge; the
/// search layer then treats that sample as the worst and reports it. One call on N rows counts as N reward
/// calls in the budget.
public protocol Reward: Sendable {
    /// Short registry name, e.g. "gaussian-bump".
    var name: String { get }
    func scores(_ samples: Tensor) -> [Float]
}
