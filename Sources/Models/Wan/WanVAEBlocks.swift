import ModelIO
import TensorCore

/// diffusers' `feat_cache` / `feat_idx` of the Wan VAE's chunked passes: one slot per cached layer, visited in the
/// same order in every chunk (`beginChunk` rewinds). A causal convolution's slot holds the last (up to 2) frames of
/// its input so far; the upsampler's time convolution starts at the second chunk (`.skipped` = diffusers' "Rep").
struct WanFeatureCache {
    enum Slot { case empty, skipped, frames(Tensor) }
    var slots: [Slot] = []
    private var index = 0

    mutating func beginChunk() { index = 0 }

    /// The next slot's index (created empty on the first chunk).
    mutating func next() -> Int {
        if index == slots.count { slots.append(.empty) }
        index += 1
        return index - 1
    }

    func frames(_ i: Int) -> Tensor? {
        if case .frames(let t) = slots[i] { return t }
        return nil
    }

    /// The last `count` frames of `previous ++ x` (diffusers' `cache_x`, completed from the older cache when the
    /// chunk is shorter).
    static func lastFrames(_ previous: Tensor?, _ x: Tensor, count: Int = 2) -> Tensor {
        let f = x.shape[2]
        if f >= count || previous == nil { return NN.frames(x, Swift.max(0, f - count)..<f) }
        let p = previous!.shape[2], need = Swift.min(p, count - f)
        return NN.concatFrames([NN.frames(previous!, (p - need)..<p), x])
    }
}

/// diffusers' `WanCausalConv3d`: a 3-D convolution, causal in time (`2·pad_t` frames in front: the cached last
/// frames of the previous chunk, else zeros), weight `[O, C, KT, KH, KW]` kept in its stored precision.
struct WanCausalConv3d: Sendable {
    let weight: StoredTensor
    let bias: Tensor
    let stride: (t: Int, h: Int, w: Int)
    let padding: (t: Int, h: Int, w: Int)

    init(_ s: WeightStore, _ name: String, in cin: Int, out cout: Int, kernel: (Int, Int, Int),
         stride: (Int, Int, Int) = (1, 1, 1), padding: (Int, Int, Int) = (0, 0, 0)) throws {
        weight = try s.takeStored("\(name).weight", shape: [cout, cin, kernel.0, kernel.1, kernel.2])
        bias = try s.take("\(name).bias", shape: [cout])
        self.stride = (stride.0, stride.1, stride.2)
        self.padding = (padding.0, padding.1, padding.2)
    }

    /// A per-frame 3×3 `nn.Conv2d` (weight stored `[O, C, 3, 3]`) as a 1×3×3 causal convolution on the frames in
    /// place (`WanResample`'s `resample.1`): spatial padding 1 for `stride` 1, none for stride 2 (the caller pads).
    init(frameConv s: WeightStore, _ name: String, in cin: Int, out cout: Int, stride: Int) throws {
        weight = try s.takeStored("\(name).weight", shape: [cout, cin, 3, 3]).reshaped([cout, cin, 1, 3, 3])
        bias = try s.take("\(name).bias", shape: [cout])
        self.stride = (1, stride, stride)
        self.padding = stride == 1 ? (0, 1, 1) : (0, 0, 0)
    }

    /// A `k×k×k` convolution padded by `k/2` on every side (the residual blocks' and the heads' layers).
    init(_ s: WeightStore, _ name: String, in cin: Int, out cout: Int, cube k: Int) throws {
        try self.init(s, name, in: cin, out: cout, kernel: (k, k, k), padding: (k / 2, k / 2, k / 2))
    }

    func callAsFunction(_ x: Tensor, previous: Tensor? = nil) -> Tensor {
        NN.causalConv3d(x, weight: weight, bias: bias, stride: stride, padding: padding, previous: previous)
    }

    /// The chunked form: the cache's frames stand in for the zero padding, then hold this chunk's last input frames.
    func callAsFunction(_ x: Tensor, cache: inout WanFeatureCache) -> Tensor {
        let i = cache.next()
        let previous = cache.frames(i)
        cache.slots[i] = .frames(WanFeatureCache.lastFrames(previous, x))
        return self(x, previous: previous)
    }
}

