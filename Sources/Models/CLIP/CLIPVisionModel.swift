import Foundation
import ModelIO
import TensorCore

/// transformers' `CLIPVisionConfig` fields the vision tower uses, from the `vision_config` object of a full CLIP
/// config (or a `CLIPVisionModel` config.json), with transformers' defaults (ViT-B/32).
public struct CLIPVisionConfig: Sendable, Equatable {
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var layers: Int
    public var heads: Int
    public var channels: Int
    public var imageSize: Int
    public var patchSize: Int
    public var activation: CLIPActivation
    public var layerNormEps: Float

    public init(_ c: ConfigFile) throws {
        hiddenSize = try c.int("hidden_size", default: 768)
        intermediateSize = try c.int("intermediate_size", default: 3072)
        layers = try c.int("num_hidden_layers", default: 12)
        heads = try c.int("num_attention_heads", default: 12)
        channels = try c.int("num_channels", default: 3)
        imageSize = try c.int("image_size", default: 224)
        patchSize = try c.int("patch_size", default: 32)
        activation = try CLIPActivation.read(c)
        layerNormEps = Float(try c.double("layer_norm_eps", default: 1e-5))
        if hiddenSize < 1 || heads < 1 || hiddenSize % heads != 0 {
            throw ModelConfigError(c.displayName, "vision hidden_size \(hiddenSize) is not divisible by num_attention_heads \(heads)")
        }
        if patchSize < 1 || imageSize < patchSize || imageSize % patchSize != 0 {
            throw ModelConfigError(c.displayName, "vision image_size \(imageSize) is not a multiple of patch_size \(patchSize)")
        }
    }

    /// Patches per side.
    public var gridSize: Int { imageSize / patchSize }
    /// Tokens per image: the class token plus one per patch.
    public var tokens: Int { gridSize * gridSize + 1 }
}

/// A typed error for inputs a CLIP tower cannot take (wrong image size, channel count, …).
public struct CLIPInputError: Error, CustomStringConvertible, Equatable, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// transformers' `CLIPVisionTransformer` (the vision tower of `CLIPVisionModel` / `CLIPModel`): patch embedding
/// (a convolution with kernel = stride = patch size and no bias), a learned class token prepended, learned
/// position embeddings added, the pre-layer-norm (`pre_layrnorm`, transformers' spelling), the encoder, and the
/// post-layer-norm applied to the class token, which is the pooled output.
///
/// Keys, relative to the store it is given: `embeddings.class_embedding`, `embeddings.patch_embedding.weight`,
/// `embeddings.position_embedding.weight`, `pre_layrnorm.*`, `encoder.layers.N.*`, `post_layernorm.*`.
/// Limits: images must be exactly `image_size` square (no position-embedding interpolation).
public struct CLIPVisionTransformer: Sendable {
    public let config: CLIPVisionConfig
    let classEmbedding: Tensor
    let patchEmbedding: StoredTensor
    let positionEmbedding: Tensor
    let preNorm: LayerNorm
    let encoder: CLIPEncoder
    let postNorm: LayerNorm

    public init(config c: CLIPVisionConfig, weights s: WeightStore) throws {
        config = c
        let d = c.hiddenSize
        classEmbedding = try s.take("embeddings.class_embedding", shape: [d])
        patchEmbedding = try s.takeStored("embeddings.patch_embedding.weight", shape: [d, c.channels, c.patchSize, c.patchSize])
        positionEmbedding = try s.take("embeddings.position_embedding.weight", shape: [c.tokens, d])
        preNorm = try LayerNorm(s, "pre_layrnorm", channels: d, eps: c.layerNormEps)
        encoder = try CLIPEncoder(s.scope("encoder"), count: c.layers, hiddenSize: d, intermediateSize: c.intermediateSize,
                                  heads: c.heads, eps: c.layerNormEps, activation: c.activation)
        postNorm = try LayerNorm(s, "post_layernorm", channels: d, eps: c.layerNormEps)
    }

    /// Pooled output `[N, hidden]` (post-layer-normed class token) for `pixelValues` `[N, channels, S, S]` with
    /// S = image_size (already resized and normalised, e.g. by a CLIP image processor).
    public func callAsFunction(_ pixelValues: Tensor) throws(CLIPInputError) -> Tensor {
        let c = config
        guard pixelValues.rank == 4, pixelValues.shape[1] == c.channels,
              pixelValues.shape[2] == c.imageSize, pixelValues.shape[3] == c.imageSize else {
            throw CLIPInputError("CLIP vision: expected pixel values [N, \(c.channels), \(c.imageSize), \(c.imageSize)], got \(pixelValues.shape)")
        }
        let n = pixelValues.shape[0], d = c.hiddenSize, g = c.gridSize, t = c.tokens
        if n == 0 { return Tensor(zeros: [0, d]) }
        // [N, D, g, g] → tokens [N, g², D], then the class token in front and the positions added.
        let patches = NN.nchwToTokens(NN.conv2d(pixelValues, weight: patchEmbedding, bias: nil, stride: c.patchSize, padding: 0))
        var x = [Float](repeating: 0, count: n * t * d)
        let pos = positionEmbedding.scalars, cls = classEmbedding.scalars, p = patches.scalars
        for i in 0..<n {
            let base = i * t * d
            for j in 0..<d { x[base + j] = cls[j] + pos[j] }
            for k in 0..<(g * g) {
                let o = base + (k + 1) * d, src = (i * g * g + k) * d, po = (k + 1) * d
                for j in 0..<d { x[o + j] = p[src + j] + pos[po + j] }
            }
        }
        let h = encoder(preNorm(Tensor(shape: [n, t, d], scalars: x)))
        var cls0 = [Float](repeating: 0, count: n * d)
        for i in 0..<n { for j in 0..<d { cls0[i * d + j] = h.scalars[i * t * d + j] } }
        return postNorm(Tensor(shape: [n, d], scalars: cls0))
    }
}
