import Foundation
import ModelIO
import TensorCore

/// diffusers' `AutoencoderKL` config (Stable Diffusion's VAE), decoded from `vae/config.json` with
/// diffusers' defaults.
public struct AutoencoderKLConfig: Sendable, Equatable {
    public var inChannels: Int
    public var outChannels: Int
    public var latentChannels: Int
    public var blockOutChannels: [Int]
    public var layersPerBlock: Int
    public var normNumGroups: Int
    public var sampleSize: Int
    public var scalingFactor: Float
    /// Present on some newer VAEs (latents = (z − shift)·scale); nil = 0.
    public var shiftFactor: Float?
    /// diffusers' `use_quant_conv` / `use_post_quant_conv` (false in FLUX.1's 16-channel VAE: no 1×1 convolutions
    /// around the latent).
    public var useQuantConv = true
    public var usePostQuantConv = true
    public var midBlockAddAttention: Bool

    public init(_ c: ConfigFile) throws {
        let file = c.displayName
        inChannels = try c.int("in_channels", default: 3)
        outChannels = try c.int("out_channels", default: 3)
        latentChannels = try c.int("latent_channels", default: 4)
        blockOutChannels = try c.ints("block_out_channels", default: [64])
        layersPerBlock = try c.int("layers_per_block", default: 1)
        normNumGroups = try c.int("norm_num_groups", default: 32)
        sampleSize = try c.int("sample_size", default: 32)
        scalingFactor = Float(try c.double("scaling_factor", default: 0.18215))
        shiftFactor = try c.optionalDouble("shift_factor").map(Float.init)
        midBlockAddAttention = try c.bool("mid_block_add_attention", default: true)
        let down = try c.strings("down_block_types", default: ["DownEncoderBlock2D"])
        let up = try c.strings("up_block_types", default: ["UpDecoderBlock2D"])
        // Keys the file lacks take diffusers' defaults (as diffusers does); the notes say so.
        let channelsNote = c.defaultNote("block_out_channels", [64])
        guard down.count == blockOutChannels.count, down.allSatisfy({ $0 == "DownEncoderBlock2D" }) else {
            throw ModelConfigError(file, "down_block_types must be \(blockOutChannels.count) × DownEncoderBlock2D (one per block_out_channels entry), got \(down)"
                + c.defaultNote("down_block_types", ["DownEncoderBlock2D"]) + channelsNote)
        }
        guard up.count == blockOutChannels.count, up.allSatisfy({ $0 == "UpDecoderBlock2D" }) else {
            throw ModelConfigError(file, "up_block_types must be \(blockOutChannels.count) × UpDecoderBlock2D, got \(up)"
                + c.defaultNote("up_block_types", ["UpDecoderBlock2D"]) + channelsNote)
        }
        if try c.string("act_fn", default: "silu") != "silu" { throw ModelConfigError(file, "act_fn must be silu") }
        useQuantConv = try c.bool("use_quant_conv", default: true)
        usePostQuantConv = try c.bool("use_post_quant_conv", default: true)
        for (i, ch) in blockOutChannels.enumerated() where ch % normNumGroups != 0 {
            throw ModelConfigError(file, "block_out_channels[\(i)] = \(ch) is not a multiple of norm_num_groups \(normNumGroups)")
        }
    }

    /// Spatial factor between images and latents: 2^(blocks − 1).
    public var downsamplingFactor: Int { 1 << (blockOutChannels.count - 1) }

    /// Bytes of working memory decoding one latent of `latentHeight × latentWidth` needs, as memory plans estimate
    /// it: about six live float32 tensors of the top block's width at full resolution and of the bottom block's at
    /// the latent's.
    public func decodeWorkingBytes(latentHeight h: Int, latentWidth w: Int) -> Int {
        let f = downsamplingFactor, top = blockOutChannels.first ?? 128, bottom = blockOutChannels.last ?? 512
        return 4 * (6 * (h * f) * (w * f) * top + 6 * h * w * bottom)
    }
}

/// The VAE mid block (`UNetMidBlock2D`): resnet, single-head self-attention with group norm, resnet.
struct VAEMidBlock: Sendable {
    let resnets: [ResnetBlock2D]
    let norm: GroupNorm?
    let attention: AttentionLayer?

    init(_ s: WeightStore, channels: Int, groups: Int, attention withAttention: Bool) throws {
        resnets = try (0..<2).map { try ResnetBlock2D(s.scope("resnets.\($0)"), in: channels, out: channels, timeEmbeddingChannels: nil, groups: groups, eps: 1e-6) }
        if withAttention {
            let a = s.scope("attentions.0")
            norm = try GroupNorm(a, "group_norm", groups: groups, channels: channels, eps: 1e-6)
            attention = try AttentionLayer(a, queryDim: channels, contextDim: nil, heads: 1, headDim: channels, qkvBias: true)
        } else { norm = nil; attention = nil }
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        var h = resnets[0](x, activatedTimeEmbedding: nil)
        if let norm, let attention {
            let tokens = attention(NN.nchwToTokens(norm(h)))
            h = NN.add(NN.tokensToNCHW(tokens, height: h.shape[2], width: h.shape[3]), h)
        }
        return resnets[1](h, activatedTimeEmbedding: nil)
    }
}

/// diffusers' `AutoencoderKL`: `encode` gives the latent distribution's mean and std (before scaling),
/// `decode` maps latents (already divided by the scaling factor) to images in about [−1, 1].
public struct AutoencoderKL: Sendable {
    public let config: AutoencoderKLConfig