/// diffusers' `WanRMS_norm` (channel-first, no bias in the VAE): `F.normalize` over channels × √C × gamma.
struct WanRMSNorm: Sendable {
    let gamma: Tensor

    /// `images`: gamma stored `[C, 1, 1]` (the attention block's per-frame norm), else `[C, 1, 1, 1]`.
    init(_ s: WeightStore, _ name: String, channels: Int, images: Bool) throws {
        gamma = try s.take("\(name).gamma", shape: images ? [channels, 1, 1] : [channels, 1, 1, 1]).reshaped([channels])
    }

    func callAsFunction(_ x: Tensor, silu: Bool = false) -> Tensor { NN.channelRMSNorm(x, gamma: gamma, silu: silu) }
}

/// diffusers' `WanResidualBlock`: norm → SiLU → causal 3×3×3 conv, twice (dropout is inference identity), plus the
/// input through a 1×1×1 `conv_shortcut` when the width changes.
struct WanResidualBlock: Sendable {
    let norm1: WanRMSNorm, conv1: WanCausalConv3d, norm2: WanRMSNorm, conv2: WanCausalConv3d
    let shortcut: WanCausalConv3d?

    init(_ s: WeightStore, in cin: Int, out cout: Int) throws {
        norm1 = try WanRMSNorm(s, "norm1", channels: cin, images: false)
        conv1 = try WanCausalConv3d(s, "conv1", in: cin, out: cout, cube: 3)
        norm2 = try WanRMSNorm(s, "norm2", channels: cout, images: false)
        conv2 = try WanCausalConv3d(s, "conv2", in: cout, out: cout, cube: 3)
        shortcut = cin != cout ? try WanCausalConv3d(s, "conv_shortcut", in: cin, out: cout, cube: 1) : nil
    }

    func callAsFunction(_ x: Tensor, cache: inout WanFeatureCache) -> Tensor {
        let h = shortcut.map { $0(x) } ?? x
        var y = conv1(norm1(x, silu: true), cache: &cache)
        y = conv2(norm2(y, silu: true), cache: &cache)
        return NN.add(y, h)
    }
}

/// diffusers' `WanAttentionBlock`: per frame, channel RMS norm, a 1×1 `to_qkv`, single-head attention over the
/// frame's H·W positions (head size C), a 1×1 `proj`, plus the input.
struct WanAttentionBlock: Sendable {
    let norm: WanRMSNorm
    let toQKV: Conv2d, proj: Conv2d
    let channels: Int

    init(_ s: WeightStore, channels c: Int) throws {
        channels = c
        norm = try WanRMSNorm(s, "norm", channels: c, images: true)
        toQKV = try Conv2d(s, "to_qkv", in: c, out: 3 * c, kernel: 1)
        proj = try Conv2d(s, "proj", in: c, out: c, kernel: 1)
    }

    func callAsFunction(_ x: Tensor, cancellation: CancellationCheck = .never) -> Tensor {
        let f = x.shape[2], h = x.shape[3], w = x.shape[4], c = channels
        let images = NN.framesToImages(x)
        let tokens = NN.nchwToTokens(toQKV(norm(images)))   // [B, HW, 3C]: q | k | v
        let b = tokens.shape[0], l = tokens.shape[1]
        let parts = (0..<3).map { part in
            Tensor(shape: [b, l, c], scalars: tokens.scalars.withUnsafeBufferPointer { src in
                [Float](unsafeUninitializedCapacity: b * l * c) { dst, count in
                    for row in 0..<(b * l) {
                        for j in 0..<c { dst[row * c + j] = src[row * 3 * c + part * c + j] }
                    }
                    count = b * l * c
                }
            })
        }
        let attended = NN.attention(query: parts[0], key: parts[1], value: parts[2], heads: 1, cancellation: cancellation)
        let out = proj(NN.tokensToNCHW(attended, height: h, width: w), residual: images)
        return NN.imagesToFrames(out, frames: f)
    }
}

/// diffusers' `WanResample`: 2× nearest-exact upsampling + 3×3 conv (to `dim/2` channels), or right/bottom zero
/// padding + 3×3 stride-2 conv, applied per frame; the 3-D modes add a causal time convolution — before the
/// upsampling, doubling the frames from the second chunk on (`dim → 2·dim` channels, interleaved into frames), or
/// after the downsampling, halving the frames with the previous chunk's last frame in front (stride 2, from the
/// second chunk on).
struct WanResample: Sendable {
    enum Mode: Sendable { case upsample2d, upsample3d, downsample2d, downsample3d }
    let mode: Mode
    let conv: WanCausalConv3d
    let timeConv: WanCausalConv3d?

