// Vectorised float32 transcendental functions for the activations, softmax and attention (SIMD16: one AVX-512
// register, or two AVX2 registers, depending on the build's instruction set — see Package.swift). exp is
// Cephes' expf (Cody–Waite reduction + degree-6 polynomial, ~1 ulp); erf is the Abramowitz–Stegun 7.1.26 form
// PyTorch's vectorised kernel uses (≤ 1.5e-7 absolute). Measured against Double over [−20, 20]
// (OpsActivationAccuracyTests): sigmoid 9e-8, SiLU 1.2e-7, GELU 2.6e-7, GELU-tanh 1.1e-7, QuickGELU 1.5e-7
// (error / max(1, |y|)). Internal: the domain handling is tailored to the operators here.

typealias VFloat = SIMD16<Float>

enum VMath {
    // MARK: exp

    /// e^x. Underflows to 0 below −87.34 (no subnormal results), +∞ above 88.72, NaN stays NaN.
    /// Cody–Waite reduction x = n·ln2 + r, |r| ≤ ln2/2, then a degree-7 polynomial (Cephes expf).
    @inline(__always)
    static func exp(_ x: VFloat) -> VFloat {
        var result = expClamped(x)
        result.replace(with: 0, where: x .< -87.33654)
        result.replace(with: .infinity, where: x .> 88.72283)
        result.replace(with: x, where: x .!= x)
        return result
    }

    /// e^x clamped to [e^−87.34, e^88.37] (≈ [1.2e-38, 2.5e38]): no ±∞/0 results and no special cases, for
    /// the activations, where that clamping cannot change a float32 result (1 + 2.5e38, 1 − 1e-38 · t, …).
    /// NaN stays NaN.
    @inline(__always)
    static func expClamped(_ x: VFloat) -> VFloat {
        // (Selects, not `clamped`/`pointwiseMin`: Swift 6.3 does not vectorise those well.)
        let lo = VFloat(repeating: -87.33654), hi = VFloat(repeating: 88.37)
        let xc = x.replacing(with: lo, where: x .< lo).replacing(with: hi, where: x .> hi)
        return expOfReduced(xc)
    }

    /// e^x for x ≤ 0 (or −∞, or NaN), as in a shifted softmax; 0 below −86.6 (e^x < 2.7e-38: no subnormal
    /// results). Cheaper than `exp` (the softmax and attention kernels spend most of their time here):
    /// e^x = 2^m · 2^f with m = round(x·log₂e) and f = x·log₂e − m ∈ [−½, ½] computed with log₂e split in two (f
    /// exact to ~1 ulp across the range), then `exp2Reduced`. Relative error ≤ 2.5e-7 against Double
    /// (OpsActivationAccuracyTests). The 16-lane form runs the 8-lane one on both halves.
    @inline(__always)
    static func expNonPositive(_ x: VFloat) -> VFloat {
        VFloat(lowHalf: expNonPositive(x.lowHalf), highHalf: expNonPositive(x.highHalf))
    }

    /// `expNonPositive` on 8 lanes (one AVX2 register: hot loops that keep many vectors live call it directly).
    /// (Not generic over the width: generic SIMD arithmetic in Swift 6.3 resolves to the element-by-element
    /// protocol implementations.)
    @inline(__always)
    static func expNonPositive(_ x: SIMD8<Float>) -> SIMD8<Float> {
        // −m, rounded to nearest even (symmetric, so this is −round(x·log₂e)).
        let negM = (x * -1.44269504088896341).rounded(.toNearestOrEven)
        let f = negM.addingProduct(x, SIMD8(repeating: 1.44269502162933349609375))
            .addingProduct(x, SIMD8(repeating: 1.925963033500011079e-8))
        return exp2Reduced(f, negM: negM).replacing(with: 0, where: x .< -86.6)
    }

    /// `exp2NonPositive` on 16 lanes (both halves).
    @inline(__always)
    static func exp2NonPositive(_ x: VFloat) -> VFloat {
        VFloat(lowHalf: exp2NonPositive(x.lowHalf), highHalf: exp2NonPositive(x.highHalf))
    }

