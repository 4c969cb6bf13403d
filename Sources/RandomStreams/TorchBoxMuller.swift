#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The three Box–Muller transforms PyTorch's CPU `normal_` uses for float32 output.
///
/// * `vectorBlock16`: contiguous tensors with at least 16 elements on a torch build whose CPU
///   capability is AVX2 or AVX-512 (every x86-64 wheel on a modern CPU). The 16 values hold
///   uniforms `u`; lanes `j` and `j + 8` (j < 8) become `r·cos θ` and `r·sin θ` with
///   `r = sqrt(-2·log(1 - u[j]))`, `θ = 2π·u[j + 8]`, evaluated in float32 with Cephes-style
///   polynomial log / sincos (Pommier's SSE/AVX "mathfun" formulation) rather than libm, and with
///   the multiply-adds that GCC contracts into FMAs when it compiles that code. Both details are
///   needed for bit-exact results.
/// * `scalarBlock16`: the same block layout on torch builds without AVX2 (aarch64, or
///   `ATEN_CPU_CAPABILITY=default`): float32 libm `logf` / `cosf` / `sinf`.
/// * `doublePair`: fewer than 16 elements (or any size in torch's element-wise fallback). Each value comes from a double-precision Box–Muller
///   over two 53-bit uniforms; the sine half is cached in the generator and returned by the next
///   scalar draw.
enum TorchBoxMuller {
    // Constants, as the float32 bit patterns the C tables hold (each a double literal narrowed
    // to float; written as bits so no literal double-rounding can creep in).
    @inline(__always) static var sqrtHalf: Float { Float(bitPattern: 0x3F35_04F3) }   // 0.70710677
    @inline(__always) static var logP0: Float { Float(bitPattern: 0x3D90_21BB) }      // 7.0376836e-2
    @inline(__always) static var logP1: Float { Float(bitPattern: 0xBDEB_D1B8) }      // -1.1514610e-1
    @inline(__always) static var logP2: Float { Float(bitPattern: 0x3DEF_251A) }      // 1.1676998e-1
    @inline(__always) static var logP3: Float { Float(bitPattern: 0xBDFE_5D4F) }      // -1.2420141e-1
    @inline(__always) static var logP4: Float { Float(bitPattern: 0x3E11_E9BF) }      // 1.4249323e-1
    @inline(__always) static var logP5: Float { Float(bitPattern: 0xBE2A_AE50) }      // -1.6668057e-1
    @inline(__always) static var logP6: Float { Float(bitPattern: 0x3E4C_CEAC) }      // 2.0000714e-1
    @inline(__always) static var logP7: Float { Float(bitPattern: 0xBE7F_FFFC) }      // -2.4999994e-1
    @inline(__always) static var logP8: Float { Float(bitPattern: 0x3EAA_AAAA) }      // 3.3333331e-1
    @inline(__always) static var logQ1: Float { Float(bitPattern: 0xB95E_8083) }      // -2.1219444e-4
    @inline(__always) static var logQ2: Float { Float(bitPattern: 0x3F31_8000) }      // 0.693359375
    @inline(__always) static var fourOverPi: Float { Float(bitPattern: 0x3FA2_F983) } // 1.2732395
    @inline(__always) static var negDP1: Float { Float(bitPattern: 0xBF49_0000) }     // -0.78515625
    @inline(__always) static var negDP2: Float { Float(bitPattern: 0xB97D_A000) }     // -2.4187565e-4
    @inline(__always) static var negDP3: Float { Float(bitPattern: 0xB322_2169) }     // -3.7748951e-8
    @inline(__always) static var sinC0: Float { Float(bitPattern: 0xB94C_A1F9) }      // -1.9515296e-4
    @inline(__always) static var sinC1: Float { Float(bitPattern: 0x3C08_839E) }      // 8.3321612e-3
    @inline(__always) static var sinC2: Float { Float(bitPattern: 0xBE2A_AAA3) }      // -1.6666655e-1
    @inline(__always) static var cosC0: Float { Float(bitPattern: 0x37CC_F5CE) }      // 2.4433157e-5
    @inline(__always) static var cosC1: Float { Float(bitPattern: 0xBAB6_061A) }      // -1.3887316e-3
    @inline(__always) static var cosC2: Float { Float(bitPattern: 0x3D2A_AAA5) }      // 4.1666646e-2
    /// `2π` computed in double and narrowed once (6.2831855), as both block kernels do.
    @inline(__always) static var twoPiFloat: Float { Float(bitPattern: 0x40C9_0FDB) }

    /// float32 uniform in [0, 1) from one 32-bit draw: the low 24 bits times 2^-24.
    @inline(__always)
    static func uniformFloat(_ bits: UInt32) -> Float {
        Float(bits & 0x00FF_FFFF) * Float(bitPattern: 0x3380_0000)  // 2^-24
    }

    /// float64 uniform in [0, 1) from one 64-bit draw: the low 53 bits times 2^-53.
    @inline(__always)
    static func uniformDouble(_ bits: UInt64) -> Double {
        Double(bits & 0x001F_FFFF_FFFF_FFFF) * Double(bitPattern: 0x3CA0_0000_0000_0000)  // 2^-53
    }

    // MARK: Polynomial log / sincos (vectorised torch path)

