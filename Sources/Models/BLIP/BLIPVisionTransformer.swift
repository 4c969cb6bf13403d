import Foundation
import ModelIO
import TensorCore

/// BLIP's image encoder (config: `VisionTowerConfig.blip`; its `vit.py` `VisionTransformer`, timm's ViT as BLIP configures it): patch embedding with
/// bias, a class token and learned positions (`VisionEmbeddings`), pre-norm blocks with exact GELU — the same
/// arithmetic as CLIP's encoder layers, so `CLIPEncoder` runs them after tools/convert_imagereward.py split each fused
/// `qkv` projection — and a final LayerNorm applied to every token. The output is every token's state, which BLIP's
/// text encoder cross-attends to.
///
/// Keys, relative to the store (the converter's layout): `embeddings.{class_embedding, patch_embedding.weight,
/// patch_embedding.bias, position_embedding.weight}`, `encoder.layers.N.*` (CLIP's names), `post_layernorm.*`.
/// Limits: images of exactly `image_size` (BLIP's `interpolate_pos_embed` is a loading-time resize, not done here);
/// no dropout or drop-path (inference).
public struct BLIPVisionTransformer: Sendable {
    public let config: VisionTowerConfig
    let embeddings: VisionEmbeddings
    let encoder: CLIPEncoder
    let postNorm: LayerNorm

    public init(config c: VisionTowerConfig, weights s: WeightStore) throws {
        config = c
        embeddings = try VisionEmbeddings(s.scope("embeddings"), config: c, classToken: true, patchBias: true)
        encoder = try CLIPEncoder(s.scope("encoder"), count: c.layers, hiddenSize: c.hiddenSize, intermediateSize: c.intermediateSize,
                                  heads: c.heads, eps: c.layerNormEps, activation: c.activation)
        postNorm = try LayerNorm(s, "post_layernorm", channels: c.hiddenSize, eps: c.layerNormEps)
    }

    /// Tokens per image (class token + patches).
    public var tokens: Int { embeddings.tokens }

    /// Every token's final state `[N, T, D]` for preprocessed `pixelValues` `[N, C, S, S]`.
    public func callAsFunction(_ pixelValues: Tensor) throws(CLIPInputError) -> Tensor {
        let c = config
        guard pixelValues.rank == 4, pixelValues.shape[1] == c.channels,
              pixelValues.shape[2] == c.imageSize, pixelValues.shape[3] == c.imageSize else {
            throw CLIPInputError("BLIP vision: expected pixel values [N, \(c.channels), \(c.imageSize), \(c.imageSize)], got \(pixelValues.shape)")
        }
        if pixelValues.shape[0] == 0 { return Tensor(zeros: [0, tokens, c.hiddenSize]) }
        return postNorm(encoder(embeddings(pixelValues)))
    }
}