    init(_ s: WeightStore, dim: Int, mode: Mode) throws {
        self.mode = mode
        switch mode {
        case .upsample2d, .upsample3d:
            conv = try WanCausalConv3d(frameConv: s, "resample.1", in: dim, out: dim / 2, stride: 1)
            timeConv = mode == .upsample3d
                ? try WanCausalConv3d(s, "time_conv", in: dim, out: 2 * dim, kernel: (3, 1, 1), padding: (1, 0, 0)) : nil
        case .downsample2d, .downsample3d:
            conv = try WanCausalConv3d(frameConv: s, "resample.1", in: dim, out: dim, stride: 2)
            timeConv = mode == .downsample3d
                ? try WanCausalConv3d(s, "time_conv", in: dim, out: dim, kernel: (3, 1, 1), stride: (2, 1, 1)) : nil
        }
    }

    func callAsFunction(_ input: Tensor, cache: inout WanFeatureCache) -> Tensor {
        var x = input
        if mode == .upsample3d, let timeConv {
            let i = cache.next()
            switch cache.slots[i] {
            case .empty:
                cache.slots[i] = .skipped
            case .skipped:
                cache.slots[i] = .frames(WanFeatureCache.lastFrames(nil, x))
                x = NN.interleaveTimeChannels(timeConv(x))
            case .frames(let previous):
                cache.slots[i] = .frames(WanFeatureCache.lastFrames(previous, x))
                x = NN.interleaveTimeChannels(timeConv(x, previous: previous))
            }
        }
        // The per-frame resampling on each (channel, frame) plane alike, then the per-frame convolution on the
        // frames in place (no layout moves).
        let (n, c, f, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3], x.shape[4])
        switch mode {
        case .upsample2d, .upsample3d:
            x = conv(NN.upsampleNearest2x(x.reshaped([n, c * f, h, w])).reshaped([n, c, f, 2 * h, 2 * w]))
        case .downsample2d, .downsample3d:
            x = conv(padRightBottom(x.reshaped([n, c * f, h, w])).reshaped([n, c, f, h + 1, w + 1]))
        }
        if mode == .downsample3d, let timeConv {
            let i = cache.next()
            let last = NN.frames(x, (f - 1)..<f)
            if let previous = cache.frames(i) { x = timeConv(x, previous: previous) }
            cache.slots[i] = .frames(last)
        }
        return x
    }
}

/// diffusers' `WanMidBlock` (one attention layer): resnet, attention, resnet.
struct WanMidBlock: Sendable {
    let resnets: [WanResidualBlock]
    let attention: WanAttentionBlock

    init(_ s: WeightStore, dim: Int) throws {
        resnets = try (0..<2).map { try WanResidualBlock(s.scope("resnets.\($0)"), in: dim, out: dim) }
        attention = try WanAttentionBlock(s.scope("attentions.0"), channels: dim)
    }

    func callAsFunction(_ x: Tensor, cache: inout WanFeatureCache, cancellation: CancellationCheck) -> Tensor {
        let y = resnets[0](x, cache: &cache)
        return resnets[1](attention(y, cancellation: cancellation), cache: &cache)
    }
}

/// diffusers' `WanEncoder3d` (Wan 2.1 layout: residual blocks and resamplers in one `down_blocks` list).
struct WanEncoder3d: Sendable {
    enum Layer: Sendable { case residual(WanResidualBlock), resample(WanResample) }
    let convIn: WanCausalConv3d
    let downBlocks: [Layer]
    let midBlock: WanMidBlock
    let normOut: WanRMSNorm
    let convOut: WanCausalConv3d

