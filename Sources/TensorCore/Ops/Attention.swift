import COpenBLAS
import Foundation

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
    ///   Use −∞ (or a large negative number) to mask. A fully masked row gives NaN, as in PyTorch.
    /// - `upcast`: diffusers' `upcast_attention`/`upcast_softmax`; computation is fp32 throughout, so it is a no-op.
    ///
    /// Returns `[B, Lq, heads·dv]`. Per (batch, head) and block of query rows: scores = scale·Q·Kᵀ
    /// (`cblas_sgemm`), + mask, row softmax, then ·V straight into the output's head slice. Score memory is one
    /// block per worker, never all heads' `Lq × Lk` at once.
    public static func attention(query: Tensor, key: Tensor, value: Tensor, heads: Int, mask: Tensor? = nil,
                                 scale: Float? = nil, upcast: Bool = false) -> Tensor {
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
                            if lk == 0 { op.base.update(repeating: .nan, count: b * lq * ev); return }
                            let job = AttentionJob(q: qp, k: kp, v: vp, mask: hasMask ? mp : nil, out: op,
                                                   lq: lq, lk: lk, e: e, ev: ev, d: d, dv: dv, heads: heads, scale: s,
                                                   maskBatchStride: maskBatchStride, maskHeadStride: maskHeadStride)
                            job.run(batches: b)
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

/// One attention call's geometry and pointers.
struct AttentionJob: Sendable {
    let q, k, v: SendablePointer
    let mask: SendablePointer?
    let out: SendablePointer
    let lq, lk, e, ev, d, dv, heads: Int
    let scale: Float
    let maskBatchStride, maskHeadStride: Int

    func run(batches: Int) {
        let pairs = batches * heads
        let rowBlock = Swift.max(1, Swift.min(lq, NN.Tuning.attentionRowBlock))
        // Small problems (CLIP, cross-attention on few tokens): one worker per (batch, head), single GEMMs.
        // Large ones: pairs in sequence, blocks of query rows; OpenBLAS threads the GEMMs, softmax is split.
        let small = lq * lk * Swift.max(d, dv) <= 1 << 22
        if small && pairs > 1 {
            let this = self
            NN.parallel(pairs, cost: lq * lk * (d + dv)) { r in
                let scores = UnsafeMutablePointer<Float>.allocate(capacity: rowBlock * (lk + 1))
                defer { scores.deallocate() }
                for pair in r {
                    var row0 = 0
                    while row0 < lq {
                        let rows = Swift.min(rowBlock, lq - row0)
                        this.block(pair: pair, row0: row0, rows: rows, scores: scores, parallelSoftmax: false)
                        row0 += rows
                    }
                }
            }
            return
        }
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: rowBlock * (lk + 1))
        defer { scores.deallocate() }
        for pair in 0..<pairs {
            var row0 = 0
            while row0 < lq {
                let rows = Swift.min(rowBlock, lq - row0)
                block(pair: pair, row0: row0, rows: rows, scores: scores, parallelSoftmax: true)
                row0 += rows
            }
        }
    }

    /// Rows `row0 ..< row0 + rows` of head `pair % heads` of batch `pair / heads`. `scratch` holds
    /// `rows × lk` scores followed by `rows` reciprocal row sums.
    func block(pair: Int, row0: Int, rows: Int, scores: UnsafeMutablePointer<Float>, parallelSoftmax: Bool) {
        let bi = pair / heads, h = pair % heads
        let qBase = q.base + (bi * lq + row0) * e + h * d
        let kBase = k.base + bi * lk * e + h * d
        let vBase = v.base + bi * lk * ev + h * dv
        let oBase = out.base + (bi * lq + row0) * ev + h * dv
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(lk), Int32(d), scale,
                    qBase, Int32(e), kBase, Int32(e), 0, scores, Int32(lk))
        // Unnormalised softmax in place (e^(s − max), with the mask added first); the division by the row sum
        // is applied to the much smaller output rows after the second GEMM.
        let n = lk
        let maskBase = mask.map { SendablePointer($0.base + bi * maskBatchStride + h * maskHeadStride + row0 * n) }
        let sp = SendablePointer(scores), inv = SendablePointer(scores + rows * n)
        let body: @Sendable (Range<Int>) -> Void = { r in
            for i in r {
                inv[i] = 1 / NN.expShiftedRow(sp.base + i * n, mask: maskBase.map { $0.base + i * n }, n)
            }
        }
        if parallelSoftmax { NN.parallel(rows, cost: n * 12, body) } else { body(0..<rows) }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(dv), Int32(lk), 1,
                    scores, Int32(lk), vBase, Int32(ev), 0, oBase, Int32(ev))
        for i in 0..<rows {
            let o = oBase + i * ev, f = inv[i]
            for j in 0..<dv { o[j] *= f }
        }
    }
}

extension NN {
    /// In place over one row of `n` scores: adds `mask` (if any), then replaces x by e^(x − max) and returns
    /// Σ e^(x − max). A row that is all −∞ yields zeros and sum 0 (so the caller's 1/sum gives NaN, as PyTorch).
    static func expShiftedRow(_ row: UnsafeMutablePointer<Float>, mask: UnsafeMutablePointer<Float>?, _ n: Int) -> Float {
        var mv = VFloat(repeating: -.infinity)
        var i = 0
        if let mask {
            while i + 16 <= n {
                let v = VMath.load(row + i) + VMath.load(mask + i)
                VMath.store(v, row + i)
                mv.replace(with: v, where: v .> mv)
                i += 16
            }
            for j in i..<n { row[j] += mask[j] }
        } else {
            while i + 16 <= n { let v = VMath.load(row + i); mv.replace(with: v, where: v .> mv); i += 16 }
        }
        var m = mv.max()
        for j in i..<n where row[j] > m { m = row[j] }
        if m == -.infinity { m = 0 }
        let mvec = VFloat(repeating: m)
        var acc = VFloat()
        i = 0
        while i + 16 <= n {
            let ex = VMath.exp(VMath.load(row + i) - mvec)
            VMath.store(ex, row + i)
            acc += ex
            i += 16
        }
        var s = acc.sum()
        if i < n {
            let ex = VMath.exp(VMath.loadPartial(row + i, n - i) - mvec)
            VMath.storePartial(ex, row + i, n - i)
            for j in 0..<(n - i) { s += ex[j] }
        }
        return s
    }
}
