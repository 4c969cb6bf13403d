import Testing
import TensorCore

@Suite struct TensorTests {
    @Test func matmulMatchesNaiveProductWithTransposes() {
        let a = Tensor(shape: [3, 4], scalars: (0..<12).map { Float($0) * 0.5 - 2 })
        let b = Tensor(shape: [4, 2], scalars: (0..<8).map { Float($0 * $0) * 0.1 - 1 })
        var expected = [Float](repeating: 0, count: 6)
        for i in 0..<3 { for j in 0..<2 { for k in 0..<4 { expected[i * 2 + j] += a.scalars[i * 4 + k] * b.scalars[k * 2 + j] } } }
        let c = Tensor.matmul(a, b)
        #expect(c.shape == [3, 2])
        #expect(c.maxAbsDifference(Tensor(shape: [3, 2], scalars: expected)) < 1e-5)
        // Same product through transposed storage.
        var at = [Float](repeating: 0, count: 12)
        for i in 0..<3 { for k in 0..<4 { at[k * 3 + i] = a.scalars[i * 4 + k] } }
        var bt = [Float](repeating: 0, count: 8)
        for k in 0..<4 { for j in 0..<2 { bt[j * 4 + k] = b.scalars[k * 2 + j] } }
        let c2 = Tensor.matmul(Tensor(shape: [4, 3], scalars: at), Tensor(shape: [2, 4], scalars: bt), transposeA: true, transposeB: true)
        #expect(c2.maxAbsDifference(c) < 1e-5)
    }

    @Test func broadcastingRulesAndRowOps() {
        let x = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        #expect((x + Tensor([10, 20, 30])).scalars == [11, 22, 33, 14, 25, 36])
        #expect((x * Tensor(shape: [2], scalars: [2, 3])).scalars == [2, 4, 6, 12, 15, 18])
        #expect(x.row(1).scalars == [4, 5, 6])
        #expect(x.gatherRows([1, 1, 0]).shape == [3, 3])
        #expect(Tensor.concatenate([x, x.row(0).reshaped([1, 3])]).shape == [3, 3])
        #expect(x.rowSums().scalars == [6, 15])
        #expect(x.scaled(2, plus: -1, times: x).scalars == x.scalars)
    }

    @Test func parallelRangesCoverEverythingOnce() {
        let n = 100_003
        nonisolated(unsafe) let counts = UnsafeMutableBufferPointer<Int32>.allocate(capacity: n)
        counts.initialize(repeating: 0)
        defer { counts.deallocate() }
        Parallel.forRanges(n, costPerItem: 100) { r in for i in r { counts[i] += 1 } }
        #expect(counts.allSatisfy { $0 == 1 })
    }
}