    // Encoder
    let encConvIn: Conv2d
    let encDown: [(resnets: [ResnetBlock2D], down: Downsample2D?)]
    let encMid: VAEMidBlock
    let encNormOut: GroupNorm, encConvOut: Conv2d, quantConv: Conv2d?
    // Decoder
    let postQuantConv: Conv2d?, decConvIn: Conv2d
    let decMid: VAEMidBlock
    let decUp: [(resnets: [ResnetBlock2D], up: Upsample2D?)]
    let decNormOut: GroupNorm, decConvOut: Conv2d

    public init(directory: URL, variant: String? = nil) throws {
        let config = try AutoencoderKLConfig(ConfigFile.load(directory.appendingPathComponent("config.json")))
        let store = try WeightStore(directory: directory, baseName: "diffusion_pytorch_model", variant: variant)
        try self.init(config: config, weights: store)
        try store.finish()
    }

    public init(config c: AutoencoderKLConfig, weights s: WeightStore) throws {
        config = c
        let ch = c.blockOutChannels, n = ch.count, g = c.normNumGroups, z = c.latentChannels
        let e = s.scope("encoder")
        encConvIn = try Conv2d(e, "conv_in", in: c.inChannels, out: ch[0], kernel: 3)
        var downs: [(resnets: [ResnetBlock2D], down: Downsample2D?)] = []
        var out = ch[0]
        for i in 0..<n {
            let bs = e.scope("down_blocks.\(i)")
            let input = out
            out = ch[i]
            let resnets = try (0..<c.layersPerBlock).map {
                try ResnetBlock2D(bs.scope("resnets.\($0)"), in: $0 == 0 ? input : out, out: out, timeEmbeddingChannels: nil, groups: g, eps: 1e-6)
            }
            downs.append((resnets, i < n - 1 ? try Downsample2D(bs.scope("downsamplers.0"), channels: out, padding: 0) : nil))
        }
        encDown = downs
        encMid = try VAEMidBlock(e.scope("mid_block"), channels: ch[n - 1], groups: g, attention: c.midBlockAddAttention)
        encNormOut = try GroupNorm(e, "conv_norm_out", groups: g, channels: ch[n - 1], eps: 1e-6)
        encConvOut = try Conv2d(e, "conv_out", in: ch[n - 1], out: 2 * z, kernel: 3)
        quantConv = c.useQuantConv ? try Conv2d(s, "quant_conv", in: 2 * z, out: 2 * z, kernel: 1) : nil

        postQuantConv = c.usePostQuantConv ? try Conv2d(s, "post_quant_conv", in: z, out: z, kernel: 1) : nil
        let d = s.scope("decoder")
        decConvIn = try Conv2d(d, "conv_in", in: z, out: ch[n - 1], kernel: 3)
        decMid = try VAEMidBlock(d.scope("mid_block"), channels: ch[n - 1], groups: g, attention: c.midBlockAddAttention)
        var ups: [(resnets: [ResnetBlock2D], up: Upsample2D?)] = []
        let reversed = Array(ch.reversed())
        var previous = reversed[0]
        for i in 0..<n {
            let bs = d.scope("up_blocks.\(i)")
            let output = reversed[i]
            let resnets = try (0...c.layersPerBlock).map {
                try ResnetBlock2D(bs.scope("resnets.\($0)"), in: $0 == 0 ? previous : output, out: output, timeEmbeddingChannels: nil, groups: g, eps: 1e-6)
            }
            ups.append((resnets, i < n - 1 ? try Upsample2D(bs.scope("upsamplers.0"), channels: output) : nil))
            previous = output
        }
        decUp = ups
        decNormOut = try GroupNorm(d, "conv_norm_out", groups: g, channels: ch[0], eps: 1e-6)
        decConvOut = try Conv2d(d, "conv_out", in: ch[0], out: c.outChannels, kernel: 3)
    }

    /// Mean and std of the latent distribution for images `[N, C, H, W]` in [−1, 1] (logvar clamped to
    /// [−30, 20] as diffusers does).
    public func encode(_ images: Tensor) -> (mean: Tensor, std: Tensor) {
        var h = encConvIn(images)
        for block in encDown {
            for r in block.resnets { h = r(h, activatedTimeEmbedding: nil) }
            if let d = block.down { h = d(h) }
        }
        h = encConvOut(encNormOut(encMid(h), silu: true))
        if let quantConv { h = quantConv(h) }
        let n = h.shape[0], z = config.latentChannels, plane = h.shape[2] * h.shape[3]
        var mean = [Float](), std = [Float]()
        mean.reserveCapacity(n * z * plane); std.reserveCapacity(n * z * plane)
        for b in 0..<n {
            let base = b * 2 * z * plane
            mean += h.scalars[base..<(base + z * plane)]
            std += h.scalars[(base + z * plane)..<(base + 2 * z * plane)].map { Foundation.exp(0.5 * Swift.min(Swift.max($0, -30), 20)) }
        }
        let shape = [n, z, h.shape[2], h.shape[3]]
        return (Tensor(shape: shape, scalars: mean), Tensor(shape: shape, scalars: std))
    }

    /// Images for latents `[N, z, h, w]` that have already been divided by the scaling factor.
    public func decode(_ latents: Tensor) -> Tensor {
        var h = decMid(decConvIn(postQuantConv.map { $0(latents) } ?? latents))
        for block in decUp {
            for r in block.resnets { h = r(h, activatedTimeEmbedding: nil) }
            if let u = block.up { h = u(h) }
        }
        return decConvOut(decNormOut(h, silu: true))
    }
}
