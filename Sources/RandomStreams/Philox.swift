import Foundation
import TensorCore

/// The Philox-4×32-10 counter-based generator (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
/// SC 2011): a keyed bijection of a 128-bit counter, ten rounds. The same (key, counter) always gives the
/// same four 32-bit words, so any draw can be computed without generating the ones before it.
public enum Philox4x32 {
    public static func block(counter c: (UInt32, UInt32, UInt32, UInt32), key k: (UInt32, UInt32)) -> (UInt32, UInt32, UInt32, UInt32) {
        var (c0, c1, c2, c3) = c
        var (k0, k1) = k
        for round in 0..<10 {
            if round > 0 { k0 &+= 0x9E37_79B9; k1 &+= 0xBB67_AE85 }
            let p0 = UInt64(0xD251_1F53) &* UInt64(c0)
            let p1 = UInt64(0xCD9E_8D57) &* UInt64(c2)
            let hi0 = UInt32(truncatingIfNeeded: p0 >> 32), lo0 = UInt32(truncatingIfNeeded: p0)
            let hi1 = UInt32(truncatingIfNeeded: p1 >> 32), lo1 = UInt32(truncatingIfNeeded: p1)
            (c0, c1, c2, c3) = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0)
        }
        return (c0, c1, c2, c3)
    }
}

/// What a random draw is for; part of every stream's identity so that different uses never share numbers.
public enum NoisePurpose: UInt32, Sendable, CaseIterable {
    /// Initial noise x at state index 0.
    case initialNoise = 1
    /// Fresh noise of a stochastic sampler step.
    case stepNoise = 2
    /// Mutation noise (EvoSearch, zero-order neighbours, search-over-paths renoising).
    case mutation = 3
    /// Discrete choices: tournaments, resampling, pivots.
    case selection = 4
    /// Procedural data: shapes-world prompts and scenes.
    case worldSampling = 5
}

/// Identity of one random stream: (seed, purpose, generation, individual, step).
///
/// Every individual's noise for every step is its own stream, so a search draws the same numbers whatever
/// the batch size, the order individuals are processed in, or the number of threads.
public struct NoiseKey: Hashable, Sendable {
    public var seed: UInt64
    public var purpose: NoisePurpose
    public var generation: UInt32
    public var individual: UInt32
    /// Step index; must be below 2^24 (it shares a counter word with the purpose).
    public var step: UInt32

    public init(seed: UInt64, purpose: NoisePurpose, generation: Int = 0, individual: Int = 0, step: Int = 0) {
        precondition(step >= 0 && step < (1 << 24), "NoiseKey: step \(step) out of 0..<2^24")
        precondition(generation >= 0 && individual >= 0, "NoiseKey: negative generation or individual")
        self.seed = seed
        self.purpose = purpose
        self.generation = UInt32(truncatingIfNeeded: generation)
        self.individual = UInt32(truncatingIfNeeded: individual)
        self.step = UInt32(step)
    }

    /// `count` independent standard normal draws of this stream.
    public func gaussians(_ count: Int) -> [Float] {
        var s = PhiloxStream(self)
        return s.gaussians(count)
    }

    /// A tensor of standard normal draws of this stream.
    public func gaussianTensor(shape: [Int]) -> Tensor {
        var s = PhiloxStream(self)
        return s.gaussianTensor(shape: shape)
    }
}

/// A sequential reader over one `NoiseKey`'s stream: uniforms, normals and integers.
///
/// Counter layout: word 0 is the block index within the stream, word 1 holds purpose (high 8 bits) and
/// step (low 24 bits), word 2 the generation, word 3 the individual; the key is the 64-bit seed.
public struct PhiloxStream: Sendable {
    public let key: NoiseKey
    private var blockIndex: UInt32 = 0
    private var buffer: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
    private var used = 4

    public init(_ key: NoiseKey) { self.key = key }

    public mutating func nextUInt32() -> UInt32 {
        if used == 4 {
            let c1 = (key.purpose.rawValue << 24) | key.step
            buffer = Philox4x32.block(counter: (blockIndex, c1, key.generation, key.individual),
                                      key: (UInt32(truncatingIfNeeded: key.seed), UInt32(truncatingIfNeeded: key.seed >> 32)))
            blockIndex &+= 1
            used = 0
        }
        defer { used += 1 }
        switch used {
        case 0: return buffer.0
        case 1: return buffer.1
        case 2: return buffer.2
        default: return buffer.3
        }
    }

    /// Uniform in the open interval (0, 1), 32 bits of resolution.
    public mutating func nextUniform() -> Double {
        (Double(nextUInt32()) + 0.5) * 0x1p-32
    }

    /// Uniform integer in 0..<n (n ≥ 1), by rejection so it is exactly uniform.
    public mutating func nextInt(below n: Int) -> Int {
        precondition(n >= 1 && n <= Int(UInt32.max), "PhiloxStream.nextInt: bound \(n) out of range")
        let bound = UInt32(n)
        let limit = UInt32.max - UInt32.max % bound
        while true {
            let x = nextUInt32()
            if x < limit { return Int(x % bound) }
        }
    }

    /// Standard normals by the Box–Muller transform in double precision, two per pair of uniforms.
    public mutating func gaussians(_ count: Int) -> [Float] {
        var out = [Float](repeating: 0, count: count)
        var i = 0
        while i < count {
            let u1 = nextUniform(), u2 = nextUniform()
            let r = (-2 * Foundation.log(u1)).squareRoot()
            let theta = 2 * Double.pi * u2
            out[i] = Float(r * Foundation.cos(theta))
            if i + 1 < count { out[i + 1] = Float(r * Foundation.sin(theta)) }
            i += 2
        }
        return out
    }

    /// One standard normal (Box–Muller, double precision; the pair's second value is discarded).
    public mutating func nextGaussian() -> Double {
        let u1 = nextUniform(), u2 = nextUniform()
        return (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2)
    }

    /// The next `shape.reduce(1, *)` standard normals of this stream as a tensor.
    public mutating func gaussianTensor(shape: [Int]) -> Tensor {
        Tensor(shape: shape, scalars: gaussians(shape.reduce(1, *)))
    }

    /// A random permutation-free sample of `k` distinct indices from 0..<n (partial Fisher–Yates).
    public mutating func sampleWithoutReplacement(_ k: Int, from n: Int) -> [Int] {
        precondition(k <= n, "PhiloxStream.sampleWithoutReplacement: \(k) of \(n)")
        var pool = Array(0..<n)
        for i in 0..<k {
            let j = i + nextInt(below: n - i)
            pool.swapAt(i, j)
        }
        return Array(pool.prefix(k))
    }
}
