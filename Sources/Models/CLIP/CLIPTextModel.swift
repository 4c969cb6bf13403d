import Foundation
import ModelIO
import TensorCore

/// transformers' `CLIPTextConfig` fields that the text tower uses, from `text_encoder/config.json` (or the
/// `text_config` object of a full CLIP config), with transformers' defaults.
public struct CLIPTextConfig: Sendable, Equatable {
    public var vocabSize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var layers: Int
    public var heads: Int
    public var maxPositions: Int
    public var activation: CLIPActivation
    public var layerNormEps: Float
    public var eosTokenID: Int
    public var projectionDim: Int?

    public init(_ c: ConfigFile) throws {
        vocabSize = try c.int("vocab_size", default: 49408)
        hiddenSize = try c.int("hidden_size", default: 512)
        intermediateSize = try c.int("intermediate_size", default: 2048)
        layers = try c.int("num_hidden_layers", default: 12)
        heads = try c.int("num_attention_heads", default: 8)
        maxPositions = try c.int("max_position_embeddings", default: 77)
        activation = try CLIPActivation.read(c)
        layerNormEps = Float(try c.double("layer_norm_eps", default: 1e-5))
        eosTokenID = try c.int("eos_token_id", default: 49407)
        projectionDim = try c.optionalInt("projection_dim")
        if hiddenSize % heads != 0 {
            throw ModelConfigError(c.displayName, "hidden_size \(hiddenSize) is not divisible by num_attention_heads \(heads)")
        }
    }
}

/// transformers' `CLIPTextTransformer` (the text tower of `CLIPTextModel` / `CLIPModel`): token + position
/// embeddings, pre-norm encoder layers with causal self-attention, final layer norm. The pooled output is the
/// hidden state at the EOS position, chosen as transformers does: `argmax(input_ids)` when the config's
/// `eos_token_id` is the legacy 2, else the first occurrence of `eos_token_id`.
public struct CLIPTextModel: Sendable {
    public let config: CLIPTextConfig

    /// `[vocab, D]` in its stored precision (rows widened on lookup); positions `[maxPositions, D]` likewise.
    let tokenEmbedding: StoredTensor
    let positionEmbedding: StoredTensor
    let encoder: CLIPEncoder
    let finalNorm: LayerNorm

    /// Loads `directory` (config.json + model.safetensors). Keys may carry transformers 4's `text_model.`
    /// prefix or not (transformers 5 saves them without).
    public init(directory: URL, variant: String? = nil) throws {
        let config = try CLIPTextConfig(ConfigFile.load(directory.appendingPathComponent("config.json")))
        let store = try WeightStore(directory: directory, baseName: "model", variant: variant)
        store.ignoreAll { $0.hasSuffix("position_ids") }
        let scoped = store.contains("text_model.embeddings.token_embedding.weight") ? store.scope("text_model") : store
        try self.init(config: config, weights: scoped)
        try store.finish()
    }

    /// `weights` scoped at the text transformer (keys `embeddings.…`, `encoder.layers.N.…`, `final_layer_norm.…`).
    public init(config c: CLIPTextConfig, weights s: WeightStore) throws {
        config = c
        let d = c.hiddenSize
        tokenEmbedding = try s.takeStored("embeddings.token_embedding.weight", shape: [c.vocabSize, d])
        positionEmbedding = try s.takeStored("embeddings.position_embedding.weight", shape: [c.maxPositions, d])
        encoder = try CLIPEncoder(s.scope("encoder"), count: c.layers, hiddenSize: d, intermediateSize: c.intermediateSize,
                                  heads: c.heads, eps: c.layerNormEps, activation: c.activation)
        finalNorm = try LayerNorm(s, "final_layer_norm", channels: d, eps: c.layerNormEps)
    }

    /// Typed failure for token ids the model cannot embed.
    public struct InputError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Last hidden state `[B, L, D]` and pooled output `[B, D]` for token ids (`B` sequences of one length L ≤
    /// max_position_embeddings).
    public func callAsFunction(_ ids: [[Int]]) throws -> (lastHiddenState: Tensor, pooled: Tensor) {
        guard let l = ids.first?.count, l > 0, ids.allSatisfy({ $0.count == l }) else {
            throw InputError(description: "CLIP text: token sequences must be non-empty and of one length")
        }
        guard l <= config.maxPositions else {
            throw InputError(description: "CLIP text: \(l) tokens exceed max_position_embeddings \(config.maxPositions)")
        }
        if let bad = ids.joined().first(where: { $0 < 0 || $0 >= config.vocabSize }) {
            throw InputError(description: "CLIP text: token id \(bad) is outside the vocabulary of \(config.vocabSize)")
        }
        let b = ids.count, d = config.hiddenSize
        let tokens = tokenEmbedding.rows(Array(ids.joined())).reshaped([b, l, d])
        let positions = positionEmbedding.rows(Array(0..<l))
        let h = finalNorm(encoder(tokens + positions, mask: NN.causalMask(l)))
        var pooled = [Float]()
        pooled.reserveCapacity(b * d)
        for (bi, seq) in ids.enumerated() {
            let position: Int
            if config.eosTokenID == 2 {
                position = seq.firstIndex(of: seq.max() ?? 0) ?? 0
            } else {
                position = seq.firstIndex(of: config.eosTokenID) ?? 0
            }
            let o = (bi * l + position) * d
            pooled += h.scalars[o..<(o + d)]
        }
        return (h, Tensor(shape: [b, d], scalars: pooled))
    }
}
