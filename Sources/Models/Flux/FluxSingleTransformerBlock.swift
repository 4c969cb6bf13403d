import ModelIO
import TensorCore

/// diffusers' `FluxSingleTransformerBlock` (single stream over the joint `[text, image]` tokens):
/// `AdaLayerNormZeroSingle`, then in parallel a pre-only attention and `proj_mlp` (D → 4D, tanh GELU);
/// `proj_out` maps their concatenation (5D) back to D; gated residual. diffusers concatenates and splits the
/// two streams in every block; this keeps them joined between blocks, which computes the same.
public struct FluxSingleTransformerBlock: Sendable {
    let norm: AdaLayerNormZeroSingle
    let attn: FluxAttention
    let projMLP: Linear, projOut: Linear

    public init(_ s: WeightStore, dim: Int, heads: Int, headDim: Int) throws {
        norm = try AdaLayerNormZeroSingle(s.scope("norm"), dim: dim)
        attn = try FluxAttention(s.scope("attn"), dim: dim, heads: heads, headDim: headDim, joint: false)
        projMLP = try Linear(s, "proj_mlp", in: dim, out: 4 * dim)
        projOut = try Linear(s, "proj_out", in: dim + 4 * dim, out: dim)
    }

    /// Joint tokens `x` `[B, L, D]` (text first), silu(temb) `[B, D]` → `[B, L, D]`. After `cancellation` asks to
    /// stop the output is unspecified (see `NN.attention`).
    func callAsFunction(_ x: Tensor, activatedEmbedding temb: Tensor, rotary: FluxPosEmbed,
                        cancellation: CancellationCheck = .never) -> Tensor {
        let (normed, emb) = norm(x, activatedEmbedding: temb)
        let mlp = NN.gelu(projMLP(normed), approximate: .tanh)
        let attention = attn.preOnly(normed, rotary: rotary, cancellation: cancellation)
        let rows = x.shape[0] * x.shape[1]
        let joined = NN.concatChannels(attention.reshaped([rows, attention.shape[2]]), mlp.reshaped([rows, mlp.shape[2]]))
        let projected = projOut(joined).reshaped(x.shape)
        return FluxTokenOps.gatedAdd(x, gate: emb, chunk: AdaLayerNormZeroSingle.Chunk.gate, projected)
    }
}
