import Foundation
import TensorCore

/// diffusers' `FluxPosEmbed(theta, axes_dim)` with the rotation of `apply_rotary_emb(use_real=True,
/// use_real_unbind_dim=-1)`: position ids `[S, axes]` (one column per axis) give per-token `cos` / `sin`
/// tables `[S, Σ axes_dim]`; axis `a` contributes `axes_dim[a]` features whose pairs `(2j, 2j+1)` turn by
/// `id · θ^(−2j / axes_dim[a])` (frequencies and angles in double, as diffusers' float64 path, then float32).
public struct FluxPosEmbed: Sendable {
    public let tokens: Int
    /// `attention_head_dim`, the sum of the axes' sizes.
    public let headDim: Int
    /// `[tokens · headDim]`, each angle repeated for both features of its pair.
    public let cos: [Float]
    public let sin: [Float]

    /// `ids` `[S, axesDims.count]`; the caller has checked the column count.
    public init(ids: Tensor, axesDims: [Int], theta: Double = 10000) {
        precondition(ids.rank == 2 && ids.shape[1] == axesDims.count,
                     "FluxPosEmbed: ids \(ids.shape) need one column per axis of \(axesDims)")
        tokens = ids.shape[0]
        headDim = axesDims.reduce(0, +)
        let frequencies: [[Double]] = axesDims.map { dim in
            stride(from: 0, to: dim, by: 2).map { 1.0 / Foundation.pow(theta, Double($0) / Double(dim)) }
        }
        var c = [Float](repeating: 0, count: tokens * headDim), s = c
        for t in 0..<tokens {
            var offset = t * headDim
            for (axis, freqs) in frequencies.enumerated() {
                let position = Double(ids.scalars[t * axesDims.count + axis])
                for f in freqs {
                    let angle = position * f
                    let ca = Float(Foundation.cos(angle)), sa = Float(Foundation.sin(angle))
                    c[offset] = ca; c[offset + 1] = ca
                    s[offset] = sa; s[offset + 1] = sa
                    offset += 2
                }
            }
        }
        cos = c
        sin = s
    }

    /// Rotates queries or keys `[B, S, heads·headDim]` (head h in features `h·headDim ..< (h+1)·headDim`):
    /// `out[2j] = x[2j]·cos − x[2j+1]·sin`, `out[2j+1] = x[2j+1]·cos + x[2j]·sin`.
    public func apply(_ x: Tensor) -> Tensor {
        precondition(x.rank == 3 && x.shape[1] == tokens && x.shape[2] % headDim == 0,
                     "FluxPosEmbed.apply: \(x.shape) is not [B, \(tokens), heads·\(headDim)]")
        let width = x.shape[2], heads = width / headDim, rows = x.shape[0] * tokens
        let (hd, n) = (headDim, tokens)
        var out = [Float](repeating: 0, count: x.count)
        x.scalars.withUnsafeBufferPointer { xb in
            cos.withUnsafeBufferPointer { cb in
                sin.withUnsafeBufferPointer { sb in
                    out.withUnsafeMutableBufferPointer { ob in
                        guard let xp = xb.baseAddress, let cp = cb.baseAddress, let sp = sb.baseAddress,
                              let op = ob.baseAddress else { return }
                        let p = RotationPointers(x: xp, cos: cp, sin: sp, out: op)
                        Parallel.forRanges(rows, costPerItem: 4 * width) { range in
                            for row in range {
                                let table = (row % n) * hd
                                for h in 0..<heads {
                                    let base = row * width + h * hd
                                    var k = 0
                                    while k < hd {
                                        let re = p.x[base + k], im = p.x[base + k + 1]
                                        p.out[base + k] = re * p.cos[table + k] + (-im) * p.sin[table + k]
                                        p.out[base + k + 1] = im * p.cos[table + k + 1] + re * p.sin[table + k + 1]
                                        k += 2
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return Tensor(shape: x.shape, scalars: out)
    }
}

/// The buffers of one rotation, shared by the `Parallel.forRanges` workers (each writes disjoint rows).
private struct RotationPointers: @unchecked Sendable {
    let x: UnsafePointer<Float>, cos: UnsafePointer<Float>, sin: UnsafePointer<Float>
    let out: UnsafeMutablePointer<Float>
}
