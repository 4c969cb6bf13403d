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
}
