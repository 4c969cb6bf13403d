import Rewards
import TensorCore
import Testing

/// Mean of each image's first value (an image reward that tells frames apart).
private struct FirstValueReward: Reward {
    let name = "first"
    func scores(_ samples: Tensor) throws -> [Float] {
        try requireImages(samples)
        return (0..<samples.rows).map { samples.row($0).scalars[0] }
    }
}

@Suite struct FrameAveragedRewardTests {
    @Test func framesAreEvenlySpacedWithBothEnds() {
        let r = FrameAveragedReward(FirstValueReward(), frames: 4)
        #expect(r.frameIndices(count: 17) == [0, 5, 11, 16])
        #expect(r.frameIndices(count: 3) == [0, 1, 2])
        #expect(FrameAveragedReward(FirstValueReward(), frames: 1).frameIndices(count: 9) == [4])
        #expect(FrameAveragedReward(FirstValueReward(), frames: 2).frameIndices(count: 9) == [0, 8])
    }

    /// A z-scored sum depends on its batch, averaged over frames too; a plain reward or sum does not.
    @Test func batchDependenceIsTheBaseRewards() {
        let zscored = WeightedSumReward([.init(reward: FirstValueReward(), weight: 1, zScore: true)])
        let plain = WeightedSumReward([.init(reward: FirstValueReward(), weight: 1)])
        #expect(zscored.dependsOnBatch && !plain.dependsOnBatch && !FirstValueReward().dependsOnBatch)
        #expect(FrameAveragedReward(zscored, frames: 3).dependsOnBatch)
        #expect(!FrameAveragedReward(plain, frames: 3).dependsOnBatch)
    }

    /// Two videos of 9 frames whose frame t holds the value 10·v + t: the score is the mean over frames 0, 4, 8.
    @Test func scoreIsTheMeanOverTheChosenFrames() throws {
        let (f, per) = (9, 3 * 2 * 2)
        var scalars = [Float]()
        for v in 0..<2 { for t in 0..<f { scalars += [Float](repeating: Float(10 * v + t), count: per) } }
        let videos = Tensor(shape: [2, f, 3, 2, 2], scalars: scalars)
        let r = FrameAveragedReward(FirstValueReward(), frames: 3)
        #expect(try r.scores(videos) == [4, 14])
        #expect(r.name == "first@3frames" && r.takes == .videos)
        #expect(throws: RewardError.self) { try r.scores(Tensor(zeros: [2, 3, 2, 2])) }
    }

    /// A reward must take what the model makes; an image reward is averaged over frames only when asked.
    @Test func rewardsAreFittedToTheModelsSamples() throws {
        let image = FirstValueReward()
        #expect(try FrameAveragedReward.fitted(image, to: .images, frameAverage: nil).name == "first")
        #expect(try FrameAveragedReward.fitted(image, to: .videos, frameAverage: 4).name == "first@4frames")
        let noFrames = #expect(throws: RewardError.self) { try FrameAveragedReward.fitted(image, to: .videos, frameAverage: nil) }
        #expect(noFrames?.description.contains("--frame-average") == true)
        let video = FrameAveragedReward(image, frames: 2)
        #expect(throws: RewardError.self) { try FrameAveragedReward.fitted(video, to: .images, frameAverage: nil) }
        #expect(throws: RewardError.self) { try FrameAveragedReward.fitted(video, to: .videos, frameAverage: 3) }
        #expect(throws: RewardError.self) { try FrameAveragedReward.fitted(image, to: .images, frameAverage: 3) }
        #expect(throws: RewardError.self) { try FrameAveragedReward.fitted(image, to: .videos, frameAverage: 0) }
        // A sum takes what all of its terms take.
        let sum = WeightedSumReward([.init(reward: image, weight: 1), .init(reward: video, weight: 1)])
        #expect(sum.takes.isEmpty)
    }
}
