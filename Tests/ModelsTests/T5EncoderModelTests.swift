import Foundation
import ModelIO
@testable import Models
import TensorCore
import Testing

// T5EncoderModel / UMT5EncoderModel against transformers 5.24 on random tiny encoders. Fixtures (and what each
// holds) come from tools/fixtures/make_t5_fixtures.py.

private enum T5EncoderFixture {
    static func url(_ name: String) throws -> URL {
        try #require(Bundle.module.url(forResource: "Fixtures/t5/" + name, withExtension: nil), "fixture t5/\(name) missing")
    }

    static func io(_ name: String) throws -> SafetensorsFile { try SafetensorsFile(url: url(name + ".io.safetensors")) }

    static func rows(_ t: Tensor) -> [[Int]] { (0..<t.shape[0]).map { t.row($0).scalars.map { Int($0) } } }

    /// The checkpoint's tensors (float32), for stores with keys removed, added or renamed.
    static func tensors(_ name: String) throws -> [String: Tensor] {
        let file = try SafetensorsFile(url: url(name + "/model.safetensors"))
        return try Dictionary(uniqueKeysWithValues: file.names.map { ($0, try file.tensor(named: $0)) })
    }

    static func config(_ name: String) throws -> T5EncoderConfig {
        try T5EncoderConfig(ConfigFile.load(url(name + "/config.json")))
    }

    /// Max |a − b| relative to the reference's max |b|.
    static func relativeError(_ a: Tensor, _ b: Tensor) -> Float {
        precondition(a.shape == b.shape, "shapes \(a.shape) and \(b.shape) differ")
        return a.maxAbsDifference(b) / max(b.scalars.map(abs).max() ?? 0, 1e-12)
    }
}

private struct BucketTables: Decodable {
    struct Table: Decodable {
        let num_buckets: Int
        let max_distance: Int
        let buckets: [Int]
    }
    let relative_positions: [Int]
    let tables: [Table]
}

@Suite("T5 encoders")
struct T5EncoderModelTests {
    /// Tolerance of the parity tests, relative to the output's largest magnitude. Half-precision checkpoints are
    /// compared with transformers running the same stored values widened to float32, so the same bound holds.
    static let tolerance: Float = 1e-5

    @Test("T5EncoderModel matches transformers, with and without the padding mask",
          arguments: ["t5-gated", "t5-relu", "t5-bf16"])
    func t5Parity(name: String) throws {
        let model = try T5EncoderModel(directory: T5EncoderFixture.url(name))
        try check(name) { try model($0, attentionMask: $1) }
    }

    @Test("UMT5EncoderModel matches transformers, with and without the padding mask", arguments: ["umt5", "umt5-bf16"])
    func umt5Parity(name: String) throws {
        let model = try UMT5EncoderModel(directory: T5EncoderFixture.url(name))
        #expect(model.stack.blocks.allSatisfy { $0.relativeBias != nil })
        try check(name) { try model($0, attentionMask: $1) }
    }

    private func check(_ name: String, _ run: ([[Int]], [[Int]]?) throws -> Tensor) throws {
        let io = try T5EncoderFixture.io(name)
        let ids = T5EncoderFixture.rows(try io.tensor(named: "input_ids"))
        let mask = T5EncoderFixture.rows(try io.tensor(named: "attention_mask"))
        let masked = try run(ids, mask)
        let errMasked = T5EncoderFixture.relativeError(masked, try io.tensor(named: "masked"))
        #expect(errMasked < Self.tolerance, "\(name) with mask: relative error \(errMasked)")
        let unmasked = try run(ids, nil)
        let errUnmasked = T5EncoderFixture.relativeError(unmasked, try io.tensor(named: "unmasked"))
        #expect(errUnmasked < Self.tolerance, "\(name) without mask: relative error \(errUnmasked)")
        // A row alone gives what it gives in the batch.
        let alone = try run([ids[1]], [mask[1]])
        #expect(alone.maxAbsDifference(masked.row(1).reshaped([1, ids[1].count, 32])) < 1e-6)
    }

    @Test("half weights stay in their stored precision")
    func halfWeightsStayStored() throws {
        let model = try T5EncoderModel(directory: T5EncoderFixture.url("t5-bf16"))
        #expect(model.stack.embedding.format == .bf16)
        guard case .stored(let w) = model.stack.blocks[0].q.weight else {
            Issue.record("q was widened at load")
            return
        }
        #expect(w.format == .bf16)
    }

    @Test("relative-position buckets match transformers")
    func buckets() throws {
        let data = try Data(contentsOf: T5EncoderFixture.url("buckets.json"))
        let tables = try JSONDecoder().decode(BucketTables.self, from: data)
        for table in tables.tables {
            let ours = tables.relative_positions.map {
                T5RelativePositionBias.bucket($0, buckets: table.num_buckets, maxDistance: table.max_distance)
            }
            let bad = zip(tables.relative_positions, zip(ours, table.buckets)).filter { $1.0 != $1.1 }
            #expect(bad.isEmpty, "(\(table.num_buckets), \(table.max_distance)): \(bad.prefix(5))")
        }
    }

