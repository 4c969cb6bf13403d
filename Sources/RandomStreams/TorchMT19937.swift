/// The 32-bit Mersenne Twister (MT19937) engine behind PyTorch's CPU generator.
///
/// Seeding follows the reference `init_genrand` recurrence applied to the low 32 bits of the
/// 64-bit seed, which is what `torch.Generator.manual_seed` does (seeds `s` and `s + 2^32` give
/// identical streams). The output sequence is the standard MT19937 one (identical to
/// `std::mt19937`), so `next()` is torch's `random()`, and `next64()` is torch's `random64()`
/// (first draw in the high word).
///
/// Value semantics: the state lives in a copy-on-write array, so copying the engine forks the
/// stream. Bulk consumers use `withState` to avoid a uniqueness check per draw.
struct TorchMT19937: Sendable {
    static let stateSize = 624
    static let shift = 397

    /// The 624 state words.
    private(set) var words: [UInt32]
    /// Index of the next word to temper; `stateSize` means the block must be regenerated first.
    private(set) var position: Int

    init(seed: UInt64) {
        var w = [UInt32](repeating: 0, count: Self.stateSize)
        w[0] = UInt32(truncatingIfNeeded: seed)
        for i in 1..<Self.stateSize {
            let prev = w[i - 1]
            w[i] = 1_812_433_253 &* (prev ^ (prev >> 30)) &+ UInt32(i)
        }
        words = w
        position = Self.stateSize
    }

    /// One 32-bit output (torch `random()`).
    @inline(__always)
    mutating func next() -> UInt32 {
        var cursor = position
        let value = words.withUnsafeMutableBufferPointer { Self.draw($0, &cursor) }
        position = cursor
        return value
    }

    /// One 64-bit output made of two consecutive draws, the first in the high half
    /// (torch `random64()`).
    @inline(__always)
    mutating func next64() -> UInt64 {
        let hi = UInt64(next())
        let lo = UInt64(next())
        return (hi << 32) | lo
    }

    /// Runs `body` with direct access to the state and cursor; use `draw` inside it.
    @inline(__always)
    mutating func withState<R>(_ body: (UnsafeMutableBufferPointer<UInt32>, inout Int) -> R) -> R {
        var cursor = position
        let result = words.withUnsafeMutableBufferPointer { body($0, &cursor) }
        position = cursor
        return result
    }

    /// Tempers the next word, regenerating the block when it is exhausted.
    @inline(__always)
    static func draw(_ w: UnsafeMutableBufferPointer<UInt32>, _ cursor: inout Int) -> UInt32 {
        if cursor >= stateSize {
            regenerate(w)
            cursor = 0
        }
        var y = w[cursor]
        cursor += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C_5680
        y ^= (y << 15) & 0xEFC6_0000
        y ^= y >> 18
        return y
    }

    /// The MT19937 "twist": produces the next 624 untempered words in place.
    static func regenerate(_ w: UnsafeMutableBufferPointer<UInt32>) {
        @inline(__always) func mix(_ upper: UInt32, _ lower: UInt32, _ far: UInt32) -> UInt32 {
            let y = (upper & 0x8000_0000) | (lower & 0x7FFF_FFFF)
            return far ^ (y >> 1) ^ ((y & 1) &* 0x9908_B0DF)
        }
        let n = stateSize, m = shift
        for i in 0..<(n - m) { w[i] = mix(w[i], w[i + 1], w[i + m]) }
        for i in (n - m)..<(n - 1) { w[i] = mix(w[i], w[i + 1], w[i + m - n]) }
        w[n - 1] = mix(w[n - 1], w[0], w[m - 1])
    }
}
