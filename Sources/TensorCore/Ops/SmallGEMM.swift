import CHalfConversion

/// Register-tiled GEMM for small products, C = α·A·op(B) + β·C (row-major; B may be transposed, A not), in
/// Swift SIMD: the im2col convolutions and the linear layers of small UNets (e.g. 256 tokens × 32 features × 32)
/// where OpenBLAS spends much of its time packing and in edge kernels.
///
/// C is cut into 6×16 tiles; a tile is Σₖ A[6 rows][k] ⊗ B[k][16 columns] in six SIMD16 accumulators,
/// broadcasting A's scalars. An untransposed B is read in 16-column panels straight from its rows (only a last
/// partial panel is copied, zero-padded); a transposed B (a linear layer's `[out, in]` weight) is packed once per
/// call into `[k][16]` panels — n·k copies against m·n·k multiply–adds. A last row group of fewer than 6 rows
/// recomputes the rows before it (m ≥ 6) or reads a zero-padded copy (m < 6), so every tile runs the same kernel.
/// Tiles are split over the cores panel by panel (a panel of B stays in L1/L2 while its row groups run).
enum SmallGEMM {
    /// Products up to this many multiply–adds use this kernel (larger ones: OpenBLAS).
    static let maxMultiplyAdds = 1 << 23

    static func suitable(m: Int, n: Int, k: Int) -> Bool {
        m > 0 && n > 0 && k > 0 && m * n * k <= maxMultiplyAdds
    }

