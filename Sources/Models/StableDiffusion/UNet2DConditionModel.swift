import Foundation
import ModelIO
import TensorCore

/// The subset of diffusers' `UNet2DConditionModel` config that Stable Diffusion 1.x/2.x use, decoded from
/// `unet/config.json` with diffusers' defaults. Anything outside that subset (class or addition embeddings,
/// other block or mid-block types, scale-shift time norm, other kernels or activations) is refused with an
/// error naming the key, rather than silently run wrong.
public struct UNet2DConditionConfig: Sendable, Equatable {
    public var sampleSize: Int?
    public var inChannels: Int
    public var outChannels: Int
    public var flipSinToCos: Bool
    public var freqShift: Double
    public var downBlockTypes: [String]
    public var upBlockTypes: [String]
    public var blockOutChannels: [Int]
    public var layersPerBlock: [Int]
    public var downsamplePadding: Int
    public var normNumGroups: Int
    public var normEps: Float
    public var crossAttentionDim: [Int]
    public var transformerLayersPerBlock: [Int]
    /// Heads per down block (diffusers' `num_attention_heads`, which for this class defaults to the legacy
    /// `attention_head_dim` value).
    public var attentionHeads: [Int]
    public var useLinearProjection: Bool
    public var upcastAttention: Bool

    public init(_ c: ConfigFile) throws {
        let file = c.displayName
        sampleSize = try c.optionalInt("sample_size")
        inChannels = try c.int("in_channels", default: 4)
        outChannels = try c.int("out_channels", default: 4)
        flipSinToCos = try c.bool("flip_sin_to_cos", default: true)
        freqShift = try c.double("freq_shift", default: 0)
        let defaultDown = ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"]
        let defaultUp = ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"]
        let defaultChannels = [320, 640, 1280, 1280]
        downBlockTypes = try c.strings("down_block_types", default: defaultDown)
        upBlockTypes = try c.strings("up_block_types", default: defaultUp)
        blockOutChannels = try c.ints("block_out_channels", default: defaultChannels)
        let n = downBlockTypes.count
        // A key the file lacks takes diffusers' default (as diffusers does); say so, or a missing
        // down_block_types reads as a wrong length.
        let notes = c.defaultNote("block_out_channels", defaultChannels) + c.defaultNote("down_block_types", defaultDown)
        guard blockOutChannels.count == n else {
            throw ModelConfigError(file, "block_out_channels has \(blockOutChannels.count) entries, down_block_types has \(n)\(notes)")
        }
        guard upBlockTypes.count == n else {
            let upNotes = c.defaultNote("up_block_types", defaultUp) + c.defaultNote("down_block_types", defaultDown)
            throw ModelConfigError(file, "up_block_types has \(upBlockTypes.count) entries, down_block_types has \(n)\(upNotes)")
        }
        layersPerBlock = try c.intOrInts("layers_per_block", count: n, default: 2)
        downsamplePadding = try c.int("downsample_padding", default: 1)
        normNumGroups = try c.int("norm_num_groups", default: 32)
        normEps = Float(try c.double("norm_eps", default: 1e-5))
        crossAttentionDim = try c.intOrInts("cross_attention_dim", count: n, default: 1280)
        transformerLayersPerBlock = try c.intOrInts("transformer_layers_per_block", count: n, default: 1)
        if c.has("num_attention_heads"), try c.optionalIntOrInts("num_attention_heads", count: n) != nil {
            attentionHeads = try c.intOrInts("num_attention_heads", count: n)
        } else {
            attentionHeads = try c.intOrInts("attention_head_dim", count: n, default: 8)
        }
        useLinearProjection = try c.bool("use_linear_projection", default: false)
        upcastAttention = try c.bool("upcast_attention", default: false)

        for (i, t) in downBlockTypes.enumerated() where t != "CrossAttnDownBlock2D" && t != "DownBlock2D" {
            throw ModelConfigError(file, "down_block_types[\(i)] is \"\(t)\"; supported: CrossAttnDownBlock2D, DownBlock2D")
        }
        for (i, t) in upBlockTypes.enumerated() where t != "CrossAttnUpBlock2D" && t != "UpBlock2D" {
            throw ModelConfigError(file, "up_block_types[\(i)] is \"\(t)\"; supported: CrossAttnUpBlock2D, UpBlock2D")
        }
        let mid = try c.optionalString("mid_block_type") ?? "UNetMidBlock2DCrossAttn"
        if mid != "UNetMidBlock2DCrossAttn" { throw ModelConfigError(file, "mid_block_type \"\(mid)\" is not supported; expected UNetMidBlock2DCrossAttn") }
        let act = try c.string("act_fn", default: "silu")
        if act != "silu" { throw ModelConfigError(file, "act_fn \"\(act)\" is not supported; expected silu") }
        for key in ["class_embed_type", "addition_embed_type", "time_cond_proj_dim", "encoder_hid_dim", "num_class_embeds"] {
            if let v = c.value(key), v != .null { throw ModelConfigError(file, "\(key) is set (\(v)); this UNet supports plain text conditioning only") }
        }
        if try c.string("resnet_time_scale_shift", default: "default") != "default" {
            throw ModelConfigError(file, "resnet_time_scale_shift must be \"default\"")
        }
        if try c.string("time_embedding_type", default: "positional") != "positional" {
            throw ModelConfigError(file, "time_embedding_type must be \"positional\"")
        }
        if try c.int("conv_in_kernel", default: 3) != 3 || c.int("conv_out_kernel", default: 3) != 3 {
            throw ModelConfigError(file, "conv_in_kernel and conv_out_kernel must be 3")
        }
        if try c.boolOrBools("only_cross_attention", count: n, default: false).contains(true) || c.bool("dual_cross_attention", default: false) {
            throw ModelConfigError(file, "only_cross_attention / dual_cross_attention are not supported")
        }
        for (i, (ch, heads)) in zip(blockOutChannels, attentionHeads).enumerated() where heads < 1 || ch % heads != 0 {
            throw ModelConfigError(file, "block \(i): \(ch) channels do not split into \(heads) attention heads")
        }
        for (i, ch) in blockOutChannels.enumerated() where ch % normNumGroups != 0 {
            throw ModelConfigError(file, "block_out_channels[\(i)] = \(ch) is not a multiple of norm_num_groups \(normNumGroups)")
        }
    }

