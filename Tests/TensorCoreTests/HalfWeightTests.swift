import Testing
@testable import TensorCore

/// Half-precision weights (`StoredTensor` over f16 / bf16 memory) through every GEMM and convolution path: widening
/// is exact, so each product must equal the same path's product on the float32 copy of the weight, bit for bit.
/// The one exception is an OpenBLAS product that takes its half operand in several blocks (more than one widened
/// block, `GEMM.widenedBlockFloats`, or cache-sized blocks taken whole per core): its narrower products may take
/// other OpenBLAS kernels or sum in another order (seen with OpenBLAS 0.3.21's Haswell kernels on an AMD EPYC), so
/// it is checked against a tolerance.
@Suite struct HalfWeightTests {
    /// Half-precision elements in memory this object owns, starting at an odd address (safetensors tensors need
    /// not be aligned).
    final class HalfBuffer: @unchecked Sendable {
        let raw: UnsafeMutableRawPointer
        let base: UnsafeRawPointer
        init(bits: [UInt16]) {
            raw = .allocate(byteCount: 2 * bits.count + 1, alignment: 16)
            for (i, b) in bits.enumerated() { (raw + 1).storeBytes(of: b, toByteOffset: 2 * i, as: UInt16.self) }
            base = UnsafeRawPointer(raw + 1)
        }
        deinit { raw.deallocate() }
    }

    /// A random weight of `shape` in `format` (values in about [-1, 1], deterministic).
    static func weight(_ shape: [Int], _ format: HalfFormat, seed: UInt64) -> StoredTensor {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        let bits = (0..<shape.reduce(1, *)).map { _ -> UInt16 in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let v = Float(Int64(bitPattern: state >> 11) % 2_000_001) / 1_000_000 - 1
            return format == .f16 ? Float16(v).bitPattern : UInt16(truncatingIfNeeded: v.bitPattern >> 16)
        }
        let buffer = HalfBuffer(bits: bits)
        return StoredTensor(shape: shape, format: format, base: buffer.base, owner: buffer)
    }

    static func values(_ n: Int, seed: Int) -> [Float] {
        (0..<n).map { i in Float(((i * 7919 + seed * 104_729) % 2003)) / 1001 - 1 }
    }

    /// Whether `GEMM.blockedBLAS` takes a half operand of `extent` rows (or columns) of depth `k` in several OpenBLAS
    /// products: whole cache-sized blocks per core, or more than one widened block.
    static func blasSplitsHalfOperand(extent: Int, k: Int, floatOperandFloats: Int) -> Bool {
        let cores = WorkerPool.shared.threads
        let width = max(GEMM.cacheBlockMinimumWidth, GEMM.cacheBlockFloats / max(k, 1) / 16 * 16)
        let blocks = ((extent + width - 1) / width + cores - 1) / cores * cores
        let cached = cores >= 2 && blocks >= 2 * cores && floatOperandFloats <= GEMM.cacheRepackMaximumFloats
        return cached || extent * k > GEMM.widenedBlockFloats
    }

