import Flux
import Foundation
import Remote
import Rewards
import Sampling
import Search
import TensorCore
import Testing

/// The embedded shapes-flux-small searched through an MLServer-served FluxTransformer2DModel (tools/serve) against
/// the same search with our local transformer: the lineage and the best sample are identical, rewards and final
/// latents equal to float rounding (the served network is diffusers' in PyTorch). Two endpoints split each batch.
@Suite(.serialized, .enabled(if: SuiteServers.missing == nil,
                             "python3 cannot import mlserver, torch and diffusers (pip install -r tools/requirements.txt)"))
struct ServedFluxSearchTests {
    static let directory = SuiteServers.repository.appendingPathComponent("models/shapes-flux-small")
    static let request = GenerationRequest(prompt: "two blue squares", guidance: 2.5, steps: 5, eta: 1)
    static let budget = 30
    static let pipeline = Result { try FluxPipeline(directory: directory) }
    static let server = Result {
        try LoopbackModelServer(pipeline: directory, model: "shapes-flux-small",
                                script: SuiteServers.repository.appendingPathComponent("tools/serve/serve.py").path)
    }

    static func search(_ trajectory: any Trajectory) throws -> SearchResult {
        try EvoSearch().search(trajectory, reward: ImageStatisticReward(.colorfulness), budget: budget,
                               options: SearchOptions(seed: 3, maxBatch: 6))
    }

    @Test func servedTransformerGivesTheLocalResult() throws {
        let server = try Self.server.get()
        let pipeline = try Self.pipeline.get()
        let local = try Self.search(pipeline.makeTrajectory(Self.request))
        for endpoints in [[server.endpoint], [server.endpoint, server.endpoint]] {
            let (trajectory, network) = try RemotePipeline.trajectory(pipeline, request: Self.request, endpoints: endpoints,
                                                                      policy: RemotePolicy())
            let got = try Self.search(trajectory)
            ServedSearchTests.expectMatches(got, local)
            // True CFG on the empty prompt: two transformer rows per NFE, split over the endpoints.
            #expect(network.statistics.map(\.rows).reduce(0, +) == 2 * got.nfe)
            #expect(network.statistics.allSatisfy { $0.rows > 0 && !$0.down })
        }
    }

    /// The server's metadata is checked against transformer/config.json before any request.
    @Test func aMismatchedTransformerIsOneLine() throws {
        let server = try Self.server.get()
        var config = try Self.pipeline.get().transformer.config
        config.jointAttentionDim += 1
        let e = #expect(throws: RemoteModelError.self) {
            _ = try RemoteNetwork(endpoints: [server.endpoint], signature: .fluxTransformer(config))
        }
        #expect(e?.description.contains("does not match transformer/config.json: input encoder_hidden_states has shape") == true,
                "\(String(describing: e))")
    }
}
