/// Multi-head attention for narrow heads (query/key and value head sizes ≤ `maxHeadSize`), vectorised over keys
/// instead of over features.
///
/// `FusedAttention` computes P·V in 6×16 register tiles over 16 value features; with the 4- and 8-wide heads of
/// small UNets (32 channels, 8 heads) three quarters of that work multiplies padding, and the per-row work is
/// dominated by broadcasts. Here K and V are packed transposed (`[d][keys]`, `[dv][keys]`, keys padded to 16
/// with zeros) and each query row takes three passes over its keys, 16 at a time:
///   1. s = Σₖ (scale·log₂e·q[k])·Kᵀ[k] (+ log₂e·mask; lanes past the last key −∞), stored in a row buffer,
///      running max — scores in base 2, so the exponential needs no multiply in its range reduction;
///   2. p = 2^(s − max) in place, Σp;
///   3. out[c] = (Σ p·Vᵀ[c]) / Σp, four value features c at a time.
/// With ≤ 4 value features passes 2 and 3 are one sweep (p is never stored), and 4-feature queries stay in
/// registers during pass 1.
/// The whole row of scores stays in the buffer (4 bytes per key), so no online rescaling is needed. A row whose
/// keys are all masked (−∞) gives zeros, as `F.scaled_dot_product_attention` does on the CPU. Work items are
/// (batch·head, block of query rows), spread over the cores. Results differ from PyTorch only by float
/// summation order.
struct NarrowHeadAttention: Sendable {
    /// Largest head size (of queries/keys and of values) this kernel takes; wider heads use `FusedAttention`.
    static let maxHeadSize = 8

    let q, k, v: SendablePointer
    let mask: SendablePointer?
    let out: SendablePointer
    let batches, lq, lk, e, ev, d, dv, heads: Int
    let scale: Float
    let maskBatchStride, maskHeadStride: Int

