import Foundation
import ModelIO
import TensorCore

/// transformers' `SiglipMultiheadAttentionPoolingHead` ("MAP" head): a learned probe token attends to the
/// post-layer-normed tokens through `torch.nn.MultiheadAttention` (packed `in_proj_weight` `[3D, D]` /
/// `in_proj_bias`, `out_proj`), then `x + mlp(layernorm(x))`; the probe's row is `pooler_output`.
///
/// Keys, relative to the store: `probe` `[1, 1, D]`, `attention.in_proj_weight`, `attention.in_proj_bias`,
/// `attention.out_proj.{weight,bias}`, `layernorm.*`, `mlp.fc1.*`, `mlp.fc2.*`.
public struct SiglipAttentionPoolingHead: Sendable {
    let probe: Tensor
    /// The query, key and value projections unpacked from `in_proj_weight` / `in_proj_bias` (rows in that order).
    let projections: [(weight: Tensor, bias: Tensor)]
    let out: Linear, norm: LayerNorm, fc1: Linear, fc2: Linear
    public let heads: Int
    public let activation: CLIPActivation

    public init(_ s: WeightStore, config c: VisionTowerConfig) throws {
        let d = c.hiddenSize
        probe = try s.take("probe", shape: [1, 1, d])
        let w = try s.take("attention.in_proj_weight", shape: [3 * d, d]).scalars
        let b = try s.take("attention.in_proj_bias", shape: [3 * d]).scalars
        projections = (0..<3).map { i in
            (Tensor(shape: [d, d], scalars: Array(w[(i * d * d)..<((i + 1) * d * d)])), Tensor(Array(b[(i * d)..<((i + 1) * d)])))
        }
        out = try Linear(s, "attention.out_proj", in: d, out: d)
        norm = try LayerNorm(s, "layernorm", channels: d, eps: c.layerNormEps)
        fc1 = try Linear(s, "mlp.fc1", in: d, out: c.intermediateSize)
        fc2 = try Linear(s, "mlp.fc2", in: c.intermediateSize, out: d)
        heads = c.heads
        activation = c.activation
    }

    /// `[N, D]` pooled features of tokens `[N, T, D]`.
    public func callAsFunction(_ h: Tensor) -> Tensor {
        let n = h.shape[0], d = h.shape[2]
        func project(_ x: Tensor, _ i: Int) -> Tensor { NN.linear(x, weight: projections[i].weight, bias: projections[i].bias) }
        let query = project(probe, 0).scalars  // the same for every image
        let queries = Tensor(shape: [n, 1, d], scalars: Array([[Float]](repeating: query, count: n).joined()))
        let attended = out(NN.attention(query: queries, key: project(h, 1), value: project(h, 2), heads: heads))
        let x = NN.add(attended, fc2(activation(fc1(norm(attended)))))
        return x.reshaped([n, d])
    }
}

/// transformers' `SiglipVisionModel` (config: `VisionTowerConfig.siglip`; 5.x; `SiglipVisionTransformer` in 4.x): patch embeddings with bias and learned
/// positions (no class token), the encoder — the same pre-norm layers as CLIP's (`CLIPEncoderLayer`: identical keys
/// and arithmetic) — `post_layernorm` on every token, and the attention-pooling head (`SiglipAttentionPoolingHead`)
/// whose output is `pooler_output`.
///
/// Keys, relative to the store: `embeddings.patch_embedding.*`, `embeddings.position_embedding.weight`,
/// `encoder.layers.N.*`, `post_layernorm.*`, `head.*` (with `vision_use_head`). The hub's SigLIP checkpoints and 4.x
/// saves put these under `vision_model.`; scope the store accordingly (see `SiglipVisionModel.visionScope`).
/// Limits: images of exactly `image_size` (no position-embedding interpolation).
public struct SiglipVisionModel: Sendable {
    public let config: VisionTowerConfig
    let embeddings: VisionEmbeddings
    let encoder: CLIPEncoder
    let postNorm: LayerNorm
    public let head: SiglipAttentionPoolingHead?

    public init(config c: VisionTowerConfig, weights s: WeightStore) throws {
        config = c
        s.ignoreAll { $0.hasSuffix("position_ids") }
        embeddings = try VisionEmbeddings(s.scope("embeddings"), config: c, classToken: false, patchBias: true)
        encoder = try CLIPEncoder(s.scope("encoder"), count: c.layers, hiddenSize: c.hiddenSize, intermediateSize: c.intermediateSize,
                                  heads: c.heads, eps: c.layerNormEps, activation: c.activation)
        postNorm = try LayerNorm(s, "post_layernorm", channels: c.hiddenSize, eps: c.layerNormEps)
        head = c.useHead ? try SiglipAttentionPoolingHead(s.scope("head"), config: c) : nil
    }

    /// The scope of the vision tower in a checkpoint: `vision_model.` when its keys carry that prefix (the hub's
    /// `SiglipModel` checkpoints, transformers 4.x saves), else the root (transformers 5.x `SiglipVisionModel` saves).
    public static func visionScope(_ s: WeightStore) -> WeightStore {
        s.contains("vision_model.embeddings.patch_embedding.weight") ? s.scope("vision_model") : s
    }

    /// `last_hidden_state` `[N, T, D]` (after `post_layernorm`) and `pooler_output` `[N, D]` (nil without the head)
    /// of preprocessed `pixelValues` `[N, C, S, S]`.
    public func callAsFunction(_ pixelValues: Tensor) throws(CLIPInputError) -> (lastHiddenState: Tensor, pooled: Tensor?) {
        let c = config
        guard pixelValues.rank == 4, pixelValues.shape[1] == c.channels,
              pixelValues.shape[2] == c.imageSize, pixelValues.shape[3] == c.imageSize else {
            throw CLIPInputError("SigLIP vision: expected pixel values [N, \(c.channels), \(c.imageSize), \(c.imageSize)], got \(pixelValues.shape)")
        }
        if pixelValues.shape[0] == 0 {
            return (Tensor(zeros: [0, embeddings.tokens, c.hiddenSize]), head == nil ? nil : Tensor(zeros: [0, c.hiddenSize]))
        }
        let h = postNorm(encoder(embeddings(pixelValues)))
        return (h, head.map { $0(h) })
    }
}
