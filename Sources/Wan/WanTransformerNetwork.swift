import Models
import TensorCore

/// The network a `WanDenoiser` calls: diffusers' `WanTransformer3DModel.forward(hidden_states, timestep,
/// encoder_hidden_states)` on video latents `[N, C, F, H, W]` with one timestep per row (the scheduler's, 0…1000)
/// and the zero-padded UMT5 states `[N, L, text_dim]`; it returns the velocity `[N, C_out, F, H, W]`. Guidance and the
/// sampler stay outside it, so the network can be our transformer or one served elsewhere (a remote model throws
/// when it cannot answer).
public protocol WanTransformerNetwork: Sendable {
    func callAsFunction(hiddenStates: Tensor, timestep: [Float], encoderHiddenStates: Tensor,
                        cancellation: CancellationCheck) throws -> Tensor
}

/// Our transformer is the local network (its typed throws satisfies the requirement).
extension WanTransformer3DModel: WanTransformerNetwork {}