    /// C = α·A·op(B) + β·C (+ `bias[j]` on every row, + `addend[i·ldc + j]`, when given).
    static func run(transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
                    b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int,
                    bias: UnsafePointer<Float>? = nil, addend: UnsafePointer<Float>? = nil) {
        let fullPanels = n / 16, tail = n - fullPanels * 16
        let panels = fullPanels + (tail > 0 ? 1 : 0)
        // Packed panels of B: all of them when B is transposed, else only the last partial one.
        let packedPanels = transB ? panels : (tail > 0 ? 1 : 0)
        let packed = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(1, packedPanels * k * 16))
        defer { packed.deallocate() }
        if transB {
            for p in 0..<panels { packRows(MatrixElements(b), rowStride: ldb, rows: n, depth: k, panel: p, into: packed + p * k * 16) }
        } else if tail > 0 {
            packColumns(b, rowStride: ldb, depth: k, columns: n, panel: fullPanels, into: packed)
        }
        let pb = SendablePointer(b), pp = SendablePointer(packed)
        tiles(m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, beta: beta, c: c, ldc: ldc, bias: bias, addend: addend) { p, _, _ in
            if transB { return StridedRows(base: pp.base + p * k * 16, stride: 16) }
            if p == fullPanels { return StridedRows(base: pp.base, stride: 16) }
            return StridedRows(base: pb.base + p * 16, stride: ldb)
        }
    }

    /// C[m, 16·panels] = A·B where row kk of B starts at `b + rowOffsets[kk]` and the 16·panels floats from
    /// there are readable (`ImplicitGEMMConvolution`: B's rows are shifted windows of one padded image). C must
    /// have room for 16·panels columns.
    static func runRowGathered(m: Int, panels: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>,
                               rowOffsets: UnsafePointer<Int>, c: UnsafeMutablePointer<Float>, ldc: Int) {
        let pb = SendablePointer(b), offsets = SendableIntPointer(rowOffsets)
        tiles(m: m, n: panels * 16, k: k, alpha: 1, a: a, lda: lda, beta: 0, c: c, ldc: ldc, bias: nil, addend: nil) { p, _, _ in
            GatheredRows(base: pb.base + p * 16, offsets: offsets.base)
        }
    }

    /// `runRowGathered` with A (a convolution weight) possibly in a half format, widened a band of rows at a time.
    static func runRowGathered(m: Int, panels: Int, k: Int, a: MatrixElements, lda: Int, b: UnsafePointer<Float>,
                               rowOffsets: UnsafePointer<Int>, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if a.isFloat32 {
            runRowGathered(m: m, panels: panels, k: k, a: a.float32, lda: lda, b: b, rowOffsets: rowOffsets, c: c, ldc: ldc)
            return
        }
        forEachWidenedBand(a, lda: lda, m: m, k: k) { row0, rows, band in
            runRowGathered(m: rows, panels: panels, k: k, a: band, lda: k, b: b, rowOffsets: rowOffsets,
                           c: c + row0 * ldc, ldc: ldc)
        }
    }

    /// C = α·A·op(B) + β·C (+ bias, + addend) with A or B (not both) possibly in a half format, widened as read:
    /// a half A a band of rows at a time (`forEachWidenedBand`), a half B one 16-column panel at a time into
    /// each range of work items' own scratch (transposed or not). Float32 operands run `run` unchanged.
    static func run(transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: MatrixElements, lda: Int,
                    b: MatrixElements, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int,
                    bias: UnsafePointer<Float>? = nil, addend: UnsafePointer<Float>? = nil) {
        if !a.isFloat32 {
            precondition(b.isFloat32, "SmallGEMM.run: at most one operand may be half precision")
            forEachWidenedBand(a, lda: lda, m: m, k: k) { row0, rows, band in
                run(transB: transB, m: rows, n: n, k: k, alpha: alpha, a: band, lda: k, b: b.float32, ldb: ldb,
                    beta: beta, c: c + row0 * ldc, ldc: ldc, bias: bias, addend: addend.map { $0 + row0 * ldc })
            }
            return
        }
        if b.isFloat32 {
            run(transB: transB, m: m, n: n, k: k, alpha: alpha, a: a.float32, lda: lda, b: b.float32, ldb: ldb,
                beta: beta, c: c, ldc: ldc, bias: bias, addend: addend)
            return
        }
        // Scratch per range: one packed panel [k][16].
        tiles(m: m, n: n, k: k, alpha: alpha, a: a.float32, lda: lda, beta: beta, c: c, ldc: ldc, bias: bias,
              addend: addend, panelScratch: k * 16) { p, scratch, fresh in
            let panel = scratch!
            if fresh {
                if transB {
                    packRows(b, rowStride: ldb, rows: n, depth: k, panel: p, into: panel)
                } else {
                    packColumns(b, rowStride: ldb, depth: k, columns: n, panel: p, into: panel)
                }
            }
            return StridedRows(base: panel, stride: 16)
        }
    }

    /// Floats of widened A one band holds (1 MB: a band stays in a core's L2 while every panel of B passes).
    static let widenedBandFloats = 1 << 18

    /// Calls `body(row0, rows, band)` for bands of consecutive rows of the `[m, k]` matrix `a` (row stride `lda`),
    /// each widened into a row-major float32 band (row stride k); bands hold whole row groups of 6 and at least 6
    /// rows when m ≥ 6, so each runs the tile kernel as an ordinary product. The bands' products must write
    /// disjoint outputs: with at least two bands per core, each core takes a contiguous run of whole bands and
    /// widens and multiplies each in its own scratch (its product runs on that core alone), so the cores do not
    /// meet at a barrier twice per band and split a band's few tiles unevenly; fewer bands run one after another,
    /// each widened and multiplied by all the cores.
    static func forEachWidenedBand(_ a: MatrixElements, lda: Int, m: Int, k: Int,
                                   _ body: @escaping (Int, Int, UnsafePointer<Float>) -> Void) {
        let bandRows = Swift.max(6, widenedBandFloats / Swift.max(1, k) / 6 * 6)
        var starts: [Int] = []
        var row0 = 0
        while row0 < m {
            starts.append(row0)
            // A remainder of fewer than 6 rows joins the band before it.
            row0 += m - row0 < bandRows + 6 ? m - row0 : bandRows
        }
        starts.append(m)
        let bands = starts.count - 1, cores = WorkerPool.shared.threads
        if cores >= 2 && bands >= 2 * cores {
            WorkerPool.shared.run(chunks: cores) { part in
                let band = UnsafeMutablePointer<Float>.allocate(capacity: (bandRows + 5) * k)
                defer { band.deallocate() }
                for index in bands * part / cores ..< bands * (part + 1) / cores {
                    let first = starts[index], rows = starts[index + 1] - first
                    for i in 0..<rows { a.widen(offset: (first + i) * lda, count: k, into: band + i * k) }
                    body(first, rows, band)
                }
            }
            return
        }
        let band = UnsafeMutablePointer<Float>.allocate(capacity: (bandRows + 5) * k)
        defer { band.deallocate() }
        let pband = SendablePointer(band)
        for index in 0..<bands {
            let first = starts[index], rows = starts[index + 1] - first
            NN.parallel(rows, cost: k) { r in
                for i in r { a.widen(offset: (first + i) * lda, count: k, into: pband.base + i * k) }
            }
            body(first, rows, band)
        }
    }

    /// Floats `packRowGroups` writes for an `[m, k]` matrix: ⌈m / 6⌉ groups of `[k][6]`.
    static func packedRowGroupsCount(m: Int, k: Int) -> Int { (m + 5) / 6 * 6 * k }

    /// A row-major `[m, k]` matrix (row stride lda) as ⌈m / 6⌉ groups of `[k][6]` (rows past m zero): the order the
    /// tile kernel reads A (`PackedGroup`), so a weight used as A streams through memory sequentially
    /// (`WinogradConvolution`).
    static func packRowGroups(_ a: UnsafePointer<Float>, lda: Int, m: Int, k: Int, into dst: UnsafeMutablePointer<Float>) {
        for g in 0..<(m + 5) / 6 {
            let group = dst + g * 6 * k
            for kk in 0..<k {
                for r in 0..<6 {
                    let row = g * 6 + r
                    group[kk * 6 + r] = row < m ? a[row * lda + kk] : 0
                }
            }
        }
    }

    /// The tile loop shared by both entries: C's 6×16 tiles, split over the cores panel by panel; `panelRows(p)`
    /// says where the rows of B's panel p are. A last group of fewer than 6 rows computes rows m − 6 ..< m and
    /// stores only its own (A is copied, zero-padded, only when m < 6), so every tile runs the same kernel.
    ///
    /// With `panelScratch` > 0, each range of work items gets that many floats of scratch and `panelRows(p, scratch,
    /// fresh)` is told whether p differs from the previous item's panel (so it packs a panel only once per range).
    @inline(__always)
    private static func tiles<Rows: PanelRows>(m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
                                               beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int,
                                               bias: UnsafePointer<Float>?, addend: UnsafePointer<Float>?,
                                               panelScratch: Int = 0,
                                               panelRows: @escaping (Int, UnsafeMutablePointer<Float>?, Bool) -> Rows) {
        let groups = (m + 5) / 6, fullPanels = n / 16, tail = n - fullPanels * 16
        let panels = fullPanels + (tail > 0 ? 1 : 0)
        // A last group of fewer than 6 rows computes rows m − 6 ..< m (overlapping the group before it) and stores
        // only its own; with m < 6 it reads a zero-padded copy of A.
        let lastRows = m - (groups - 1) * 6
        let padA = m < 6 ? UnsafeMutablePointer<Float>.allocate(capacity: 6 * k) : nil
        defer { padA?.deallocate() }
        if let padA {
            for r in 0..<6 {
                if r < m { (padA + r * k).update(from: a + r * lda, count: k) } else { (padA + r * k).update(repeating: 0, count: k) }
            }
        }
        let pa = SendablePointer(padA.map { UnsafePointer($0) } ?? a), lda = padA == nil ? lda : k
        let pc = SendablePointer(c)
        let pbias = bias.map { SendablePointer($0) }, paddend = addend.map { SendablePointer($0) }
        NN.parallel(panels * groups, cost: 6 * 16 * k) { range in
            let scratch = panelScratch > 0 ? UnsafeMutablePointer<Float>.allocate(capacity: panelScratch) : nil
            defer { scratch?.deallocate() }
            var previousPanel = -1
            for item in range {
                let p = item / groups, g = item % groups
                let rows = panelRows(p, scratch, p != previousPanel)
                previousPanel = p
                // Rows row0 ..< row0 + 6 are computed; t.first … t.5 are stored (rows row0 + first …).
                let shifted = g == groups - 1 && lastRows < 6 && m >= 6
                let row0 = shifted ? m - 6 : g * 6
                let first = shifted ? 6 - lastRows : 0
                let last = g == groups - 1 && m < 6 ? m : 6
                let t = tile(StridedGroup(base: UnsafePointer(pa.base + row0 * lda), lda: lda), rows, k: k)
                let width = p == fullPanels ? tail : 16
                let offset = row0 * ldc + p * 16
                let out = pc.base + offset, extra = paddend.map { UnsafePointer($0.base + offset) }
                let add = pbias.map { width == 16 ? VMath.load($0.base + p * 16) : VMath.loadPartial($0.base + p * 16, width) } ?? VFloat()
                if first <= 0 { store(t.0, out, width: width, alpha: alpha, beta: beta, add: add, addend: extra) }
                if first <= 1 && last > 1 { store(t.1, out + ldc, width: width, alpha: alpha, beta: beta, add: add, addend: extra.map { $0 + ldc }) }
                if first <= 2 && last > 2 { store(t.2, out + 2 * ldc, width: width, alpha: alpha, beta: beta, add: add, addend: extra.map { $0 + 2 * ldc }) }
                if first <= 3 && last > 3 { store(t.3, out + 3 * ldc, width: width, alpha: alpha, beta: beta, add: add, addend: extra.map { $0 + 3 * ldc }) }
                if first <= 4 && last > 4 { store(t.4, out + 4 * ldc, width: width, alpha: alpha, beta: beta, add: add, addend: extra.map { $0 + 4 * ldc }) }
                if last > 5 { store(t.5, out + 5 * ldc, width: width, alpha: alpha, beta: beta, add: add, addend: extra.map { $0 + 5 * ldc }) }
            }
        }
    }

    /// Panel `p` of the transpose of a row-major `[rows, depth]` matrix in any element format: `panel[kk·16 + c] =
    /// src[(16p + c)·rowStride + kk]` widened, zero for rows past `rows` (a linear layer's `[out, in]` weight as B,
    /// attention's keys). Whole 16×16 blocks are transposed in registers (`evo_pack_rows16`), the depth's tail
    /// element by element.
    static func packRows(_ src: MatrixElements, rowStride: Int, rows: Int, depth: Int, panel p: Int,
                         into panel: UnsafeMutablePointer<Float>) {
        let valid = Swift.max(0, Swift.min(16, rows - p * 16))
        let format = switch src.half {
        case nil: Int32(EVO_FORMAT_F32)
        case .f16: Int32(EVO_FORMAT_F16)
        case .bf16: Int32(EVO_FORMAT_BF16)
        }
        let origin = valid > 0 ? src.advanced(by: p * 16 * rowStride) : src
        let blocked = depth / 16 * 16
        for kk in stride(from: 0, to: blocked, by: 16) {
            evo_pack_rows16(origin.advanced(by: kk).base, rowStride, Int32(valid), format, panel + kk * 16)
        }
        for kk in blocked..<depth {
            for c in 0..<16 { panel[kk * 16 + c] = c < valid ? origin.value(c * rowStride + kk) : 0 }
        }
    }

    /// `packColumns` of a matrix in any element format.
    static func packColumns(_ src: MatrixElements, rowStride: Int, depth: Int, columns: Int, panel p: Int,
                            into panel: UnsafeMutablePointer<Float>) {
        let width = Swift.min(16, columns - p * 16)
        for kk in 0..<depth {
            let row = panel + kk * 16
            src.widen(offset: kk * rowStride + p * 16, count: width, into: row)
            if width < 16 { (row + width).update(repeating: 0, count: 16 - width) }
        }
    }

    /// Panel `p` of a row-major `[depth, columns]` matrix: `panel[kk·16 + c] = src[kk·rowStride + 16p + c]`, zero
    /// for columns past `columns` (a partial last panel of B, attention's values).
    static func packColumns(_ src: UnsafePointer<Float>, rowStride: Int, depth: Int, columns: Int, panel p: Int,
                            into panel: UnsafeMutablePointer<Float>) {
        let width = Swift.min(16, columns - p * 16)
        for kk in 0..<depth {
            let from = src + kk * rowStride + p * 16, row = panel + kk * 16
            row.update(from: from, count: width)
            if width < 16 { (row + width).update(repeating: 0, count: 16 - width) }
        }
    }

    @inline(__always)
    private static func store(_ t: VFloat, _ dst: UnsafeMutablePointer<Float>, width: Int, alpha: Float, beta: Float,
                              add: VFloat, addend: UnsafePointer<Float>?) {
        var v = (alpha == 1 ? t : t * alpha) + add
        if width == 16 {
            if beta != 0 { v = v.addingProduct(VFloat(repeating: beta), VMath.load(dst)) }
            if let addend { v += VMath.load(addend) }
            VMath.store(v, dst)
        } else {
            if beta != 0 { v = v.addingProduct(VFloat(repeating: beta), VMath.loadPartial(dst, width)) }
            if let addend { v += VMath.loadPartial(addend, width) }
            VMath.storePartial(v, dst, width)
        }
    }

    /// Σ_kk A[r][kk]·B[kk][0..<16] for six rows r of A (at a + r·lda) and a 16-column panel of B (rows ldb apart):
    /// the 6×16 register tile (12 ymm accumulators with AVX2). Also `FusedAttention`'s micro-kernel.
    @inline(__always)
    static func tile(_ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int, k: Int)
        -> (VFloat, VFloat, VFloat, VFloat, VFloat, VFloat) {
        tile(StridedGroup(base: a, lda: lda), StridedRows(base: b, stride: ldb), k: k)
    }

    /// The 6×16 tile with A's six rows wherever `group` says and B's rows wherever `rows` says.
    @inline(__always)
    static func tile<Group: RowGroup, Rows: PanelRows>(_ group: Group, _ rows: Rows, k: Int)
        -> (VFloat, VFloat, VFloat, VFloat, VFloat, VFloat) {
        var c0 = VFloat(), c1 = VFloat(), c2 = VFloat(), c3 = VFloat(), c4 = VFloat(), c5 = VFloat()
        for kk in 0..<k {
            let bv = VMath.load(rows.row(kk))
            c0 = c0.addingProduct(VFloat(repeating: group.value(0, kk)), bv)
            c1 = c1.addingProduct(VFloat(repeating: group.value(1, kk)), bv)
            c2 = c2.addingProduct(VFloat(repeating: group.value(2, kk)), bv)
            c3 = c3.addingProduct(VFloat(repeating: group.value(3, kk)), bv)
            c4 = c4.addingProduct(VFloat(repeating: group.value(4, kk)), bv)
            c5 = c5.addingProduct(VFloat(repeating: group.value(5, kk)), bv)
        }
        return (c0, c1, c2, c3, c4, c5)
    }
}

