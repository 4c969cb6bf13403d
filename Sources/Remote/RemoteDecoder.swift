import Sampling
import TensorCore

/// A trajectory whose `decode` runs on served VAE decoders (`NetworkSignature.vaeDecoder`: tools/serve's
/// `--component decoder`, or any server with those tensors); everything else is the wrapped trajectory's. For
/// image pipelines whose states are `[C, h, w]` latents and whose samples are `[3, H, W]` images (Stable Diffusion,
/// FLUX.1). Rows are split across the endpoints as for a served denoiser; a decode no endpoint can serve throws
/// (the search stops, keeping what was scored).
public struct RemotelyDecodedTrajectory: TrajectoryWrapper {
    public let base: any Trajectory
    public let network: RemoteNetwork

    /// Connects to `endpoints` and checks them against `base`'s latents; a pipeline whose states or samples are not
    /// images is a `.metadataMismatch` saying so.
    public init(_ base: any Trajectory, endpoints: [InferenceEndpoint], policy: RemotePolicy = RemotePolicy()) throws {
        guard base.stateShape.count == 3, base.sampleShape.count == 3, base.sampleShape[0] == 3 else {
            throw RemoteModelError(endpoints.map(\.description).joined(separator: ", "), .metadataMismatch,
                                   "served decoding is for image pipelines (latents [C, h, w] → images [3, H, W]); this one's states are \(base.stateShape) and samples \(base.sampleShape)")
        }
        self.base = base
        network = try RemoteNetwork(endpoints: endpoints, signature: .vaeDecoder(latentChannels: base.stateShape[0]), policy: policy)
    }

    public func decode(_ states: Tensor) throws -> Tensor {
        if states.shape[0] == 0 { return Tensor(shape: [0] + sampleShape, scalars: []) }
        return try network.call([.init("latents", states)], outputRowShape: sampleShape, cancellation: .never)
    }
}
