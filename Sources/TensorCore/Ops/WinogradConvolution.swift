/// A 3×3 convolution weight `[O, C, 3, 3]` transformed for `NN.conv2d`'s Winograd path: `U = G·g·Gᵀ` (4×4) for
/// every (output, input) channel pair, one `[O, C]` matrix per transform position, computed once in Double and
/// rounded. Takes 16/9 of the weight's memory, so layers prepare it only for small channel counts
/// (`worthPreparing`).
public struct WinogradKernel: Sendable {
    public let outChannels: Int
    public let inChannels: Int
    /// `[16, ⌈O/6⌉·6·C]`: per position the `[O, C]` matrix in the GEMM's row groups (`SmallGEMM.packRowGroups`),
    /// so each product streams its weight sequentially.
    let transformed: Tensor

    /// Layers prepare a kernel for 3×3 weights up to this many (output × input) channel pairs (256×256: the
    /// small UNets' and VAEs' convolutions; SD's 320…1280-channel ones would need 1.8× their weight memory again).
    public static let maxPreparedPairs = 1 << 16

    public static func worthPreparing(inChannels c: Int, outChannels o: Int) -> Bool {
        c > 0 && o > 0 && c * o <= maxPreparedPairs
    }

    /// `weight`: `[O, C, 3, 3]` as stored; a half-precision weight is widened for the transform (a transient copy
    /// of at most `maxPreparedPairs`·9 floats); U itself is float32.
    public init(weight: StoredTensor) {
        self.init(weight: weight.widened())
    }

    /// `weight`: `[O, C, 3, 3]` in PyTorch's layout.
    public init(weight: Tensor) {
        precondition(weight.rank == 4 && weight.shape[2] == 3 && weight.shape[3] == 3,
                     "WinogradKernel: weight must be [O, C, 3, 3], got \(weight.shape)")
        let (o, c) = (weight.shape[0], weight.shape[1])
        var u = [Float](repeating: 0, count: 16 * o * c)
        var gg = [Double](repeating: 0, count: 12)   // G·g, 4×3, reused for every channel pair
        let g = weight.scalars
        for oc in 0..<o {
            for ic in 0..<c {
                let base = (oc * c + ic) * 9
                // G·g (4×3): rows g₀, (g₀+g₁+g₂)/2, (g₀−g₁+g₂)/2, g₂ of the kernel's rows g₀, g₁, g₂; then ·Gᵀ on
                // each of its rows (a, b, c) → (a, (a+b+c)/2, (a−b+c)/2, c).
                for j in 0..<3 {
                    let r0 = Double(g[base + j]), r1 = Double(g[base + 3 + j]), r2 = Double(g[base + 6 + j])
                    gg[j] = r0; gg[3 + j] = (r0 + r1 + r2) / 2; gg[6 + j] = (r0 - r1 + r2) / 2; gg[9 + j] = r2
                }
                for i in 0..<4 {
                    let (a, b, cc) = (gg[3 * i], gg[3 * i + 1], gg[3 * i + 2])
                    let row = (a, (a + b + cc) / 2, (a - b + cc) / 2, cc)
                    let at = { (j: Int) in ((i * 4 + j) * o + oc) * c + ic }
                    u[at(0)] = Float(row.0); u[at(1)] = Float(row.1); u[at(2)] = Float(row.2); u[at(3)] = Float(row.3)
                }
            }
        }
        outChannels = o
        inChannels = c
        let packed = SmallGEMM.packedRowGroupsCount(m: o, k: c)
        var groups = [Float](repeating: 0, count: 16 * packed)
        u.withUnsafeBufferPointer { src in
            groups.withUnsafeMutableBufferPointer { dst in
                for xi in 0..<16 {
                    SmallGEMM.packRowGroups(src.baseAddress! + xi * o * c, lda: c, m: o, k: c, into: dst.baseAddress! + xi * packed)
                }
            }
        }
        transformed = Tensor(shape: [16, packed], scalars: groups)
    }
}

