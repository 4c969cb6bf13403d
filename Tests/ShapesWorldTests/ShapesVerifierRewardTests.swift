import Foundation
import Imaging
import Rewards
import ShapesWorld
import TensorCore
import Testing

/// `shapes-verifier` through the registry: built from the prompt, scores batches of decoded samples.
/// The standard rewards plus this world's verifier, as the catalog composes them.
let registry = RewardRegistry.standard.adding([ShapesVerifierReward.registryEntry])

@Suite struct ShapesVerifierRewardTests {
    private func sample(_ objects: [ShapeObject]) -> Tensor {
        ShapesRenderer().render(ShapesScene(imageSize: 64, objects: objects)).tensor()
    }

    @Test func registryBuildsTheVerifierAndScoresConstraintFractions() throws {
        let entry = try #require(registry.entry("shapes-verifier"))
        #expect(!entry.needsModel && entry.needsPrompt)
        let reward = try registry.make("shapes-verifier", prompt: "a red circle to the left of a blue square")
        #expect(reward.name == "shapes-verifier")
        #expect(reward is ShapesVerifierReward)
        let circle = ShapeObject(shape: .circle, color: .red, centerX: 15, centerY: 30, size: 16)
        let square = ShapeObject(shape: .square, color: .blue, centerX: 48, centerY: 30, size: 16)
        let swapped = [ShapeObject(shape: .circle, color: .red, centerX: 48, centerY: 30, size: 16),
                       ShapeObject(shape: .square, color: .blue, centerX: 15, centerY: 30, size: 16)]
        let batch = Tensor.stack([sample([circle, square]), sample(swapped), sample([circle]), sample([])])
        let scores = try reward.scores(batch)
        #expect(scores == [1, Float(2.0 / 3), Float(1.0 / 3), 0])
        // The same image saved as a PNG and read back scores the same (samples are rounded to 8 bits).
        let decoded = try PNG.decode(try PNG.encode(Image8(tensor: batch.row(1))))
        #expect(try reward.scores(Tensor.stack([decoded.tensor()])) == [scores[1]])
        // In a weighted sum like any other reward.
        let sum = try registry.make("shapes-verifier:2,brightness:0", prompt: "a red circle")
        #expect(try sum.scores(Tensor.stack([sample([circle])])) == [2])
    }

    @Test func badPromptsFailWhenTheRewardIsBuilt() {
        do {
            _ = try registry.make("shapes-verifier", prompt: "a orange hexagon next to a red circle")
            Issue.record("built shapes-verifier for a prompt outside the grammar")
        } catch let e as ShapesPromptError {
            #expect(e.unknownWords == ["orange", "hexagon", "next"])
        } catch { Issue.record("unexpected error \(error)") }
        #expect(throws: RewardError.emptyPrompt(reward: "shapes-verifier")) { try registry.make("shapes-verifier", prompt: " ") }
    }

    @Test func unreadableSamplesScoreNaN() throws {
        let reward = try ShapesVerifierReward(prompt: "a red circle")
        var t = sample([ShapeObject(shape: .circle, color: .red, centerX: 30, centerY: 30, size: 16)])
        let good = t
        t.scalars[100] = .nan
        let scores = try reward.scores(Tensor.stack([good, t]))
        #expect(scores[0] == 1 && scores[1].isNaN)
        let tiny = try reward.scores(Tensor(zeros: [2, 3, 16, 16]))
        #expect(tiny.count == 2 && tiny.allSatisfy { $0.isNaN }, "too small to judge")
        // And each NaN says why.
        let reasons = reward.unscoredReasons(Tensor.stack([good, t]))
        #expect(reasons[0] == nil)
        #expect(reasons[1] == "the image holds NaN or infinite values")
        let small = reward.unscoredReasons(Tensor(zeros: [1, 3, 16, 16]))
        #expect(small[0]?.contains("at least 32×32 pixels") == true && small[0]?.contains("got 16×16") == true)
    }
}