    var timeEmbeddingChannels: Int { blockOutChannels[0] * 4 }
}

/// diffusers' `UNet2DConditionModel` for the Stable Diffusion 1.x/2.x family, loaded strictly from a
/// diffusers `unet/` directory (config.json + safetensors, sharded or not). ε/v prediction is whatever the
/// checkpoint was trained for; the scheduler config says which.
public struct UNet2DConditionModel: Sendable {
    public let config: UNet2DConditionConfig

    struct DownBlock: Sendable {
        var resnets: [ResnetBlock2D]
        var attentions: [Transformer2D]
        var downsampler: Downsample2D?
    }
    struct UpBlock: Sendable {
        var resnets: [ResnetBlock2D]
        var attentions: [Transformer2D]
        var upsampler: Upsample2D?
    }

    let timeLinear1: Linear, timeLinear2: Linear
    let convIn: Conv2d
    let downBlocks: [DownBlock]
    let midResnets: [ResnetBlock2D]
    let midAttention: Transformer2D
    let upBlocks: [UpBlock]
    let normOut: GroupNorm
    let convOut: Conv2d

    /// Loads `directory` (config.json + diffusion_pytorch_model[.variant].safetensors).
    public init(directory: URL, variant: String? = nil) throws {
        let config = try UNet2DConditionConfig(ConfigFile.load(directory.appendingPathComponent("config.json")))
        let store = try WeightStore(directory: directory, baseName: "diffusion_pytorch_model", variant: variant)
        try self.init(config: config, weights: store)
        try store.finish()
    }

