import Foundation
import TensorCore

/// A tiny deterministic generator for tests (SplitMix64 + Box–Muller); the test targets do not depend on
/// RandomStreams.
struct TestRandom {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    mutating func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) }

    mutating func normal() -> Double {
        let u1 = Swift.max(uniform(), 1e-300)
        let u2 = uniform()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    mutating func normals(rows: Int, columns: Int) -> Tensor {
        Tensor(shape: [rows, columns], scalars: (0..<(rows * columns)).map { _ in Float(normal()) })
    }

    mutating func uniforms(_ n: Int) -> [Float] { (0..<n).map { _ in Float(uniform()) } }
}