    /// Natural log of `x` for normal positive floats (the only inputs here: `x ∈ [2^-24, 1]`).
    @inline(__always)
    static func cephesLog(_ x: Float) -> Float {
        let bits = x.bitPattern
        var e = Float(Int32(bitPattern: bits >> 23) - 0x7F) + 1
        // Mantissa rescaled into [0.5, 1).
        let m = Float(bitPattern: (bits & ~0x7F80_0000) | 0x3F00_0000)
        // Below sqrt(1/2) use 2m - 1 and one less in the exponent; bit masks keep this branchless.
        let small: UInt32 = m < sqrtHalf ? ~0 : 0
        let t = (m - 1) + Float(bitPattern: m.bitPattern & small)
        e -= Float(bitPattern: Float(1).bitPattern & small)
        let z = t * t
        var y = logP0
        y = fmadd(y, t, logP1)
        y = fmadd(y, t, logP2)
        y = fmadd(y, t, logP3)
        y = fmadd(y, t, logP4)
        y = fmadd(y, t, logP5)
        y = fmadd(y, t, logP6)
        y = fmadd(y, t, logP7)
        y = fmadd(y, t, logP8)
        y = y * t
        // GCC contracts the first product of each `a·b + c·d` pair into an FMA.
        y = fmadd(y, z, e * logQ1)
        y = fmadd(-z, 0.5, y)                 // y - z/2 (the product is exact)
        return fmadd(e, logQ2, t + y)
    }

    /// Sine and cosine of `x ≥ 0` (here `x ∈ [0, 2π)`).
    @inline(__always)
    static func cephesSinCos(_ x: Float) -> (sin: Float, cos: Float) {
        let ax = Float(bitPattern: x.bitPattern & 0x7FFF_FFFF)
        let signIn = x.bitPattern & 0x8000_0000
        var octant = Int32(ax * fourOverPi)           // truncation, like cvttps
        octant = (octant &+ 1) & ~1
        let yq = Float(octant)
        let sinFlip = UInt32(bitPattern: octant & 4) << 29
        let primary: UInt32 = (octant & 2) == 0 ? ~0 : 0
        let cosFlip = UInt32(bitPattern: ~(octant &- 2) & 4) << 29

        // Cody–Waite reduction by the octant multiple of π/4 in three pieces.
        var r = fmadd(yq, negDP1, ax)
        r = fmadd(yq, negDP2, r)
        r = fmadd(yq, negDP3, r)

        let z = r * r
        var c = fmadd(cosC0, z, cosC1)
        c = fmadd(c, z, cosC2)
        c = c * z
        c = fmadd(c, z, -(z * 0.5))
        c = c + 1

        var s = fmadd(sinC0, z, sinC1)
        s = fmadd(s, z, sinC2)
        s = s * z
        s = fmadd(s, r, r)

        // Blend exactly like the masked and/andnot/add/sub sequence (keeps signed zeros).
        let sinFromS = Float(bitPattern: s.bitPattern & primary)
        let sinFromC = Float(bitPattern: c.bitPattern & ~primary)
        let sinV = sinFromC + sinFromS
        let cosV = (c - sinFromC) + (s - sinFromS)
        return (Float(bitPattern: sinV.bitPattern ^ (signIn ^ sinFlip)),
                Float(bitPattern: cosV.bitPattern ^ cosFlip))
    }

    /// Box–Muller over one block of 16 uniforms in place (torch's AVX2/AVX-512 kernel).
    @inline(__always)
    static func vectorBlock16(_ p: UnsafeMutablePointer<Float>) {
        for j in 0..<8 {
            let u1 = 1 - p[j]
            let u2 = p[j + 8]
            let radius = (-2 * cephesLog(u1)).squareRoot()
            let sc = cephesSinCos(twoPiFloat * u2)
            // The kernel finishes with fma(n, std, mean) = n + 0 for the standard normal.
            p[j] = radius * sc.cos + 0
            p[j + 8] = radius * sc.sin + 0
        }
    }

    /// Box–Muller over one block of 16 uniforms in place (torch's scalar kernel: libm float math).
    @inline(__always)
    static func scalarBlock16(_ p: UnsafeMutablePointer<Float>) {
        for j in 0..<8 {
            let u1 = 1 - p[j]
            let u2 = p[j + 8]
            let radius = (-2 * logf(u1)).squareRoot()
            let theta = Float(2.0 * Double.pi * Double(u2))
            p[j] = radius * cosf(theta) + 0
            p[j + 8] = radius * sinf(theta) + 0
        }
    }

    /// One double-precision Box–Muller pair from two 53-bit uniforms `u1` (angle) and `u2`
    /// (radius): returns `(r·cos θ, r·sin θ)`.
    @inline(__always)
    static func doublePair(u1: Double, u2: Double) -> (cos: Double, sin: Double) {
        let r = (-2.0 * log1p(-u2)).squareRoot()
        let theta = 2.0 * Double.pi * u1
        return (r * cos(theta), r * sin(theta))
    }
}

/// `a·b + c` rounded once: the FMA that GCC's default `-ffp-contract=fast` forms from a multiply
/// feeding an add in torch's kernel (`Float.addingProduct` lowers to `vfmadd` with FMA enabled and
/// to a correctly rounded software `fmaf` otherwise, so results do not depend on the CPU).
@inline(__always)
private func fmadd(_ a: Float, _ b: Float, _ c: Float) -> Float {
    c.addingProduct(a, b)
}
