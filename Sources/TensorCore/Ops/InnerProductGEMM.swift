import CHalfConversion

/// C = α·A·Bᵀ + β·C (+ `bias[j]` on every row, + `addend[i·ldc + j]`) with B as n rows of k — a linear layer's
/// `[out, in]` weight as its checkpoint stores it, in float32, f16 or bf16 — for products with few rows of A (a
/// time embedding, a 4×4 or 8×8 level's tokens, a text encoder's 77): each output is a dot product of a row of A
/// and a row of B, computed in 4×4 tiles of sixteen 16-lane accumulators (8 loads per 16 multiply–adds, so the
/// tile is bound by the FMA units, not the loads), B's rows widened 16 elements at a time in registers. Nothing is
/// packed or copied, so a half weight is read from memory once per call at half the bytes of its float32 copy.
///
/// Work is split over the cores by blocks of 4 rows of B; each block's rows stay in L1 while every row of A
/// passes, so A should fit in L2 (`suitable`). Results differ from other GEMM paths by float summation order
/// (each output sums 16 lanes, then the lanes pairwise); every element format runs the same kernel, so a half
/// weight gives exactly the result of its float32 widening.
enum InnerProductGEMM {
    /// Products with at most this many rows of A, A of at most `maxFloatsOfA` floats and a depth of at least
    /// `minimumDepth` (or one row of A and a depth of at least 16) take this path. Shallower products spend too much
    /// of each tile on its 16 horizontal sums; `SmallGEMM`'s packed panels win there.
    static let maxRows = 128
    static let maxFloatsOfA = 1 << 19
    static let minimumDepth = 256

    static func suitable(m: Int, n: Int, k: Int) -> Bool {
        m > 0 && m <= maxRows && n > 0 && (k >= minimumDepth || (m == 1 && k >= 16)) && m * k <= maxFloatsOfA
    }

    static func run(m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int, b: MatrixElements,
                    ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int,
                    bias: UnsafePointer<Float>? = nil, addend: UnsafePointer<Float>? = nil) {
        switch b.half {
        case nil: run(m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: Float32Rows(base: b.float32, ld: ldb),
                      beta: beta, c: c, ldc: ldc, bias: bias, addend: addend)
        case .f16: run(m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: Float16Rows(base: b.base, ld: ldb),
                       beta: beta, c: c, ldc: ldc, bias: bias, addend: addend)
        case .bf16: run(m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: BFloat16Rows(base: b.base, ld: ldb),
                        beta: beta, c: c, ldc: ldc, bias: bias, addend: addend)
        }
    }

    private static func run<Rows: WidenedRows>(m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
                                               b: Rows, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int,
                                               bias: UnsafePointer<Float>?, addend: UnsafePointer<Float>?) {
        let pa = SendablePointer(a), pc = SendablePointer(c)
        let pbias = bias.map { SendablePointer($0) }, paddend = addend.map { SendablePointer($0) }
        let blocks = (n + 3) / 4
        NN.parallel(blocks, cost: 4 * m * k) { range in
            for block in range {
                // A last block of fewer than 4 rows of B is shifted back over the block before it (n ≥ 4) or repeats
                // its last row (n < 4); only the outputs not stored by another block are stored.
                let j0 = n >= 4 ? Swift.min(block * 4, n - 4) : 0
                let firstNew = block * 4 - j0
                let js = (j0, Swift.min(j0 + 1, n - 1), Swift.min(j0 + 2, n - 1), Swift.min(j0 + 3, n - 1))
                let stored = Swift.min(4, n - j0)
                if m >= 4 {
                    // A last group of fewer than 4 rows of A is shifted back likewise.
                    var i0 = 0
                    while i0 < m {
                        let first = Swift.min(i0, m - 4)
                        let t = tile4x4(pa.base + first * lda, lda: lda, b, js, k: k)
                        for r in (i0 - first)..<4 {
                            for q in firstNew..<stored {
                                store(t[r * 4 + q], row: first + r, column: j0 + q, alpha: alpha, beta: beta,
                                      c: pc.base, ldc: ldc, bias: pbias?.base, addend: paddend?.base)
                            }
                        }
                        i0 += 4
                    }
                } else {
                    for i in 0..<m {
                        let t = tile1x4(pa.base + i * lda, b, js, k: k)
                        for q in firstNew..<stored {
                            store(t[q], row: i, column: j0 + q, alpha: alpha, beta: beta, c: pc.base, ldc: ldc,
                                  bias: pbias?.base, addend: paddend?.base)
                        }
                    }
                }
            }
        }
    }

