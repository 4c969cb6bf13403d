import Models
import TensorCore

/// The network a `FluxDenoiser` calls: diffusers' `FluxTransformer2DModel.forward(hidden_states,
/// encoder_hidden_states, pooled_projections, timestep, img_ids, txt_ids, guidance)` on packed latent tokens
/// `[N, S, C]` with `[N, L, D]` T5 states, `[N, Dp]` pooled CLIP outputs, one timestep (already divided by 1000)
/// and, for guidance-distilled checkpoints, one guidance value per row, and the `[L, 3]` / `[S, 3]` position ids;
/// it returns the packed velocity `[N, S, C_out]`. Packing, guidance mixing and the sampler stay outside it, so
/// the network can be our transformer or one served elsewhere (a remote model throws when it cannot answer).
public protocol FluxTransformerNetwork: Sendable {
    func callAsFunction(_ hiddenStates: Tensor, encoderHiddenStates: Tensor, pooledProjections: Tensor,
                        timestep: [Float], guidance: [Float]?, txtIds: Tensor, imgIds: Tensor,
                        cancellation: CancellationCheck) throws -> Tensor
}

/// Our transformer is the local network (its typed throws satisfies the requirement).
extension FluxTransformer2DModel: FluxTransformerNetwork {}
