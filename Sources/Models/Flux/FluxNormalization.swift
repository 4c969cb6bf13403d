import ModelIO
import TensorCore

/// diffusers' `AdaLayerNormZero` as FLUX's double-stream blocks use it (layer norm without affine, eps 1e-6):
/// `linear(silu(temb))` gives six chunks `shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp`;
/// the input is normalised and modulated with the first two. The other four are returned as `emb` for the
/// block to read (`Chunk`).
public struct AdaLayerNormZero: Sendable {
    enum Chunk {
        static let shiftMSA = 0, scaleMSA = 1, gateMSA = 2, shiftMLP = 3, scaleMLP = 4, gateMLP = 5
    }
    let linear: Linear

    public init(_ s: WeightStore, dim: Int) throws {
        linear = try Linear(s, "linear", in: dim, out: 6 * dim)
    }

    /// `x` `[B, L, D]`, `activatedEmbedding` = silu(temb) `[B, D]` → (modulated norm of x, emb `[B, 6D]`).
    func callAsFunction(_ x: Tensor, activatedEmbedding: Tensor) -> (Tensor, emb: Tensor) {
        let emb = linear(activatedEmbedding)
        let normed = NN.layerNorm(x, weight: nil, bias: nil, eps: 1e-6)
        return (FluxTokenOps.modulate(normed, emb: emb, scaleChunk: Chunk.scaleMSA, shiftChunk: Chunk.shiftMSA), emb)
    }
}

/// diffusers' `AdaLayerNormZeroSingle` (layer norm without affine, eps 1e-6): three chunks
/// `shift_msa, scale_msa, gate_msa` of `linear(silu(temb))`.
public struct AdaLayerNormZeroSingle: Sendable {
    enum Chunk {
        static let shift = 0, scale = 1, gate = 2
    }
    let linear: Linear

    public init(_ s: WeightStore, dim: Int) throws {
        linear = try Linear(s, "linear", in: dim, out: 3 * dim)
    }

    /// `x` `[B, L, D]`, silu(temb) `[B, D]` → (modulated norm of x, emb `[B, 3D]` holding the gate).
    func callAsFunction(_ x: Tensor, activatedEmbedding: Tensor) -> (Tensor, emb: Tensor) {
        let emb = linear(activatedEmbedding)
        let normed = NN.layerNorm(x, weight: nil, bias: nil, eps: 1e-6)
        return (FluxTokenOps.modulate(normed, emb: emb, scaleChunk: Chunk.scale, shiftChunk: Chunk.shift), emb)
    }
}

/// diffusers' `AdaLayerNormContinuous(dim, dim, elementwise_affine=False, eps=1e-6)` (FLUX's `norm_out`):
/// `scale, shift = linear(silu(c)).chunk(2)` — scale first, unlike the zero variants — then
/// `norm(x)·(1 + scale) + shift`.
public struct AdaLayerNormContinuous: Sendable {
    let linear: Linear

    public init(_ s: WeightStore, dim: Int, conditioningDim: Int) throws {
        linear = try Linear(s, "linear", in: conditioningDim, out: 2 * dim)
    }

    func callAsFunction(_ x: Tensor, activatedConditioning: Tensor) -> Tensor {
        let emb = linear(activatedConditioning)
        let normed = NN.layerNorm(x, weight: nil, bias: nil, eps: 1e-6)
        return FluxTokenOps.modulate(normed, emb: emb, scaleChunk: 0, shiftChunk: 1)
    }
}