    @Test("encoder.embed_tokens.weight, tied to shared.weight, may be stored too or instead")
    func tiedEmbedding() throws {
        let config = try T5EncoderFixture.config("t5-gated")
        var tensors = try T5EncoderFixture.tensors("t5-gated")
        let io = try T5EncoderFixture.io("t5-gated")
        let ids = T5EncoderFixture.rows(try io.tensor(named: "input_ids"))
        let reference = try io.tensor(named: "unmasked")

        tensors["encoder.embed_tokens.weight"] = tensors["shared.weight"]
        let both = WeightStore(InMemoryWeights(tensors))
        let fromBoth = try T5EncoderModel(config: config, weights: both)
        try both.finish()
        #expect(T5EncoderFixture.relativeError(try fromBoth(ids), reference) < Self.tolerance)

        tensors["shared.weight"] = nil
        let only = WeightStore(InMemoryWeights(tensors))
        let fromOnly = try T5EncoderModel(config: config, weights: only)
        try only.finish()
        #expect(T5EncoderFixture.relativeError(try fromOnly(ids), reference) < Self.tolerance)
    }

    @Test("a missing, mis-shaped or unused weight is named")
    func weightErrors() throws {
        let config = try T5EncoderFixture.config("t5-gated")
        let tensors = try T5EncoderFixture.tensors("t5-gated")
        let key = "encoder.block.1.layer.1.DenseReluDense.wi_1.weight"
        var missing = tensors
        missing[key] = nil
        let error = #expect(throws: ModelIOError.self) {
            try T5EncoderModel(config: config, weights: WeightStore(InMemoryWeights(missing)))
        }
        guard case .missingWeight(_, let named, _)? = error else {
            Issue.record("expected .missingWeight, got \(String(describing: error))")
            return
        }
        #expect(named == key)
        var wrong = tensors
        wrong["encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"] = Tensor(zeros: [32, 4])
        #expect(throws: ModelIOError.shapeMismatch(path: "in-memory weights",
                                                   key: "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
                                                   stored: [32, 4], expected: [8, 4])) {
            try T5EncoderModel(config: config, weights: WeightStore(InMemoryWeights(wrong)))
        }
        var extra = tensors
        extra["encoder.block.1.layer.0.SelfAttention.relative_attention_bias.weight"] = Tensor(zeros: [8, 4])
        let store = WeightStore(InMemoryWeights(extra))
        _ = try T5EncoderModel(config: config, weights: store)
        #expect(throws: ModelIOError.unusedWeights(path: "in-memory weights",
                                                   keys: ["encoder.block.1.layer.0.SelfAttention.relative_attention_bias.weight"])) {
            try store.finish()
        }
    }

    @Test("config errors name the file and the key")
    func configErrors() throws {
        func config(_ json: String) throws -> T5EncoderConfig {
            try T5EncoderConfig(ConfigFile(parsing: json, displayName: "text_encoder_2/config.json"))
        }
        #expect(throws: ModelIOError.invalidConfigValue(path: "text_encoder_2/config.json", key: "feed_forward_proj",
                                                        reason: "must name one of relu, gelu, gelu_new, gelu_pytorch_tanh, silu, got \"gated-swish\"")) {
            try config(#"{"feed_forward_proj": "gated-swish"}"#)
        }
        #expect(throws: ModelIOError.invalidConfigValue(path: "text_encoder_2/config.json", key: "dense_act_fn",
                                                        reason: "must be \"gelu_new\", which transformers derives from feed_forward_proj \"gated-gelu\", got \"relu\"")) {
            try config(#"{"feed_forward_proj": "gated-gelu", "dense_act_fn": "relu"}"#)
        }
        #expect(throws: ModelIOError.invalidConfigValue(path: "text_encoder_2/config.json", key: "num_heads",
                                                        reason: "must be at least 1, got 0")) {
            try config(#"{"num_heads": 0}"#)
        }
        #expect(throws: ModelIOError.self) { try config(#"{"model_type": "mt5"}"#) }
        let defaults = try config(#"{"model_type": "umt5"}"#)
        #expect(defaults.vocabSize == 250112 && defaults.gatedActivation && defaults.activation == .geluNew && defaults.layers == 8)

        let error = #expect(throws: ModelIOError.self) { try T5EncoderModel(directory: T5EncoderFixture.url("umt5")) }
        #expect(error?.description.contains("model_type") == true && error?.description.contains("UMT5EncoderModel") == true)
    }

    @Test("bad inputs are typed errors")
    func inputErrors() throws {
        let model = try T5EncoderModel(directory: T5EncoderFixture.url("t5-gated"))
        #expect(throws: T5InputError(description: "T5 encoder: token id 120 is outside the vocabulary of 120")) { try model([[1, 120]]) }
        #expect(throws: T5InputError(description: "T5 encoder: token sequences must be non-empty and of one length")) {
            try model([[1, 2], [1]])
        }
        #expect(throws: T5InputError(description: "T5 encoder: attention mask row 0 attends to no token")) {
            try model([[5, 1]], attentionMask: [[0, 0]])
        }
        #expect(throws: T5InputError(description: "T5 encoder: attention mask must have the ids' shape [1, 2]")) {
            try model([[5, 1]], attentionMask: [[1]])
        }
    }
}