    init(_ s: WeightStore, config c: AutoencoderKLWanConfig) throws {
        let dims = c.encoderDims
        convIn = try WanCausalConv3d(s, "conv_in", in: c.inChannels, out: dims[0], cube: 3)
        var layers: [Layer] = []
        for i in 0..<c.dimMult.count {
            var cin = dims[i]
            for _ in 0..<c.numResBlocks {
                layers.append(.residual(try WanResidualBlock(s.scope("down_blocks.\(layers.count)"), in: cin, out: dims[i + 1])))
                cin = dims[i + 1]
            }
            if i != c.dimMult.count - 1 {
                layers.append(.resample(try WanResample(s.scope("down_blocks.\(layers.count)"), dim: dims[i + 1],
                                                        mode: c.temperalDownsample[i] ? .downsample3d : .downsample2d)))
            }
        }
        downBlocks = layers
        midBlock = try WanMidBlock(s.scope("mid_block"), dim: dims.last!)
        normOut = try WanRMSNorm(s, "norm_out", channels: dims.last!, images: false)
        convOut = try WanCausalConv3d(s, "conv_out", in: dims.last!, out: 2 * c.zDim, cube: 3)
    }

    func callAsFunction(_ input: Tensor, cache: inout WanFeatureCache, cancellation: CancellationCheck) throws(WanVAEError) -> Tensor {
        var x = convIn(input, cache: &cache)
        for layer in downBlocks {
            if cancellation.isCancelled { throw .cancelled }
            switch layer {
            case .residual(let block): x = block(x, cache: &cache)
            case .resample(let block): x = block(x, cache: &cache)
            }
        }
        if cancellation.isCancelled { throw .cancelled }
        x = midBlock(x, cache: &cache, cancellation: cancellation)
        if cancellation.isCancelled { throw .cancelled }
        return convOut(normOut(x, silu: true), cache: &cache)
    }
}

/// diffusers' `WanUpBlock`: `num_res_blocks + 1` residual blocks, then an optional upsampler (`upsamplers.0`).
struct WanUpBlock: Sendable {
    let resnets: [WanResidualBlock]
    let upsampler: WanResample?

    init(_ s: WeightStore, in cin: Int, out cout: Int, resBlocks: Int, upsample: WanResample.Mode?) throws {
        resnets = try (0...resBlocks).map {
            try WanResidualBlock(s.scope("resnets.\($0)"), in: $0 == 0 ? cin : cout, out: cout)
        }
        upsampler = try upsample.map { try WanResample(s.scope("upsamplers.0"), dim: cout, mode: $0) }
    }
}

/// diffusers' `WanDecoder3d` (Wan 2.1 layout).
struct WanDecoder3d: Sendable {
    let convIn: WanCausalConv3d
    let midBlock: WanMidBlock
    let upBlocks: [WanUpBlock]
    let normOut: WanRMSNorm
    let convOut: WanCausalConv3d

    init(_ s: WeightStore, config c: AutoencoderKLWanConfig) throws {
        let dims = c.decoderDims
        convIn = try WanCausalConv3d(s, "conv_in", in: c.zDim, out: dims[0], cube: 3)
        midBlock = try WanMidBlock(s.scope("mid_block"), dim: dims[0])
        let last = c.dimMult.count - 1
        upBlocks = try (0...last).map { i in
            let mode: WanResample.Mode? = i == last ? nil : (c.temperalUpsample[i] ? .upsample3d : .upsample2d)
            return try WanUpBlock(s.scope("up_blocks.\(i)"), in: i > 0 ? dims[i] / 2 : dims[0], out: dims[i + 1],
                                  resBlocks: c.numResBlocks, upsample: mode)
        }
        normOut = try WanRMSNorm(s, "norm_out", channels: dims.last!, images: false)
        convOut = try WanCausalConv3d(s, "conv_out", in: dims.last!, out: c.outChannels, cube: 3)
    }

    func callAsFunction(_ input: Tensor, cache: inout WanFeatureCache, cancellation: CancellationCheck) throws(WanVAEError) -> Tensor {
        var x = convIn(input, cache: &cache)
        if cancellation.isCancelled { throw .cancelled }
        x = midBlock(x, cache: &cache, cancellation: cancellation)
        for block in upBlocks {
            for resnet in block.resnets {
                if cancellation.isCancelled { throw .cancelled }
                x = resnet(x, cache: &cache)
            }
            if let up = block.upsampler { x = up(x, cache: &cache) }
        }
        if cancellation.isCancelled { throw .cancelled }
        return convOut(normOut(x, silu: true), cache: &cache)
    }
}