/// Where the six rows of a row group of A are (`SmallGEMM.tile`).
protocol RowGroup {
    func value(_ r: Int, _ kk: Int) -> Float
}

/// Six rows `lda` floats apart (a row-major matrix, or a padded copy of its last rows).
struct StridedGroup: RowGroup {
    let base: UnsafePointer<Float>
    let lda: Int
    @inline(__always) func value(_ r: Int, _ kk: Int) -> Float { base[r * lda + kk] }
}

/// Six rows interleaved as `[k][6]` (`SmallGEMM.packRowGroups`).
struct PackedGroup: RowGroup {
    let base: UnsafePointer<Float>
    @inline(__always) func value(_ r: Int, _ kk: Int) -> Float { base[kk * 6 + r] }
}

/// Where each row of a 16-column panel of B starts (`SmallGEMM.tile`).
protocol PanelRows {
    func row(_ kk: Int) -> UnsafePointer<Float>
}

/// Rows `stride` floats apart (a row-major matrix or a packed panel).
struct StridedRows: PanelRows {
    let base: UnsafePointer<Float>
    let stride: Int
    init(base: UnsafePointer<Float>, stride: Int) { (self.base, self.stride) = (base, stride) }
    init(base: UnsafeMutablePointer<Float>, stride: Int) { (self.base, self.stride) = (UnsafePointer(base), stride) }
    @inline(__always) func row(_ kk: Int) -> UnsafePointer<Float> { base + kk * stride }
}

/// Row kk at `base + offsets[kk]` (the shifted windows of `ImplicitGEMMConvolution`).
struct GatheredRows: PanelRows {
    let base: UnsafePointer<Float>
    let offsets: UnsafePointer<Int>
    init(base: UnsafeMutablePointer<Float>, offsets: UnsafePointer<Int>) { (self.base, self.offsets) = (UnsafePointer(base), offsets) }
    @inline(__always) func row(_ kk: Int) -> UnsafePointer<Float> { base + offsets[kk] }
}

/// An `Int` pointer that closures run on several threads may capture (read-only use).
struct SendableIntPointer: @unchecked Sendable {
    let base: UnsafePointer<Int>
    init(_ base: UnsafePointer<Int>) { self.base = base }
}
