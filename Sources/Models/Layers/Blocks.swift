import ModelIO
import TensorCore

/// diffusers' `ResnetBlock2D` (time_embedding_norm "default", SiLU, output_scale_factor 1):
/// GN → SiLU → conv → (+ projected time embedding) → GN → SiLU → conv, plus a 1×1 shortcut when the
/// channel count changes. `timeEmbeddingChannels` nil = no time embedding (VAE blocks).
public struct ResnetBlock2D: Sendable {
    let norm1: GroupNorm, conv1: Conv2d, norm2: GroupNorm, conv2: Conv2d
    let timeProjection: Linear?
    let shortcut: Conv2d?

    public init(_ s: WeightStore, in cin: Int, out cout: Int, timeEmbeddingChannels: Int?, groups: Int, eps: Float) throws {
        norm1 = try GroupNorm(s, "norm1", groups: groups, channels: cin, eps: eps)
        conv1 = try Conv2d(s, "conv1", in: cin, out: cout, kernel: 3)
        timeProjection = try timeEmbeddingChannels.map { try Linear(s, "time_emb_proj", in: $0, out: cout) }
        norm2 = try GroupNorm(s, "norm2", groups: groups, channels: cout, eps: eps)
        conv2 = try Conv2d(s, "conv2", in: cout, out: cout, kernel: 3)
        shortcut = cin != cout ? try Conv2d(s, "conv_shortcut", in: cin, out: cout, kernel: 1) : nil
    }

    /// `x` `[N, C, H, W]`; `activatedTimeEmbedding` is SiLU(emb) `[N, E]` (computed once per UNet call).
    public func callAsFunction(_ x: Tensor, activatedTimeEmbedding temb: Tensor?) -> Tensor {
        let offsets = timeProjection.flatMap { p in temb.map { p($0) } }
        let h = conv1(norm1(x, silu: true), channelOffsets: offsets)
        return conv2(norm2(h, silu: true), residual: shortcut?(x) ?? x)
    }
}

/// diffusers' `Attention` as used by SD: separate q/k/v projections (bias configurable), multi-head scaled
/// dot-product attention, output projection `to_out.0` with bias. Self-attention when `context` is nil.
public struct AttentionLayer: Sendable {
    let toQ: Linear, toK: Linear, toV: Linear, toOut: Linear
    let heads: Int

    public init(_ s: WeightStore, queryDim: Int, contextDim: Int?, heads: Int, headDim: Int, qkvBias: Bool = false) throws {
        let inner = heads * headDim
        toQ = try Linear(s, "to_q", in: queryDim, out: inner, bias: qkvBias)
        toK = try Linear(s, "to_k", in: contextDim ?? queryDim, out: inner, bias: qkvBias)
        toV = try Linear(s, "to_v", in: contextDim ?? queryDim, out: inner, bias: qkvBias)
        toOut = try Linear(s, "to_out.0", in: inner, out: queryDim)
        self.heads = heads
    }

    /// `x` `[B, L, C]`, `context` `[B, Lc, D]` → `[B, L, C]`, plus `residual` (`[B, L, C]`) when given, added by
    /// the output projection. After `cancellation` asks to stop the output is unspecified (see `NN.attention`).
    public func callAsFunction(_ x: Tensor, context: Tensor? = nil, residual: Tensor? = nil,
                               cancellation: CancellationCheck = .never) -> Tensor {
        let c = context ?? x
        return toOut(NN.attention(query: toQ(x), key: toK(c), value: toV(c), heads: heads, cancellation: cancellation),
                     residual: residual)
    }
}

/// diffusers' `BasicTransformerBlock` (layer norms, self-attention, cross-attention, GEGLU feed-forward,
/// residual after each) as Stable Diffusion 1.x/2.x configures it.
public struct BasicTransformerBlock: Sendable {
    let norm1: LayerNorm, attn1: AttentionLayer, norm2: LayerNorm, attn2: AttentionLayer, norm3: LayerNorm
    let ffIn: Linear, ffOut: Linear

