/// A reproduction of PyTorch's default CPU random generator, for float32 `randn` / `rand`.
///
/// `var g = TorchGenerator(seed: s)` followed by `g.randn(n)` returns the same float32 values as
/// `g = torch.Generator().manual_seed(s); torch.randn(n, generator=g)`, and further calls on the
/// same generator continue the stream exactly as further torch calls on the same `g` would
/// (`randn` and `rand` may be interleaved). `randn(shape:)` equals `torch.randn(shape)`, which is
/// `randn(product of shape)` reshaped. This is the noise diffusers draws for initial latents and
/// per-step noise when given a CPU generator.
///
/// What is reproduced:
/// * seeding: MT19937 seeded with the low 32 bits of the seed (so `4294967295`, `2^32 + s` and
///   the negative seeds torch wraps to `2^64 + s` all behave as in torch);
/// * `rand`: one 32-bit draw per element, `(bits & 0xFFFFFF) · 2^-24`;
/// * `randn(n)` with `n ≥ 16`: all `n` uniforms are drawn first, converted 16 at a time by
///   Box–Muller over lanes (j, j+8); when `n % 16 != 0` 16 fresh uniforms are drawn and the last
///   16 outputs recomputed from them. The float32 math follows the selected `Kernel`;
/// * `randn(n)` with `n < 16`: double-precision Box–Muller per element over two 53-bit uniforms,
///   caching the sine half in the generator; the cached value is consumed by the next scalar
///   draw (across calls), and is left untouched by `n ≥ 16` calls, exactly as in torch. Seeding
///   clears it.
///
/// Limits: CPU generator only (CUDA's Philox streams are different), float32 output only (torch's
/// float64 / float16 / bfloat16 `randn` take other paths), standard normal only (mean 0, std 1),
/// and only freshly allocated (contiguous) tensors — torch's `normal_` on a non-contiguous view
/// falls back to the scalar path for every size.
///
/// Exactness: checked bit for bit against torch 2.13.0 (x86-64, glibc) on ~7.6M values over
/// thousands of seeds, sizes and call sequences, for both kernels. The `.vectorized` block math is
/// plain IEEE float32 arithmetic plus FMA, so it gives the same bits on every platform. The
/// `n < 16` path (double `log1p` / `sin` / `cos`) and the `.scalar` kernel (`logf` / `cosf` /
/// `sinf`) call the platform libm, so they are bit-exact where that is glibc, as for torch on
/// Linux; another libm may move an occasional value by an ulp.
public struct TorchGenerator: Sendable {
    /// Which of torch's two `n ≥ 16` float32 kernels to reproduce.
    public enum Kernel: Sendable, Equatable {
        /// The AVX2 / AVX-512 kernel (polynomial log and sincos): what torch uses on x86-64 CPUs
        /// with AVX2, i.e. `torch.backends.cpu.get_cpu_capability()` is "AVX2" or "AVX512".
        case vectorized
        /// The portable kernel (libm `logf` / `cosf` / `sinf`): torch builds without the AVX2
        /// kernel (e.g. aarch64), or `ATEN_CPU_CAPABILITY=default`. Its values differ from
        /// `.vectorized` in the last few bits (up to about 2e-6 absolute).
        case scalar
    }

    /// The seed passed at construction (torch `initial_seed()`).
    public let initialSeed: UInt64
    /// The `n ≥ 16` kernel being reproduced.
    public let kernel: Kernel

    var engine: TorchMT19937
    /// The cached second value of the last double-precision Box–Muller pair.
    var cachedNormal: Double?

    /// Equivalent to `torch.Generator().manual_seed(seed)`.
    public init(seed: UInt64, kernel: Kernel = .vectorized) {
        initialSeed = seed
        self.kernel = kernel
        engine = TorchMT19937(seed: seed)
        cachedNormal = nil
    }

    /// `torch.randn(n, generator=g)` for float32 on the CPU.
    public mutating func randn(_ n: Int) -> [Float] {
        precondition(n >= 0, "randn: negative count \(n)")
        return [Float](unsafeUninitializedCapacity: n) { buffer, count in
            fillNormal(buffer)
            count = n
        }
    }

    /// `torch.rand(n, generator=g)` for float32 on the CPU: uniform on [0, 1).
    public mutating func rand(_ n: Int) -> [Float] {
        precondition(n >= 0, "rand: negative count \(n)")
        return [Float](unsafeUninitializedCapacity: n) { buffer, count in
            fillUniform(buffer)
            count = n
        }
    }

    /// Overwrites `buffer` with what `torch.randn(buffer.count, generator=g)` would return.
    public mutating func fillNormal(_ buffer: UnsafeMutableBufferPointer<Float>) {
        let n = buffer.count
        guard n > 0, let base = buffer.baseAddress else { return }
        if n < 16 {
            for i in 0..<n { buffer[i] = nextScalarNormal() }
            return
        }
        fillUniform(buffer)
        let kernel = self.kernel
        @inline(__always) func transform(_ block: UnsafeMutablePointer<Float>) {
            switch kernel {
            case .vectorized: TorchBoxMuller.vectorBlock16(block)
            case .scalar: TorchBoxMuller.scalarBlock16(block)
            }
        }
        var i = 0
        while i + 16 <= n {
            transform(base + i)
            i += 16
        }
        if n % 16 != 0 {
            let tail = UnsafeMutableBufferPointer(start: base + (n - 16), count: 16)
            fillUniform(tail)
            transform(base + (n - 16))
        }
    }

    /// Overwrites `buffer` with what `torch.rand(buffer.count, generator=g)` would return.
    public mutating func fillUniform(_ buffer: UnsafeMutableBufferPointer<Float>) {
        guard let base = buffer.baseAddress else { return }
        let n = buffer.count
        engine.withState { words, cursor in
            for i in 0..<n {
                base[i] = TorchBoxMuller.uniformFloat(TorchMT19937.draw(words, &cursor))
            }
        }
    }

    /// One value of torch's element-wise (`n < 16`) normal path.
    mutating func nextScalarNormal() -> Float {
        if let cached = cachedNormal {
            cachedNormal = nil
            return Float(cached + 0)
        }
        let u1 = TorchBoxMuller.uniformDouble(engine.next64())
        let u2 = TorchBoxMuller.uniformDouble(engine.next64())
        let pair = TorchBoxMuller.doublePair(u1: u1, u2: u2)
        cachedNormal = pair.sin
        return Float(pair.cos + 0)
    }
}
