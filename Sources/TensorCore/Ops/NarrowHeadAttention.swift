/// Multi-head attention for narrow heads (query/key and value head sizes ≤ `maxHeadSize`), vectorised over keys
/// instead of over features.
///
/// `FusedAttention` computes P·V in 6×16 register tiles over 16 value features; with the 4- and 8-wide heads of
/// small UNets (32 channels, 8 heads) three quarters of that work multiplies padding, and the per-row work is
/// dominated by broadcasts. Here K and V are packed transposed (`[d][keys]`, `[dv][keys]`, keys padded to 8
/// with zeros, value features to 4 or 8) and each query row takes two passes over its keys, 8 at a time (one
/// AVX2 register: with 16 the accumulators, the exponential's temporaries and its constants spill):
///   1. s = Σₖ (scale·log₂e·q[k])·Kᵀ[k] (+ log₂e·mask; lanes past the last key −∞), stored in a row buffer,
///      running max — scores in base 2, so the exponential needs no multiply in its range reduction; the query's
///      broadcasts stay in registers for 4- and 8-feature heads;
///   2. p = 2^(s − max), Σp and Σ p·Vᵀ[c] for all 4 (or 8) value features in one sweep; out[c] = Σ p·Vᵀ[c] / Σp.
/// The whole row of scores stays in the buffer (4 bytes per key), so no online rescaling is needed. A row whose
/// keys are all masked (−∞) gives zeros, as `F.scaled_dot_product_attention` does on the CPU. Work items are
/// (batch·head, block of query rows), about four per thread, each packing its pair's Kᵀ/Vᵀ itself (once per run
/// of items of the same pair), so a call is one parallel loop. Results differ from PyTorch only by float
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
    let cancellation: CancellationCheck

    typealias V8 = SIMD8<Float>
    /// log₂e: scores are kept in base 2 (see pass 1).
    static let log2e: Float = 1.44269504088896341

    func run() {
        let pairs = batches * heads
        let paddedKeys = (lk + 7) / 8 * 8
        let kPairSize = d * paddedKeys, vPairSize = (dv + 3) / 4 * 4 * paddedKeys
        // Work items: (pair, block of query rows), about 4 per thread; an item packs its pair's Kᵀ and Vᵀ unless the
        // item before it in the same chunk had the same pair, so the packed keys stay in the cache of the core that
        // uses them and there is one parallel loop per call.
        let targetItems = 4 * NN.threads
        let rowBlocks = Swift.max(1, Swift.min((targetItems + pairs - 1) / pairs, (lq + 7) / 8))
        let rowBlock = (lq + rowBlocks - 1) / rowBlocks
        let this = self
        NN.parallel(pairs * rowBlocks, cost: rowBlock * paddedKeys * (d + dv + 24)) { r in
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: kPairSize + vPairSize + paddedKeys)
            defer { scratch.deallocate() }
            let kt = scratch, vt = scratch + kPairSize, scores = scratch + kPairSize + vPairSize
            var packedPair = -1
            for item in r {
                if this.cancellation.isCancelled { return }
                let pair = item / rowBlocks, row0 = (item % rowBlocks) * rowBlock
                if pair != packedPair {
                    this.pack(pair: pair, paddedKeys: paddedKeys, kt: kt, vt: vt, vPairSize: vPairSize)
                    packedPair = pair
                }
                for row in row0..<Swift.min(lq, row0 + rowBlock) {
                    this.row(pair: pair, row: row, kt: kt, vt: vt, paddedKeys: paddedKeys, scores: scores)
                }
            }
        }
    }

    /// Kᵀ `[d][paddedKeys]` and Vᵀ `[dv rounded up to 4][paddedKeys]` of one (batch, head) pair, zero-padded.
    private func pack(pair: Int, paddedKeys: Int, kt: UnsafeMutablePointer<Float>, vt: UnsafeMutablePointer<Float>,
                      vPairSize: Int) {
        let bi = pair / heads, h = pair % heads
        transposeHead(from: k.base + bi * lk * e + h * d, rowStride: e, rows: lk, features: d, into: kt, paddedRows: paddedKeys)
        transposeHead(from: v.base + bi * lk * ev + h * dv, rowStride: ev, rows: lk, features: dv, into: vt, paddedRows: paddedKeys)
        (vt + dv * paddedKeys).update(repeating: 0, count: vPairSize - dv * paddedKeys)
    }

    /// One query row of one (batch, head) pair.
    @inline(__always)
    private func row(pair: Int, row i: Int, kt: UnsafeMutablePointer<Float>, vt: UnsafeMutablePointer<Float>,
                     paddedKeys: Int, scores: UnsafeMutablePointer<Float>) {
        let bi = pair / heads, h = pair % heads
        let qRow = q.base + (bi * lq + i) * e + h * d
        let maskRow = mask.map { $0.base + bi * maskBatchStride + h * maskHeadStride + i * lk }
        let qScale = scale * Self.log2e
        let n = paddedKeys   // Kᵀ / Vᵀ row stride
        // Pass 1: scores and their maximum.
        let m: Float
        if d == 4 {
            let q0 = V8(repeating: qRow[0] * qScale), q1 = V8(repeating: qRow[1] * qScale)
            let q2 = V8(repeating: qRow[2] * qScale), q3 = V8(repeating: qRow[3] * qScale)
            m = scorePass(maskRow: maskRow, scores: scores) { j in
                let k0 = kt + j
                return (q0 * VMath.load8(k0)).addingProduct(q1, VMath.load8(k0 + n))
                    .addingProduct(q2, VMath.load8(k0 + 2 * n)).addingProduct(q3, VMath.load8(k0 + 3 * n))
            }
        } else if d == 8 {
            let q0 = V8(repeating: qRow[0] * qScale), q1 = V8(repeating: qRow[1] * qScale)
            let q2 = V8(repeating: qRow[2] * qScale), q3 = V8(repeating: qRow[3] * qScale)
            let q4 = V8(repeating: qRow[4] * qScale), q5 = V8(repeating: qRow[5] * qScale)
            let q6 = V8(repeating: qRow[6] * qScale), q7 = V8(repeating: qRow[7] * qScale)
            m = scorePass(maskRow: maskRow, scores: scores) { j in
                let k0 = kt + j
                let a = (q0 * VMath.load8(k0)).addingProduct(q1, VMath.load8(k0 + n))
                    .addingProduct(q2, VMath.load8(k0 + 2 * n)).addingProduct(q3, VMath.load8(k0 + 3 * n))
                let b = (q4 * VMath.load8(k0 + 4 * n)).addingProduct(q5, VMath.load8(k0 + 5 * n))
                    .addingProduct(q6, VMath.load8(k0 + 6 * n)).addingProduct(q7, VMath.load8(k0 + 7 * n))
                return a + b
            }
        } else {
            var qs = (V8(), V8(), V8(), V8(), V8(), V8(), V8(), V8())
            m = withUnsafeMutableBytes(of: &qs) { raw in
                let qb = raw.baseAddress!.assumingMemoryBound(to: V8.self)
                for kk in 0..<d { qb[kk] = V8(repeating: qRow[kk] * qScale) }
                return scorePass(maskRow: maskRow, scores: scores) { j in
                    var s = V8()
                    for kk in 0..<d { s = s.addingProduct(qb[kk], VMath.load8(kt + kk * n + j)) }
                    return s
                }
            }
        }
        let o = out.base + (bi * lq + i) * ev + h * dv
        if m == -.infinity {
            o.update(repeating: 0, count: dv)
            return
        }
        // Pass 2: p = 2^(s − max), Σp and Σ p·Vᵀ[c] in one sweep. Vᵀ has zero rows up to a multiple of 4
        // features, padded keys have p = 0 and V = 0.
        let shift = V8(repeating: m)
        var total = V8(), a0 = V8(), a1 = V8(), a2 = V8(), a3 = V8(), a4 = V8(), a5 = V8(), a6 = V8(), a7 = V8()
        let wide = dv > 4   // loop-invariant: the compiler unswitches the loop into a 4- and an 8-feature version
        for j in stride(from: 0, to: paddedKeys, by: 8) {
            let p = VMath.exp2NonPositive(VMath.load8(scores + j) - shift)
            total += p
            let v0 = vt + j
            a0 = a0.addingProduct(p, VMath.load8(v0))
            a1 = a1.addingProduct(p, VMath.load8(v0 + n))
            a2 = a2.addingProduct(p, VMath.load8(v0 + 2 * n))
            a3 = a3.addingProduct(p, VMath.load8(v0 + 3 * n))
            if wide {
                a4 = a4.addingProduct(p, VMath.load8(v0 + 4 * n))
                a5 = a5.addingProduct(p, VMath.load8(v0 + 5 * n))
                a6 = a6.addingProduct(p, VMath.load8(v0 + 6 * n))
                a7 = a7.addingProduct(p, VMath.load8(v0 + 7 * n))
            }
        }
        let inv = 1 / VMath.horizontalSum(total)
        storeFeatures(o, (a0, a1, a2, a3), from: 0, inverseTotal: inv)
        if wide { storeFeatures(o, (a4, a5, a6, a7), from: 4, inverseTotal: inv) }
    }

    /// Pass 1 of a row: `score(j)` for the 8 keys from j, plus log₂e·mask, −∞ in the lanes past the last key;
    /// stored to `scores`; returns their maximum.
    @inline(__always)
    private func scorePass(maskRow: UnsafeMutablePointer<Float>?, scores: UnsafeMutablePointer<Float>,
                           _ score: (Int) -> V8) -> Float {
        let log2e = V8(repeating: Self.log2e)
        let last = (lk - 1) / 8 * 8, tail = lk - last
        var vmax = V8(repeating: -.infinity)
        var j = 0
        // Unmasked full chunks two at a time (two independent chains), then the rest one by one.
        if maskRow == nil {
            var vmax2 = V8(repeating: -.infinity)
            while j + 16 <= last {
                let s0 = score(j), s1 = score(j + 8)
                UnsafeMutableRawPointer(scores + j).storeBytes(of: s0, as: V8.self)
                UnsafeMutableRawPointer(scores + j + 8).storeBytes(of: s1, as: V8.self)
                vmax.replace(with: s0, where: s0 .> vmax)
                vmax2.replace(with: s1, where: s1 .> vmax2)
                j += 16
            }
            vmax.replace(with: vmax2, where: vmax2 .> vmax)
        }
        for j in stride(from: j, through: last, by: 8) {
            var s = score(j)
            if j == last && tail < 8 {
                if let maskRow { for lane in 0..<tail { s[lane] += maskRow[j + lane] * Self.log2e } }
                for lane in tail..<8 { s[lane] = -.infinity }
            } else if let maskRow {
                s = s.addingProduct(VMath.load8(maskRow + j), log2e)
            }
            UnsafeMutableRawPointer(scores + j).storeBytes(of: s, as: V8.self)
            vmax.replace(with: s, where: s .> vmax)
        }
        return VMath.horizontalMax(vmax)
    }

    /// out[c + t] = Σ lanes of acc.t · inverseTotal for the features c + t < dv.
    @inline(__always)
    private func storeFeatures(_ o: UnsafeMutablePointer<Float>, _ acc: (V8, V8, V8, V8), from c: Int,
                               inverseTotal inv: Float) {
        if c < dv { o[c] = VMath.horizontalSum(acc.0) * inv }
        if c + 1 < dv { o[c + 1] = VMath.horizontalSum(acc.1) * inv }
        if c + 2 < dv { o[c + 2] = VMath.horizontalSum(acc.2) * inv }
        if c + 3 < dv { o[c + 3] = VMath.horizontalSum(acc.3) * inv }
    }
}

/// dst[f·paddedRows + r] = src[r·rowStride + f] for f < features, r < rows; zero for rows ..< paddedRows. Reads
/// each source row's features together (one cache line), writes the `features` columns side by side.
private func transposeHead(from src: UnsafeMutablePointer<Float>, rowStride: Int, rows: Int, features: Int,
                           into dst: UnsafeMutablePointer<Float>, paddedRows: Int) {
    for r in 0..<rows {
        let row = src + r * rowStride
        for f in 0..<features { dst[f * paddedRows + r] = row[f] }
    }
    for f in 0..<features { (dst + f * paddedRows + rows).update(repeating: 0, count: paddedRows - rows) }
}
