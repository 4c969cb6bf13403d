import Sampling
import StableDiffusion

/// Builds a pipeline's trajectory with its denoiser network served remotely: prompt encoding, guidance, the
/// sampler and decoding stay local. Families whose network has a served form: Stable Diffusion (UNet). FLUX.1's
/// transformer would follow the same pattern: its `NetworkSignature`, a `ConditionalTransformer` seam in its
/// denoiser, one case here.
public enum RemotePipeline {
    /// Connects to `endpoints`, checks their model metadata against the pipeline's network config and returns the
    /// trajectory for `request` together with the network (for its statistics). Errors are one line naming the
    /// endpoint; a family without a served form is a `RemoteModelError` saying which families have one.
    public static func trajectory(_ pipeline: any GeneratorPipeline, request: GenerationRequest, endpoints: [InferenceEndpoint],
                                  policy: RemotePolicy) throws -> (trajectory: any Trajectory, network: RemoteNetwork) {
        switch pipeline {
        case let sd as StableDiffusionPipeline:
            let network = try RemoteNetwork(endpoints: endpoints, signature: .unet(sd.unet.config), policy: policy)
            return (try sd.makeTrajectory(request, network: RemoteUNet(network)), network)
        default:
            throw RemoteModelError(endpoints.map(\.description).joined(separator: ", "), .metadataMismatch,
                                   "remote denoisers are implemented for \(StableDiffusionPipeline.className) only; this pipeline is \(type(of: pipeline).className)")
        }
    }
}
