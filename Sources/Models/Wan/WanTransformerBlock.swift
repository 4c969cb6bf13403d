import ModelIO
import TensorCore

/// diffusers' `WanTransformerBlock` for Wan 2.1 (a timestep projection per batch row, `temb` `[B, 6, D]`):
/// `scale_shift_table + temb` gives `shift, scale, gate` for the self-attention and for the feed-forward;
/// `norm1` / `norm3` are layer norms without affine (eps from the config), `norm2` an affine layer norm before the
/// cross-attention when `cross_attn_norm` (else none); the feed-forward is gelu-tanh with `ffn_dim` inner features.
/// Activations are float32 throughout, so diffusers' `.float()` / `type_as` casts are no-ops here.
public struct WanTransformerBlock: Sendable {
    enum Chunk {
        static let shiftMSA = 0, scaleMSA = 1, gateMSA = 2, shiftFF = 3, scaleFF = 4, gateFF = 5
    }
    let eps: Float
    /// `scale_shift_table` `[1, 6, D]` as `[6·D]`.
    let scaleShiftTable: Tensor
    let attn1: WanAttention, attn2: WanAttention
    let norm2: LayerNorm?
    let ffn: FeedForward

    public init(_ s: WeightStore, config c: WanTransformerConfig) throws {
        let d = c.innerDim
        eps = c.eps
        scaleShiftTable = try s.take("scale_shift_table", shape: [1, 6, d]).reshaped([6 * d])
        attn1 = try WanAttention(s.scope("attn1"), dim: d, heads: c.heads, headDim: c.headDim, eps: c.eps)
        attn2 = try WanAttention(s.scope("attn2"), dim: d, heads: c.heads, headDim: c.headDim, eps: c.eps)
        norm2 = c.crossAttnNorm ? try LayerNorm(s, "norm2", channels: d, eps: c.eps) : nil
        ffn = try FeedForward(s.scope("ffn"), dim: d, inner: c.ffnDim)
    }

    /// Tokens `x` `[B, L, D]`, projected text `context` `[B, Lt, D]` with its cross-attention mask (`WanTextKeys`),
    /// the timestep projection `[B, 6·D]` (`condition_embedder.time_proj` output) → `[B, L, D]`. After `cancellation` asks to stop the output is
    /// unspecified (see `NN.attention`).
    func callAsFunction(_ x: Tensor, context: Tensor, contextMask: Tensor? = nil, timestepProjection: Tensor,
                        rotary: WanRotaryPosEmbed, cancellation: CancellationCheck = .never) -> Tensor {
        typealias C = Chunk
        let emb = WanTokenOps.addingTable(scaleShiftTable, to: timestepProjection)
        let norm1 = FluxTokenOps.modulate(NN.layerNorm(x, weight: nil, bias: nil, eps: eps), emb: emb,
                                          scaleChunk: C.scaleMSA, shiftChunk: C.shiftMSA)
        var h = FluxTokenOps.gatedAdd(x, gate: emb, chunk: C.gateMSA,
                                      attn1.selfAttention(norm1, rotary: rotary, cancellation: cancellation))
        let normed = norm2.map { $0(h) } ?? h
        h = attn2.crossAttention(normed, context: context, mask: contextMask, residual: h, cancellation: cancellation)
        let norm3 = FluxTokenOps.modulate(NN.layerNorm(h, weight: nil, bias: nil, eps: eps), emb: emb,
                                          scaleChunk: C.scaleFF, shiftChunk: C.shiftFF)
        return FluxTokenOps.gatedAdd(h, gate: emb, chunk: C.gateFF, ffn(norm3))
    }
}

/// Layout and broadcast helpers of the Wan transformer.
enum WanTokenOps {
    /// `table + projection` per batch row: `table` `[k·D]` (a `scale_shift_table`), `projection` `[B, k·D]`.
    static func addingTable(_ table: Tensor, to projection: Tensor) -> Tensor {
        let width = table.count
        precondition(projection.rank == 2 && projection.shape[1] == width,
                     "WanTokenOps.addingTable: \(projection.shape) is not [B, \(width)]")
        var out = projection.scalars
        for row in 0..<projection.shape[0] {
            for k in 0..<width { out[row * width + k] += table.scalars[k] }
        }
        return Tensor(shape: projection.shape, scalars: out)
    }

    /// `[B, C, F, H, W]` → patch tokens `[B, F/pt · H/ph · W/pw, C·pt·ph·pw]`, tokens frame-major and each
    /// token's features in the order of a Conv3d kernel `(c, kt, kh, kw)`: the patch embedding's input.
    static func patchify(_ x: Tensor, patch p: [Int]) -> Tensor {
        let (b, c, f, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3], x.shape[4])
        let (gf, gh, gw) = (f / p[0], h / p[1], w / p[2])
        let grid = x.reshaped([b, c, gf, p[0], gh, p[1], gw, p[2]])
        return NN.permute(grid, [0, 2, 4, 6, 1, 3, 5, 7]).reshaped([b, gf * gh * gw, c * p[0] * p[1] * p[2]])
    }

    /// `proj_out`'s tokens `[B, F'·H'·W', pt·ph·pw·C]` → `[B, C, F'·pt, H'·ph, W'·pw]` (diffusers' unpatchify).
    static func unpatchify(_ y: Tensor, batch b: Int, grid g: (f: Int, h: Int, w: Int), patch p: [Int], channels c: Int) -> Tensor {
        let tokens = y.reshaped([b, g.f, g.h, g.w, p[0], p[1], p[2], c])
        return NN.permute(tokens, [0, 7, 1, 4, 2, 5, 3, 6]).reshaped([b, c, g.f * p[0], g.h * p[1], g.w * p[2]])
    }
}
