import Testing
@testable import TensorCore

/// `GEMM.sgemm` on both of its paths (SmallGEMM's Swift tiles and OpenBLAS split over the cores by rows or by
/// columns) against a Double product, with ragged sizes, α, β, a bias added to every row, an added matrix (a
/// residual) and row strides wider than the matrices.
@Suite struct GEMMTests {
    static func values(_ n: Int, seed: Int) -> [Float] {
        (0..<n).map { i in Float(((i * 7919 + seed * 104_729) % 2003)) / 1001 - 1 }
    }

    func check(m: Int, n: Int, k: Int, transA: Bool = false, transB: Bool = false, alpha: Float, beta: Float,
               bias withBias: Bool = false, addend withAddend: Bool = false, pad: Int = 3, elements: Bool = false) {
        let lda = (transA ? m : k) + pad, ldb = (transB ? k : n) + pad, ldc = n + pad
        let a = Self.values((transA ? k : m) * lda, seed: 1), b = Self.values((transB ? n : k) * ldb, seed: 2)
        var c = Self.values(m * ldc, seed: 3)
        let bias = withBias ? Self.values(n, seed: 4) : []
        let addend = withAddend ? Self.values(m * ldc, seed: 5) : []
        var expected = c
        for i in 0..<m {
            for j in 0..<n {
                var acc = 0.0
                for kk in 0..<k {
                    let x = transA ? a[kk * lda + i] : a[i * lda + kk]
                    let y = transB ? b[j * ldb + kk] : b[kk * ldb + j]
                    acc += Double(x) * Double(y)
                }
                expected[i * ldc + j] = Float(Double(alpha) * acc + Double(beta) * Double(c[i * ldc + j])
                                              + (withBias ? Double(bias[j]) : 0) + (withAddend ? Double(addend[i * ldc + j]) : 0))
            }
        }
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    bias.withUnsafeBufferPointer { pbias in
                        addend.withUnsafeBufferPointer { padd in
                            if elements {
                                GEMM.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                                          a: MatrixElements(pa.baseAddress!), lda: lda, b: MatrixElements(pb.baseAddress!),
                                          ldb: ldb, beta: beta, c: pc.baseAddress!, ldc: ldc,
                                          bias: withBias ? pbias.baseAddress! : nil, addend: withAddend ? padd.baseAddress! : nil)
                            } else {
                                GEMM.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: pa.baseAddress!, lda: lda,
                                           b: pb.baseAddress!, ldb: ldb, beta: beta, c: pc.baseAddress!, ldc: ldc,
                                           bias: withBias ? pbias.baseAddress! : nil, addend: withAddend ? padd.baseAddress! : nil)
                            }
                        }
                    }
                }
            }
        }
        var worst: Float = 0
        for i in 0..<m { for j in 0..<n { worst = max(worst, abs(c[i * ldc + j] - expected[i * ldc + j])) } }
        #expect(worst <= 1e-4 * Float(max(1, k)).squareRoot(), "\(m)×\(n)×\(k) transA \(transA) transB \(transB): \(worst)")
        // Padding columns of C are untouched.
        for i in 0..<m { for j in n..<ldc { #expect(c[i * ldc + j] == Self.values(m * ldc, seed: 3)[i * ldc + j]) } }
    }

    @Test func smallTilesMatchDoubleProduct() {
        #expect(SmallGEMM.suitable(m: 32, n: 256, k: 288))
        for (m, n, k) in [(1, 1, 1), (7, 17, 5), (13, 33, 40), (6, 16, 3), (32, 256, 288), (64, 16, 576), (77, 64, 64), (5, 300, 9)] {
            check(m: m, n: n, k: k, alpha: 1, beta: 0)
            check(m: m, n: n, k: k, alpha: 0.5, beta: 0.75)
            check(m: m, n: n, k: k, transB: true, alpha: 1, beta: 1)
            check(m: m, n: n, k: k, transB: true, alpha: 0.5, beta: 0, bias: true)
            check(m: m, n: n, k: k, alpha: 1, beta: 0, bias: true, addend: true)
            check(m: m, n: n, k: k, transB: true, alpha: 1, beta: 0, addend: true)
        }
    }

    /// `GEMM.gemm` with a transposed B and few rows of A runs `InnerProductGEMM`: every edge of its 4×4 tiles (rows
    /// of A or B fewer than 4 or not a multiple of 4, k not a multiple of 16) and the largest A it takes.
    @Test func innerProductTilesMatchDoubleProduct() {
        for (m, n, k) in [(1, 1, 16), (1, 5, 17), (1, 6, 300), (2, 3, 256), (3, 4, 257), (4, 4, 256), (5, 7, 271),
                          (7, 13, 300), (13, 64, 320), (64, 9, 1280), (128, 6, 256)] {
            #expect(InnerProductGEMM.suitable(m: m, n: n, k: k))
            check(m: m, n: n, k: k, transB: true, alpha: 1, beta: 0, elements: true)
            check(m: m, n: n, k: k, transB: true, alpha: 0.5, beta: 0.75, elements: true)
            check(m: m, n: n, k: k, transB: true, alpha: 1, beta: 0, bias: true, addend: true, elements: true)
        }
        let widest = InnerProductGEMM.maxFloatsOfA / InnerProductGEMM.maxRows
        #expect(InnerProductGEMM.suitable(m: InnerProductGEMM.maxRows, n: 5, k: widest))
        #expect(!InnerProductGEMM.suitable(m: InnerProductGEMM.maxRows + 1, n: 5, k: 256)
                && !InnerProductGEMM.suitable(m: 4, n: 5, k: 255) && !InnerProductGEMM.suitable(m: 1, n: 5, k: 15))
        check(m: 2, n: 5, k: widest, transB: true, alpha: 1, beta: 1, bias: true, elements: true)
    }

    @Test func openBLASSplitsMatchDoubleProduct() {
        #expect(!SmallGEMM.suitable(m: 256, n: 300, k: 129))
        check(m: 256, n: 300, k: 129, alpha: 1, beta: 1)               // columns split, ragged 16-column blocks
        check(m: 700, n: 100, k: 130, alpha: 0.5, beta: 0)             // rows split
        check(m: 200, n: 300, k: 150, transB: true, alpha: 1, beta: 0.5)
        check(m: 210, n: 90, k: 500, transA: true, alpha: 1, beta: 0)
        check(m: 9, n: 8, k: 7, transA: true, transB: true, alpha: 2, beta: 1)
        check(m: 256, n: 300, k: 129, transB: true, alpha: 1, beta: 0, bias: true)
        check(m: 210, n: 90, k: 500, transA: true, alpha: 0.5, beta: 0, bias: true)
        check(m: 256, n: 300, k: 129, alpha: 1, beta: 0, bias: true, addend: true)
        check(m: 700, n: 100, k: 130, transB: true, alpha: 1, beta: 0, addend: true)
    }

    @Test func workerPoolKeepsFreedMemoryOnGlibc() {
        // Without it, operators' output buffers came back from the kernel as fresh zero-filled pages on every call
        // (≈ a fifth of a batch-2 UNet forward in page faults). The C side must see glibc's own definitions to apply it.
        #if os(Linux) && canImport(Glibc)
        #expect(WorkerPool.shared.keepsFreedMemory)
        #endif
    }

    @Test func workerPoolRunsEveryChunkOnceAcrossManyJobs() {
        let jobs = 3000
        nonisolated(unsafe) let counts = UnsafeMutableBufferPointer<Int32>.allocate(capacity: jobs * 8)
        counts.initialize(repeating: 0)
        defer { counts.deallocate() }
        for job in 0..<jobs {
            let chunks = 2 + job % 7
            WorkerPool.shared.run(chunks: chunks) { c in
                counts[job * 8 + c] += 1
                // A nested job runs inline on this thread.
                if c == 0 && job % 100 == 0 { WorkerPool.shared.run(chunks: 3) { _ in } }
            }
            for c in 0..<8 { #expect(counts[job * 8 + c] == (c < chunks ? 1 : 0)) }
        }
    }
}