    @inline(__always)
    private static func store(_ sum: Float, row: Int, column: Int, alpha: Float, beta: Float,
                              c: UnsafeMutablePointer<Float>, ldc: Int, bias: UnsafePointer<Float>?,
                              addend: UnsafePointer<Float>?) {
        var v = alpha == 1 ? sum : sum * alpha
        if let bias { v += bias[column] }
        let index = row * ldc + column
        if beta != 0 { v = (beta * c[index]) + v }
        if let addend { v += addend[index] }
        c[index] = v
    }

    /// The 16 dot products of four rows of A (from `a`, `lda` apart) with the four rows `js` of B (lane 4·r + q).
    @inline(__always)
    private static func tile4x4<Rows: WidenedRows>(_ a: UnsafePointer<Float>, lda: Int, _ b: Rows,
                                                   _ js: (Int, Int, Int, Int), k: Int) -> SIMD16<Float> {
        var c00 = VFloat(), c01 = VFloat(), c02 = VFloat(), c03 = VFloat()
        var c10 = VFloat(), c11 = VFloat(), c12 = VFloat(), c13 = VFloat()
        var c20 = VFloat(), c21 = VFloat(), c22 = VFloat(), c23 = VFloat()
        var c30 = VFloat(), c31 = VFloat(), c32 = VFloat(), c33 = VFloat()
        let a0 = a, a1 = a + lda, a2 = a + 2 * lda, a3 = a + 3 * lda
        let full = k / 16 * 16
        var kk = 0
        while kk < full {
            let b0 = b.load(js.0, kk), b1 = b.load(js.1, kk), b2 = b.load(js.2, kk), b3 = b.load(js.3, kk)
            var x = VMath.load(a0 + kk)
            c00 = c00.addingProduct(x, b0); c01 = c01.addingProduct(x, b1)
            c02 = c02.addingProduct(x, b2); c03 = c03.addingProduct(x, b3)
            x = VMath.load(a1 + kk)
            c10 = c10.addingProduct(x, b0); c11 = c11.addingProduct(x, b1)
            c12 = c12.addingProduct(x, b2); c13 = c13.addingProduct(x, b3)
            x = VMath.load(a2 + kk)
            c20 = c20.addingProduct(x, b0); c21 = c21.addingProduct(x, b1)
            c22 = c22.addingProduct(x, b2); c23 = c23.addingProduct(x, b3)
            x = VMath.load(a3 + kk)
            c30 = c30.addingProduct(x, b0); c31 = c31.addingProduct(x, b1)
            c32 = c32.addingProduct(x, b2); c33 = c33.addingProduct(x, b3)
            kk += 16
        }
        if full < k {
            let rest = k - full
            let b0 = b.loadPartial(js.0, full, rest), b1 = b.loadPartial(js.1, full, rest)
            let b2 = b.loadPartial(js.2, full, rest), b3 = b.loadPartial(js.3, full, rest)
            var x = VMath.loadPartial(a0 + full, rest)
            c00 = c00.addingProduct(x, b0); c01 = c01.addingProduct(x, b1)
            c02 = c02.addingProduct(x, b2); c03 = c03.addingProduct(x, b3)
            x = VMath.loadPartial(a1 + full, rest)
            c10 = c10.addingProduct(x, b0); c11 = c11.addingProduct(x, b1)
            c12 = c12.addingProduct(x, b2); c13 = c13.addingProduct(x, b3)
            x = VMath.loadPartial(a2 + full, rest)
            c20 = c20.addingProduct(x, b0); c21 = c21.addingProduct(x, b1)
            c22 = c22.addingProduct(x, b2); c23 = c23.addingProduct(x, b3)
            x = VMath.loadPartial(a3 + full, rest)
            c30 = c30.addingProduct(x, b0); c31 = c31.addingProduct(x, b1)
            c32 = c32.addingProduct(x, b2); c33 = c33.addingProduct(x, b3)
        }
        let h: (VFloat) -> Float = VMath.horizontalSum
        return SIMD16(h(c00), h(c01), h(c02), h(c03), h(c10), h(c11), h(c12), h(c13),
                      h(c20), h(c21), h(c22), h(c23), h(c30), h(c31), h(c32), h(c33))
    }

