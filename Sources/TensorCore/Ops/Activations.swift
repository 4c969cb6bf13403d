extension NN {
    /// Which formula `gelu` uses, as PyTorch's `approximate` argument ("none" / "tanh").
    public enum GELUApproximation: Sendable {
        case none
        case tanh
    }

    /// Applies `kernel(src, dst, n)` to contiguous chunks of the tensor, split over the cores for large
    /// tensors. Kernels are concrete functions around `VMath.map` with a concrete `VectorUnary`, so the vector
    /// function is inlined into the loop (a generic or closure-typed function here was left unspecialised).
    static func elementwise(_ x: Tensor, cost: Int,
                            _ kernel: @escaping (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void) -> Tensor {
        read(x) { src in
            makeTensor(shape: x.shape) { dst in
                parallel(x.count, cost: cost) { r in kernel(src.base + r.lowerBound, dst.base + r.lowerBound, r.count) }
            }
        }
    }

    static func siluKernel(_ s: UnsafePointer<Float>, _ d: UnsafeMutablePointer<Float>, _ n: Int) { VMath.map(s, d, n, SiLU()) }
    static func sigmoidKernel(_ s: UnsafePointer<Float>, _ d: UnsafeMutablePointer<Float>, _ n: Int) { VMath.map(s, d, n, Sigmoid()) }
    static func geluKernel(_ s: UnsafePointer<Float>, _ d: UnsafeMutablePointer<Float>, _ n: Int) { VMath.map(s, d, n, GELU()) }
    static func geluTanhKernel(_ s: UnsafePointer<Float>, _ d: UnsafeMutablePointer<Float>, _ n: Int) { VMath.map(s, d, n, GELUTanh()) }
    static func quickGELUKernel(_ s: UnsafePointer<Float>, _ d: UnsafeMutablePointer<Float>, _ n: Int) { VMath.map(s, d, n, QuickGELU()) }
    static func gegluKernel(_ h: UnsafePointer<Float>, _ g: UnsafePointer<Float>, _ d: UnsafeMutablePointer<Float>, _ n: Int) {
        VMath.map2(h, g, d, n, GEGLU())
    }

    /// `torch.nn.functional.silu` (SiLU / swish): x · sigmoid(x), computed as x / (1 + e^−x) like PyTorch's
    /// vectorised kernel. Any shape.
    public static func silu(_ x: Tensor) -> Tensor {
        elementwise(x, cost: 16, siluKernel)
    }

    /// `torch.sigmoid`: 1 / (1 + e^−x). Any shape.
    public static func sigmoid(_ x: Tensor) -> Tensor {
        elementwise(x, cost: 16, sigmoidKernel)
    }

    /// `torch.nn.functional.gelu(x, approximate=...)`. `.none` (default) is the exact form
    /// 0.5·x·(1 + erf(x/√2)) with a vectorised erf of absolute error ≤ 2e-7 (PyTorch's CPU kernel uses the same
    /// Abramowitz–Stegun form); `.tanh` is 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). Any shape.
    public static func gelu(_ x: Tensor, approximate: GELUApproximation = .none) -> Tensor {
        switch approximate {
        case .none: return elementwise(x, cost: 24, geluKernel)
        case .tanh: return elementwise(x, cost: 24, geluTanhKernel)
        }
    }

    /// CLIP's `QuickGELUActivation` (transformers): x · sigmoid(1.702·x). Any shape.
    public static func quickGELU(_ x: Tensor) -> Tensor {
        elementwise(x, cost: 16, quickGELUKernel)
    }

    /// The activation part of diffusers' `GEGLU`: the last axis (even length 2n) is split into halves
    /// `hidden, gate = x.chunk(2, dim=-1)` and the result is `hidden * gelu(gate)` (exact gelu), shape
    /// `[..., n]`. The projection (`GEGLU.proj`, a `linear` to 2n features) is applied by the caller.
    public static func geglu(_ x: Tensor) -> Tensor {
        precondition(x.rank >= 1 && x.shape[x.rank - 1] % 2 == 0, "NN.geglu: last axis of \(x.shape) must be even")
        let twoN = x.shape[x.rank - 1], n = twoN / 2
        let rows = n == 0 ? 0 : x.count / twoN
        return read(x) { src in
            makeTensor(shape: Array(x.shape.dropLast()) + [n]) { dst in
                parallel(rows, cost: n * 24) { r in
                    for row in r {
                        let s = src.base + row * twoN
                        gegluKernel(s, s + n, dst.base + row * n, n)
                    }
                }
            }
        }
    }

    /// `torch.softmax(x, dim=-1)`: per row of the last axis, e^(x − max) / Σ e^(x − max). Rows whose entries
    /// are all −∞ give NaN, as in PyTorch. Any rank ≥ 1.
    public static func softmax(_ x: Tensor) -> Tensor {
        precondition(x.rank >= 1, "NN.softmax: needs rank ≥ 1")
        let n = x.shape[x.rank - 1]
        let rows = n == 0 ? 0 : x.count / n
        return read(x) { src in
            makeTensor(shape: x.shape) { dst in
                parallel(rows, cost: n * 12) { r in
                    for row in r { softmaxRow(src.base + row * n, dst.base + row * n, n) }
                }
            }
        }
    }

    // MARK: kernels

    /// Softmax of one row of `n` floats from `src` into `dst` (may alias).
    @inline(__always)
    static func softmaxRow(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
        var mv = VFloat(repeating: -.infinity)
        var i = 0
        while i + 16 <= n { let v = VMath.load(src + i); mv.replace(with: v, where: v .> mv); i += 16 }
        var m = mv.max()
        while i < n { m = Swift.max(m, src[i]); i += 1 }
        if m == -.infinity { m = 0 }   // all −∞ (or empty): exp gives 0, 0/0 = NaN like PyTorch
        let mvec = VFloat(repeating: m)
        var acc = VFloat()
        i = 0
        while i + 16 <= n {
            let e = VMath.expNonPositive(VMath.load(src + i) - mvec)
            VMath.store(e, dst + i)
            acc += e
            i += 16
        }
        var s = VMath.horizontalSum(acc)
        if i < n {
            let e = VMath.expNonPositive(VMath.loadPartial(src + i, n - i) - mvec)
            VMath.storePartial(e, dst + i, n - i)
            for j in 0..<(n - i) { s += e[j] }
        }
        let inv = VFloat(repeating: 1 / s)
        i = 0
        while i + 16 <= n { VMath.store(VMath.load(dst + i) * inv, dst + i); i += 16 }
        while i < n { dst[i] *= inv[0]; i += 1 }
    }
}

struct SiLU: VectorUnary {
    @inline(__always) func callAsFunction(_ v: VFloat) -> VFloat { v / (1 + VMath.expClamped(-v)) }
}

struct Sigmoid: VectorUnary {
    @inline(__always) func callAsFunction(_ v: VFloat) -> VFloat { VMath.sigmoid(v) }
}

struct QuickGELU: VectorUnary {
    @inline(__always) func callAsFunction(_ v: VFloat) -> VFloat { v * VMath.sigmoid(1.702 * v) }
}

/// 0.5·x·(1 + erf(x/√2)).
struct GELU: VectorUnary {
    @inline(__always) func callAsFunction(_ v: VFloat) -> VFloat { 0.5 * v * (1 + VMath.erf(v * 0.70710678118654752440)) }
}

/// 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
struct GELUTanh: VectorUnary {
    @inline(__always) func callAsFunction(_ v: VFloat) -> VFloat {
        let inner = 0.79788456080286535588 * v.addingProduct(0.044715 * v, v * v)
        return 0.5 * v * (1 + VMath.tanh(inner))
    }
}

/// hidden · gelu(gate).
struct GEGLU: VectorBinary {
    @inline(__always) func callAsFunction(_ h: VFloat, _ g: VFloat) -> VFloat { h * GELU()(g) }
}