    static func bitsEqual(_ a: [Float], _ b: [Float]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern }
    }

    @Test func widenIsExactForEveryBitPattern() {
        let all = (0...UInt16.max).map { $0 }
        let buffer = HalfBuffer(bits: all)
        for format in [HalfFormat.f16, .bf16] {
            var out = [Float](repeating: 0, count: all.count)
            out.withUnsafeMutableBufferPointer { format.widen(buffer.base, count: all.count, into: $0.baseAddress!) }
            var wrong = 0
            for (i, h) in all.enumerated() {
                let expected = format == .f16 ? Float(Float16(bitPattern: h)) : Float(bitPattern: UInt32(h) << 16)
                if expected.isNaN ? !out[i].isNaN : expected.bitPattern != out[i].bitPattern { wrong += 1 }
            }
            #expect(wrong == 0, "\(format): \(wrong) bit patterns widened wrongly")
        }
    }

    /// `GEMM.gemm` with the half operand against the path its float32 widening takes: `sgemm` for a half A (a
    /// convolution weight), `GEMM.gemm` for a half B (which runs `InnerProductGEMM` for a transposed B with few rows
    /// of A, as a half B does).
    func checkGEMM(m: Int, n: Int, k: Int, halfA: Bool, transA: Bool = false, transB: Bool = false, alpha: Float = 1,
                   beta: Float = 0, bias withBias: Bool = false, addend withAddend: Bool = false,
                   format: HalfFormat, exact: Bool = true) {
        let pad = 3
        let lda = (transA ? m : k) + pad, ldb = (transB ? k : n) + pad, ldc = n + pad
        let half = halfA ? Self.weight([(transA ? k : m) * lda], format, seed: 1) : Self.weight([(transB ? n : k) * ldb], format, seed: 2)
        let wide = half.widened().scalars
        let other = Self.values(halfA ? (transB ? n : k) * ldb : (transA ? k : m) * lda, seed: 3)
        let c0 = Self.values(m * ldc, seed: 4), bias = Self.values(n, seed: 5), addend = Self.values(m * ldc, seed: 6)
        var expected = c0, got = c0
        wide.withUnsafeBufferPointer { w in
            other.withUnsafeBufferPointer { o in
                bias.withUnsafeBufferPointer { pb in
                    addend.withUnsafeBufferPointer { pe in
                        let (a, b) = halfA ? (w.baseAddress!, o.baseAddress!) : (o.baseAddress!, w.baseAddress!)
                        expected.withUnsafeMutableBufferPointer { c in
                            if halfA {
                                GEMM.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                                           b: b, ldb: ldb, beta: beta, c: c.baseAddress!, ldc: ldc,
                                           bias: withBias ? pb.baseAddress! : nil, addend: withAddend ? pe.baseAddress! : nil)
                            } else {
                                GEMM.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: MatrixElements(a),
                                          lda: lda, b: MatrixElements(b), ldb: ldb, beta: beta, c: c.baseAddress!, ldc: ldc,
                                          bias: withBias ? pb.baseAddress! : nil, addend: withAddend ? pe.baseAddress! : nil)
                            }
                        }
                        half.withElements { h in
                            got.withUnsafeMutableBufferPointer { c in
                                GEMM.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                                          a: halfA ? h : MatrixElements(o.baseAddress!), lda: lda,
                                          b: halfA ? MatrixElements(o.baseAddress!) : h, ldb: ldb, beta: beta,
                                          c: c.baseAddress!, ldc: ldc, bias: withBias ? pb.baseAddress! : nil,
                                          addend: withAddend ? pe.baseAddress! : nil)
                            }
                        }
                    }
                }
            }
        }
        let label = "\(format) \(m)×\(n)×\(k) half \(halfA ? "A" : "B") transA \(transA) transB \(transB)"
        if exact {
            let same = Self.bitsEqual(got, expected)
            #expect(same, "\(label): differs from the float32 product")
        } else {
            let worst = zip(got, expected).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= 1e-5 * Float(k).squareRoot(), "\(label): \(worst)")
        }
        // C's padding columns are untouched.
        for i in 0..<m { for j in n..<ldc { #expect(got[i * ldc + j] == c0[i * ldc + j]) } }
    }

    @Test(arguments: [HalfFormat.f16, .bf16])
    func smallGEMMWithHalfOperandEqualsFloat32(format: HalfFormat) {
        // With B transposed, (64, 16, 576) and (77, 40, 300) take InnerProductGEMM, the others
        // SmallGEMM's packed panels of the half B.
        for (m, n, k) in [(1, 1, 1), (7, 17, 5), (13, 33, 40), (5, 300, 9), (64, 16, 576), (77, 64, 64), (150, 40, 24),
                          (77, 40, 300)] {
            #expect(SmallGEMM.suitable(m: m, n: n, k: k))
            checkGEMM(m: m, n: n, k: k, halfA: false, transB: true, format: format)
            checkGEMM(m: m, n: n, k: k, halfA: false, transB: true, alpha: 0.5, beta: 0.75, format: format)
            checkGEMM(m: m, n: n, k: k, halfA: false, transB: true, bias: true, addend: true, format: format)
            checkGEMM(m: m, n: n, k: k, halfA: false, transB: false, bias: true, format: format)
            checkGEMM(m: m, n: n, k: k, halfA: true, format: format)
            checkGEMM(m: m, n: n, k: k, halfA: true, transB: true, alpha: 0.5, beta: 1, format: format)
            checkGEMM(m: m, n: n, k: k, halfA: true, bias: true, addend: true, format: format)
        }
        // Several bands of widened A rows (the last one absorbing a remainder of fewer than 6 rows).
        let k = 1000, bandRows = SmallGEMM.widenedBandFloats / k / 6 * 6
        for m in [bandRows + 6, 2 * bandRows + 3] {
            #expect(SmallGEMM.suitable(m: m, n: 13, k: k))
            checkGEMM(m: m, n: 13, k: k, halfA: true, bias: true, format: format)
        }
        // At least two bands per core: each core widens and multiplies whole bands (60, 60, 60 and 63 rows).
        let deep = 4000, deepBand = SmallGEMM.widenedBandFloats / deep / 6 * 6
        #expect(deepBand == 60 && SmallGEMM.suitable(m: 4 * deepBand + 3, n: 8, k: deep))
        checkGEMM(m: 4 * deepBand + 3, n: 8, k: deep, halfA: true, bias: true, addend: true, format: format)
    }

    @Test(arguments: [HalfFormat.f16, .bf16])
    func openBLASWithHalfOperandEqualsFloat32(format: HalfFormat) {
        // The half operand in one widened block: the same OpenBLAS calls on the same values.
        for transA in [false, true] {
            for transB in [false, true] {
                #expect(!SmallGEMM.suitable(m: 200, n: 400, k: 200) && !InnerProductGEMM.suitable(m: 200, n: 400, k: 200))
                checkGEMM(m: 200, n: 400, k: 200, halfA: false, transA: transA, transB: transB, format: format)
                checkGEMM(m: 400, n: 128, k: 200, halfA: true, transA: transA, transB: transB, alpha: 0.5, beta: 0.75,
                          format: format)
            }
        }
        checkGEMM(m: 200, n: 400, k: 200, halfA: false, transB: true, bias: true, addend: true, format: format)
        checkGEMM(m: 400, n: 128, k: 200, halfA: true, bias: true, format: format)
        // Several widened blocks: equal up to summation order.
        #expect(GEMM.widenedBlockFloats / 700 < 8192)
        checkGEMM(m: 160, n: 8192, k: 700, halfA: false, transB: true, beta: 1, format: format, exact: false)
        checkGEMM(m: 8192, n: 16, k: 700, halfA: true, bias: true, format: format, exact: false)
        // Cache-sized blocks, whole blocks per core (every layout): equal up to summation order.
        let width = max(GEMM.cacheBlockMinimumWidth, GEMM.cacheBlockFloats / 2048 / 16 * 16)
        #expect((1024 + width - 1) / width >= 2 * WorkerPool.shared.threads || WorkerPool.shared.threads < 2)
        for transA in [false, true] {
            for transB in [false, true] {
                checkGEMM(m: 136, n: 1024, k: 2048, halfA: false, transA: transA, transB: transB, beta: 0.5, format: format, exact: false)
                checkGEMM(m: 1024, n: 40, k: 2048, halfA: true, transA: transA, transB: transB, format: format, exact: false)
            }
        }
        // A float32 operand too large for cache-sized blocks: widened blocks `largeOperandMinimumWidth` wide (two
        // here, more than `widenedBlockFloats` holds), equal up to summation order.
        #expect(500 * 4500 > GEMM.cacheRepackMaximumFloats && GEMM.widenedBlockFloats / 4500 < GEMM.largeOperandMinimumWidth)
        checkGEMM(m: 500, n: 1100, k: 4500, halfA: false, transB: true, format: format, exact: false)
        checkGEMM(m: 1100, n: 500, k: 4500, halfA: true, bias: true, format: format, exact: false)
    }

    @Test(arguments: [HalfFormat.f16, .bf16])
    func linearWithHalfWeightEqualsFloat32(format: HalfFormat) {
        for (rows, inF, outF) in [(1, 32, 48), (14, 40, 48), (300, 64, 256), (600, 256, 320)] {
            let w = Self.weight([outF, inF], format, seed: UInt64(inF))
            let x = Tensor(shape: [rows, inF], scalars: Self.values(rows * inF, seed: 7))
            let bias = Tensor(Self.values(outF, seed: 8))
            let residual = Tensor(shape: [rows, outF], scalars: Self.values(rows * outF, seed: 9))
            let got = NN.linear(x, weight: w, bias: bias, residual: residual)
            let expected = NN.linear(x, weight: StoredTensor(w.widened()), bias: bias, residual: residual)
            let same = Self.bitsEqual(got.scalars, expected.scalars)
            #expect(same, "\(format) linear \(rows)×\(inF)→\(outF)")
            // The transposed float32 layout Linear keeps for f32 checkpoints agrees to rounding.
            let transposed = NN.linear(x, transposedWeight: NN.transposeLastTwo(w.widened()), bias: bias, residual: residual)
            let difference = got.maxAbsDifference(transposed)
            #expect(difference <= 1e-5 * Float(inF).squareRoot())
        }
    }

    @Test(arguments: [HalfFormat.f16, .bf16])
    func conv2dWithHalfWeightEqualsFloat32OnEveryPath(format: HalfFormat) {
        // (n, c, h, w, o, kernel, stride, padding, groups)
        let cases = [(2, 16, 12, 12, 24, 3, 1, 1, 1), (1, 16, 8, 50, 24, 3, 1, 1, 1), (2, 16, 12, 12, 32, 3, 2, 1, 1),
                     (2, 16, 12, 12, 40, 1, 1, 0, 1), (1, 8, 10, 10, 8, 3, 1, 1, 2), (1, 16, 40, 40, 64, 3, 1, 1, 1),
                     (3, 8, 4, 4, 16, 3, 1, 1, 1), (1, 64, 40, 40, 96, 1, 1, 0, 1),
                     (1, 448, 4, 4, 256, 3, 1, 1, 1)]  // the last: five bands of widened weight rows
        for (n, c, h, w, o, kk, s, p, g) in cases {
            let weight = Self.weight([o, c / g, kk, kk], format, seed: UInt64(o * 31 + c))
            let wide = weight.widened()
            let x = Tensor(shape: [n, c, h, w], scalars: Self.values(n * c * h * w, seed: 10))
            let bias = Tensor(Self.values(o, seed: 11))
            for algorithm in [NN.ConvolutionAlgorithm.automatic, .gemm, .direct, .implicitGEMM, .winograd] {
                let winograd = kk == 3 && s == 1 && p == 1 && g == 1 ? WinogradKernel(weight: weight) : nil
                let (got, expected) = NN.Tuning.$convolution.withValue(algorithm) {
                    (NN.conv2d(x, weight: weight, bias: bias, stride: s, padding: p, groups: g, winograd: winograd),
                     NN.conv2d(x, weight: wide, bias: bias, stride: s, padding: p, groups: g,
                               winograd: winograd == nil ? nil : WinogradKernel(weight: wide)))
                }
                let label = "\(format) conv \([n, c, h, w]) → \(o), k\(kk) s\(s) p\(p) g\(g), \(algorithm)"
                // The im2col GEMM of one image: when OpenBLAS takes it in several blocks of the half weight, those
                // narrower products may sum in another order than the float32 weight's (the suite's exception).
                let k = c / g * kk * kk, plane = ((h + 2 * p - kk) / s + 1) * ((w + 2 * p - kk) / s + 1)
                if algorithm == .gemm && !SmallGEMM.suitable(m: o / g, n: plane, k: k)
                    && Self.blasSplitsHalfOperand(extent: o / g, k: k, floatOperandFloats: plane * k) {
                    let scale = expected.scalars.map(abs).max() ?? 1
                    #expect(got.maxAbsDifference(expected) <= 1e-6 * Float(k).squareRoot() * scale, "\(label)")
                } else {
                    #expect(Self.bitsEqual(got.scalars, expected.scalars), "\(label)")
                }
            }
        }
    }

    @Test(arguments: [HalfFormat.f16, .bf16])
    func embeddingRowsAreTheWidenedRows(format: HalfFormat) {
        let table = Self.weight([50, 24], format, seed: 12)
        let ids = [0, 49, 7, 7, 31]
        let same = Self.bitsEqual(table.rows(ids).scalars, table.widened().gatherRows(ids).scalars)
        #expect(same)
        #expect(table.rows(ids).shape == [5, 24])
        #expect(table.format == (format == .f16 ? .f16 : .bf16) && table.float32 == nil)
        let row = table.reshaped([25, 48]).rows([3]).scalars
        #expect(row == Array(table.widened().scalars[(3 * 48)..<(4 * 48)]))
    }
}
