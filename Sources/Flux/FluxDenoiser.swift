import Models
import Sampling
import TensorCore

/// The FLUX.1 transformer bound to one prompt, as FluxPipeline calls it: states are VAE latents `[N, C, H, W]`,
/// packed into 2×2-patch tokens for the transformer and unpacked after; the timestep passed on is the
/// scheduler's (σ·1000) divided by 1000 in float32, as the pipeline computes it; the embedded guidance goes to
/// models with `guidance_embeds`. With true classifier-free guidance (`trueCFGScale` > 1 and a negative
/// prompt) the negative prompt's rows run in the same batch and combine as neg + s·(pos − neg). One call on N
/// latents is N NFE (2N forward rows with true CFG).
public struct FluxDenoiser: Denoiser {
    /// Our transformer, or a served one (`FluxTransformerNetwork`).
    public let transformer: any FluxTransformerNetwork
    /// T5 hidden states `[1, Lt, D]` and CLIP pooled output `[1, Dp]` of the prompt (and the negative prompt).
    public let prompt: (hidden: Tensor, pooled: Tensor)
    public let negative: (hidden: Tensor, pooled: Tensor)?
    public let guidance: Float?
    public let trueCFGScale: Float
    /// Latent height and width of the states.
    public let latentHeight: Int, latentWidth: Int
    let textIds: Tensor, imageIds: Tensor

    public init(transformer: any FluxTransformerNetwork, prompt: (hidden: Tensor, pooled: Tensor), negative: (hidden: Tensor, pooled: Tensor)?,
                guidance: Float?, trueCFGScale: Float, latentHeight: Int, latentWidth: Int) {
        self.transformer = transformer; self.prompt = prompt; self.negative = negative; self.guidance = guidance
        self.trueCFGScale = trueCFGScale; self.latentHeight = latentHeight; self.latentWidth = latentWidth
        textIds = FluxLatents.textIds(count: prompt.hidden.shape[1])
        imageIds = FluxLatents.imageIds(packedHeight: latentHeight / 2, packedWidth: latentWidth / 2)
    }

    /// Forward passes per NFE.
    public var passesPerNFE: Int { negative == nil ? 1 : 2 }

    public func predict(_ x: Tensor, timestep: Float, cancellation: CancellationCheck) throws -> Tensor {
        let n = x.shape[0]
        let packed = try FluxLatents.pack(x)
        let t = timestep / 1000
        let repeated = Array(repeating: 0, count: n)
        var hidden = packed, context = prompt.hidden.gatherRows(repeated), pooled = prompt.pooled.gatherRows(repeated)
        if let negative {
            hidden = Tensor.concatenate([packed, packed])
            context = Tensor.concatenate([negative.hidden.gatherRows(repeated), context])
            pooled = Tensor.concatenate([negative.pooled.gatherRows(repeated), pooled])
        }
        let rows = hidden.shape[0]
        let out = try transformer(hidden, encoderHiddenStates: context, pooledProjections: pooled,
                                  timestep: Array(repeating: t, count: rows),
                                  guidance: guidance.map { Array(repeating: $0, count: rows) }, txtIds: textIds, imgIds: imageIds,
                                  cancellation: cancellation)
        var velocity = out
        if negative != nil {
            let size = out.count / 2, s = trueCFGScale
            velocity = out.scalars.withUnsafeBufferPointer { o in
                Tensor(shape: [n] + out.shape.dropFirst(), scalars: (0..<size).map { i in o[i] + s * (o[size + i] - o[i]) })
            }
        }
        return try FluxLatents.unpack(velocity, height: latentHeight, width: latentWidth)
    }
}
