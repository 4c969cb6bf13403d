import Flux
import TensorCore

/// A FLUX.1 transformer served remotely (tools/serve's `FluxTransformer2DModel` runtime, or any server whose model
/// has the same tensors: `NetworkSignature.fluxTransformer`), used by `FluxDenoiser` in place of the local one.
/// Packing, guidance mixing, the sampler, prompt encoding and decoding stay local; each call sends the packed
/// tokens, the text states, the pooled embeddings, one timestep (and guidance) per row, and the position ids once.
public struct RemoteFluxTransformer: FluxTransformerNetwork {
    public let network: RemoteNetwork

    public init(_ network: RemoteNetwork) { self.network = network }

    public func callAsFunction(_ hiddenStates: Tensor, encoderHiddenStates: Tensor, pooledProjections: Tensor,
                               timestep: [Float], guidance: [Float]?, txtIds: Tensor, imgIds: Tensor,
                               cancellation: CancellationCheck) throws -> Tensor {
        let n = hiddenStates.shape[0]
        precondition(timestep.count == n && encoderHiddenStates.shape[0] == n && pooledProjections.shape[0] == n,
                     "RemoteFluxTransformer: inputs of different batch sizes")
        var inputs: [RemoteNetwork.Input] = [
            .init("hidden_states", hiddenStates), .init("encoder_hidden_states", encoderHiddenStates),
            .init("pooled_projections", pooledProjections), .init("timestep", Tensor(shape: [n], scalars: timestep)),
        ]
        if network.signature.inputs.contains(where: { $0.name == "guidance" }) {
            guard let guidance, guidance.count == n else { preconditionFailure("RemoteFluxTransformer: the checkpoint embeds guidance; one value per row is needed") }
            inputs.append(.init("guidance", Tensor(shape: [n], scalars: guidance)))
        }
        inputs += [.init("txt_ids", txtIds, batched: false), .init("img_ids", imgIds, batched: false)]
        return try network.call(inputs, cancellation: cancellation)
    }
}
