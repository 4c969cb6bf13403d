import Foundation
import ModelIO
import TensorCore

/// transformers' `T5EncoderModel` (FLUX.1's `text_encoder_2`, T5 v1.1 XXL; also original T5's relu encoders):
/// `shared` token embedding, `encoder.block.N` (`T5EncoderBlock`) with the relative-position bias computed by block
/// 0 and shared by all, `encoder.final_layer_norm`. No position embeddings, no dropout; returns
/// `last_hidden_state` `[B, L, d_model]` in float32 (weights stay in their stored precision).
///
/// Directory: `config.json` (`T5EncoderConfig`, `model_type` "t5") and `model.safetensors` (single or sharded).
/// The embedding is `shared.weight`; `encoder.embed_tokens.weight`, tied to it in transformers, may be stored as
/// well (then `shared.weight` is used) or instead. Every other key must be used (`WeightStore` is strict).
public struct T5EncoderModel: Sendable {
    public let config: T5EncoderConfig
    let stack: T5EncoderStack

    public init(directory: URL, variant: String? = nil) throws {
        let config = try T5EncoderStack.config(directory, expecting: .t5)
        let store = try WeightStore(directory: directory, baseName: "model", variant: variant)
        try self.init(config: config, weights: store)
        try store.finish()
    }

    /// `weights` at the checkpoint's root (keys `shared.weight`, `encoder.…`).
    public init(config: T5EncoderConfig, weights: WeightStore) throws {
        self.config = config
        stack = try T5EncoderStack(config: config, weights: weights)
    }

    /// `last_hidden_state` for `B` sequences of one length; `attentionMask` (1 = token, 0 = padding; nil = attend to
    /// everything, as FluxPipeline calls it) has the ids' shape.
    public func callAsFunction(_ ids: [[Int]], attentionMask: [[Int]]? = nil) throws -> Tensor {
        try stack(ids, attentionMask: attentionMask)
    }
}

/// transformers' `UMT5EncoderModel` (Wan 2.1's text encoder, UMT5-XXL): as `T5EncoderModel`, but every block has
/// its own `relative_attention_bias`. Directory: `config.json` with `model_type` "umt5" and `model.safetensors`.
public struct UMT5EncoderModel: Sendable {
    public let config: T5EncoderConfig
    let stack: T5EncoderStack

    public init(directory: URL, variant: String? = nil) throws {
        let config = try T5EncoderStack.config(directory, expecting: .umt5)
        let store = try WeightStore(directory: directory, baseName: "model", variant: variant)
        try self.init(config: config, weights: store)
        try store.finish()
    }

    public init(config: T5EncoderConfig, weights: WeightStore) throws {
        self.config = config
        stack = try T5EncoderStack(config: config, weights: weights)
    }

    /// As `T5EncoderModel.callAsFunction`; Wan passes the tokenizer's mask.
    public func callAsFunction(_ ids: [[Int]], attentionMask: [[Int]]? = nil) throws -> Tensor {
        try stack(ids, attentionMask: attentionMask)
    }
}

/// Typed failure for inputs an encoder cannot run.
public struct T5InputError: Error, CustomStringConvertible, Equatable {
    public var description: String
}

/// The encoder stack both models share; `config.architecture` decides where position biases live.
struct T5EncoderStack: Sendable {
    let config: T5EncoderConfig
    /// `[vocab, d_model]` in its stored precision (rows widened on lookup).
    let embedding: StoredTensor
    let blocks: [T5EncoderBlock]
    let finalNorm: Tensor

    static func config(_ directory: URL, expecting architecture: T5EncoderConfig.Architecture) throws -> T5EncoderConfig {
        let file = try ConfigFile.load(directory.appendingPathComponent("config.json"))
        let config = try T5EncoderConfig(file)
        guard config.architecture == architecture else {
            let other = config.architecture == .umt5 ? "UMT5EncoderModel" : "T5EncoderModel"
            throw file.invalid("model_type", "must be \"\(architecture.rawValue)\" for this model (load a \"\(config.architecture.rawValue)\" encoder with \(other))")
        }
        return config
    }

    init(config c: T5EncoderConfig, weights s: WeightStore) throws {
        config = c
        let shape = [c.vocabSize, c.dModel]
        if s.contains("shared.weight") {
            embedding = try s.takeStored("shared.weight", shape: shape)
            if s.contains("encoder.embed_tokens.weight") { _ = try s.takeStored("encoder.embed_tokens.weight", shape: shape) }
        } else if s.contains("encoder.embed_tokens.weight") {
            embedding = try s.takeStored("encoder.embed_tokens.weight", shape: shape)
        } else {
            embedding = try s.takeStored("shared.weight", shape: shape)  // throws the missing-key error
        }
        let encoder = s.scope("encoder")
        blocks = try (0..<c.layers).map { i in
            try T5EncoderBlock(encoder.scope("block.\(i)"), config: c, hasRelativeBias: c.architecture == .umt5 || i == 0)
        }
        finalNorm = try encoder.take("final_layer_norm.weight", shape: [c.dModel])
    }

    func callAsFunction(_ ids: [[Int]], attentionMask: [[Int]]?) throws -> Tensor {
        let name = config.architecture == .umt5 ? "UMT5 encoder" : "T5 encoder"
        guard let l = ids.first?.count, l > 0, ids.allSatisfy({ $0.count == l }) else {
            throw T5InputError(description: "\(name): token sequences must be non-empty and of one length")
        }
        if let bad = ids.joined().first(where: { $0 < 0 || $0 >= config.vocabSize }) {
            throw T5InputError(description: "\(name): token id \(bad) is outside the vocabulary of \(config.vocabSize)")
        }
        if let mask = attentionMask {
            guard mask.count == ids.count, mask.allSatisfy({ $0.count == l }) else {
                throw T5InputError(description: "\(name): attention mask must have the ids' shape [\(ids.count), \(l)]")
            }
            if let row = mask.firstIndex(where: { !$0.contains(where: { $0 != 0 }) }) {
                throw T5InputError(description: "\(name): attention mask row \(row) attends to no token")
            }
        }
        let b = ids.count, d = config.dModel
        var h = embedding.rows(Array(ids.joined())).reshaped([b, l, d])
        var bias: Tensor?
        for block in blocks {
            if let own = block.relativeBias { bias = Self.attentionBias(own(length: l), mask: attentionMask, batch: b) }
            guard let bias else { preconditionFailure("T5EncoderStack: block 0 always has a relative-position bias") }
            h = block(h, bias: bias)
        }
        return NN.rmsNorm(h, weight: finalNorm, eps: config.layerNormEpsilon)
    }

    /// Position bias `[heads, L, L]` repeated per sequence, with −∞ on the keys the mask marks as padding:
    /// `[B, heads, L, L]`.
    static func attentionBias(_ position: Tensor, mask: [[Int]]?, batch: Int) -> Tensor {
        let heads = position.shape[0], l = position.shape[1]
        var out = [Float]()
        out.reserveCapacity(batch * position.count)
        for bi in 0..<batch {
            guard let row = mask?[bi] else { out += position.scalars; continue }
            var masked = position.scalars
            for j in 0..<l where row[j] == 0 {
                for r in stride(from: j, to: masked.count, by: l) { masked[r] = -.infinity }
            }
            out += masked
        }
        return Tensor(shape: [batch, heads, l, l], scalars: out)
    }
}