    /// 2^x for x ≤ 0 (or −∞, or NaN); 0 below −125. For softmaxes whose inputs were scaled by log₂e beforehand
    /// (`NarrowHeadAttention` folds it into the query): m = round(x), f = x − m is exact, so the reduction costs
    /// two additions instead of a multiply and two FMAs. Relative error ≤ 2.5e-7.
    @inline(__always)
    static func exp2NonPositive(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let negM = (-x).rounded(.toNearestOrEven)
        return exp2Reduced(x + negM, negM: negM).replacing(with: 0, where: x .< -125)
    }

    /// 2^f · 2^(−negM) for f ∈ [−½, ½] and integral negM ∈ [0, 125]: 2^f by a degree-5 polynomial fitted to
    /// minimise the relative error (9e-8 in exact arithmetic, ≤ 1.7e-7 evaluated in float32 — a sixth degree
    /// would only reach float32's own 8e-8), then −negM added to its exponent bits (no multiply:
    /// 2^f ∈ [0.7, 1.42] keeps a normal exponent for negM ≤ 125). Lanes outside that range give garbage that the
    /// callers replace.
    @inline(__always)
    private static func exp2Reduced(_ f: SIMD8<Float>, negM: SIMD8<Float>) -> SIMD8<Float> {
        typealias V = SIMD8<Float>
        var p = V(repeating: 1.3264727080127782e-3)
        p = V(repeating: 9.671512862184537e-3).addingProduct(p, f)
        p = V(repeating: 5.550733745645716e-2).addingProduct(p, f)
        p = V(repeating: 0.24022242081843218).addingProduct(p, f)
        p = V(repeating: 0.6931469775965882).addingProduct(p, f)
        p = V(repeating: 1).addingProduct(p, f)
        // negM + 1.5·2^23 holds negM in its low mantissa bits; shifted by 23 (1.5·2^23's own bits vanish) it is
        // negM in the exponent field.
        let magic = unsafeBitCast(negM + 12_582_912, to: SIMD8<Int32>.self)
        return unsafeBitCast(unsafeBitCast(p, to: SIMD8<Int32>.self) &- (magic &<< 23), to: V.self)
    }

    /// The shared core: Cody–Waite reduction x = n·ln2 + r, degree-7 polynomial in r, times 2^n built from the
    /// exponent bits. `xc` must already be clamped to [−87.34, 88.37] (so |n| ≤ 127) or be NaN.
    @inline(__always)
    private static func expOfReduced(_ xc: VFloat) -> VFloat {
        let n = (xc * 1.44269504088896341).rounded(.toNearestOrEven)
        var r = xc.addingProduct(n, VFloat(repeating: -0.693359375))
        r = r.addingProduct(n, VFloat(repeating: 2.12194440e-4))
        var p = VFloat(repeating: 1.9875691500e-4)
        p = VFloat(repeating: 1.3981999507e-3).addingProduct(p, r)
        p = VFloat(repeating: 8.3334519073e-3).addingProduct(p, r)
        p = VFloat(repeating: 4.1665795894e-2).addingProduct(p, r)
        p = VFloat(repeating: 1.6666665459e-1).addingProduct(p, r)
        p = VFloat(repeating: 5.0000001201e-1).addingProduct(p, r)
        let y = (r + 1).addingProduct(p, r * r)
        // 2^n from the bits of n + 1.5·2^23 (n is integral and |n| ≤ 127 after the clamp).
        let magic = unsafeBitCast(n + 12_582_912, to: SIMD16<Int32>.self)
        return y * unsafeBitCast((magic &- 0x4B40_0000 &+ 127) &<< 23, to: VFloat.self)
    }

    // MARK: derived functions

    /// Logistic sigmoid 1 / (1 + e^−x).
    @inline(__always)
    static func sigmoid(_ x: VFloat) -> VFloat { 1 / (1 + expClamped(-x)) }

