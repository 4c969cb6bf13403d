import Foundation
import Remote
import Rewards
import Sampling
import Search
import StableDiffusion
import TensorCore
import Testing

/// The embedded shapes-clip served as a reward by tools/serve (transformers' CLIPModel and CLIPProcessor in PyTorch)
/// against our CLIPReward on the same directory with transformers' PIL preprocessing arithmetic (what the server's
/// CLIPProcessor picks without torchvision), so the two differ only by float rounding in the towers.
@Suite(.serialized, .enabled(if: SuiteServers.missing == nil,
                             "python3 cannot import mlserver, torch, diffusers and transformers (pip install -r tools/requirements.txt)"))
struct ServedRewardTests {
    static let clipDirectory = SuiteServers.repository.appendingPathComponent("models/shapes-clip")
    static let prompt = "a red circle to the left of a blue square"
    static let server = Result {
        try LoopbackModelServer(hosting: .reward(clipDirectory, kind: "clip"), model: "shapes-clip",
                                script: SuiteServers.repository.appendingPathComponent("tools/serve/serve.py").path)
    }
    /// Cosines are O(0.1–1); the towers in PyTorch and here agree to ~1e-6.
    static let tolerance: Float = 1e-4

    static func localReward() throws -> CLIPReward {
        let scorer = try CLIPScorer(directory: clipDirectory)
        var processor = scorer.processor
        processor.backend = .pil
        return try CLIPReward(kind: .clip, scorer: CLIPScorer(model: scorer.model, processor: processor, tokenizer: scorer.tokenizer),
                              prompt: prompt)
    }

    static func servedReward(policy: RemotePolicy = RemotePolicy()) throws -> RemoteReward {
        RemoteReward(try RemoteNetwork(endpoints: [server.get().endpoint], signature: .reward, policy: policy), prompt: prompt)
    }

    /// Random images of two sizes (one not square, so resize and crop both act) and a NaN pixel.
    static func images(_ n: Int, height: Int, width: Int, seed: UInt64) -> Tensor {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        let count = n * 3 * height * width
        let scalars = (0..<count).map { _ -> Float in
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return Float(state >> 40) / Float(1 << 24)
        }
        return Tensor(shape: [n, 3, height, width], scalars: scalars)
    }

    @Test func servedScoresAreTheLocalRewardsScores() throws {
        let local = try Self.localReward(), served = try Self.servedReward()
        #expect(served.name == "served:shapes-clip")
        for (n, h, w, seed) in [(3, 64, 64, UInt64(1)), (2, 48, 80, 2), (1, 64, 64, 3)] {
            var batch = Self.images(n, height: h, width: w, seed: seed)
            if seed == 3 {   // one NaN pixel: both sides show it as magenta before scoring
                var s = batch.scalars
                s[h * w + 5 * w + 7] = .nan
                batch = Tensor(shape: batch.shape, scalars: s)
            }
            let want = try local.scores(batch), got = try served.scores(batch)
            #expect(got.count == n)
            for (g, l) in zip(got, want) { #expect(abs(g - l) <= Self.tolerance, "served \(g), local \(l)") }
        }
        #expect(try served.scores(Tensor(shape: [0, 3, 8, 8], scalars: [])) == [])
    }

    @Test func aSearchGuidedByTheServedRewardIsTheLocalSearch() throws {
        let pipeline = try StableDiffusionPipeline(directory: SuiteServers.pipelineDirectory)
        let request = GenerationRequest(prompt: Self.prompt, guidance: 4, steps: 4, scheduler: "ddim", eta: 1)
        let trajectory = try pipeline.makeTrajectory(request)
        let options = SearchOptions(seed: 5, maxBatch: 8)
        let want = try BestOfN().search(trajectory, reward: Self.localReward(), budget: 32, options: options)
        let served = try Self.servedReward()
        let got = try BestOfN().search(trajectory, reward: served, budget: 32, options: options)
        #expect(got.error == nil && got.rewardCalls == want.rewardCalls && got.best.id == want.best.id)
        for (g, w) in zip(got.history, want.history) { #expect(abs(g.reward - w.reward) <= Self.tolerance) }
        #expect(served.network.statistics[0].rows == want.rewardCalls)
    }

    @Test func imagesOfTheWrongKindAreRefusedBeforeTheWire() throws {
        let served = try Self.servedReward()
        #expect(throws: RewardError.self) { try served.scores(Tensor(shape: [2, 4], scalars: Array(repeating: 0, count: 8))) }
        #expect(served.network.statistics[0].requests == 0)
    }

    /// A denoiser endpoint given as the reward: the metadata check names the endpoint and the missing tensor.
    @Test func aDenoiserIsNotAReward() throws {
        let unet = try SuiteServers.get().a.endpoint
        do {
            _ = try RemoteNetwork(endpoints: [unet], signature: .reward)
            Issue.record("a UNet passed the reward signature")
        } catch let error as RemoteModelError {
            #expect(error.kind == .metadataMismatch && error.description.hasPrefix(unet.description)
                    && error.description.contains("no input images"))
        }
    }
}