    /// The 4 dot products of one row of A with the four rows `js` of B.
    @inline(__always)
    private static func tile1x4<Rows: WidenedRows>(_ a: UnsafePointer<Float>, _ b: Rows, _ js: (Int, Int, Int, Int),
                                                   k: Int) -> SIMD4<Float> {
        var c0 = VFloat(), c1 = VFloat(), c2 = VFloat(), c3 = VFloat()
        let full = k / 16 * 16
        var kk = 0
        while kk < full {
            let x = VMath.load(a + kk)
            c0 = c0.addingProduct(x, b.load(js.0, kk)); c1 = c1.addingProduct(x, b.load(js.1, kk))
            c2 = c2.addingProduct(x, b.load(js.2, kk)); c3 = c3.addingProduct(x, b.load(js.3, kk))
            kk += 16
        }
        if full < k {
            let rest = k - full
            let x = VMath.loadPartial(a + full, rest)
            c0 = c0.addingProduct(x, b.loadPartial(js.0, full, rest)); c1 = c1.addingProduct(x, b.loadPartial(js.1, full, rest))
            c2 = c2.addingProduct(x, b.loadPartial(js.2, full, rest)); c3 = c3.addingProduct(x, b.loadPartial(js.3, full, rest))
        }
        let h: (VFloat) -> Float = VMath.horizontalSum
        return SIMD4(h(c0), h(c1), h(c2), h(c3))
    }
}

/// Rows of a matrix read 16 elements at a time as float32 (`InnerProductGEMM`'s B in each element format).
protocol WidenedRows {
    /// Elements kk ..< kk + 16 of row j.
    func load(_ j: Int, _ kk: Int) -> VFloat
    /// Elements kk ..< kk + count of row j (count < 16), zero beyond.
    func loadPartial(_ j: Int, _ kk: Int, _ count: Int) -> VFloat
}

struct Float32Rows: WidenedRows {
    let base: UnsafePointer<Float>
    let ld: Int
    @inline(__always) func load(_ j: Int, _ kk: Int) -> VFloat { VMath.load(base + j * ld + kk) }
    @inline(__always) func loadPartial(_ j: Int, _ kk: Int, _ count: Int) -> VFloat {
        VMath.loadPartial(base + j * ld + kk, count)
    }
}

/// Rows of 16-bit elements, widened by `widen16` (16 elements at any address as float32; zero bits widen to 0).
protocol HalfRows: WidenedRows {
    var base: UnsafeRawPointer { get }
    var ld: Int { get }
    static func widen16(_ p: UnsafeRawPointer) -> VFloat
}

extension HalfRows {
    @inline(__always) func load(_ j: Int, _ kk: Int) -> VFloat { Self.widen16(base + 2 * (j * ld + kk)) }
    @inline(__always) func loadPartial(_ j: Int, _ kk: Int, _ count: Int) -> VFloat {
        var bits = SIMD16<UInt16>()
        withUnsafeMutableBytes(of: &bits) { $0.baseAddress!.copyMemory(from: base + 2 * (j * ld + kk), byteCount: 2 * count) }
        return withUnsafeBytes(of: bits) { Self.widen16($0.baseAddress!) }
    }
}

struct Float16Rows: HalfRows {
    let base: UnsafeRawPointer
    let ld: Int
    @inline(__always) static func widen16(_ p: UnsafeRawPointer) -> VFloat { evo_widen_f16x16(p) }
}

struct BFloat16Rows: HalfRows {
    let base: UnsafeRawPointer
    let ld: Int
    @inline(__always) static func widen16(_ p: UnsafeRawPointer) -> VFloat { evo_widen_bf16x16(p) }
}
