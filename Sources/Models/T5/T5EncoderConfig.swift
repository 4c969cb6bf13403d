import Foundation
import ModelIO
import TensorCore

/// The feed-forward activation of a T5 block (transformers' `dense_act_fn`, from `feed_forward_proj`).
public enum T5Activation: String, Sendable, CaseIterable {
    case relu
    /// Exact erf GELU.
    case gelu
    /// tanh-approximated GELU (T5 v1.1's `gated-gelu`).
    case geluNew = "gelu_new"
    case geluPytorchTanh = "gelu_pytorch_tanh"
    case silu

    public func callAsFunction(_ x: Tensor) -> Tensor {
        switch self {
        case .relu: x.map { Swift.max($0, 0) }
        case .gelu: NN.gelu(x)
        case .geluNew, .geluPytorchTanh: NN.gelu(x, approximate: .tanh)
        case .silu: NN.silu(x)
        }
    }
}

/// transformers' `T5Config` / `UMT5Config` fields that the encoder stack uses, from `text_encoder_2/config.json`
/// (FLUX) or `text_encoder/config.json` (Wan), with each class's defaults. `model_type` "t5" or "umt5" chooses the
/// architecture (one shared relative-position bias, or one per layer). `feed_forward_proj` is "ACT" or
/// "gated-ACT" ("gated-gelu" means gelu_new, as transformers has it); `dense_act_fn` / `is_gated_act`, which
/// transformers derives from it, must agree with it when present. transformers' aliases `hidden_size`,
/// `num_attention_heads`, `num_hidden_layers` and `head_dim` are read when the T5 names are absent. Keys that do not
/// change the encoder's output (dropout, decoder sizes, token ids, cache, initialisation) are ignored.
public struct T5EncoderConfig: Sendable, Equatable {
    public enum Architecture: String, Sendable {
        /// `T5EncoderModel`: relative-position bias in the first layer, shared by all.
        case t5
        /// `UMT5EncoderModel`: every layer has its own relative-position bias.
        case umt5
    }

    public var architecture: Architecture
    public var vocabSize: Int
    public var dModel: Int
    public var dKV: Int
    public var dFF: Int
    public var layers: Int
    public var heads: Int
    public var relativeAttentionBuckets: Int
    public var relativeAttentionMaxDistance: Int
    public var activation: T5Activation
    public var gatedActivation: Bool
    public var layerNormEpsilon: Float

    /// Width of the attention's projections (`num_heads · d_kv`, which need not equal `d_model`).
    public var innerDimension: Int { heads * dKV }

    public init(_ c: ConfigFile) throws {
        let type = try c.string("model_type", default: "t5", oneOf: ["t5", "umt5"])
        architecture = Architecture(rawValue: type)!
        let umt5 = architecture == .umt5
        func alias(_ key: String, _ other: String, default d: Int) throws -> Int {
            let a = try c.optionalInt(key), b = try c.optionalInt(other)
            if let a, let b, a != b { throw c.invalid(other, "must equal \(key) \(a) (transformers reads it as \(key))") }
            return a ?? b ?? d
        }
        vocabSize = try c.int("vocab_size", default: umt5 ? 250112 : 32128)
        dModel = try alias("d_model", "hidden_size", default: 512)
        dKV = try alias("d_kv", "head_dim", default: 64)
        dFF = try c.int("d_ff", default: umt5 ? 1024 : 2048)
        layers = try alias("num_layers", "num_hidden_layers", default: umt5 ? 8 : 6)
        heads = try alias("num_heads", "num_attention_heads", default: umt5 ? 6 : 8)
        relativeAttentionBuckets = try c.int("relative_attention_num_buckets", default: 32)
        relativeAttentionMaxDistance = try c.int("relative_attention_max_distance", default: 128)
        layerNormEpsilon = Float(try c.double("layer_norm_epsilon", default: 1e-6))

        let projection = try c.string("feed_forward_proj", default: umt5 ? "gated-gelu" : "relu")
        let parts = projection.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 1 || (parts.count == 2 && parts[0] == "gated") else {
            throw c.invalid("feed_forward_proj", "must be \"ACT\" or \"gated-ACT\" (e.g. \"relu\", \"gated-gelu\")")
        }
        let actName = projection == "gated-gelu" ? "gelu_new" : parts[parts.count - 1]
        guard let act = T5Activation(rawValue: actName) else {
            throw c.invalid("feed_forward_proj", "must name one of \(T5Activation.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        activation = act
        gatedActivation = parts.count == 2
        if let written = try c.optionalString("dense_act_fn"), written != actName {
            throw c.invalid("dense_act_fn", "must be \"\(actName)\", which transformers derives from feed_forward_proj \"\(projection)\"")
        }
        if let written = try c.optionalBool("is_gated_act"), written != gatedActivation {
            throw c.invalid("is_gated_act", "must be \(gatedActivation), which transformers derives from feed_forward_proj \"\(projection)\"")
        }

        for (key, value) in [("vocab_size", vocabSize), ("d_model", dModel), ("d_kv", dKV), ("d_ff", dFF), ("num_layers", layers),
                             ("num_heads", heads), ("relative_attention_num_buckets", relativeAttentionBuckets),
                             ("relative_attention_max_distance", relativeAttentionMaxDistance)] where value < 1 {
            throw c.invalid(key, "must be at least 1")
        }
        guard relativeAttentionBuckets >= 4 else {
            throw c.invalid("relative_attention_num_buckets", "must be at least 4 (half for each direction, half of those exact)")
        }
        guard relativeAttentionMaxDistance > relativeAttentionBuckets / 4 else {
            throw c.invalid("relative_attention_max_distance",
                            "must exceed the \(relativeAttentionBuckets / 4) exact positions of \(relativeAttentionBuckets) buckets")
        }
        guard layerNormEpsilon > 0 else { throw c.invalid("layer_norm_epsilon", "must be positive") }
    }
}
