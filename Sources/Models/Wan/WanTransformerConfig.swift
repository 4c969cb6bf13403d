import ModelIO

/// diffusers' `WanTransformer3DModel` configuration (Wan 2.1 text-to-video), decoded from `transformer/config.json`
/// with diffusers' defaults. Every option of that class is read; a key it does not have (other than the
/// `_`-prefixed metadata) is refused naming the key. The image-to-video options (`image_dim`,
/// `added_kv_proj_dim`, `pos_embed_seq_len`) must be null: Wan 2.1 I2V / FLF2V are not supported.
public struct WanTransformerConfig: Sendable, Equatable {
    /// `patch_size`: (frames, height, width) of one patch.
    public var patchSize: [Int]
    /// `num_attention_heads`.
    public var heads: Int
    /// `attention_head_dim`.
    public var headDim: Int
    public var inChannels: Int
    /// `out_channels` (16 when absent), or `in_channels` when null or 0.
    public var outChannels: Int
    public var textDim: Int
    /// `freq_dim`: channels of the sinusoidal timestep projection.
    public var freqDim: Int
    public var ffnDim: Int
    public var numLayers: Int
    public var crossAttnNorm: Bool
    /// `qk_norm`; only `"rms_norm_across_heads"` (RMS norm over all heads' features of q and k).
    public var qkNorm: String
    public var eps: Float
    /// `image_dim`: always nil here (non-null is refused).
    public var imageDim: Int?
    /// `rope_max_seq_len`: positions per axis the rotary tables cover.
    public var ropeMaxSeqLen: Int

    /// The keys `WanTransformer3DModel.__init__` takes.
    public static let keys = ["patch_size", "num_attention_heads", "attention_head_dim", "in_channels", "out_channels",
                              "text_dim", "freq_dim", "ffn_dim", "num_layers", "cross_attn_norm", "qk_norm", "eps",
                              "image_dim", "added_kv_proj_dim", "rope_max_seq_len", "pos_embed_seq_len"]

    /// The transformer's width, `num_attention_heads · attention_head_dim`.
    public var innerDim: Int { heads * headDim }
    /// Elements of one patch of the input, `in_channels · Π patch_size` (the patch embedding's input width).
    public var patchFeatures: Int { inChannels * patchSize.reduce(1, *) }
    /// Features per output token, `out_channels · Π patch_size` (the width of `proj_out`).
    public var outputFeatures: Int { outChannels * patchSize.reduce(1, *) }
    /// The rotary embedding's split of a head's features over (frames, height, width), as `WanRotaryPosEmbed`:
    /// height and width `2·⌊headDim/6⌋` each, frames the rest.
    public var ropeAxesDims: [Int] {
        let hw = 2 * (headDim / 6)
        return [headDim - 2 * hw, hw, hw]
    }

    public init(_ c: ConfigFile) throws {
        let file = c.displayName
        if let name = c.className, name != "WanTransformer3DModel" {
            throw ModelConfigError(file, "_class_name is \"\(name)\"; expected WanTransformer3DModel")
        }
        if let unknown = c.keys.sorted().first(where: { !$0.hasPrefix("_") && !Self.keys.contains($0) }) {
            throw ModelConfigError(file, "unknown option \"\(unknown)\" (WanTransformer3DModel takes \(Self.keys.joined(separator: ", ")))")
        }
        patchSize = try c.ints("patch_size", default: [1, 2, 2])
        heads = try c.int("num_attention_heads", default: 40)
        headDim = try c.int("attention_head_dim", default: 128)
        inChannels = try c.int("in_channels", default: 16)
        // diffusers: `out_channels or in_channels` with a default of 16.
        let out = c.keys.contains("out_channels") ? try c.optionalInt("out_channels") ?? 0 : 16
        outChannels = out == 0 ? inChannels : out
        textDim = try c.int("text_dim", default: 4096)
        freqDim = try c.int("freq_dim", default: 256)
        ffnDim = try c.int("ffn_dim", default: 13824)
        numLayers = try c.int("num_layers", default: 40)
        crossAttnNorm = try c.bool("cross_attn_norm", default: true)
        qkNorm = c.keys.contains("qk_norm") ? try c.optionalString("qk_norm") ?? "null" : "rms_norm_across_heads"
        eps = Float(try c.double("eps", default: 1e-6))
        imageDim = try c.optionalInt("image_dim")
        ropeMaxSeqLen = try c.int("rope_max_seq_len", default: 1024)

        if patchSize.count != 3 || patchSize.contains(where: { $0 < 1 }) {
            throw ModelConfigError(file, "patch_size \(patchSize) must be three positive sizes (frames, height, width)")
        }
        for (key, value) in [("num_attention_heads", heads), ("attention_head_dim", headDim), ("in_channels", inChannels),
                             ("out_channels", outChannels), ("text_dim", textDim), ("freq_dim", freqDim),
                             ("ffn_dim", ffnDim), ("rope_max_seq_len", ropeMaxSeqLen)] where value < 1 {
            throw ModelConfigError(file, "\(key) is \(value); it must be at least 1")
        }
        if numLayers < 0 { throw ModelConfigError(file, "num_layers is \(numLayers); it must not be negative") }
        if headDim % 2 != 0 {
            throw ModelConfigError(file, "attention_head_dim is \(headDim); rotary embeddings need an even head size")
        }
        if qkNorm != "rms_norm_across_heads" {
            throw ModelConfigError(file, "qk_norm is \(qkNorm == "null" ? "null" : "\"\(qkNorm)\""); only \"rms_norm_across_heads\" is supported (Wan 2.1's)")
        }
        if !(eps > 0) { throw ModelConfigError(file, "eps is \(eps); it must be positive") }
        if let imageDim {
            throw ModelConfigError(file, "image_dim is \(imageDim): image-to-video (Wan 2.1 I2V) is not supported; use a text-to-video checkpoint (image_dim null)")
        }
        for key in ["added_kv_proj_dim", "pos_embed_seq_len"] {
            if let value = try c.optionalInt(key) {
                throw ModelConfigError(file, "\(key) is \(value): image-to-video (Wan 2.1 I2V) is not supported; it must be null")
            }
        }
    }
}
