import StableDiffusion
import TensorCore

/// A Stable Diffusion UNet served remotely (tools/serve's `UNet2DConditionModel` runtime, or any server whose
/// model has the same tensors: `NetworkSignature.unet`), used by `StableDiffusionDenoiser` in place of the local
/// one. Guidance, the sampler, prompt encoding and decoding stay local; each call sends the batch of latents, one
/// timestep per row and the text embeddings, and reads the model output back. See `RemoteNetwork` for how a
/// batch is split across endpoints and how faults are handled; a failure is thrown (the search then stops).
public struct RemoteUNet: ConditionalUNet {
    public let network: RemoteNetwork

    public init(_ network: RemoteNetwork) { self.network = network }

    public func callAsFunction(_ sample: Tensor, timesteps: [Float], context: Tensor, cancellation: CancellationCheck) throws -> Tensor {
        let n = sample.shape[0]
        precondition(timesteps.count == n && context.shape[0] == n, "RemoteUNet: \(timesteps.count) timesteps, \(context.shape[0]) contexts for batch \(n)")
        return try network.call([.init("sample", sample), .init("timestep", Tensor(shape: [n], scalars: timesteps)),
                                 .init("encoder_hidden_states", context)], cancellation: cancellation)
    }
}
