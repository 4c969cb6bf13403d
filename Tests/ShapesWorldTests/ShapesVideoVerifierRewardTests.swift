import Foundation
import Imaging
import Rewards
import ShapesWorld
import TensorCore
import Testing

/// `shapes-video-verifier` through a registry that holds it (the catalog's registration is the lead's).
@Suite struct ShapesVideoVerifierRewardTests {
    let registry = RewardRegistry.standard.adding([ShapesVerifierReward.registryEntry, ShapesVideoVerifierReward.registryEntry])

    private func clip(_ objects: [MovingShape]) -> Tensor {
        ShapesRenderer().renderTensor(ShapesClip(imageSize: 64, frameCount: 9, objects: objects))
    }

    private let right = MovingShape(shape: .circle, color: .red, size: 16, startX: 12, startY: 20, velocityX: 3, visibleFrames: 0..<9)
    private let left = MovingShape(shape: .circle, color: .red, size: 16, startX: 50, startY: 20, velocityX: -3, visibleFrames: 0..<9)
    private let still = MovingShape(shape: .square, color: .blue, size: 16, startX: 30, startY: 48, visibleFrames: 0..<9)

    @Test func registryBuildsTheVerifierAndScoresConstraintFractions() throws {
        let entry = try #require(registry.entry("shapes-video-verifier"))
        #expect(!entry.needsModel && entry.needsPrompt)
        let reward = try registry.make("shapes-video-verifier", prompt: "a red circle moving right and a blue square staying still")
        #expect(reward.name == "shapes-video-verifier" && reward is ShapesVideoVerifierReward)
        let batch = Tensor.stack([clip([right, still]), clip([left, still]), clip([right]), clip([])])
        #expect(batch.shape == [4, 9, 3, 64, 64])
        #expect(try reward.scores(batch) == [1, 0.75, 0.5, 0])
        let verdicts = try #require(reward as? ShapesVideoVerifierReward).verdicts(batch)
        #expect(verdicts[1]?.failed.map(\.statement) == ["red circle moving right"])
        // Frames saved as PNGs and read back score the same (frames are rounded to 8 bits).
        let frames = try (0..<9).map { f in try PNG.decode(try PNG.encode(Image8(tensor: batch.row(1).row(f)))).tensor() }
        #expect(try reward.scores(Tensor.stack([Tensor.stack(frames)])) == [0.75])
    }

    @Test func imagesAndBadPromptsAreRefused() throws {
        let reward = try ShapesVideoVerifierReward(prompt: "a red circle moving right")
        do {
            _ = try reward.scores(Tensor(zeros: [2, 3, 64, 64]))
            Issue.record("scored an image batch")
        } catch let e as RewardError {
            guard case let .unsupportedSamples(name, shape, expected) = e else { Issue.record("\(e)"); return }
            #expect(name == "shapes-video-verifier" && shape == [2, 3, 64, 64])
            #expect(expected.contains("videos [N, F, 3, H, W]") && expected.contains("for images use shapes-verifier"))
        }
        #expect(throws: RewardError.self) { try reward.scores(Tensor(zeros: [2, 1, 3, 64, 64])) }
        #expect(reward.unscoredReasons(Tensor(zeros: [2, 3, 64, 64])).allSatisfy { $0?.contains("videos") == true })
        do {
            _ = try registry.make("shapes-video-verifier", prompt: "a red circle")
            Issue.record("built the video verifier for an image prompt")
        } catch let e as ShapesPromptError {
            #expect(e.description.contains("shapes video grammar"))
        }
        #expect(throws: RewardError.emptyPrompt(reward: "shapes-video-verifier")) { try registry.make("shapes-video-verifier", prompt: "") }
    }

    @Test func unreadableClipsScoreNaNWithAReason() throws {
        let reward = try ShapesVideoVerifierReward(prompt: "a red circle moving right")
        let good = clip([right])
        var bad = good
        bad.scalars[5 * 3 * 64 * 64 + 17] = .infinity
        let scores = try reward.scores(Tensor.stack([good, bad]))
        #expect(scores[0] == 1 && scores[1].isNaN)
        #expect(reward.unscoredReasons(Tensor.stack([good, bad])) == [nil, "the clip holds NaN or infinite values"])
        let tiny = Tensor(zeros: [1, 5, 3, 16, 16])
        #expect(try reward.scores(tiny)[0].isNaN)
        let reason = try #require(reward.unscoredReasons(tiny)[0])
        #expect(reason.contains("frame 0") && reason.contains("at least 32×32") && reason.contains("got 16×16"))
    }
}