    public init(_ s: WeightStore, dim: Int, heads: Int, headDim: Int, contextDim: Int) throws {
        norm1 = try LayerNorm(s, "norm1", channels: dim, eps: 1e-5)
        attn1 = try AttentionLayer(s.scope("attn1"), queryDim: dim, contextDim: nil, heads: heads, headDim: headDim)
        norm2 = try LayerNorm(s, "norm2", channels: dim, eps: 1e-5)
        attn2 = try AttentionLayer(s.scope("attn2"), queryDim: dim, contextDim: contextDim, heads: heads, headDim: headDim)
        norm3 = try LayerNorm(s, "norm3", channels: dim, eps: 1e-5)
        let inner = dim * 4
        ffIn = try Linear(s, "ff.net.0.proj", in: dim, out: inner * 2)
        ffOut = try Linear(s, "ff.net.2", in: inner, out: dim)
    }

    /// After `cancellation` asks to stop the output is unspecified (see `NN.attention`).
    public func callAsFunction(_ x: Tensor, context: Tensor, cancellation: CancellationCheck = .never) -> Tensor {
        // Each residual is added by the branch's last projection as it stores its output.
        var h = attn1(norm1(x), residual: x, cancellation: cancellation)
        h = attn2(norm2(h), context: context, residual: h, cancellation: cancellation)
        return ffOut(NN.geglu(ffIn(norm3(h))), residual: h)
    }
}

/// diffusers' `Transformer2DModel` on continuous NCHW input: group norm (eps 1e-6), projection in (1×1 conv,
/// or linear when `use_linear_projection`), transformer blocks over the H·W tokens, projection out, residual.
public struct Transformer2D: Sendable {
    let norm: GroupNorm
    let projInConv: Conv2d?, projInLinear: Linear?
    let blocks: [BasicTransformerBlock]
    let projOutConv: Conv2d?, projOutLinear: Linear?

    public init(_ s: WeightStore, channels: Int, heads: Int, headDim: Int, contextDim: Int, layers: Int,
                groups: Int, linearProjection: Bool) throws {
        let inner = heads * headDim
        norm = try GroupNorm(s, "norm", groups: groups, channels: channels, eps: 1e-6)
        if linearProjection {
            projInLinear = try Linear(s, "proj_in", in: channels, out: inner); projInConv = nil
        } else {
            projInConv = try Conv2d(s, "proj_in", in: channels, out: inner, kernel: 1); projInLinear = nil
        }
        blocks = try (0..<layers).map {
            try BasicTransformerBlock(s.scope("transformer_blocks.\($0)"), dim: inner, heads: heads, headDim: headDim, contextDim: contextDim)
        }
        if linearProjection {
            projOutLinear = try Linear(s, "proj_out", in: inner, out: channels); projOutConv = nil
        } else {
            projOutConv = try Conv2d(s, "proj_out", in: inner, out: channels, kernel: 1); projOutLinear = nil
        }
    }

    /// After `cancellation` asks to stop the output is unspecified (see `NN.attention`).
    public func callAsFunction(_ x: Tensor, context: Tensor, cancellation: CancellationCheck = .never) -> Tensor {
        let h = x.shape[2], w = x.shape[3]
        var y = norm(x)
        var tokens: Tensor
        if let p = projInConv { tokens = NN.nchwToTokens(p(y)) } else { tokens = projInLinear!(NN.nchwToTokens(y)) }
        for block in blocks { tokens = block(tokens, context: context, cancellation: cancellation) }
        if let p = projOutLinear { y = NN.tokensToNCHW(p(tokens), height: h, width: w) } else { y = projOutConv!(NN.tokensToNCHW(tokens, height: h, width: w)) }
        return NN.add(y, x)
    }
}

/// diffusers' `Downsample2D` with a convolution: 3×3 stride 2, padding `padding` (0 pads right/bottom by one
/// first, as the VAE encoder does).
public struct Downsample2D: Sendable {
    let conv: Conv2d
    let padZeroRightBottom: Bool

    public init(_ s: WeightStore, channels: Int, padding: Int) throws {
        conv = try Conv2d(s, "conv", in: channels, out: channels, kernel: 3, stride: 2, padding: padding)
        padZeroRightBottom = padding == 0
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { conv(padZeroRightBottom ? padRightBottom(x) : x) }
}

/// diffusers' `Upsample2D` with a convolution: nearest ×2 then 3×3 conv.
public struct Upsample2D: Sendable {
    let conv: Conv2d
    public init(_ s: WeightStore, channels: Int) throws {
        conv = try Conv2d(s, "conv", in: channels, out: channels, kernel: 3)
    }
    public func callAsFunction(_ x: Tensor) -> Tensor { conv(NN.upsampleNearest2x(x)) }
}
