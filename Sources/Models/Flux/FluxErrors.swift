/// A call of `FluxTransformer2DModel` whose inputs do not fit the model; one line saying what to pass.
public enum FluxTransformerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A guidance value was given to a model without `guidance_embeds` (FLUX.1-schnell-like).
    case guidanceNotEmbedded
    /// A model with `guidance_embeds` (FLUX.1-dev-like) was called without guidance.
    case guidanceRequired
    /// An input of the wrong shape: which argument, the shape it must have, the shape it has.
    case shape(argument: String, expected: String, got: [Int])
    /// The call's cancellation check asked to stop between two blocks.
    case cancelled

    public var description: String {
        switch self {
        case .cancelled: "cancelled"
        case .guidanceNotEmbedded:
            "guidance was given, but this transformer has guidance_embeds false: pass no guidance (use true classifier-free guidance instead)"
        case .guidanceRequired:
            "this transformer has guidance_embeds true: pass one guidance value per batch row (FluxPipeline's guidance_scale, e.g. 3.5)"
        case let .shape(argument, expected, got):
            "\(argument) has shape \(got); expected \(expected)"
        }
    }
}

/// Latents or an image size that FluxPipeline's 2×2 packing cannot take; one line naming the size and the factor.
public enum FluxPackingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// An image `dimension` ("height" / "width") of `value` pixels that is not a positive multiple of `factor`
    /// (the VAE's scale factor × 2).
    case imageSize(dimension: String, value: Int, factor: Int)
    /// A latent `dimension` of `value` that is not a positive even number.
    case latentSize(dimension: String, value: Int)
    /// A tensor of the wrong shape: which argument, the shape it must have, the shape it has.
    case shape(argument: String, expected: String, got: [Int])

    public var description: String {
        switch self {
        case let .imageSize(dimension, value, factor):
            let lower = value / factor * factor, upper = lower + factor
            return "image \(dimension) \(value) is not a positive multiple of \(factor) (the VAE's scale factor × 2 for 2×2 latent packing); use "
                + (lower > 0 ? "\(lower) or \(upper)" : "\(upper)")
        case let .latentSize(dimension, value):
            return "latent \(dimension) \(value) is not a positive even number (2×2 packing needs whole patches)"
        case let .shape(argument, expected, got):
            return "\(argument) has shape \(got); expected \(expected)"
        }
    }
}