/// Stride-1, padding-1 3×3 convolution of NCHW images by Winograd's minimal filtering F(2×2, 3×3): each 2×2
/// block of outputs comes from a 4×4 input tile d as `Aᵀ·[Σ_c U_c ⊙ (Bᵀ·d_c·B)]·A`, so the channel sums are
/// 16 products `M_ξ[O, tiles] = U_ξ[O, C] · V_ξ[C, tiles]` with 16 multiply–adds per tile and channel pair
/// instead of 36 — 2.25× fewer than `ImplicitGEMMConvolution`. The small UNets' 8×8…32×32 levels spend most of
/// their convolution time in those products.
///
/// Work items are panels of 16 consecutive tiles (tiles run over images, tile rows, tile columns), and, when
/// there are fewer panels than threads, ranges of output channels (each such item redoes its panel's input
/// transform). An item runs every step on data only it touches, in one parallel loop: (1) for each input
/// channel and tile row of the panel, the four input rows are copied zero-padded with even and odd columns split
/// (so the tiles' overlapping columns are plain 8-lane loads) and transformed, 8 tiles at a time, into the
/// item's V; (2) the 16 products for its panel with `SmallGEMM.tile` (U packed in the kernel's row groups);
/// (3) the output transform, bias, and the two columns of each tile interleaved back into NCHW rows. Odd heights
/// or widths compute a last tile row/column whose extra outputs are dropped. The transforms use only additions
/// and subtractions (and halves in U), so results differ from PyTorch by float rounding of a different summation
/// order, as the other paths do.
struct WinogradConvolution {
    let n, c, h, w, o: Int

    var tilesY: Int { (h + 1) / 2 }
    var tilesX: Int { (w + 1) / 2 }

    /// Whether this path computes the convolution: a 3×3 stride-1 padding-1 convolution without groups whose
    /// weight the kernel was prepared from (same channel counts).
    static func applicable(kernel: WinogradKernel, c: Int, o: Int, kh: Int, kw: Int, sh: Int, sw: Int, ph: Int, pw: Int,
                           groups: Int) -> Bool {
        groups == 1 && kh == 3 && kw == 3 && sh == 1 && sw == 1 && ph == 1 && pw == 1
            && kernel.inChannels == c && kernel.outChannels == o
    }

    /// Whether it is the better choice: images from 8×8 (at 4×4 the 4 tiles fill a quarter of a 16-wide panel)
    /// to rows narrower than 48 (as `ImplicitGEMMConvolution`).
    static func suitable(h: Int, w: Int) -> Bool { h >= 8 && w >= 8 && w < 48 }

    typealias V8 = SIMD8<Float>

    /// `out` = conv(x) + bias[o] + `channelOffsets`[n, o] (or [o] unless `offsetsPerImage`) + `residual`[n, o, y, x]
    /// (each optional), the sums formed as each output row is stored.
    func run(x: SendablePointer, kernel: WinogradKernel, bias: SendablePointer?, channelOffsets: SendablePointer?,
             offsetsPerImage: Bool, residual: SendablePointer?, out: SendablePointer) {
        let (n, c, o, tilesY, tilesX) = (n, c, o, tilesY, tilesX)
        let tiles = n * tilesY * tilesX
        let panels = (tiles + 15) / 16
        let rowGroups = (o + 5) / 6
        // Output-channel ranges (in whole row groups) per panel: enough items for every thread.
        let chunks = Swift.min(rowGroups, Swift.max(1, (NN.threads + panels - 1) / panels))
        let groupsX = (tilesX + 7) / 8
        let half = groupsX * 8 + 1                   // split columns per padded row: tile tx reads tx and tx + 1
        // The item's V: [16][C][ldV], 8-lane stores run up to 7 past the panel's 16 tiles; its M: [16][6·groups]
        // [ldM], the panel's 16 tiles from column 8 (8-lane loads start up to 7 before them, end up to 7 after).
        let ldV = 24, ldM = 32
        let planeV = c * ldV + 16, planeM = rowGroups * 6 * ldM + 16   // + a cache line: planes in other cache sets
        let packedU = SmallGEMM.packedRowGroupsCount(m: o, k: c)
        let cost = 16 * rowGroups * 6 * 16 * c / chunks + c * 16 * 40
        NN.read(kernel.transformed) { u in
            NN.parallel(panels * chunks, cost: cost) { range in
                let localV = UnsafeMutablePointer<Float>.allocate(capacity: 16 * planeV)
                let localM = UnsafeMutablePointer<Float>.allocate(capacity: 16 * planeM)
                let rows = UnsafeMutablePointer<Float>.allocate(capacity: 4 * 2 * half)
                defer { localV.deallocate(); localM.deallocate(); rows.deallocate() }
                for item in range {
                    let p = item / chunks, chunk = item % chunks
                    let g0 = rowGroups * chunk / chunks, g1 = rowGroups * (chunk + 1) / chunks
                    let t0 = p * 16, t1 = Swift.min(tiles, t0 + 16)
                    inputTransform(x: x, tiles: t0..<t1, half: half, rows: rows, v: localV, ldV: ldV, planeV: planeV)
                    // (2) M_ξ[rows of groups g0..<g1][16 tiles] = U_ξ · V_ξ.
                    for xi in 0..<16 {
                        let panel = StridedRows(base: localV + xi * planeV, stride: ldV)
                        for g in g0..<g1 {
                            let t = SmallGEMM.tile(PackedGroup(base: u.base + xi * packedU + g * 6 * c), panel, k: c)
                            let dst = localM + xi * planeM + (g - g0) * 6 * ldM + 8
                            VMath.store(t.0, dst); VMath.store(t.1, dst + ldM); VMath.store(t.2, dst + 2 * ldM)
                            VMath.store(t.3, dst + 3 * ldM); VMath.store(t.4, dst + 4 * ldM); VMath.store(t.5, dst + 5 * ldM)
                        }
                    }
                    outputTransform(m: localM, ldM: ldM, planeM: planeM, channels: g0 * 6..<Swift.min(o, g1 * 6),
                                    tiles: t0..<t1, bias: bias, channelOffsets: channelOffsets,
                                    offsetsPerImage: offsetsPerImage, residual: residual, out: out)
                }
            }
        }
    }