    func run() {
        let pairs = batches * heads
        let paddedKeys = (lk + 15) / 16 * 16
        let kPairSize = d * paddedKeys, vPairSize = (dv + 3) / 4 * 4 * paddedKeys
        let packedK = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(1, pairs * kPairSize))
        let packedV = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(1, pairs * vPairSize))
        defer { packedK.deallocate(); packedV.deallocate() }
        let pk = SendablePointer(packedK), pv = SendablePointer(packedV)
        let this = self
        NN.parallel(pairs, cost: paddedKeys * (d + dv)) { r in
            for pair in r {
                let bi = pair / this.heads, h = pair % this.heads
                transposeHead(from: this.k.base + bi * this.lk * this.e + h * this.d, rowStride: this.e,
                              rows: this.lk, features: this.d, into: pk.base + pair * kPairSize, paddedRows: paddedKeys)
                let vDst = pv.base + pair * vPairSize
                transposeHead(from: this.v.base + bi * this.lk * this.ev + h * this.dv, rowStride: this.ev,
                              rows: this.lk, features: this.dv, into: vDst, paddedRows: paddedKeys)
                (vDst + this.dv * paddedKeys).update(repeating: 0, count: vPairSize - this.dv * paddedKeys)
            }
        }
        let rowBlock = Swift.min(lq, 32)
        let rowBlocks = (lq + rowBlock - 1) / rowBlock
        NN.parallel(pairs * rowBlocks, cost: rowBlock * paddedKeys * (d + dv + 24)) { r in
            let scores = UnsafeMutablePointer<Float>.allocate(capacity: paddedKeys)
            defer { scores.deallocate() }
            for item in r {
                let pair = item / rowBlocks, row0 = (item % rowBlocks) * rowBlock
                for row in row0..<Swift.min(lq, row0 + rowBlock) {
                    this.row(pair: pair, row: row, kt: pk.base + pair * kPairSize, vt: pv.base + pair * vPairSize,
                             paddedKeys: paddedKeys, scores: scores)
                }
            }
        }
    }

    /// One query row of one (batch, head) pair.
    @inline(__always)
    private func row(pair: Int, row i: Int, kt: UnsafeMutablePointer<Float>, vt: UnsafeMutablePointer<Float>,
                     paddedKeys: Int, scores: UnsafeMutablePointer<Float>) {
        let bi = pair / heads, h = pair % heads
        let chunks = paddedKeys / 16
        let qRow = q.base + (bi * lq + i) * e + h * d
        let maskRow = mask.map { $0.base + bi * maskBatchStride + h * maskHeadStride + i * lk }
        let qScale = scale * 1.44269504088896341
        // Pass 1: scores and their maximum. Four-feature heads (the small UNets' 32 channels / 8 heads) keep the
        // query in registers; other sizes read its broadcasts from the stack.
        let m: Float
        if d == 4 {
            let q0 = VFloat(repeating: qRow[0] * qScale), q1 = VFloat(repeating: qRow[1] * qScale)
            let q2 = VFloat(repeating: qRow[2] * qScale), q3 = VFloat(repeating: qRow[3] * qScale)
            m = scorePass(chunks: chunks, maskRow: maskRow, scores: scores) { j in
                let k0 = kt + j * 16, k1 = k0 + paddedKeys, k2 = k1 + paddedKeys, k3 = k2 + paddedKeys
                return (q0 * VMath.load(k0)).addingProduct(q1, VMath.load(k1))
                    .addingProduct(q2, VMath.load(k2)).addingProduct(q3, VMath.load(k3))
            }
        } else {
            var qs = (VFloat(), VFloat(), VFloat(), VFloat(), VFloat(), VFloat(), VFloat(), VFloat())
            m = withUnsafeMutableBytes(of: &qs) { raw in
                let qb = raw.baseAddress!.assumingMemoryBound(to: VFloat.self)
                for kk in 0..<d { qb[kk] = VFloat(repeating: qRow[kk] * qScale) }
                return scorePass(chunks: chunks, maskRow: maskRow, scores: scores) { j in
                    var s = VFloat()
                    var kp = kt + j * 16
                    for kk in 0..<d {
                        s = s.addingProduct(qb[kk], VMath.load(kp))
                        kp += paddedKeys
                    }
                    return s
                }
            }
        }
        let o = out.base + (bi * lq + i) * ev + h * dv
        if m == -.infinity {
            o.update(repeating: 0, count: dv)
            return
        }
        let shift = VFloat(repeating: m)
        // Vᵀ has zero rows up to a multiple of 4 features, padded keys have p = 0 and V = 0.
        if dv <= 4 {
            // Passes 2 and 3 fused: p = 2^(s − max) and Σ p·Vᵀ[c] for the four features in one sweep, 8 keys at
            // a time (with 16 the accumulators, the exponential's temporaries and constants spill under AVX2).
            let v0 = vt, v1 = v0 + paddedKeys, v2 = v1 + paddedKeys, v3 = v2 + paddedKeys
            let shift8 = SIMD8<Float>(repeating: m)
            var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
            var total = SIMD8<Float>()
            for j in stride(from: 0, to: paddedKeys, by: 8) {
                let p = VMath.exp2NonPositive(VMath.load8(scores + j) - shift8)
                total += p
                a0 = a0.addingProduct(p, VMath.load8(v0 + j))
                a1 = a1.addingProduct(p, VMath.load8(v1 + j))
                a2 = a2.addingProduct(p, VMath.load8(v2 + j))
                a3 = a3.addingProduct(p, VMath.load8(v3 + j))
            }
            let inv = 1 / VMath.horizontalSum(total)
            o[0] = VMath.horizontalSum(a0) * inv
            if dv > 1 { o[1] = VMath.horizontalSum(a1) * inv }
            if dv > 2 { o[2] = VMath.horizontalSum(a2) * inv }
            if dv > 3 { o[3] = VMath.horizontalSum(a3) * inv }
            return
        }
        // Pass 2: p = 2^(s − max) in place, Σp.
        var total = VFloat()
        for j in 0..<chunks {
            let p = VMath.exp2NonPositive(VMath.load(scores + j * 16) - shift)
            VMath.store(p, scores + j * 16)
            total += p
        }
        let inv = 1 / VMath.horizontalSum(total)
        // Pass 3: out[c] = Σ p·Vᵀ[c] / Σp, four value features at a time (four independent accumulator chains).
        var c = 0
        while c < dv {
            let v0 = vt + c * paddedKeys, v1 = v0 + paddedKeys, v2 = v1 + paddedKeys, v3 = v2 + paddedKeys
            var a0 = VFloat(), a1 = VFloat(), a2 = VFloat(), a3 = VFloat()
            for j in 0..<chunks {
                let p = VMath.load(scores + j * 16)
                a0 = a0.addingProduct(p, VMath.load(v0 + j * 16))
                a1 = a1.addingProduct(p, VMath.load(v1 + j * 16))
                a2 = a2.addingProduct(p, VMath.load(v2 + j * 16))
                a3 = a3.addingProduct(p, VMath.load(v3 + j * 16))
            }
            storeFeatures(o, from: c, (a0, a1, a2, a3), inverseTotal: inv)
            c += 4
        }
    }

    /// Pass 1 of a row: `score(j)` for each 16-key chunk j, plus the mask, −∞ in the lanes past the last key;
    /// stored to `scores`; returns their maximum.
    @inline(__always)
    private func scorePass(chunks: Int, maskRow: UnsafeMutablePointer<Float>?, scores: UnsafeMutablePointer<Float>,
                           _ score: (Int) -> VFloat) -> Float {
        let tail = lk - (chunks - 1) * 16
        let log2e = VFloat(repeating: 1.44269504088896341)
        var vmax = VFloat(repeating: -.infinity)
        for j in 0..<chunks {
            var s = score(j)
            if j == chunks - 1 && tail < 16 {
                if let maskRow { s = s.addingProduct(VMath.loadPartial(maskRow + j * 16, tail), log2e) }
                for lane in tail..<16 { s[lane] = -.infinity }
            } else if let maskRow {
                s = s.addingProduct(VMath.load(maskRow + j * 16), log2e)
            }
            VMath.store(s, scores + j * 16)
            vmax.replace(with: s, where: s .> vmax)
        }
        return VMath.horizontalMax(vmax)
    }

    /// out[c + t] = Σ lanes of acc.t · inverseTotal for the features c + t < dv.
    @inline(__always)
    private func storeFeatures(_ o: UnsafeMutablePointer<Float>, from c: Int, _ acc: (VFloat, VFloat, VFloat, VFloat),
                               inverseTotal inv: Float) {
        o[c] = VMath.horizontalSum(acc.0) * inv
        if c + 1 < dv { o[c + 1] = VMath.horizontalSum(acc.1) * inv }
        if c + 2 < dv { o[c + 2] = VMath.horizontalSum(acc.2) * inv }
        if c + 3 < dv { o[c + 3] = VMath.horizontalSum(acc.3) * inv }
    }
}

/// dst[f·paddedRows + r] = src[r·rowStride + f] for f < features, r < rows; zero for rows ..< paddedRows.
private func transposeHead(from src: UnsafeMutablePointer<Float>, rowStride: Int, rows: Int, features: Int,
                           into dst: UnsafeMutablePointer<Float>, paddedRows: Int) {
    for f in 0..<features {
        let column = dst + f * paddedRows
        for r in 0..<rows { column[r] = src[r * rowStride + f] }
        (column + rows).update(repeating: 0, count: paddedRows - rows)
    }
}