    public init(config c: UNet2DConditionConfig, weights s: WeightStore) throws {
        config = c
        let ch = c.blockOutChannels, n = ch.count, temb = c.timeEmbeddingChannels, g = c.normNumGroups, eps = c.normEps
        timeLinear1 = try Linear(s, "time_embedding.linear_1", in: ch[0], out: temb)
        timeLinear2 = try Linear(s, "time_embedding.linear_2", in: temb, out: temb)
        convIn = try Conv2d(s, "conv_in", in: c.inChannels, out: ch[0], kernel: 3)

        func transformer(_ s: WeightStore, channels: Int, block i: Int) throws -> Transformer2D {
            try Transformer2D(s, channels: channels, heads: c.attentionHeads[i], headDim: channels / c.attentionHeads[i],
                              contextDim: c.crossAttentionDim[i], layers: c.transformerLayersPerBlock[i], groups: g,
                              linearProjection: c.useLinearProjection)
        }

        var downs: [DownBlock] = []
        var out = ch[0]
        for i in 0..<n {
            let bs = s.scope("down_blocks.\(i)")
            let input = out
            out = ch[i]
            let cross = c.downBlockTypes[i] == "CrossAttnDownBlock2D"
            var block = DownBlock(resnets: [], attentions: [], downsampler: nil)
            for j in 0..<c.layersPerBlock[i] {
                block.resnets.append(try ResnetBlock2D(bs.scope("resnets.\(j)"), in: j == 0 ? input : out, out: out,
                                                       timeEmbeddingChannels: temb, groups: g, eps: eps))
                if cross { block.attentions.append(try transformer(bs.scope("attentions.\(j)"), channels: out, block: i)) }
            }
            if i < n - 1 { block.downsampler = try Downsample2D(bs.scope("downsamplers.0"), channels: out, padding: c.downsamplePadding) }
            downs.append(block)
        }
        downBlocks = downs

        let ms = s.scope("mid_block")
        midResnets = try (0..<2).map { try ResnetBlock2D(ms.scope("resnets.\($0)"), in: ch[n - 1], out: ch[n - 1], timeEmbeddingChannels: temb, groups: g, eps: eps) }
        midAttention = try transformer(ms.scope("attentions.0"), channels: ch[n - 1], block: n - 1)

        var ups: [UpBlock] = []
        let reversed = Array(ch.reversed())
        var previous = reversed[0]
        for i in 0..<n {
            let bs = s.scope("up_blocks.\(i)")
            let output = reversed[i]
            let input = reversed[min(i + 1, n - 1)]
            let layers = c.layersPerBlock[n - 1 - i] + 1
            let cross = c.upBlockTypes[i] == "CrossAttnUpBlock2D"
            var block = UpBlock(resnets: [], attentions: [], upsampler: nil)
            for j in 0..<layers {
                let skip = j == layers - 1 ? input : output
                let resIn = j == 0 ? previous : output
                block.resnets.append(try ResnetBlock2D(bs.scope("resnets.\(j)"), in: resIn + skip, out: output,
                                                       timeEmbeddingChannels: temb, groups: g, eps: eps))
                if cross { block.attentions.append(try transformer(bs.scope("attentions.\(j)"), channels: output, block: n - 1 - i)) }
            }
            if i < n - 1 { block.upsampler = try Upsample2D(bs.scope("upsamplers.0"), channels: output) }
            ups.append(block)
            previous = output
        }
        upBlocks = ups
        normOut = try GroupNorm(s, "conv_norm_out", groups: g, channels: ch[0], eps: eps)
        convOut = try Conv2d(s, "conv_out", in: ch[0], out: c.outChannels, kernel: 3)
    }

    /// ε (or v) for `sample` `[N, C, H, W]` at one timestep per row, conditioned on `context` `[N, L, D]`.
    /// H and W must be divisible by 2^(blocks − 1). `cancellation` is polled before every resnet and attention block
    /// and inside the attentions; a stop request throws `CancellationCheck.Cancelled`.
    public func callAsFunction(_ sample: Tensor, timesteps: [Float], context: Tensor,
                               cancellation: CancellationCheck = .never) throws(CancellationCheck.Cancelled) -> Tensor {
        precondition(timesteps.count == sample.shape[0], "UNet: \(timesteps.count) timesteps for batch \(sample.shape[0])")
        let emb0 = NN.timestepEmbedding(timesteps, dim: config.blockOutChannels[0], flipSinToCos: config.flipSinToCos,
                                        downscaleFreqShift: config.freqShift)
        let emb = timeLinear2(NN.silu(timeLinear1(emb0)))
        let temb = NN.silu(emb)

        var h = convIn(sample)
        var skips: [Tensor] = [h]
        for block in downBlocks {
            for (j, resnet) in block.resnets.enumerated() {
                try cancellation.check()
                h = resnet(h, activatedTimeEmbedding: temb)
                if !block.attentions.isEmpty {
                    try cancellation.check()
                    h = block.attentions[j](h, context: context, cancellation: cancellation)
                }
                skips.append(h)
            }
            if let d = block.downsampler { h = d(h); skips.append(h) }
        }
        try cancellation.check()
        h = midResnets[0](h, activatedTimeEmbedding: temb)
        try cancellation.check()
        h = midAttention(h, context: context, cancellation: cancellation)
        h = midResnets[1](h, activatedTimeEmbedding: temb)
        for block in upBlocks {
            for (j, resnet) in block.resnets.enumerated() {
                try cancellation.check()
                h = resnet(NN.concatChannels(h, skips.removeLast()), activatedTimeEmbedding: temb)
                if !block.attentions.isEmpty {
                    try cancellation.check()
                    h = block.attentions[j](h, context: context, cancellation: cancellation)
                }
            }
            if let u = block.upsampler { h = u(h) }
        }
        try cancellation.check()
        return convOut(normOut(h, silu: true))
    }
}
