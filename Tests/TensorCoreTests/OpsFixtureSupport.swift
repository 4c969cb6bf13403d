import Foundation
import Testing
import TensorCore

// Loading of tools/fixtures/make_op_fixtures.py's output (Fixtures/ops.json) and comparison helpers.

struct OpTensor: Decodable, Sendable {
    let shape: [Int]
    let data: [Float]
    var tensor: Tensor { Tensor(shape: shape, scalars: data) }
}

struct OpCase: Decodable, Sendable {
    let params: [String: Double]
    let tensors: [String: OpTensor]

    func t(_ name: String) throws -> Tensor {
        guard let t = tensors[name] else { throw OpFixtureError.missingTensor(name) }
        return t.tensor
    }

    func has(_ name: String) -> Bool { tensors[name] != nil }

    func p(_ name: String) throws -> Double {
        guard let v = params[name] else { throw OpFixtureError.missingParam(name) }
        return v
    }

    func i(_ name: String) throws -> Int { Int(try p(name)) }
}

enum OpFixtureError: Error { case missingFile, missingCase(String), missingTensor(String), missingParam(String) }

enum OpFixtures {
    static func all() throws -> [String: OpCase] {
        guard let url = Bundle.module.url(forResource: "ops", withExtension: "json", subdirectory: "Fixtures") else {
            throw OpFixtureError.missingFile
        }
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try decoder.decode([String: OpCase].self, from: Data(contentsOf: url))
    }

    static func named(_ name: String) throws -> OpCase {
        guard let c = try all()[name] else { throw OpFixtureError.missingCase(name) }
        return c
    }

    /// All cases whose name starts with `prefix`, sorted by name.
    static func prefixed(_ prefix: String) throws -> [(String, OpCase)] {
        try all().filter { $0.key.hasPrefix(prefix) }.sorted { $0.key < $1.key }
    }
}

/// Largest |a − b| over elements, NaN-aware (NaN matches NaN, ±∞ matches itself), divided by
/// `max(1, max|b|)` — the "error relative to output scale" the operators are held to.
func scaledError(_ a: Tensor, _ b: Tensor) -> Double {
    guard a.shape == b.shape else { return .infinity }
    var scale = 1.0, err = 0.0
    for v in b.scalars where v.isFinite { scale = max(scale, Double(abs(v))) }
    for (x, y) in zip(a.scalars, b.scalars) {
        if x.isNaN || y.isNaN { if x.isNaN != y.isNaN { return .infinity }; continue }
        if x.isInfinite || y.isInfinite { if x != y { return .infinity }; continue }
        err = max(err, Double(abs(x - y)))
    }
    return err / scale
}

/// Expects `actual` to match the fixture's `expected` within `tolerance`·scale, and logs the error.
func expectClose(_ actual: Tensor, _ expected: Tensor, tolerance: Double = 1e-5, _ label: String,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.shape == expected.shape, "\(label): shape \(actual.shape) vs \(expected.shape)", sourceLocation: sourceLocation)
    let e = scaledError(actual, expected)
    if ProcessInfo.processInfo.environment["OPS_PRINT_ERRORS"] != nil {
        print("ops-error \(label): \(String(format: "%.3g", e))")
    }
    #expect(e <= tolerance, "\(label): scaled error \(e) > \(tolerance)", sourceLocation: sourceLocation)
}

/// Deterministic pseudo-random floats in [−1, 1) (SplitMix64), for self-consistency tests on larger shapes.
func testValues(_ count: Int, seed: UInt64) -> [Float] {
    var state = seed &+ 0x9E37_79B9_7F4A_7C15
    return (0..<count).map { _ in
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Float(z >> 40) / Float(1 << 23) - 1
    }
}

func testTensor(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
    Tensor(shape: shape, scalars: testValues(shape.reduce(1, *), seed: seed).map { $0 * scale })
}