    /// Step 1 for the tiles `range` (within one panel): V[ξ][ch][tile − range.lowerBound] for every input channel;
    /// columns past the last tile up to 16 are zero (the products read them).
    @inline(__always)
    private func inputTransform(x: SendablePointer, tiles range: Range<Int>, half: Int, rows: UnsafeMutablePointer<Float>,
                                v: UnsafeMutablePointer<Float>, ldV: Int, planeV: Int) {
        let (c, h, w, tilesY, tilesX) = (c, h, w, tilesY, tilesX)
        let t0 = range.lowerBound
        for ch in 0..<c {
            var rowStart = t0 - t0 % tilesX
            while rowStart < range.upperBound {
                let b = rowStart / (tilesY * tilesX), ty = rowStart / tilesX % tilesY
                // The tile row's four padded input rows 2ty − 1 … 2ty + 2; column x' = x + 1: even x' (odd x) in the
                // first half, odd x' (even x) in the second; 16 or 8 input columns at a time.
                rows.update(repeating: 0, count: 4 * 2 * half)
                let src = x.base + (b * c + ch) * h * w
                for r in 0..<4 {
                    let y = 2 * ty - 1 + r
                    if y < 0 || y >= h { continue }
                    let row = src + y * w, even = rows + r * 2 * half, odd = even + half
                    var x0 = 0
                    while x0 + 16 <= w {
                        let v = VMath.load(row + x0)
                        VMath.store8(v.evenHalf, odd + x0 / 2)
                        VMath.store8(v.oddHalf, even + x0 / 2 + 1)
                        x0 += 16
                    }
                    if x0 + 8 <= w {
                        let v = VMath.load8(row + x0)
                        UnsafeMutableRawPointer(odd + x0 / 2).storeBytes(of: v.evenHalf, as: SIMD4<Float>.self)
                        UnsafeMutableRawPointer(even + x0 / 2 + 1).storeBytes(of: v.oddHalf, as: SIMD4<Float>.self)
                        x0 += 8
                    }
                    for xx in x0..<w {
                        if xx % 2 == 0 { odd[xx / 2] = row[xx] } else { even[(xx + 1) / 2] = row[xx] }
                    }
                }
                for tx in stride(from: 0, to: tilesX, by: 8) {
                    // d·B on one of the tile's four rows: (d₀ − d₂, d₁ + d₂, d₂ − d₁, d₁ − d₃).
                    @inline(__always) func rowTransform(_ r: Int) -> (V8, V8, V8, V8) {
                        let even = rows + r * 2 * half + tx, odd = even + half
                        let e0 = VMath.load8(even), e1 = VMath.load8(even + 1)
                        let o0 = VMath.load8(odd), o1 = VMath.load8(odd + 1)
                        return (e0 - e1, o0 + e1, e1 - o0, o0 - o1)
                    }
                    // Bᵀ· on the columns: rows (r₀ − r₂, r₁ + r₂, r₂ − r₁, r₁ − r₃) are positions ξ = 4i + j.
                    // The group's lanes in this panel (a row that starts before the panel, or ends after it,
                    // has groups partly or wholly outside).
                    let local = rowStart + tx - t0
                    let firstLane = Swift.max(0, -local), endLane = Swift.min(8, range.upperBound - (rowStart + tx))
                    if firstLane >= endLane { continue }
                    let lanes = firstLane..<endLane
                    let dst = v + ch * ldV + local
                    @inline(__always) func put(_ i: Int, _ a: (V8, V8, V8, V8), _ s: (V8, V8, V8, V8), _ sign: Float) {
                        let base = dst + 4 * i * planeV
                        let values = (a.0 + sign * s.0, a.1 + sign * s.1, a.2 + sign * s.2, a.3 + sign * s.3)
                        if lanes.lowerBound == 0 {
                            // Lanes past the row's or panel's end land where later tiles or the slack go.
                            VMath.store8(values.0, base); VMath.store8(values.1, base + planeV)
                            VMath.store8(values.2, base + 2 * planeV); VMath.store8(values.3, base + 3 * planeV)
                        } else {
                            for l in lanes {
                                base[l] = values.0[l]; base[planeV + l] = values.1[l]
                                base[2 * planeV + l] = values.2[l]; base[3 * planeV + l] = values.3[l]
                            }
                        }
                    }
                    let r2 = rowTransform(2)
                    put(0, rowTransform(0), r2, -1)
                    let r1 = rowTransform(1)
                    put(1, r1, r2, 1)
                    put(2, r2, r1, -1)
                    put(3, r1, rowTransform(3), -1)
                }
                rowStart += tilesX
            }
            if range.count < 16 {
                for xi in 0..<16 { (v + xi * planeV + ch * ldV + range.count).update(repeating: 0, count: 16 - range.count) }
            }
        }
    }

