import Rewards
import TensorCore

/// A reward model served over the Open Inference Protocol (tools/serve's reward runtime, or any server whose model
/// has the tensors of `NetworkSignature.reward`). Each call sends the batch of decoded images and the prompt (a
/// string request parameter) and reads one score per image; decoding stays local. Rows are split across the
/// endpoints as for a served denoiser (`RemoteNetwork`: measured speed, retries, fail-over); a call no endpoint can
/// serve throws `RewardError.scoringFailed` naming the endpoints, and the search stops keeping what it scored.
/// A served score that is not finite counts as unscored (NaN), like a local reward's.
public struct RemoteReward: Reward {
    public let network: RemoteNetwork
    public let prompt: String
    /// `served:MODEL` — the model name of the first endpoint.
    public let name: String

    /// Connects to `network`'s endpoints (already checked against `NetworkSignature.reward`) for `prompt`.
    public init(_ network: RemoteNetwork, prompt: String) {
        self.network = network
        self.prompt = prompt
        name = "served:\(network.endpoints[0].model)"
    }

    public func scores(_ samples: Tensor) throws -> [Float] {
        try requireImages(samples)
        if samples.shape[0] == 0 { return [] }
        let out = try scoring { try network.call([.init("images", samples)], parameters: ["prompt": prompt], cancellation: .never) }
        return out.scalars.map { $0.isFinite ? $0 : .nan }
    }
}
