import ModelIO
import TensorCore

/// diffusers' `FluxTransformerBlock` (double stream): each stream has its own `AdaLayerNormZero`
/// (`norm1`, `norm1_context`), joint attention, a gated residual, a layer norm (no affine, eps 1e-6)
/// modulated by the `_mlp` chunks, and a gelu-tanh feed-forward (`ff`, `ff_context`: `net.0.proj` to 4·D,
/// `net.2` back) with a gated residual.
public struct FluxTransformerBlock: Sendable {
    let norm1: AdaLayerNormZero, norm1Context: AdaLayerNormZero
    let attn: FluxAttention
    let ff: FeedForward, ffContext: FeedForward

    public init(_ s: WeightStore, dim: Int, heads: Int, headDim: Int) throws {
        norm1 = try AdaLayerNormZero(s.scope("norm1"), dim: dim)
        norm1Context = try AdaLayerNormZero(s.scope("norm1_context"), dim: dim)
        attn = try FluxAttention(s.scope("attn"), dim: dim, heads: heads, headDim: headDim, joint: true)
        ff = try FeedForward(s.scope("ff"), dim: dim)
        ffContext = try FeedForward(s.scope("ff_context"), dim: dim)
    }

    /// Image tokens `x` `[B, Li, D]`, text tokens `context` `[B, Lt, D]`, silu(temb) `[B, D]` → (context, x).
    /// After `cancellation` asks to stop the output is unspecified (see `NN.attention`).
    func callAsFunction(_ x: Tensor, context: Tensor, activatedEmbedding temb: Tensor,
                        rotary: FluxPosEmbed, cancellation: CancellationCheck = .never) -> (context: Tensor, x: Tensor) {
        typealias C = AdaLayerNormZero.Chunk
        let (normX, emb) = norm1(x, activatedEmbedding: temb)
        let (normContext, cEmb) = norm1Context(context, activatedEmbedding: temb)
        let (attnX, attnContext) = attn.joint(normX, context: normContext, rotary: rotary, cancellation: cancellation)

        func feedForward(_ h: Tensor, _ ff: FeedForward, _ emb: Tensor) -> Tensor {
            let normed = NN.layerNorm(h, weight: nil, bias: nil, eps: 1e-6)
            let modulated = FluxTokenOps.modulate(normed, emb: emb, scaleChunk: C.scaleMLP, shiftChunk: C.shiftMLP)
            return FluxTokenOps.gatedAdd(h, gate: emb, chunk: C.gateMLP, ff(modulated))
        }
        let h = FluxTokenOps.gatedAdd(x, gate: emb, chunk: C.gateMSA, attnX)
        let c = FluxTokenOps.gatedAdd(context, gate: cEmb, chunk: C.gateMSA, attnContext)
        return (feedForward(c, ffContext, cEmb), feedForward(h, ff, emb))
    }
}

/// diffusers' `FeedForward(dim, dim_out=dim, inner_dim, activation_fn="gelu-approximate")`: `net.0.proj`
/// (D → inner, 4D unless given), tanh GELU, `net.2` (inner → D).
public struct FeedForward: Sendable {
    let proj: Linear, out: Linear

    public init(_ s: WeightStore, dim: Int, inner: Int? = nil) throws {
        let inner = inner ?? 4 * dim
        proj = try Linear(s, "net.0.proj", in: dim, out: inner)
        out = try Linear(s, "net.2", in: inner, out: dim)
    }

    /// `net.2(gelu_tanh(net.0.proj(x)))`, plus `residual` when given (added by the last projection).
    func callAsFunction(_ x: Tensor, residual: Tensor? = nil) -> Tensor {
        out(NN.gelu(proj(x), approximate: .tanh), residual: residual)
    }
}
