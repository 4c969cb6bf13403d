/// Stride-1 k×k convolution of small NCHW images (groups 1) as one GEMM that reads a zero-padded copy of the
/// input in place instead of an im2col matrix: the small UNets' 4×4–32×32 levels, where im2col's `KH·KW`-fold
/// copy took 40 % of a 3×3 convolution's time.
///
/// The input is copied once into `[C][images · Hp · Wp]` (Hp = H + 2·padH, Wp = W + 2·padW; images stacked
/// vertically). Output pixel (b, y, x) is computed at padded position `p = (b·Hp + y)·Wp + x`, and the input
/// value under kernel tap (ch, i, j) is then at `ch·stride + p + i·Wp + j` — a fixed offset per tap. So
/// `out[o][p] = Σ_(ch,i,j) W[o][ch][i][j] · in[ch·stride + offset(i, j) + p]` is a GEMM whose B row for tap
/// (ch, i, j) starts at that offset (`SmallGEMM.runRowGathered`), with A the weight in PyTorch's `[O, C·KH·KW]`
/// layout as stored. Positions that fall in the padding columns/rows (x ≥ OW, or the rows between stacked
/// images) are computed too and dropped: 2·padW / Wp of the columns (11 % at 16×16, 20 % at 8×8). The result is
/// compacted into NCHW with the bias added. Results differ from PyTorch only by float summation order.
struct ImplicitGEMMConvolution {
    let n, c, h, w, o, kh, kw, ph, pw: Int

    var hp: Int { h + 2 * ph }
    var wp: Int { w + 2 * pw }
    var oh: Int { hp - kh + 1 }
    var ow: Int { wp - kw + 1 }

    /// The padded input this path copies, in floats, at most (beyond, im2col tiles bound the memory).
    static let maxPaddedFloats = 4 << 20

    /// Whether this path can run the convolution: stride 1, groups 1, a kernel larger than 1×1 and a padded
    /// copy of bounded size.
    static func applicable(n: Int, c: Int, h: Int, w: Int, kh: Int, kw: Int, sh: Int, sw: Int, ph: Int, pw: Int,
                           groups: Int) -> Bool {
        groups == 1 && sh == 1 && sw == 1 && kh * kw > 1 && c * (n * (h + 2 * ph) * (w + 2 * pw) + 64) <= maxPaddedFloats
    }

    /// Whether it is the better choice: output rows narrower than 48 (wider ones run `DirectConvolution` or
    /// im2col tiles).
    static func suitable(ow: Int) -> Bool { ow < 48 }

    func run(x: SendablePointer, weight: SendablePointer, bias: SendablePointer?, out: SendablePointer) {
        let (n, c, h, w, o, kh, kw, ph, pw, hp, wp, oh, ow) = (n, c, h, w, o, kh, kw, ph, pw, hp, wp, oh, ow)
        // Positions from the first output pixel to the last one (inclusive), in 16-wide panels; a channel's
        // stride leaves room for the last panel's reads (positions + the largest tap offset).
        let positions = ((n - 1) * hp + oh - 1) * wp + ow
        let panels = (positions + 15) / 16
        let maxOffset = (kh - 1) * wp + (kw - 1)
        let stride = panels * 16 + maxOffset
        let padded = UnsafeMutablePointer<Float>.allocate(capacity: c * stride + panels * 16 * o)
        defer { padded.deallocate() }
        let pad = SendablePointer(padded), result = SendablePointer(padded + c * stride)
        NN.parallel(c, cost: stride) { r in
            for ch in r {
                let dst = pad.base + ch * stride
                dst.update(repeating: 0, count: stride)
                for b in 0..<n {
                    let src = x.base + (b * c + ch) * h * w
                    for y in 0..<h { (dst + (b * hp + y + ph) * wp + pw).update(from: src + y * w, count: w) }
                }
            }
        }
        let k = c * kh * kw
        let offsets = UnsafeMutablePointer<Int>.allocate(capacity: k)
        defer { offsets.deallocate() }
        for ch in 0..<c {
            for i in 0..<kh { for j in 0..<kw { offsets[(ch * kh + i) * kw + j] = ch * stride + i * wp + j } }
        }
        SmallGEMM.runRowGathered(m: o, panels: panels, k: k, a: weight.base, lda: k, b: pad.base, rowOffsets: offsets,
                                 c: result.base, ldc: panels * 16)
        // Compact the valid positions into [N, O, OH, OW], adding the bias.
        NN.parallel(n * o, cost: oh * ow) { r in
            for item in r {
                let b = item / o, ch = item % o
                let dst = out.base + item * oh * ow
                let src = result.base + ch * panels * 16 + b * hp * wp
                if let bias {
                    let value = bias[ch]
                    for y in 0..<oh { for xx in 0..<ow { dst[y * ow + xx] = src[y * wp + xx] + value } }
                } else {
                    for y in 0..<oh { (dst + y * ow).update(from: src + y * wp, count: ow) }
                }
            }
        }
    }
}
