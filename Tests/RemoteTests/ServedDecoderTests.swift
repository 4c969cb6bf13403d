import Foundation
import Remote
import Rewards
import Sampling
import Search
import StableDiffusion
import TensorCore
import Testing

/// shapes-sd-small's VAE decoder served by tools/serve (diffusers' AutoencoderKL in PyTorch) in place of the local
/// decode: the images agree to float rounding, and a search decoded remotely is the local search.
@Suite(.serialized, .enabled(if: SuiteServers.missing == nil,
                             "python3 cannot import mlserver, torch, diffusers and transformers (pip install -r tools/requirements.txt)"))
struct ServedDecoderTests {
    static let server = Result {
        try LoopbackModelServer(hosting: .decoder(SuiteServers.pipelineDirectory), model: "shapes-sd-small-vae",
                                script: SuiteServers.repository.appendingPathComponent("tools/serve/serve.py").path)
    }
    static let request = GenerationRequest(prompt: "a purple circle above a green triangle", guidance: 4, steps: 4, scheduler: "ddim", eta: 1)
    /// Pixels are in [0, 1]; our VAE and diffusers' agree to ~1e-5.
    static let tolerance: Float = 1e-3

    @Test func servedDecodingGivesTheLocalImagesAndSearch() throws {
        let pipeline = try StableDiffusionPipeline(directory: SuiteServers.pipelineDirectory)
        let local = try pipeline.makeTrajectory(Self.request)
        let served = try RemotelyDecodedTrajectory(local, endpoints: [Self.server.get().endpoint])
        let latents = Tensor(shape: [3] + local.stateShape, scalars: (0..<(3 * local.stateShape.reduce(1, *))).map { Float(sin(Double($0) * 0.37)) })
        let want = try local.decode(latents), got = try served.decode(latents)
        #expect(got.shape == want.shape && got.shape == [3] + local.sampleShape)
        let d = zip(got.scalars, want.scalars).map { abs($0 - $1) }.max() ?? .infinity
        #expect(d <= Self.tolerance, "decoded images differ by \(d)")

        let options = SearchOptions(seed: 3, maxBatch: 8)
        let reward = ImageStatisticReward(.brightness)
        let a = try BestOfN().search(local, reward: reward, budget: 24, options: options)
        let b = try BestOfN().search(served, reward: reward, budget: 24, options: options)
        #expect(b.error == nil && b.best.id == a.best.id && b.nfe == a.nfe)
        for (x, y) in zip(b.history, a.history) { #expect(abs(x.reward - y.reward) <= Self.tolerance) }
        #expect(served.network.statistics[0].rows == 3 + a.rewardCalls)   // the three latents above, then one decode per scored sample
    }

    /// A denoiser endpoint given as the decoder: one line naming the endpoint and what is missing.
    @Test func aDenoiserIsNotADecoder() throws {
        let pipeline = try StableDiffusionPipeline(directory: SuiteServers.pipelineDirectory)
        let unet = try SuiteServers.get().a.endpoint
        do {
            _ = try RemotelyDecodedTrajectory(pipeline.makeTrajectory(Self.request), endpoints: [unet])
            Issue.record("a UNet passed the decoder signature")
        } catch let error as RemoteModelError {
            #expect(error.kind == .metadataMismatch && error.description.contains("no input latents"))
        }
    }
}
