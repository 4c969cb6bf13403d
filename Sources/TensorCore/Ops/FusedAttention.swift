/// Flash-attention-style multi-head attention on the CPU with Swift SIMD micro-kernels.
///
/// Work items are (batch·head, block of `Tuning.attentionRowBlock` query rows), split over the cores. For an
/// item, keys are visited in blocks of `Tuning.attentionKeyBlock`:
///   S = Q_blk · K_blkᵀ (6×16 register tiles), x = scale·S + mask, online softmax (running max m and sum l per
///   row; earlier partial outputs are rescaled by e^(m_old − m_new)), O += P · V_blk (6×16 tiles);
/// finally O /= l. K is packed once per call into 16-key panels (`[d][16]`), V into 16-feature panels
/// (`[Lk][16]`), so both micro-kernels stream contiguous memory; queries are copied into a zero-padded block.
struct FusedAttention: Sendable {
    let q, k, v: SendablePointer
    let mask: SendablePointer?
    let out: SendablePointer
    let batches, lq, lk, e, ev, d, dv, heads: Int
    let scale: Float
    let maskBatchStride, maskHeadStride: Int
    let cancellation: CancellationCheck

    static let tileRows = 6

    func run() {
        let pairs = batches * heads
        let keyPanels = (lk + 15) / 16, valuePanels = (dv + 15) / 16
        let kPairSize = keyPanels * d * 16, vPairSize = valuePanels * lk * 16
        let rowBlock = Swift.max(FusedAttention.tileRows,
                                 (Swift.min(NN.Tuning.attentionRowBlock, lq) + 5) / 6 * 6)
        let keyBlock = Swift.max(16, NN.Tuning.attentionKeyBlock / 16 * 16)
        let packedK = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(1, pairs * kPairSize))
        let packedV = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(1, pairs * vPairSize))
        defer { packedK.deallocate(); packedV.deallocate() }
        let pk = SendablePointer(packedK), pv = SendablePointer(packedV)
        let this = self
        NN.parallel(pairs, cost: lk * (d + dv)) { r in
            for pair in r {
                this.packKeys(pair: pair, into: pk.base + pair * kPairSize, panels: keyPanels)
                this.packValues(pair: pair, into: pv.base + pair * vPairSize, panels: valuePanels)
            }
        }
        let rowBlocks = (lq + rowBlock - 1) / rowBlock
        NN.parallel(pairs * rowBlocks, cost: rowBlock * lk * (d + dv) * 2) { r in
            let scratch = Scratch(rowBlock: rowBlock, keyBlock: keyBlock, d: d, valuePanels: valuePanels)
            defer { scratch.free() }
            for item in r {
                if this.cancellation.isCancelled { return }
                let pair = item / rowBlocks, row0 = (item % rowBlocks) * rowBlock
                this.item(pair: pair, row0: row0, rows: Swift.min(rowBlock, lq - row0),
                          kp: pk.base + pair * kPairSize, vp: pv.base + pair * vPairSize,
                          keyBlock: keyBlock, valuePanels: valuePanels, s: scratch)
            }
        }
    }

    /// Kp[panel][kk][c] = K[16·panel + c][kk] (0 past Lk).
    private func packKeys(pair: Int, into dst: UnsafeMutablePointer<Float>, panels: Int) {
        let bi = pair / heads, h = pair % heads
        for p in 0..<panels {
            SmallGEMM.packRows(MatrixElements(k.base + bi * lk * e + h * d), rowStride: e, rows: lk, depth: d, panel: p, into: dst + p * d * 16)
        }
    }

    /// Vp[panel][kk][c] = V[kk][16·panel + c] (0 past dv).
    private func packValues(pair: Int, into dst: UnsafeMutablePointer<Float>, panels: Int) {
        let bi = pair / heads, h = pair % heads
        for p in 0..<panels {
            SmallGEMM.packColumns(v.base + bi * lk * ev + h * dv, rowStride: ev, depth: lk, columns: dv, panel: p,
                                  into: dst + p * lk * 16)
        }
    }

    /// Per-worker buffers.
    struct Scratch {
        let qBlock, scores, acc, rowMax, rowSum: UnsafeMutablePointer<Float>
        let rowMaxVec: UnsafeMutablePointer<VFloat>
        init(rowBlock: Int, keyBlock: Int, d: Int, valuePanels: Int) {
            rowMaxVec = .allocate(capacity: rowBlock)
            qBlock = .allocate(capacity: rowBlock * Swift.max(d, 1))
            scores = .allocate(capacity: rowBlock * keyBlock)
            acc = .allocate(capacity: rowBlock * valuePanels * 16)
            rowMax = .allocate(capacity: rowBlock)
            rowSum = .allocate(capacity: rowBlock)
        }
        func free() { rowMaxVec.deallocate(); qBlock.deallocate(); scores.deallocate(); acc.deallocate(); rowMax.deallocate(); rowSum.deallocate() }
    }

    private func item(pair: Int, row0: Int, rows: Int, kp: UnsafeMutablePointer<Float>, vp: UnsafeMutablePointer<Float>,
                      keyBlock: Int, valuePanels: Int, s: Scratch) {
        let bi = pair / heads, h = pair % heads
        let paddedRows = (rows + 5) / 6 * 6
        let accWidth = valuePanels * 16
        // Query rows, zero-padded to a multiple of 6.
        let qSrc = q.base + (bi * lq + row0) * e + h * d
        for i in 0..<paddedRows {
            if i < rows { (s.qBlock + i * d).update(from: qSrc + i * e, count: d) } else { (s.qBlock + i * d).update(repeating: 0, count: d) }
        }
        s.acc.update(repeating: 0, count: paddedRows * accWidth)
        s.rowMax.update(repeating: -.infinity, count: paddedRows)
        s.rowSum.update(repeating: 0, count: paddedRows)
        let maskRows = mask.map { $0.base + bi * maskBatchStride + h * maskHeadStride + row0 * lk }
        var k0 = 0
        while k0 < lk {
            let nk = Swift.min(keyBlock, lk - k0)
            let panels = (nk + 15) / 16
            // S = scale·Q_blk·K_blkᵀ (+ mask), with a running per-row vector maximum; lanes past the last key
            // are set to −∞.
            for i in 0..<paddedRows { s.rowMaxVec[i] = VFloat(repeating: -.infinity) }
            for g in stride(from: 0, to: paddedRows, by: 6) {
                let a = s.qBlock + g * d
                for p in 0..<panels {
                    let t = SmallGEMM.tile(a, lda: d, kp + (k0 / 16 + p) * d * 16, ldb: 16, k: d)
                    let width = Swift.min(16, nk - p * 16)
                    let c = s.scores + g * keyBlock + p * 16
                    // Mask rows of this tile (none for the zero-padding rows past the block).
                    let mt = maskRows.map { $0 + g * lk + k0 + p * 16 }
                    func m(_ r: Int) -> UnsafeMutablePointer<Float>? { g + r < rows ? mt.map { $0 + r * lk } : nil }
                    epilogue(t.0, c, mask: m(0), width: width, max: s.rowMaxVec + g)
                    epilogue(t.1, c + keyBlock, mask: m(1), width: width, max: s.rowMaxVec + g + 1)
                    epilogue(t.2, c + 2 * keyBlock, mask: m(2), width: width, max: s.rowMaxVec + g + 2)
                    epilogue(t.3, c + 3 * keyBlock, mask: m(3), width: width, max: s.rowMaxVec + g + 3)
                    epilogue(t.4, c + 4 * keyBlock, mask: m(4), width: width, max: s.rowMaxVec + g + 4)
                    epilogue(t.5, c + 5 * keyBlock, mask: m(5), width: width, max: s.rowMaxVec + g + 5)
                }
            }
            // Online softmax over this key block.
            for i in 0..<rows {
                let alpha = onlineSoftmax(s.scores + i * keyBlock, count: panels * 16, blockMax: s.rowMaxVec[i].max(),
                                          rowMax: s.rowMax + i, rowSum: s.rowSum + i)
                if alpha != 1 {
                    let a = VFloat(repeating: alpha), o = s.acc + i * accWidth
                    for j in 0..<valuePanels { VMath.store(VMath.load(o + j * 16) * a, o + j * 16) }
                }
            }
            // O += P · V_blk
            for g in stride(from: 0, to: paddedRows, by: 6) {
                let a = s.scores + g * keyBlock
                for j in 0..<valuePanels {
                    let t = SmallGEMM.tile(a, lda: keyBlock, vp + j * lk * 16 + k0 * 16, ldb: 16, k: nk)
                    let o = s.acc + g * accWidth + j * 16
                    VMath.store(VMath.load(o) + t.0, o)
                    VMath.store(VMath.load(o + accWidth) + t.1, o + accWidth)
                    VMath.store(VMath.load(o + 2 * accWidth) + t.2, o + 2 * accWidth)
                    VMath.store(VMath.load(o + 3 * accWidth) + t.3, o + 3 * accWidth)
                    VMath.store(VMath.load(o + 4 * accWidth) + t.4, o + 4 * accWidth)
                    VMath.store(VMath.load(o + 5 * accWidth) + t.5, o + 5 * accWidth)
                }
            }
            k0 += nk
        }
        // O /= l, into the output's head slice.
        let oBase = out.base + (bi * lq + row0) * ev + h * dv
        for i in 0..<rows {
            // A row whose keys were all masked (sum 0) gives zeros, as PyTorch's scaled_dot_product_attention.
            let inv = s.rowSum[i] == 0 ? 0 : 1 / s.rowSum[i]
            let src = s.acc + i * accWidth, dst = oBase + i * ev
            for c in 0..<dv { dst[c] = src[c] * inv }
        }
    }

    /// Scales one 16-key tile row, adds its mask, blanks lanes past the last key (−∞), stores it and updates the
    /// row's vector maximum.
    @inline(__always)
    private func epilogue(_ t: VFloat, _ dst: UnsafeMutablePointer<Float>, mask: UnsafeMutablePointer<Float>?,
                          width: Int, max: UnsafeMutablePointer<VFloat>) {
        var x = t * scale
        if width == 16 {
            if let mask { x += VMath.load(mask) }
        } else {
            if let mask { x += VMath.loadPartial(mask, width) }
            for j in width..<16 { x[j] = -.infinity }
        }
        VMath.store(x, dst)
        var m = max.pointee
        m.replace(with: x, where: x .> m)
        max.pointee = m
    }

    /// One row of one key block, holding x = scale·s + mask (−∞ past the last key): m_new = max(m, blockMax);
    /// overwrites x with p = e^(x − m_new) and updates l = l·α + Σp with α = e^(m − m_new), which it returns
    /// (the caller rescales the row's partial output by it).
    @inline(__always)
    private func onlineSoftmax(_ row: UnsafeMutablePointer<Float>, count n: Int, blockMax: Float,
                               rowMax: UnsafeMutablePointer<Float>, rowSum: UnsafeMutablePointer<Float>) -> Float {
        let old = rowMax.pointee
        let newMax = Swift.max(old, blockMax)
        // Rows masked so far: keep everything at 0 (shift by 0, α = 1 on an all-zero accumulator).
        let shift = newMax == -.infinity ? 0 : newMax
        let alpha: Float = old == newMax ? 1 : (old == -.infinity ? 0 : expScalar(old - newMax))
        let m = VFloat(repeating: shift)
        var acc = VFloat()
        var i = 0
        while i < n {
            let p = VMath.expNonPositive(VMath.load(row + i) - m)
            VMath.store(p, row + i)
            acc += p
            i += 16
        }
        rowMax.pointee = newMax
        rowSum.pointee = rowSum.pointee * alpha + VMath.horizontalSum(acc)
        return alpha
    }

    @inline(__always)
    private func expScalar(_ x: Float) -> Float { VMath.exp(VFloat(repeating: x))[0] }
}
