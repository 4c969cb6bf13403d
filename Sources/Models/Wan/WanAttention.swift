import ModelIO
import TensorCore

/// diffusers' `WanAttention` with `WanAttnProcessor` in Wan 2.1 T2V's two uses (biased projections; q and k
/// RMS-normalised over all heads' features, `norm_q` / `norm_k`, eps from the config):
/// - self-attention (`attn1`): q, k, v from the tokens, rotary embeddings on q and k after the norms;
/// - cross-attention (`attn2`): q from the tokens, k and v from the projected text states, no rotary embedding.
/// Outputs through `to_out.0`. No added (image) key/value projections.
public struct WanAttention: Sendable {
    let heads: Int
    let eps: Float
    let toQ: Linear, toK: Linear, toV: Linear, toOut: Linear
    let normQ: Tensor, normK: Tensor

    public init(_ s: WeightStore, dim: Int, heads: Int, headDim: Int, eps: Float) throws {
        self.heads = heads
        self.eps = eps
        let inner = heads * headDim
        toQ = try Linear(s, "to_q", in: dim, out: inner)
        toK = try Linear(s, "to_k", in: dim, out: inner)
        toV = try Linear(s, "to_v", in: dim, out: inner)
        toOut = try Linear(s, "to_out.0", in: inner, out: dim)
        normQ = try s.take("norm_q.weight", shape: [inner])
        normK = try s.take("norm_k.weight", shape: [inner])
    }

    /// `residual + attn1(x)` for tokens `x` `[B, L, D]` (the residual added by the output projection).
    func selfAttention(_ x: Tensor, rotary: WanRotaryPosEmbed, residual: Tensor? = nil,
                       cancellation: CancellationCheck) -> Tensor {
        let q = rotary.apply(NN.rmsNorm(toQ(x), weight: normQ, eps: eps))
        let k = rotary.apply(NN.rmsNorm(toK(x), weight: normK, eps: eps))
        let out = NN.attention(query: q, key: k, value: toV(x), heads: heads, cancellation: cancellation)
        return toOut(out, residual: residual)
    }

    /// `residual + attn2(x, context)` for tokens `x` `[B, L, D]` and projected text states `context` `[B, Lt, D]`,
    /// with `mask` (additive, `[B, L, Lt]`) on the scores when given (`WanTextKeys`).
    func crossAttention(_ x: Tensor, context: Tensor, mask: Tensor? = nil, residual: Tensor? = nil,
                        cancellation: CancellationCheck) -> Tensor {
        let q = NN.rmsNorm(toQ(x), weight: normQ, eps: eps)
        let k = NN.rmsNorm(toK(context), weight: normK, eps: eps)
        let out = NN.attention(query: q, key: k, value: toV(context), heads: heads, mask: mask, cancellation: cancellation)
        return toOut(out, residual: residual)
    }
}
