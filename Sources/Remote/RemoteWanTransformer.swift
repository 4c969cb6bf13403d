import TensorCore
import Wan

/// A Wan 2.1 transformer served remotely (tools/serve's `WanTransformer3DModel` runtime, or any server whose model
/// has the same tensors: `NetworkSignature.wanTransformer`), used by `WanDenoiser` in place of the local one.
/// Guidance, the sampler, prompt encoding and decoding stay local; each call sends the video latents, one timestep
/// per row and the padded UMT5 states.
public struct RemoteWanTransformer: WanTransformerNetwork {
    public let network: RemoteNetwork

    public init(_ network: RemoteNetwork) { self.network = network }

    public func callAsFunction(hiddenStates: Tensor, timestep: [Float], encoderHiddenStates: Tensor,
                               cancellation: CancellationCheck) throws -> Tensor {
        let n = hiddenStates.shape[0]
        precondition(timestep.count == n && encoderHiddenStates.shape[0] == n, "RemoteWanTransformer: inputs of different batch sizes")
        return try network.call([.init("hidden_states", hiddenStates), .init("timestep", Tensor(shape: [n], scalars: timestep)),
                                 .init("encoder_hidden_states", encoderHiddenStates)], cancellation: cancellation)
    }
}
