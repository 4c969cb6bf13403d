import TensorCore

/// Scores a batch of decoded samples; higher is better.
///
/// `scores` takes `[N, …]` and returns N values. A reward may return NaN for a sample it cannot judge; the
/// search layer then treats that sample as the worst and reports it. One call on N rows counts as N reward
/// calls in the budget. `scores` throws when it cannot judge the batch at all (samples of a kind it does not
/// take, a model that failed); the search then stops, keeping what it found.
public protocol Reward: Sendable {
    /// Short registry name, e.g. "gaussian-bump".
    var name: String { get }
    /// What the reward scores: decoded images `[N, 3, H, W]`, videos `[N, F, 3, H, W]`, or both; a search checks
    /// it against the model's samples before any compute. Default: images.
    var takes: RewardInput { get }
    func scores(_ samples: Tensor) throws -> [Float]
    /// Why `scores` gives NaN for a sample, per sample (nil where it scores, or where the reward cannot say).
    func unscoredReasons(_ samples: Tensor) -> [String?]
    /// Whether a sample's score depends on the rest of the batch it is scored in (a z-scored sum), and so on a
    /// search's `maxBatch`. Default: false.
    var dependsOnBatch: Bool { get }
}

/// The kinds of decoded samples a reward scores.
public struct RewardInput: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    public static let images = RewardInput(rawValue: 1)
    public static let videos = RewardInput(rawValue: 2)

    public var description: String {
        switch self {
        case [.images, .videos]: "images and videos"
        case .images: "images"
        case .videos: "videos"
        default: "nothing"
        }
    }
}

extension Reward {
    public var takes: RewardInput { .images }
    public var dependsOnBatch: Bool { false }

    public func unscoredReasons(_ samples: Tensor) -> [String?] { Array(repeating: nil, count: samples.rank > 0 ? samples.shape[0] : 0) }

    /// Throws `RewardError.unsupportedSamples` unless `samples` are decoded RGB images `[N, 3, H, W]`.
    public func requireImages(_ samples: Tensor) throws(RewardError) {
        guard samples.rank == 4, samples.shape[1] == 3 else {
            throw .unsupportedSamples(reward: name, shape: samples.shape, expected: "decoded RGB images [N, 3, H, W]")
        }
    }

    /// Runs a model step of `scores`, turning its error into `RewardError.scoringFailed` (kept as is when it
    /// already is a `RewardError`).
    public func scoring<T>(_ body: () throws -> T) throws(RewardError) -> T {
        do { return try body() } catch let e as RewardError { throw e } catch {
            throw .scoringFailed(reward: name, reason: "\(error)")
        }
    }
}
