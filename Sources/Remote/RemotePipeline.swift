import Flux
import Sampling
import StableDiffusion
import Wan

/// Builds a pipeline's trajectory with its denoiser network served remotely: prompt encoding, guidance, the
/// sampler and decoding stay local. Families whose network has a served form: Stable Diffusion (the UNet),
/// FLUX.1 and Wan 2.1 (their transformers). Another family follows the same pattern: its `NetworkSignature`, a network seam in its
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
        case let flux as FluxPipeline:
            let network = try RemoteNetwork(endpoints: endpoints, signature: .fluxTransformer(flux.transformer.config), policy: policy)
            return (try flux.makeTrajectory(request, network: RemoteFluxTransformer(network)), network)
        case let wan as WanPipeline:
            let network = try RemoteNetwork(endpoints: endpoints, signature: .wanTransformer(wan.transformer.config), policy: policy)
            return (try wan.makeTrajectory(request, network: RemoteWanTransformer(network)), network)
        default:
            throw RemoteModelError(endpoints.map(\.description).joined(separator: ", "), .metadataMismatch,
                                   "remote denoisers are implemented for \(StableDiffusionPipeline.className), \(FluxPipeline.className) and \(WanPipeline.className); this pipeline is \(type(of: pipeline).className)")
        }
    }
}
