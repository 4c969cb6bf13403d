import Rewards
import TensorCore
import Testing

@Suite struct ImageStatisticRewardTests {
    @Test func statisticsOfHandMadeImages() throws {
        // Image 0: all gray 0.5. Image 1: left half pure red, right half pure green (2×2 pixels).
        let gray = [Float](repeating: 0.5, count: 12)
        let rg: [Float] = [1, 0, 1, 0,  0, 1, 0, 1,  0, 0, 0, 0]
        let x = Tensor(shape: [2, 3, 2, 2], scalars: gray + rg)
        #expect(try ImageStatisticReward(.brightness).scores(x) == [0.5, Float(4) / 12])
        let contrast = try ImageStatisticReward(.contrast).scores(x)
        #expect(contrast[0] == 0)
        #expect(abs(contrast[1] - Float((0.587 - 0.299) / 2)) < 1e-6)
        let color = try ImageStatisticReward(.colorfulness).scores(x)
        #expect(color[0] == 0)
        // rg = ±255 (σ 255, μ 0); yb = 127.5 everywhere (σ 0, μ 127.5): 255 + 0.3·127.5.
        #expect(abs(color[1] - Float(255 + 0.3 * 127.5)) < 1e-3)
    }
}
