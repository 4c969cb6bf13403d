import Models
import Sampling
import TensorCore

/// The Wan transformer (ours or a served one: `WanTransformerNetwork`) bound to one prompt, as WanPipeline calls it: states are the video latents
/// `[N, C, F', H', W']`, the timestep is the scheduler's, passed unchanged; with classifier-free guidance
/// (`guidance` > 1) the negative prompt's rows run in the same batch and combine as neg + g·(pos − neg) (diffusers
/// makes two calls; rows are independent, so one batch gives the same values). One call on N latents is N NFE
/// (2N forward rows with guidance).
public struct WanDenoiser: Denoiser {
    public let transformer: any WanTransformerNetwork
    /// The padded UMT5 states `[1, L, D]` of the prompt and, with guidance, of the negative prompt.
    public let prompt: Tensor
    public let negative: Tensor?
    public let guidance: Float

    public init(transformer: any WanTransformerNetwork, prompt: Tensor, negative: Tensor?, guidance: Float) {
        self.transformer = transformer; self.prompt = prompt; self.negative = negative; self.guidance = guidance
    }

    public var passesPerNFE: Int { negative == nil ? 1 : 2 }

    public func predict(_ x: Tensor, timestep: Float, cancellation: CancellationCheck) throws -> Tensor {
        let n = x.shape[0]
        let repeated = Array(repeating: 0, count: n)
        var hidden = x, context = prompt.gatherRows(repeated)
        if let negative {
            hidden = Tensor.concatenate([x, x])
            context = Tensor.concatenate([negative.gatherRows(repeated), context])
        }
        let out = try transformer(hiddenStates: hidden, timestep: Array(repeating: timestep, count: hidden.shape[0]),
                                  encoderHiddenStates: context, cancellation: cancellation)
        guard negative != nil else { return out }
        let size = out.count / 2, g = guidance
        return out.scalars.withUnsafeBufferPointer { o in
            Tensor(shape: [n] + out.shape.dropFirst(), scalars: (0..<size).map { i in o[i] + g * (o[size + i] - o[i]) })
        }
    }
}
