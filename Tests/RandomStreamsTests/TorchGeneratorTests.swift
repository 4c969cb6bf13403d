import Foundation
import Testing
import TensorCore
@testable import RandomStreams

/// Fixture written by tools/fixtures/make_torch_rng_fixtures.py (real torch outputs as bit patterns).
private struct TorchFixture: Decodable {
    struct Call: Decodable {
        let op: String
        let shape: [Int]
        let bits: [String]
    }
    struct Case: Decodable {
        let name: String
        let seed: UInt64
        let kernel: String
        let first: Call
        let continuations: [[Call]]
    }
    let torch_version: String
    let cases: [Case]

    static func load() throws -> TorchFixture {
        let url = try #require(Bundle.module.url(forResource: "torch_randn", withExtension: "json",
                                                 subdirectory: "Fixtures"))
        return try JSONDecoder().decode(TorchFixture.self, from: Data(contentsOf: url))
    }
}

/// Comparison of one call's output against torch: mismatch count, max abs error, first bad index.
private struct Comparison: CustomStringConvertible {
    var mismatches = 0
    var maxAbsError: Float = 0
    var firstMismatch: (index: Int, got: Float, want: Float)?
    let count: Int

    init(got: [Float], want: [Float]) {
        count = want.count
        precondition(got.count == want.count)
        for i in 0..<want.count where got[i].bitPattern != want[i].bitPattern {
            mismatches += 1
            maxAbsError = max(maxAbsError, abs(got[i] - want[i]).isNaN ? .infinity : abs(got[i] - want[i]))
            if firstMismatch == nil { firstMismatch = (i, got[i], want[i]) }
        }
    }

    var description: String {
        var s = "\(mismatches)/\(count) values differ from torch, max abs error \(maxAbsError)"
        if let f = firstMismatch { s += "; first at [\(f.index)]: got \(f.got), torch \(f.want)" }
        return s
    }
}

/// Bit-exact wherever the math is pure IEEE arithmetic; the libm-based paths (n < 16, and the
/// `.scalar` kernel) are only guaranteed bit-exact against glibc, the libm torch used here.
private func tolerance(for call: TorchFixture.Call, kernel: TorchGenerator.Kernel) -> Float {
    #if os(Linux)
    return 0
    #else
    let n = call.shape.reduce(1, *)
    return (call.op == "randn" && (n < 16 || kernel == .scalar)) ? 1e-6 : 0
    #endif
}

private func run(_ call: TorchFixture.Call, on g: inout TorchGenerator) -> [Float] {
    let n = call.shape.reduce(1, *)
    if call.shape.count == 1 {
        return call.op == "randn" ? g.randn(n) : g.rand(n)
    }
    let t = call.op == "randn" ? g.randn(shape: call.shape) : g.rand(shape: call.shape)
    #expect(t.shape == call.shape)
    return t.scalars
}

private func check(_ call: TorchFixture.Call, _ label: String, on g: inout TorchGenerator) {
    let want = call.bits.map { Float(bitPattern: UInt32($0, radix: 16)!) }
    let got = run(call, on: &g)
    let cmp = Comparison(got: got, want: want)
    let tol = tolerance(for: call, kernel: g.kernel)
    let ok = tol == 0 ? cmp.mismatches == 0 : cmp.maxAbsError <= tol
    #expect(ok, "\(label): \(call.op)\(call.shape): \(cmp)")
}

@Suite struct TorchGeneratorTests {
    @Test func fixtureCoversTheRequiredGrid() throws {
        let fixture = try TorchFixture.load()
        #expect(fixture.cases.count >= 18)
        for seed: UInt64 in [0, 42, 4_294_967_295] {
            for n in [1, 15, 16, 17, 1000, 4096] {
                #expect(fixture.cases.contains { $0.seed == seed && $0.first.shape == [n] && $0.kernel == "vectorized" },
                        "missing seed \(seed) n \(n)")
            }
        }
    }

    @Test func matchesTorchOnEveryFixtureCase() throws {
        let fixture = try TorchFixture.load()
        #expect(fixture.cases.count == 29)
        for c in fixture.cases {
            let kernel: TorchGenerator.Kernel = c.kernel == "scalar" ? .scalar : .vectorized
            var g = TorchGenerator(seed: c.seed, kernel: kernel)
            check(c.first, "\(c.name) (torch \(fixture.torch_version)) first call", on: &g)
            for (k, sequence) in c.continuations.enumerated() {
                var h = g  // each continuation starts from the state after `first`
                for (j, call) in sequence.enumerated() {
                    check(call, "\(c.name) continuation \(k) call \(j)", on: &h)
                }
            }
        }
    }

    @Test func copyingForksTheStreamIncludingTheCachedSample() {
        var g = TorchGenerator(seed: 3)
        _ = g.randn(1)  // leaves the second Box–Muller value cached
        var h = g
        let a = g.randn(5), b = h.randn(5)
        #expect(a == b)
        #expect(g.randn(5) != a)
    }

    @Test func seedUsesOnlyTheLow32Bits() {
        var a = TorchGenerator(seed: 42), b = TorchGenerator(seed: (1 << 32) + 42)
        #expect(a.randn(40) == b.randn(40))
        var c = TorchGenerator(seed: 43)
        var d = TorchGenerator(seed: 42)
        #expect(c.randn(40) != d.randn(40))
    }

    @Test func shapeAndBufferEntryPointsEqualFlatRandn() {
        var a = TorchGenerator(seed: 11), b = TorchGenerator(seed: 11), c = TorchGenerator(seed: 11)
        let t = a.randn(shape: [1, 4, 16, 16])
        #expect(t.shape == [1, 4, 16, 16])
        #expect(t.scalars == b.randn(1024))
        var buffer = [Float](repeating: .nan, count: 1024)
        buffer.withUnsafeMutableBufferPointer { c.fillNormal($0) }
        #expect(buffer == t.scalars)
        #expect(a.randn(3) == b.randn(3))
    }

    @Test func emptyDrawsConsumeNothing() {
        var a = TorchGenerator(seed: 5), b = TorchGenerator(seed: 5)
        #expect(a.randn(0).isEmpty && a.rand(0).isEmpty)
        #expect(a.randn(shape: [2, 0]).count == 0)
        #expect(a.randn(20) == b.randn(20))
    }

    @Test func largeDrawLooksStandardNormal() {
        var g = TorchGenerator(seed: 2024)
        let x = g.randn(1 << 18)
        let mean = x.reduce(0.0) { $0 + Double($1) } / Double(x.count)
        let variance = x.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(x.count)
        #expect(abs(mean) < 0.01, "mean \(mean)")
        #expect(abs(variance - 1) < 0.01, "variance \(variance)")
        #expect(x.allSatisfy { $0.isFinite })
        let u = g.rand(1 << 16)
        #expect(u.allSatisfy { $0 >= 0 && $0 < 1 })
    }
}
