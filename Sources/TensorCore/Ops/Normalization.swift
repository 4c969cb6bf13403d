import Foundation

extension NN {
    /// `torch.nn.functional.group_norm(x, groups, weight, bias, eps)` on `x` of shape `[N, C, …]` (any number of
    /// trailing spatial axes, including none). Statistics are the biased mean and variance over each group of
    /// `C/groups` channels × spatial positions, computed in two passes with float partial sums over blocks of
    /// 256 elements (shifted by the group's first element) and Double totals, and applied as
    /// `(x − mean)·(rstd·w) + b` with the mean split into two floats: accurate to ~1e-7 relative to the output
    /// even for mean/std = 1e4, where PyTorch's own fp32 result is 1.7e-4 off. `weight`/`bias` are
    /// `[C]` or nil (no affine). With `silu: true` the result is passed through SiLU in the same sweep
    /// (the `norm → nonlinearity` pair of diffusers' `ResnetBlock2D`), saving one pass over memory.
    public static func groupNorm(_ x: Tensor, groups: Int, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5,
                                 silu: Bool = false) -> Tensor {
        precondition(x.rank >= 2, "NN.groupNorm: needs [N, C, …], got \(x.shape)")
        let n = x.shape[0], c = x.shape[1]
        precondition(groups > 0 && c % groups == 0, "NN.groupNorm: \(c) channels do not split into \(groups) groups")
        if let w = weight { precondition(w.count == c, "NN.groupNorm: weight has \(w.count) values for \(c) channels") }
        if let b = bias { precondition(b.count == c, "NN.groupNorm: bias has \(b.count) values for \(c) channels") }
        let spatial = n * c == 0 ? 0 : x.count / (n * c)
        let cg = c / groups
        let groupSize = cg * spatial
        let gamma = weight ?? Tensor(repeating: 1, shape: [c])
        let beta = bias ?? Tensor(zeros: [c])
        return read(x) { src in
            makeTensor(shape: x.shape) { dst in
                read(gamma) { g in
                    read(beta) { b in
                        parallel(n * groups, cost: groupSize * 4) { r in
                            for item in r {
                                let base = item * groupSize
                                let p = UnsafePointer(src.base + base)
                                let mean = groupSize == 0 ? 0 : VMath.mean(p, groupSize)
                                let variance = VMath.sumSquaredDeviations(p, groupSize, mean: Float(mean)) / Double(Swift.max(groupSize, 1))
                                let rstd = Float(1 / (variance + Double(eps)).squareRoot())
                                let mean2 = SplitMean(mean)
                                let c0 = (item % groups) * cg
                                for ch in 0..<cg {
                                    let off = base + ch * spatial
                                    applyAffine(p: src.base + off, dst: dst.base + off, count: spatial, mean: mean2,
                                                scale: rstd * g[c0 + ch], shift: b[c0 + ch], silu: silu)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// `torch.nn.functional.layer_norm(x, [C], weight, bias, eps)`: normalises each row of the last axis
    /// (size C) with its biased mean and variance (two passes, Double totals), then `(x − mean)·(rstd·w) + b`.
    /// `weight`/`bias` are `[C]` or nil. Any rank ≥ 1.
    public static func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) -> Tensor {
        precondition(x.rank >= 1, "NN.layerNorm: needs rank ≥ 1")
        let c = x.shape[x.rank - 1]
        if let w = weight { precondition(w.count == c, "NN.layerNorm: weight has \(w.count) values for \(c) features") }
        if let b = bias { precondition(b.count == c, "NN.layerNorm: bias has \(b.count) values for \(c) features") }
        let rows = c == 0 ? 0 : x.count / c
        let gamma = weight ?? Tensor(repeating: 1, shape: [c])
        let beta = bias ?? Tensor(zeros: [c])
        return read(x) { src in
            makeTensor(shape: x.shape) { dst in
                read(gamma) { g in
                    read(beta) { b in
                        parallel(rows, cost: c * 4) { r in
                            for row in r {
                                let p = UnsafePointer(src.base + row * c)
                                let mean = VMath.mean(p, c)
                                let variance = VMath.sumSquaredDeviations(p, c, mean: Float(mean)) / Double(c)
                                let rstd = VFloat(repeating: Float(1 / (variance + Double(eps)).squareRoot()))
                                let m = SplitMean(mean)
                                let hi = VFloat(repeating: m.hi), lo = VFloat(repeating: m.lo)
                                let o = dst.base + row * c
                                VMath.map3(p, g.base, b.base, o, c, NormScaleShift(hi: hi, lo: lo, rstd: rstd))
                            }
                        }
                    }
                }
            }
        }
    }

    /// dst[i] = (src[i] − mean)·scale + shift (then SiLU if asked), for `count` floats.
    @inline(__always)
    static func applyAffine(p: UnsafeMutablePointer<Float>, dst: UnsafeMutablePointer<Float>, count: Int,
                            mean: SplitMean, scale: Float, shift: Float, silu: Bool) {
        let f = NormAffine(hi: VFloat(repeating: mean.hi), lo: VFloat(repeating: mean.lo),
                           scale: VFloat(repeating: scale), shift: VFloat(repeating: shift))
        if silu { VMath.map(p, dst, count, NormAffineSiLU(affine: f)) } else { VMath.map(p, dst, count, f) }
    }
}

/// ((x − hi) − lo)·scale + shift.
struct NormAffine: VectorUnary {
    let hi, lo, scale, shift: VFloat
    @inline(__always) func callAsFunction(_ v: VFloat) -> VFloat { shift.addingProduct((v - hi) - lo, scale) }
}

struct NormAffineSiLU: VectorUnary {
    let affine: NormAffine
    @inline(__always) func callAsFunction(_ v: VFloat) -> VFloat { SiLU()(affine(v)) }
}

/// ((x − hi) − lo)·(rstd·gamma) + beta.
struct NormScaleShift: VectorTernary {
    let hi, lo, rstd: VFloat
    @inline(__always) func callAsFunction(_ v: VFloat, _ g: VFloat, _ b: VFloat) -> VFloat { ((v - hi) - lo) * (rstd * g) + b }
}

/// A Double mean as float hi + lo: `(x − hi) − lo` is exact to float rounding even when |mean| ≫ std, where
/// `x − Float(mean)` would carry the mean's rounding error (an ulp of the mean, times rstd).
struct SplitMean {
    let hi: Float, lo: Float
    init(_ mean: Double) { hi = Float(mean); lo = Float(mean - Double(hi)) }
}

extension NN {
    /// Root-mean-square normalisation over the last axis, as transformers' `T5LayerNorm` and diffusers'
    /// `RMSNorm` compute it in float32: `x · rsqrt(mean(x²) + eps) · weight`, with no mean subtracted and no
    /// bias. The mean of squares is summed in Double over 256-element float blocks. `weight` is `[C]` or nil
    /// (diffusers' `elementwise_affine=False`). Any rank ≥ 1.
    public static func rmsNorm(_ x: Tensor, weight: Tensor?, eps: Float) -> Tensor {
        precondition(x.rank >= 1, "NN.rmsNorm: needs rank ≥ 1")
        let c = x.shape[x.rank - 1]
        if let w = weight { precondition(w.count == c, "NN.rmsNorm: weight has \(w.count) values for \(c) features") }
        let rows = c == 0 ? 0 : x.count / c
        let gamma = weight ?? Tensor(repeating: 1, shape: [c])
        return read(x) { src in
            makeTensor(shape: x.shape) { dst in
                read(gamma) { g in
                    parallel(rows, cost: c * 3) { r in
                        for row in r {
                            let p = UnsafePointer(src.base + row * c)
                            let meanSquare = VMath.sumSquaredDeviations(p, c, mean: 0) / Double(c)
                            let rstd = VFloat(repeating: Float(1 / (meanSquare + Double(eps)).squareRoot()))
                            VMath.map2(p, g.base, dst.base + row * c, c, RMSScale(rstd: rstd))
                        }
                    }
                }
            }
        }
    }
}

/// x·rstd·gamma.
struct RMSScale: VectorBinary {
    let rstd: VFloat
    @inline(__always) func callAsFunction(_ v: VFloat, _ g: VFloat) -> VFloat { (v * rstd) * g }
}
