import ModelIO
import TensorCore

/// diffusers' `FluxAttention` with `FluxAttnProcessor`, in the two forms FLUX uses (biased projections,
/// RMS q/k norms of eps 1e-6 over each head):
/// - joint (double-stream blocks, `added_kv_proj_dim` set): image q/k/v from `to_q/to_k/to_v`, text q/k/v from
///   `add_q_proj/add_k_proj/add_v_proj` with `norm_added_q/norm_added_k`; attention over `[text, image]`
///   tokens; outputs through `to_out.0` (image) and `to_add_out` (text);
/// - pre-only (single-stream blocks): q/k/v of the joint tokens, no output projection.
/// Rotary embeddings are applied to queries and keys after the norms, over the concatenated sequence.
public struct FluxAttention: Sendable {
    let heads: Int, headDim: Int
    let toQ: Linear, toK: Linear, toV: Linear
    let normQ: Tensor, normK: Tensor
    let added: Added?
    let toOut: Linear?

    /// The text stream's projections of a joint attention.
    struct Added: Sendable {
        let addQProj: Linear, addKProj: Linear, addVProj: Linear
        let normAddedQ: Tensor, normAddedK: Tensor
        let toAddOut: Linear
    }

    static let eps: Float = 1e-6

    /// `joint`: the double-stream form (added projections and both outputs); else the pre-only form.
    public init(_ s: WeightStore, dim: Int, heads: Int, headDim: Int, joint: Bool) throws {
        self.heads = heads
        self.headDim = headDim
        let inner = heads * headDim
        toQ = try Linear(s, "to_q", in: dim, out: inner)
        toK = try Linear(s, "to_k", in: dim, out: inner)
        toV = try Linear(s, "to_v", in: dim, out: inner)
        normQ = try s.take("norm_q.weight", shape: [headDim])
        normK = try s.take("norm_k.weight", shape: [headDim])
        if joint {
            added = Added(addQProj: try Linear(s, "add_q_proj", in: dim, out: inner),
                          addKProj: try Linear(s, "add_k_proj", in: dim, out: inner),
                          addVProj: try Linear(s, "add_v_proj", in: dim, out: inner),
                          normAddedQ: try s.take("norm_added_q.weight", shape: [headDim]),
                          normAddedK: try s.take("norm_added_k.weight", shape: [headDim]),
                          toAddOut: try Linear(s, "to_add_out", in: inner, out: dim))
            toOut = try Linear(s, "to_out.0", in: inner, out: dim)
        } else {
            added = nil
            toOut = nil
        }
    }

    /// RMS norm over each head of `[B, L, heads·headDim]`.
    private func headNorm(_ x: Tensor, _ weight: Tensor) -> Tensor {
        NN.rmsNorm(x.reshaped([x.count / headDim, headDim]), weight: weight, eps: Self.eps).reshaped(x.shape)
    }

    /// Joint form: image tokens `x` `[B, Li, D]`, text tokens `context` `[B, Lt, D]`, rotary tables over
    /// `Lt + Li` tokens (text first) → (image output `[B, Li, D]`, text output `[B, Lt, D]`).
    func joint(_ x: Tensor, context: Tensor, rotary: FluxPosEmbed, cancellation: CancellationCheck) -> (image: Tensor, text: Tensor) {
        guard let added, let toOut else { preconditionFailure("FluxAttention.joint on a pre-only attention") }
        let q = FluxTokenOps.concatSequence(headNorm(added.addQProj(context), added.normAddedQ), headNorm(toQ(x), normQ))
        let k = FluxTokenOps.concatSequence(headNorm(added.addKProj(context), added.normAddedK), headNorm(toK(x), normK))
        let v = FluxTokenOps.concatSequence(added.addVProj(context), toV(x))
        let out = NN.attention(query: rotary.apply(q), key: rotary.apply(k), value: v, heads: heads, cancellation: cancellation)
        let (text, image) = FluxTokenOps.splitSequence(out, at: context.shape[1])
        return (toOut(image), added.toAddOut(text))
    }

    /// Pre-only form: joint tokens `x` `[B, L, D]` → attention output `[B, L, heads·headDim]`.
    func preOnly(_ x: Tensor, rotary: FluxPosEmbed, cancellation: CancellationCheck) -> Tensor {
        let q = rotary.apply(headNorm(toQ(x), normQ))
        let k = rotary.apply(headNorm(toK(x), normK))
        return NN.attention(query: q, key: k, value: toV(x), heads: heads, cancellation: cancellation)
    }
}
