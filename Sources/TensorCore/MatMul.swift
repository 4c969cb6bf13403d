extension Tensor {
    /// Matrix product of 2-D tensors through `GEMM.sgemm` (OpenBLAS, split over the cores), optionally
    /// transposing either operand: `op(a)·op(b)` with `op(a)` of shape `[m, k]` and `op(b)` of shape `[k, n]`.
    public static func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
        precondition(a.rank == 2 && b.rank == 2, "Tensor.matmul: needs 2-D operands, got \(a.shape) and \(b.shape)")
        let m = transposeA ? a.shape[1] : a.shape[0]
        let k = transposeA ? a.shape[0] : a.shape[1]
        let kb = transposeB ? b.shape[1] : b.shape[0]
        let n = transposeB ? b.shape[0] : b.shape[1]
        precondition(k == kb, "Tensor.matmul: inner dimensions \(k) and \(kb) differ (\(a.shape) × \(b.shape))")
        var out = [Float](repeating: 0, count: m * n)
        if m == 0 || n == 0 { return Tensor(shape: [m, n], scalars: out) }
        if k > 0 {
            a.scalars.withUnsafeBufferPointer { pa in
                b.scalars.withUnsafeBufferPointer { pb in
                    out.withUnsafeMutableBufferPointer { pc in
                        GEMM.sgemm(transA: transposeA, transB: transposeB, m: m, n: n, k: k,
                                   a: pa.baseAddress!, lda: a.shape[1], b: pb.baseAddress!, ldb: b.shape[1],
                                   beta: 0, c: pc.baseAddress!, ldc: n)
                    }
                }
            }
        }
        return Tensor(shape: [m, n], scalars: out)
    }
}
