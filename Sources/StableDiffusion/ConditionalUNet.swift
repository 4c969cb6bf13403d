import Models
import TensorCore

/// The network a `StableDiffusionDenoiser` calls: diffusers' `UNet2DConditionModel.forward(sample, timestep,
/// encoder_hidden_states)` on `[N, C, H, W]` latents with one timestep per row and `[N, L, D]` text embeddings,
/// returning the model output `[N, C_out, H, W]`. Guidance, the scheduler and decoding stay outside it, so the
/// network can be our own UNet or one served elsewhere (a remote model throws when it cannot answer).
public protocol ConditionalUNet: Sendable {
    func callAsFunction(_ sample: Tensor, timesteps: [Float], context: Tensor, cancellation: CancellationCheck) throws -> Tensor
}

/// Our UNet is the local network (its typed `throws(Cancelled)` satisfies the requirement).
extension UNet2DConditionModel: ConditionalUNet {}