    /// erf(x) in the Abramowitz–Stegun 7.1.26 form that PyTorch's vectorised `erf` uses
    /// (1 − (a1 t + … + a5 t⁵) e^−x², t = 1/(1 + p|x|), sign restored); absolute error ≤ 2e-7.
    @inline(__always)
    static func erf(_ x: VFloat) -> VFloat {
        let bits = unsafeBitCast(x, to: SIMD16<UInt32>.self)
        let sign = bits & 0x8000_0000
        let a = unsafeBitCast(bits & 0x7FFF_FFFF, to: VFloat.self)
        let t = 1 / VFloat(repeating: 1).addingProduct(a, VFloat(repeating: 0.3275911))
        var r = VFloat(repeating: 1.061405429)
        r = VFloat(repeating: -1.453152027).addingProduct(r, t)
        r = VFloat(repeating: 1.421413741).addingProduct(r, t)
        r = VFloat(repeating: -0.284496736).addingProduct(r, t)
        r = VFloat(repeating: 0.254829592).addingProduct(r, t)
        let e = expClamped(-(a * a))
        let y = VFloat(repeating: 1).addingProduct(-(r * t), e)
        return unsafeBitCast(unsafeBitCast(y, to: SIMD16<UInt32>.self) | sign, to: VFloat.self)
    }

    /// tanh(x) = sign(x)·(1 − 2 / (e^{2|x|} + 1)); absolute error ≤ 2e-7.
    @inline(__always)
    static func tanh(_ x: VFloat) -> VFloat {
        let bits = unsafeBitCast(x, to: SIMD16<UInt32>.self)
        let sign = bits & 0x8000_0000
        let a = unsafeBitCast(bits & 0x7FFF_FFFF, to: VFloat.self)
        let y = 1 - 2 / (expClamped(a + a) + 1)
        return unsafeBitCast(unsafeBitCast(y, to: SIMD16<UInt32>.self) | sign, to: VFloat.self)
    }

    // MARK: loops

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> VFloat { UnsafeRawPointer(p).loadUnaligned(as: VFloat.self) }

