
extension NN {
    /// Multi-head scaled dot-product attention as diffusers' `Attention` (with `AttnProcessor2_0`, i.e.
    /// `F.scaled_dot_product_attention`) and CLIP's attention compute it, after the q/k/v projections and before
    /// the output projection.
    ///
    /// - `query` `[B, Lq, heads·d]`, `key` `[B, Lk, heads·d]`, `value` `[B, Lk, heads·dv]`; head h uses feature
    ///   slice `h·d ..< (h+1)·d` (PyTorch's `view(B, L, heads, d).transpose(1, 2)`).
    /// - `scale`: default 1/√d.
    /// - `mask`: additive, added to the scaled scores before the softmax: `[Lq, Lk]` shared by all batches and
    ///   heads (CLIP's causal mask; see `causalMask`), `[B, Lq, Lk]` per batch, or `[B, heads, Lq, Lk]`.
    ///   Use −∞ (or a large negative number) to mask. A query row whose keys are all −∞ gives zeros, as
    ///   `F.scaled_dot_product_attention` does on the CPU (a plain softmax would give NaN).
    /// - `upcast`: diffusers' `upcast_attention`/`upcast_softmax`; computation is fp32 throughout, so it is a no-op.
    ///
    /// Returns `[B, Lq, heads·dv]`. Heads of ≤ 8 features (query/key and value) run `NarrowHeadAttention`
    /// (vectorised over keys, one row of scores per worker); wider ones run flash-attention style
    /// (`FusedAttention`): per (batch, head) and block of query rows, keys are visited in blocks with an online
    /// softmax, so scores never exceed one `rows × keyBlock` tile per worker. No `Lq × Lk` matrix is ever
    /// allocated; the work is spread over the cores. Results differ from PyTorch only by float summation order.
    /// - `cancellation`: polled before every work item; once it asks to stop, the remaining items are skipped and
    ///   the output is unspecified — the caller checks the same `cancellation` and discards it.
    public static func attention(query: Tensor, key: Tensor, value: Tensor, heads: Int, mask: Tensor? = nil,
                                 scale: Float? = nil, upcast: Bool = false, cancellation: CancellationCheck = .never) -> Tensor {
        precondition(query.rank == 3 && key.rank == 3 && value.rank == 3,
                     "NN.attention: q, k, v must be [B, L, heads·d], got \(query.shape), \(key.shape), \(value.shape)")
        let b = query.shape[0], lq = query.shape[1], e = query.shape[2]
        let lk = key.shape[1], ev = value.shape[2]
        precondition(heads >= 1 && e % heads == 0 && ev % heads == 0, "NN.attention: \(heads) heads do not divide \(e) / \(ev)")
        precondition(key.shape == [b, lk, e], "NN.attention: key \(key.shape) does not match query \(query.shape)")
        precondition(value.shape[0] == b && value.shape[1] == lk, "NN.attention: value \(value.shape) does not match key \(key.shape)")
        let d = e / heads, dv = ev / heads
        let s = scale ?? 1 / Float(d).squareRoot()
        // Mask stride per batch and per head (0 = shared).
        var maskBatchStride = 0, maskHeadStride = 0
        if let mask {
            let plane = lq * lk
            if mask.count == plane {
            } else if mask.count == b * plane && (mask.rank != 4 || mask.shape[1] == 1) {
                maskBatchStride = plane
            } else if mask.count == b * heads * plane {
                maskBatchStride = heads * plane; maskHeadStride = plane
            } else {
                preconditionFailure("NN.attention: mask \(mask.shape) is not [Lq, Lk], [B, Lq, Lk] or [B, heads, Lq, Lk] for Lq \(lq), Lk \(lk)")
            }
        }
        let maskTensor = mask ?? Tensor(zeros: [0])
        let hasMask = mask != nil
        return read(query) { qp in
            read(key) { kp in
                read(value) { vp in
                    read(maskTensor) { mp in
                        makeTensor(shape: [b, lq, ev]) { op in
                            if lq == 0 || b == 0 { return }
                            if lk == 0 { op.base.update(repeating: 0, count: b * lq * ev); return }
                            let narrow = d <= NarrowHeadAttention.maxHeadSize && dv <= NarrowHeadAttention.maxHeadSize
                            if narrow && Tuning.attention != .tiled {
                                NarrowHeadAttention(q: qp, k: kp, v: vp, mask: hasMask ? mp : nil, out: op,
                                                    batches: b, lq: lq, lk: lk, e: e, ev: ev, d: d, dv: dv, heads: heads, scale: s,
                                                    maskBatchStride: maskBatchStride, maskHeadStride: maskHeadStride,
                                                    cancellation: cancellation).run()
                            } else {
                                FusedAttention(q: qp, k: kp, v: vp, mask: hasMask ? mp : nil, out: op,
                                               batches: b, lq: lq, lk: lk, e: e, ev: ev, d: d, dv: dv, heads: heads, scale: s,
                                               maskBatchStride: maskBatchStride, maskHeadStride: maskHeadStride,
                                               cancellation: cancellation).run()
                            }
                        }
                    }
                }
            }
        }
    }

    /// CLIP's causal mask `[L, L]`: 0 on and below the diagonal, −∞ above (token i attends to tokens ≤ i).
    public static func causalMask(_ length: Int) -> Tensor {
        var m = [Float](repeating: 0, count: length * length)
        for i in 0..<length { for j in (i + 1)..<Swift.max(i + 1, length) { m[i * length + j] = -.infinity } }
        return Tensor(shape: [length, length], scalars: m)
    }
}

