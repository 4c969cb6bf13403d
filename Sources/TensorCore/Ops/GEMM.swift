import COpenBLAS

/// Row-major single-precision GEMM, C = α·op(A)·op(B) + β·C, for every operator (linear, convolution,
/// `Tensor.matmul`): small products with an untransposed A run `SmallGEMM` (Swift SIMD tiles); the rest OpenBLAS
/// `cblas_sgemm` with OpenBLAS's own threading switched off, the product split over `WorkerPool` by rows or
/// columns of C.
///
/// Why: with both thread pools active, OpenBLAS's idle workers spin between calls while `WorkerPool`'s wait for
/// the next operator, and the two compete for the cores (a second core then gains nothing). Splitting C in
/// halves costs each half a repacking of the shared operand — noise for the large products, where OpenBLAS's
/// own split does the same.
enum GEMM {
    /// OpenBLAS with one thread, set once per process before the first product.
    private static let blasThreadsOff: Void = openblas_set_num_threads(1)

    /// Products smaller than this many multiply–adds run on the calling thread.
    static let splitThreshold = 1 << 17

    /// `op(A)` is `[m, k]` (A stored `[k, m]` when `transA`), `op(B)` is `[k, n]` (B stored `[n, k]` when
    /// `transB`), C is `[m, n]` with row stride `ldc`. With `bias` (n values) and/or `addend` (an `[m, n]` matrix
    /// with row stride `ldc`, e.g. a residual), β must be 0 and C = α·op(A)·op(B) + bias on every row + addend:
    /// added as the tiles are stored, or written into C before an OpenBLAS product with β = 1.
    static func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
                      a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                      beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, bias: UnsafePointer<Float>? = nil,
                      addend: UnsafePointer<Float>? = nil) {
        precondition((bias == nil && addend == nil) || beta == 0, "GEMM.sgemm: a bias or addend needs beta = 0")
        if m == 0 || n == 0 { return }
        if !transA && SmallGEMM.suitable(m: m, n: n, k: k) {
            SmallGEMM.run(transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                          beta: beta, c: c, ldc: ldc, bias: bias, addend: addend)
            return
        }
        if bias != nil || addend != nil {
            _ = prefill(m: m, n: n, beta: beta, c: c, ldc: ldc, bias: bias, addend: addend)
            if k == 0 { return }
            sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                  beta: 1, c: c, ldc: ldc)
            return
        }
        _ = blasThreadsOff
        let cores = WorkerPool.shared.threads
        let splitColumns = n >= m
        let parts = m * n * k < splitThreshold || cores < 2 ? 1 : Swift.min(cores, splitColumns ? (n + 15) / 16 : m)
        let (pa, pb, pc) = (SendablePointer(a), SendablePointer(b), SendablePointer(c))
        func part(_ p: Int) {
            if splitColumns {
                // Column ranges aligned to 16 (the kernels' vector width).
                let blocks = (n + 15) / 16
                let j0 = Swift.min(n, blocks * p / parts * 16), j1 = Swift.min(n, blocks * (p + 1) / parts * 16)
                if j0 >= j1 { return }
                cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                            Int32(m), Int32(j1 - j0), Int32(k), alpha, pa.base, Int32(lda),
                            transB ? pb.base + j0 * ldb : pb.base + j0, Int32(ldb), beta, pc.base + j0, Int32(ldc))
            } else {
                let i0 = m * p / parts, i1 = m * (p + 1) / parts
                if i0 >= i1 { return }
                cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                            Int32(i1 - i0), Int32(n), Int32(k), alpha, transA ? pa.base + i0 : pa.base + i0 * lda,
                            Int32(lda), pb.base, Int32(ldb), beta, pc.base + i0 * ldc, Int32(ldc))
            }
        }
        if parts == 1 { part(0); return }
        WorkerPool.shared.run(chunks: parts) { p in part(p) }
    }

    /// `sgemm` with either operand (not both) possibly in a half format (a weight kept as stored, `StoredTensor`):
    /// the same product, C = α·op(A)·op(B) + β·C (+ bias, + addend). The half operand is widened as it is read,
    /// never as a whole matrix: by `SmallGEMM` a 16-column panel of B or a band of A's rows at a time; for
    /// OpenBLAS a block of up to 16 MB at a time (`blockedBLAS`). Widening is exact, so the result equals `sgemm`
    /// on the widened operand bit for bit (for OpenBLAS products that take the half operand in several blocks —
    /// cache-sized blocks per core, or more than one widened block — up to OpenBLAS's kernels and summation order
    /// for the narrower products).
    static func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
                     a: MatrixElements, lda: Int, b: MatrixElements, ldb: Int, beta: Float,
                     c: UnsafeMutablePointer<Float>, ldc: Int, bias: UnsafePointer<Float>? = nil,
                     addend: UnsafePointer<Float>? = nil) {
        if transB && !transA && a.isFloat32 && InnerProductGEMM.suitable(m: m, n: n, k: k) {
            InnerProductGEMM.run(m: m, n: n, k: k, alpha: alpha, a: a.float32, lda: lda, b: b, ldb: ldb, beta: beta,
                                 c: c, ldc: ldc, bias: bias, addend: addend)
            return
        }
        if a.isFloat32 && b.isFloat32 {
            sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a.float32, lda: lda,
                  b: b.float32, ldb: ldb, beta: beta, c: c, ldc: ldc, bias: bias, addend: addend)
            return
        }
        precondition(a.isFloat32 || b.isFloat32, "GEMM.gemm: at most one operand may be half precision")
        precondition((bias == nil && addend == nil) || beta == 0, "GEMM.gemm: a bias or addend needs beta = 0")
        if m == 0 || n == 0 { return }
        if !transA && SmallGEMM.suitable(m: m, n: n, k: k) {
            SmallGEMM.run(transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                          beta: beta, c: c, ldc: ldc, bias: bias, addend: addend)
            return
        }
        let effectiveBeta = prefill(m: m, n: n, beta: beta, c: c, ldc: ldc, bias: bias, addend: addend)
        if k == 0 { return }
        blockedBLAS(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                    beta: effectiveBeta, c: c, ldc: ldc)
    }

    /// Writes bias rows and/or the addend into C (split over the cores); returns the β the product then needs.
    private static func prefill(m: Int, n: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int,
                                bias: UnsafePointer<Float>?, addend: UnsafePointer<Float>?) -> Float {
        if bias == nil && addend == nil { return beta }
        let pc = SendablePointer(c), pbias = bias.map { SendablePointer($0) }, padd = addend.map { SendablePointer($0) }
        NN.parallel(m, cost: n) { r in
            for row in r {
                let d = pc.base + row * ldc
                switch (pbias, padd) {
                case let (b?, e?): VMath.map2(b.base, e.base + row * ldc, d, n, VAdd())
                case let (b?, nil): d.update(from: b.base, count: n)
                case let (nil, e?): d.update(from: e.base + row * ldc, count: n)
                case (nil, nil): break
                }
            }
        }
        return 1
    }

    /// Floats of a half operand widened at once by `blockedBLAS` when the product is split inside each block (16 MB).
    static let widenedBlockFloats = 1 << 22
    /// Target floats of one block when each core takes whole blocks (1 MB: the widened block is still in the
    /// core's cache when OpenBLAS reads it), and the narrowest such block (OpenBLAS repacks the float32 operand
    /// once per block, so narrow blocks would repack it too often).
    static let cacheBlockFloats = 1 << 18
    static let cacheBlockMinimumWidth = 64
    /// Past this many floats (8 MB, a quarter of a 32 MB L3) the float32 operand is not taken in cache-sized
    /// blocks: each of OpenBLAS's repackings of it would stream it from memory again (a transformer's activations
    /// at thousands of tokens and channels). Such products widen blocks at least `largeOperandMinimumWidth` wide,
    /// so each repacking is spread over that many columns.
    static let cacheRepackMaximumFloats = 1 << 21
    static let largeOperandMinimumWidth = 1024

    /// OpenBLAS with one half operand: the half operand is widened in blocks along its free dimension — columns of
    /// op(B), rows of op(A), each block the whole inner dimension deep — and each block is a product writing its
    /// columns / rows of C. When the free dimension gives every core several cache-sized blocks and the float32
    /// operand is at most `cacheRepackMaximumFloats`, each core takes whole blocks: it widens one into its own
    /// scratch and multiplies it at once, single-threaded, while it is in its cache. Otherwise blocks are up to
    /// `widenedBlockFloats` (at least `largeOperandMinimumWidth` wide for a large float32 operand), widened with the
    /// work split over the cores, and each is an `sgemm` split over the cores as usual (one block = exactly `sgemm`
    /// on the widened matrix).
    /// Blocking the free dimension rather than the inner one costs OpenBLAS one more packing of the float32 operand
    /// per block, and never an extra pass over C.
    private static func blockedBLAS(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                                    a: MatrixElements, lda: Int, b: MatrixElements, ldb: Int, beta: Float,
                                    c: UnsafeMutablePointer<Float>, ldc: Int) {
        let halfB = !b.isFloat32
        let extent = halfB ? n : m
        let half = halfB ? b : a
        // The operand as stored: `extent` rows of k (B transposed / A untransposed) or k rows of `extent`.
        let rowsOfK = halfB ? transB : !transA
        let ld = halfB ? ldb : lda
        let cores = WorkerPool.shared.threads
        // Cache-sized blocks, as many as a multiple of the cores and of equal width (so no core waits on another).
        let targetWidth = Swift.max(cacheBlockMinimumWidth, cacheBlockFloats / Swift.max(k, 1) / 16 * 16)
        let cacheBlocks = ((extent + targetWidth - 1) / targetWidth + cores - 1) / cores * cores
        let cacheWidth = ((extent + cacheBlocks - 1) / cacheBlocks + 15) / 16 * 16
        let floatOperandFloats = (halfB ? m : n) * k
        _ = blasThreadsOff
        if cores >= 2 && cacheBlocks >= 2 * cores && floatOperandFloats <= cacheRepackMaximumFloats {
            let (pc, pf) = (SendablePointer(c), SendablePointer(halfB ? a.float32 : b.float32))
            // Rounding the width up to 16 can leave fewer blocks than planned; only the ones with columns run.
            WorkerPool.shared.run(chunks: (extent + cacheWidth - 1) / cacheWidth) { blockIndex in
                let first = blockIndex * cacheWidth, width = Swift.min(cacheWidth, extent - first)
                let scratch = UnsafeMutablePointer<Float>.allocate(capacity: width * k)
                defer { scratch.deallocate() }
                if rowsOfK {
                    for i in 0..<width { half.widen(offset: (first + i) * ld, count: k, into: scratch + i * k) }
                } else {
                    for kk in 0..<k { half.widen(offset: kk * ld + first, count: width, into: scratch + kk * width) }
                }
                let widenedLd = Int32(rowsOfK ? k : width)
                let opA = transA ? CblasTrans : CblasNoTrans, opB = transB ? CblasTrans : CblasNoTrans
                if halfB {
                    cblas_sgemm(CblasRowMajor, opA, opB, Int32(m), Int32(width), Int32(k), alpha, pf.base, Int32(lda),
                                scratch, widenedLd, beta, pc.base + first, Int32(ldc))
                } else {
                    cblas_sgemm(CblasRowMajor, opA, opB, Int32(width), Int32(n), Int32(k), alpha, scratch, widenedLd,
                                pf.base, Int32(ldb), beta, pc.base + first * ldc, Int32(ldc))
                }
            }
            return
        }
        let minimumWidth = floatOperandFloats > cacheRepackMaximumFloats ? largeOperandMinimumWidth : 16
        let block = Swift.min(extent, Swift.max(minimumWidth, widenedBlockFloats / Swift.max(k, 1) / 16 * 16))
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: block * k)
        defer { scratch.deallocate() }
        let ps = SendablePointer(scratch)
        var e0 = 0
        while e0 < extent {
            let width = Swift.min(block, extent - e0), first = e0
            if rowsOfK {
                NN.parallel(width, cost: k) { r in
                    for i in r { half.widen(offset: (first + i) * ld, count: k, into: ps.base + i * k) }
                }
            } else {
                NN.parallel(k, cost: width) { r in
                    for kk in r { half.widen(offset: kk * ld + first, count: width, into: ps.base + kk * width) }
                }
            }
            let widenedLd = rowsOfK ? k : width
            if halfB {
                sgemm(transA: transA, transB: transB, m: m, n: width, k: k, alpha: alpha, a: a.float32, lda: lda,
                      b: scratch, ldb: widenedLd, beta: beta, c: c + e0, ldc: ldc)
            } else {
                sgemm(transA: transA, transB: transB, m: width, n: n, k: k, alpha: alpha, a: scratch, lda: widenedLd,
                      b: b.float32, ldb: ldb, beta: beta, c: c + e0 * ldc, ldc: ldc)
            }
            e0 += width
        }
    }
}