    @inline(__always)
    static func store(_ v: VFloat, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: VFloat.self) }

    /// Eight floats (one AVX2 register), for loops that keep many vectors live.
    @inline(__always)
    static func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }

    @inline(__always)
    static func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self) }

    /// The sum of the 16 lanes, by halving (fewer shuffles than `SIMD.sum()`, which Swift 6.3 does not inline).
    @inline(__always)
    static func horizontalSum(_ v: VFloat) -> Float { horizontalSum(v.lowHalf + v.highHalf) }

    /// The sum of 8 lanes, by halving.
    @inline(__always)
    static func horizontalSum(_ v: SIMD8<Float>) -> Float {
        let b = v.lowHalf + v.highHalf
        let c = b.lowHalf + b.highHalf
        return c[0] + c[1]
    }

    /// The largest of the 16 lanes (NaN lanes are ignored unless all are NaN), by halving.
    @inline(__always)
    static func horizontalMax(_ v: VFloat) -> Float {
        horizontalMax(v.lowHalf.replacing(with: v.highHalf, where: v.highHalf .> v.lowHalf))
    }

    /// The largest of 8 lanes, by halving (NaN as in the 16-lane form).
    @inline(__always)
    static func horizontalMax(_ v: SIMD8<Float>) -> Float {
        let b = v.lowHalf.replacing(with: v.highHalf, where: v.highHalf .> v.lowHalf)
        let c = b.lowHalf.replacing(with: b.highHalf, where: b.highHalf .> b.lowHalf)
        return c[1] > c[0] ? c[1] : c[0]
    }

    /// Loads `n < 16` floats, zero-padding the rest. (Copied into a zeroed vector's bytes and read once: filling
    /// lanes one by one reloaded the whole vector after each scalar store, a store-forwarding stall per lane.)
    @inline(__always)
    static func loadPartial(_ p: UnsafePointer<Float>, _ n: Int) -> VFloat {
        var v = VFloat()
        withUnsafeMutableBytes(of: &v) { raw in raw.baseAddress!.copyMemory(from: p, byteCount: n * MemoryLayout<Float>.stride) }
        return v
    }

    @inline(__always)
    static func storePartial(_ v: VFloat, _ p: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { p[i] = v[i] }
    }

    /// dst[i] = f(src[i]) for i < n, 16 lanes at a time (the tail goes through the same vector code, so
    /// every element gets bit-identical treatment). `src` and `dst` may be the same buffer.
    ///
    /// The function is a value of a concrete `VectorUnary` type rather than a closure: generic specialisation
    /// then reliably inlines it, whereas a closure literal with a large body (exp, erf) can be left out of line,
    /// each SIMD16 argument then going through memory lane by lane.
    @inline(__always)
    static func map<F: VectorUnary>(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ n: Int, _ f: F) {
        var i = 0
        while i + 16 <= n { store(f(load(src + i)), dst + i); i += 16 }
        if i < n { storePartial(f(loadPartial(src + i, n - i)), dst + i, n - i) }
    }

    /// dst[i] = f(a[i], b[i]) for i < n (see `map`).
    @inline(__always)
    static func map2<F: VectorBinary>(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>,
                                      _ n: Int, _ f: F) {
        var i = 0
        while i + 16 <= n { store(f(load(a + i), load(b + i)), dst + i); i += 16 }
        if i < n { storePartial(f(loadPartial(a + i, n - i), loadPartial(b + i, n - i)), dst + i, n - i) }
    }

    /// dst[i] = f(a[i], b[i], c[i]) for i < n (see `map`).
    @inline(__always)
    static func map3<F: VectorTernary>(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafePointer<Float>,
                                       _ dst: UnsafeMutablePointer<Float>, _ n: Int, _ f: F) {
        var i = 0
        while i + 16 <= n { store(f(load(a + i), load(b + i), load(c + i)), dst + i); i += 16 }
        if i < n {
            let r = n - i
            storePartial(f(loadPartial(a + i, r), loadPartial(b + i, r), loadPartial(c + i, r)), dst + i, r)
        }
    }

    // MARK: reductions with float blocks and double totals

    /// Mean of n > 0 floats: Σ (p[i] − p[0]) with 16-lane float partial sums over blocks of at most 256
    /// elements, blocks added in Double, then + p[0]. Shifting by the first element keeps the float partial
    /// sums small (and the subtraction exact) when |mean| ≫ spread, e.g. mean/std = 1e4.
    @inline(__always)
    static func mean(_ p: UnsafePointer<Float>, _ n: Int) -> Double {
        let pivot = p[0]
        let pv = VFloat(repeating: pivot)
        var total = 0.0
        var i = 0
        while i < n {
            let end = Swift.min(n, i + 256)
            var acc = VFloat()
            while i + 16 <= end { acc += load(p + i) - pv; i += 16 }
            var s = Double(horizontalSum(acc))
            while i < end { s += Double(p[i] - pivot); i += 1 }
            total += s
        }
        return Double(pivot) + total / Double(n)
    }

    /// Σ (p[i] − mean)² with the same blocking as `mean`.
    @inline(__always)
    static func sumSquaredDeviations(_ p: UnsafePointer<Float>, _ n: Int, mean: Float) -> Double {
        var total = 0.0
        var i = 0
        let m = VFloat(repeating: mean)
        while i < n {
            let end = Swift.min(n, i + 256)
            var acc = VFloat()
            while i + 16 <= end { let d = load(p + i) - m; acc = acc.addingProduct(d, d); i += 16 }
            var s = Double(horizontalSum(acc))
            while i < end { let d = p[i] - mean; s += Double(d * d); i += 1 }
            total += s
        }
        return total
    }
}

/// A vector function for `VMath.map` (implementations mark `callAsFunction` `@inline(__always)`).
protocol VectorUnary: Sendable {
    func callAsFunction(_ v: VFloat) -> VFloat
}

/// A two-argument vector function for `VMath.map2`.
protocol VectorBinary: Sendable {
    func callAsFunction(_ a: VFloat, _ b: VFloat) -> VFloat
}

/// A three-argument vector function for `VMath.map3`.
protocol VectorTernary: Sendable {
    func callAsFunction(_ a: VFloat, _ b: VFloat, _ c: VFloat) -> VFloat
}

struct VAdd: VectorBinary {
    @inline(__always) func callAsFunction(_ a: VFloat, _ b: VFloat) -> VFloat { a + b }
}

/// v + c.
struct VAddConstant: VectorUnary {
    let c: VFloat
    @inline(__always) func callAsFunction(_ v: VFloat) -> VFloat { v + c }
}