    /// Step 3 for output channels `channels` and the tiles `range`: Aᵀ·M·A (rows m₀ + m₁ + m₂ and m₁ − m₂ − m₃,
    /// likewise columns) plus bias and channel offset, each tile's two columns interleaved into the output rows,
    /// plus the residual. M holds the item's channels from row 0 and its tiles from column 8.
    @inline(__always)
    private func outputTransform(m: UnsafeMutablePointer<Float>, ldM: Int, planeM: Int, channels: Range<Int>,
                                 tiles range: Range<Int>, bias: SendablePointer?, channelOffsets: SendablePointer?,
                                 offsetsPerImage: Bool, residual: SendablePointer?, out: SendablePointer) {
        let (o, h, w, tilesY, tilesX) = (o, h, w, tilesY, tilesX)
        let t0 = range.lowerBound
        for oc in channels {
            let channelBias = bias.map { $0[oc] } ?? 0
            var rowStart = t0 - t0 % tilesX
            while rowStart < range.upperBound {
                let b = rowStart / (tilesY * tilesX), ty = rowStart / tilesX % tilesY
                let add = V8(repeating: channelBias + (channelOffsets.map { $0[offsetsPerImage ? b * o + oc : oc] } ?? 0))
                let offset = ((b * o + oc) * h + 2 * ty) * w
                let dst = out.base + offset, extra = residual.map { $0.base + offset }
                for tx in stride(from: 0, to: tilesX, by: 8) {
                    // This item's tiles of the group: lanes first…last − 1, i.e. output columns 2·first …
                    let local = rowStart + tx - t0
                    let first = Swift.max(0, -local)
                    let last = Swift.min(8, tilesX - tx, range.upperBound - (rowStart + tx))
                    if first >= last { continue }
                    let src = m + (oc - channels.lowerBound) * ldM + 8 + local
                    @inline(__always) func column(_ j: Int) -> (V8, V8) {
                        let m0 = VMath.load8(src + j * planeM), m1 = VMath.load8(src + (4 + j) * planeM)
                        let m2 = VMath.load8(src + (8 + j) * planeM), m3 = VMath.load8(src + (12 + j) * planeM)
                        return (m0 + m1 + m2, m1 - m2 - m3)
                    }
                    let c0 = column(0), c1 = column(1), c2 = column(2), c3 = column(3)
                    var top = VFloat(), bottom = VFloat()
                    top.evenHalf = c0.0 + c1.0 + c2.0 + add
                    top.oddHalf = c1.0 - c2.0 - c3.0 + add
                    bottom.evenHalf = c0.1 + c1.1 + c2.1 + add
                    bottom.oddHalf = c1.1 - c2.1 - c3.1 + add
                    let x0 = 2 * (tx + first), x1 = Swift.min(w, 2 * (tx + last))
                    let row = dst + x0, rowExtra = extra.map { $0 + x0 }
                    if first == 0 && x1 - x0 == 16 {
                        VMath.store(rowExtra.map { top + VMath.load($0) } ?? top, row)
                        if 2 * ty + 1 < h { VMath.store(rowExtra.map { bottom + VMath.load($0 + w) } ?? bottom, row + w) }
                    } else {
                        for l in 0..<(x1 - x0) { row[l] = top[2 * first + l] + (rowExtra?[l] ?? 0) }
                        if 2 * ty + 1 < h {
                            for l in 0..<(x1 - x0) { row[w + l] = bottom[2 * first + l] + (rowExtra?[w + l] ?? 0) }
                        }
                    }
                }
                rowStart += tilesX
            }
        }
    }
}
