import Foundation
import Remote
import Rewards
import Sampling
import Search
import TensorCore
import Testing
import Wan

/// The tiny published-layout Wan pipeline's transformer served by tools/serve (diffusers' WanTransformer3DModel in
/// PyTorch, bf16 shards widened) against our local transformer: the same velocities to float rounding, and a search
/// through the server is the local search.
@Suite(.serialized, .enabled(if: SuiteServers.missing == nil,
                             "python3 cannot import mlserver, torch, diffusers and transformers (pip install -r tools/requirements.txt)"))
struct ServedWanTests {
    static let directory = SuiteServers.repository.appendingPathComponent("Tests/ModelsTests/Fixtures/wan/pipeline-tiny")
    static let server = Result {
        try LoopbackModelServer(pipeline: directory, model: "wan-tiny",
                                script: SuiteServers.repository.appendingPathComponent("tools/serve/serve.py").path)
    }
    static let request = GenerationRequest(prompt: "a red circle moving right", guidance: 3, steps: 3, width: 32, height: 32, frames: 5, eta: 1)

    /// The mean of the red channel over every frame: a reward any video has.
    struct MeanRed: Reward {
        var name: String { "mean-red" }
        func scores(_ samples: Tensor) throws -> [Float] {
            let n = samples.shape[0], f = samples.shape[1], plane = samples.shape[3] * samples.shape[4]
            return (0..<n).map { i in
                var sum: Float = 0
                for j in 0..<f { for p in 0..<plane { sum += samples.scalars[((i * f + j) * 3) * plane + p] } }
                return sum / Float(f * plane)
            }
        }
    }

    @Test func servedTransformerGivesTheLocalVelocitiesAndSearch() throws {
        let pipeline = try WanPipeline(directory: Self.directory)
        let local = try pipeline.makeTrajectory(Self.request)
        let (served, network) = try RemotePipeline.trajectory(pipeline, request: Self.request, endpoints: [Self.server.get().endpoint],
                                                              policy: RemotePolicy())
        let count = 2 * local.stateShape.reduce(1, *)
        let states = Tensor(shape: [2] + local.stateShape, scalars: (0..<count).map { Float(cos(Double($0) * 0.11)) })
        for step in [0, 2] {
            let want = try local.evaluate(states, at: step), got = try served.evaluate(states, at: step)
            let scale = want.scalars.map(abs).max() ?? 1
            let d = zip(got.scalars, want.scalars).map { abs($0 - $1) }.max() ?? .infinity
            #expect(got.shape == want.shape && d <= 1e-4 * scale, "step \(step): velocities differ by \(d) (scale \(scale))")
        }
        let options = SearchOptions(seed: 9, maxBatch: 4)
        let a = try BestOfN().search(local, reward: MeanRed(), budget: 12, options: options)
        let b = try BestOfN().search(served, reward: MeanRed(), budget: 12, options: options)
        #expect(b.error == nil && b.best.id == a.best.id && b.nfe == a.nfe)
        for (x, y) in zip(b.history, a.history) { #expect(abs(x.reward - y.reward) <= 1e-4) }
        // Guidance 3: the negative prompt's rows travel with each NFE's row (2 evaluations of 2 rows above).
        #expect(network.statistics[0].rows == 2 * (4 + a.nfe))
    }
}
