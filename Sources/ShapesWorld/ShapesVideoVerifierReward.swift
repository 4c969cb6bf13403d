import Foundation
import Rewards
import TensorCore

/// `shapes-video-verifier`: the exact verifier of the moving-shapes world as a reward — the fraction of the video
/// prompt's constraints a clip satisfies, in [0, 1]. See `ShapesVideoVerifier`, `ShapesVideoConstraints`,
/// `ObjectTracker` and `ObjectDetector` for the rules.
///
/// The prompt is parsed when the reward is built (outside the video grammar → `ShapesPromptError`, before any
/// compute). `scores` takes decoded videos `[N, F, 3, H, W]` in [0, 1] (the Wan pipeline's samples, `[F, 3, H, W]`
/// each) with F ≥ 2; images `[N, 3, H, W]` or any other shape throw `RewardError.unsupportedSamples`. Frames are
/// rounded to 8 bits first, as their PNGs would be. A clip holding a non-finite value, or whose frames the
/// detector cannot read (a side under `ObjectDetector.minimumSide`), scores NaN, explained by `unscoredReasons`.
/// Clips are judged independently (spread over cores); no model, no state.
public struct ShapesVideoVerifierReward: Reward {
    public let verifier: ShapesVideoVerifier
    public var name: String { Self.registryName }
    public var takes: RewardInput { .videos }

    public static let registryName = "shapes-video-verifier"

    /// The registry entry (`RewardRegistry.adding`): no model, needs the prompt.
    public static let registryEntry = RewardRegistry.Entry(
        name: registryName, summary: "exact verifier of the moving-shapes world: fraction of the video prompt's constraints met, no model",
        needsModel: false, needsPrompt: true) { context in
            try ShapesVideoVerifierReward(prompt: context.requirePrompt(for: registryName))
        }

    public init(verifier: ShapesVideoVerifier) { self.verifier = verifier }

    /// Parses `prompt`; throws `ShapesPromptError` if it is outside the video grammar.
    public init(prompt: String) throws {
        self.init(verifier: try ShapesVideoVerifier(parsing: prompt))
    }

    public func scores(_ samples: Tensor) throws -> [Float] {
        try verdicts(samples).map { v in v.map { Float($0.fraction) } ?? .nan }
    }

    /// Throws unless `samples` are videos `[N, F, 3, H, W]` with F ≥ 2.
    public func requireVideos(_ samples: Tensor) throws(RewardError) {
        guard samples.rank == 5, samples.shape[2] == 3, samples.shape[1] >= 2 else {
            throw .unsupportedSamples(reward: name, shape: samples.shape,
                                      expected: "decoded RGB videos [N, F, 3, H, W] with F ≥ 2 frames (it judges motion over a clip; for images use shapes-verifier)")
        }
    }

    /// Why a clip scores NaN: non-finite values, or a frame the detector cannot read.
    public func unscoredReasons(_ samples: Tensor) -> [String?] {
        let n = samples.rank > 0 ? samples.shape[0] : 0
        do { try requireVideos(samples) } catch { return Array(repeating: "\(error)", count: n) }
        let clip = samples.count / max(n, 1)
        return (0..<n).map { i -> String? in
            guard samples.scalars[(i * clip)..<((i + 1) * clip)].allSatisfy(\.isFinite) else {
                return "the clip holds NaN or infinite values"
            }
            do { _ = try verifier.verify(batch: samples, index: i); return nil } catch { return "\(error)" }
        }
    }

    /// The full verdict per clip (nil where the clip cannot be judged; see the type's comment).
    public func verdicts(_ samples: Tensor) throws(RewardError) -> [ShapesVideoVerdict?] {
        try requireVideos(samples)
        let n = samples.shape[0], clip = samples.count / max(n, 1)
        let out = VideoVerdictSlots(count: n)
        let verifier = self.verifier
        Parallel.forRanges(n, costPerItem: 20 * clip) { range in
            for i in range {
                guard samples.scalars[(i * clip)..<((i + 1) * clip)].allSatisfy(\.isFinite) else { continue }
                out.set(i, try? verifier.verify(batch: samples, index: i))
            }
        }
        return out.values
    }
}

/// Per-clip results written from parallel workers (disjoint indices).
private final class VideoVerdictSlots: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var values: [ShapesVideoVerdict?]
    init(count: Int) { values = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ v: ShapesVideoVerdict?) { lock.lock(); values[i] = v; lock.unlock() }
}
