import ModelIO

/// diffusers' `FluxTransformer2DModel` configuration, decoded from `transformer/config.json` with diffusers'
/// defaults (FLUX.1's sizes). Every option of that class is read; a key it does not have (other than the
/// `_`-prefixed metadata) is refused naming the key, since it would belong to another model.
public struct FluxTransformerConfig: Sendable, Equatable {
    public var patchSize: Int
    public var inChannels: Int
    /// `out_channels`, or `in_channels` when null or absent.
    public var outChannels: Int
    public var numLayers: Int
    public var numSingleLayers: Int
    public var attentionHeadDim: Int
    public var numAttentionHeads: Int
    public var jointAttentionDim: Int
    public var pooledProjectionDim: Int
    public var guidanceEmbeds: Bool
    public var axesDimsRope: [Int]

    /// The keys `FluxTransformer2DModel.__init__` takes.
    public static let keys = ["patch_size", "in_channels", "out_channels", "num_layers", "num_single_layers",
                              "attention_head_dim", "num_attention_heads", "joint_attention_dim",
                              "pooled_projection_dim", "guidance_embeds", "axes_dims_rope"]

    /// The transformer's width, `num_attention_heads · attention_head_dim`.
    public var innerDim: Int { numAttentionHeads * attentionHeadDim }
    /// Features per output token, `patch_size² · out_channels` (the width of `proj_out`).
    public var outputFeatures: Int { patchSize * patchSize * outChannels }

    public init(_ c: ConfigFile) throws {
        let file = c.displayName
        if let name = c.className, name != "FluxTransformer2DModel" {
            throw ModelConfigError(file, "_class_name is \"\(name)\"; expected FluxTransformer2DModel")
        }
        if let unknown = c.keys.sorted().first(where: { !$0.hasPrefix("_") && !Self.keys.contains($0) }) {
            throw ModelConfigError(file, "unknown option \"\(unknown)\" (FluxTransformer2DModel takes \(Self.keys.joined(separator: ", ")))")
        }
        patchSize = try c.int("patch_size", default: 1)
        inChannels = try c.int("in_channels", default: 64)
        outChannels = try c.optionalInt("out_channels") ?? inChannels
        numLayers = try c.int("num_layers", default: 19)
        numSingleLayers = try c.int("num_single_layers", default: 38)
        attentionHeadDim = try c.int("attention_head_dim", default: 128)
        numAttentionHeads = try c.int("num_attention_heads", default: 24)
        jointAttentionDim = try c.int("joint_attention_dim", default: 4096)
        pooledProjectionDim = try c.int("pooled_projection_dim", default: 768)
        guidanceEmbeds = try c.bool("guidance_embeds", default: false)
        axesDimsRope = try c.ints("axes_dims_rope", default: [16, 56, 56])

        for (key, value) in [("patch_size", patchSize), ("in_channels", inChannels), ("out_channels", outChannels),
                             ("attention_head_dim", attentionHeadDim), ("num_attention_heads", numAttentionHeads),
                             ("joint_attention_dim", jointAttentionDim), ("pooled_projection_dim", pooledProjectionDim)]
            where value < 1 {
            throw ModelConfigError(file, "\(key) is \(value); it must be at least 1")
        }
        for (key, value) in [("num_layers", numLayers), ("num_single_layers", numSingleLayers)] where value < 0 {
            throw ModelConfigError(file, "\(key) is \(value); it must not be negative")
        }
        if axesDimsRope.isEmpty || axesDimsRope.contains(where: { $0 < 2 || $0 % 2 != 0 }) {
            throw ModelConfigError(file, "axes_dims_rope \(axesDimsRope) must be positive even sizes (one per position axis)")
        }
        if axesDimsRope.reduce(0, +) != attentionHeadDim {
            throw ModelConfigError(file, "axes_dims_rope \(axesDimsRope) sums to \(axesDimsRope.reduce(0, +)); it must sum to attention_head_dim \(attentionHeadDim)")
        }
    }
}
