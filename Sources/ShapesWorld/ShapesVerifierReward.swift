import Foundation
import Rewards
import TensorCore

/// `shapes-verifier`: the exact verifier of the shapes world as a reward — the fraction of the prompt's
/// constraints an image satisfies, in [0, 1] (1 = every constraint holds). See `ShapesVerifier`,
/// `ShapesConstraints` and `ObjectDetector` for the rules.
///
/// The prompt is parsed when the reward is built, so a prompt outside the shapes grammar fails before any compute
/// with a `ShapesPromptError` naming what was understood and the unknown words. `scores` takes decoded images
/// `[N, 3, H, W]` in [0, 1]; each is rounded to 8 bits first (as its PNG would be), so `evosearch score` on a saved
/// sample gives the value the search recorded. An image the detector cannot read (a side under
/// `ObjectDetector.minimumSide` pixels, or any non-finite value) scores NaN, which the search ranks worst and
/// reports. Images are judged independently (spread over cores for large batches); no model, no state.
public struct ShapesVerifierReward: Reward {
    public let verifier: ShapesVerifier
    public var name: String { Self.registryName }

    public static let registryName = "shapes-verifier"

    /// The registry entry (`RewardRegistry.adding`): no model, needs the prompt.
    public static let registryEntry = RewardRegistry.Entry(
        name: registryName, summary: "exact verifier of the shapes world: fraction of the prompt's constraints met, no model",
        needsModel: false, needsPrompt: true) { context in
            try ShapesVerifierReward(prompt: context.requirePrompt(for: registryName))
        }

    public init(verifier: ShapesVerifier) { self.verifier = verifier }

    /// Parses `prompt`; throws `ShapesPromptError` if it is outside the shapes grammar.
    public init(prompt: String) throws {
        self.init(verifier: try ShapesVerifier(parsing: prompt))
    }

    public func scores(_ samples: Tensor) throws -> [Float] {
        try verdicts(samples).map { v in v.map { Float($0.fraction) } ?? .nan }
    }

    /// Why an image scores NaN: non-finite pixels, or the detector's error (too small, not RGB).
    public func unscoredReasons(_ samples: Tensor) -> [String?] {
        guard samples.rank == 4, samples.shape[1] == 3 else {
            return Array(repeating: "not an RGB image batch \(samples.shape)", count: samples.rank > 0 ? samples.shape[0] : 0)
        }
        let plane = samples.shape[2] * samples.shape[3]
        return (0..<samples.shape[0]).map { i -> String? in
            guard samples.scalars[(i * 3 * plane)..<((i + 1) * 3 * plane)].allSatisfy(\.isFinite) else {
                return "the image holds NaN or infinite values"
            }
            do { _ = try verifier.verify(batch: samples, index: i); return nil } catch { return "\(error)" }
        }
    }

    /// The full verdict per image (nil where the image cannot be judged; see the type's comment).
    public func verdicts(_ samples: Tensor) throws(RewardError) -> [ShapesVerdict?] {
        try requireImages(samples)
        let n = samples.shape[0], plane = samples.shape[2] * samples.shape[3]
        let out = VerdictSlots(count: n)
        let verifier = self.verifier
        Parallel.forRanges(n, costPerItem: 60 * plane) { range in
            for i in range {
                let image = samples.scalars[(i * 3 * plane)..<((i + 1) * 3 * plane)]
                guard image.allSatisfy(\.isFinite) else { continue }
                out.set(i, try? verifier.verify(batch: samples, index: i))
            }
        }
        return out.values
    }
}

/// Per-image results written from parallel workers (disjoint indices).
private final class VerdictSlots: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var values: [ShapesVerdict?]
    init(count: Int) { values = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ v: ShapesVerdict?) { lock.lock(); values[i] = v; lock.unlock() }
}
