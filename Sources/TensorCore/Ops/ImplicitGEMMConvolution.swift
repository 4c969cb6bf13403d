/// Stride-1 k×k convolution of small NCHW images (groups 1) as one GEMM that reads a zero-padded copy of the
/// input in place instead of an im2col matrix: the small UNets' 4×4–32×32 levels, where im2col's `KH·KW`-fold
/// copy is a large share of a 3×3 convolution's time (docs/BENCHMARKS.md).
///
/// The input is copied once into a zero-padded buffer per channel: image rows `rowLength` floats apart, images
/// `imageRows` rows apart, stacked vertically. Output pixel (b, y, x) is computed at position
/// `p = (b·imageRows + y)·rowLength + x`, and the input value under kernel tap (ch, i, j) is then at
/// `ch·plane + p + i·rowLength + j` — a fixed offset per tap. So `out[o][p] = Σ_(ch,i,j) W[o][ch][i][j] ·
/// in[ch·plane + offset(i, j) + p]` is a GEMM whose B row for tap (ch, i, j) starts at that offset
/// (`SmallGEMM.runRowGathered`), with A the weight in PyTorch's `[O, C·KH·KW]` layout as stored. Neighbouring
/// rows share their zero padding: a row's right-hand padding is the next row's left-hand one (rowLength =
/// W + padW rather than W + 2·padW; likewise padH rows between images), which holds whenever a window reaches at
/// most padW columns past either edge (padW ≤ KW − 1). Positions that fall in the padding are computed too and
/// dropped: padW / rowLength of the columns (6 % at 16×16, 11 % at 8×8) plus the rounding to 16-wide panels.
/// The result is compacted into NCHW with the bias added. Results differ from PyTorch only by float summation
/// order.
struct ImplicitGEMMConvolution {
    let n, c, h, w, o, kh, kw, ph, pw: Int

    var oh: Int { h + 2 * ph - kh + 1 }
    var ow: Int { w + 2 * pw - kw + 1 }
    /// Floats from one padded image row to the next: one shared run of padding between rows.
    var rowLength: Int { pw <= kw - 1 ? w + pw : w + 2 * pw }
    /// Rows from one image to the next: one shared band of padding rows between images.
    var imageRows: Int { ph <= kh - 1 ? h + ph : h + 2 * ph }

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

    func run(x: SendablePointer, weight: MatrixElements, bias: SendablePointer?, out: SendablePointer) {
        let (n, c, h, w, o, kh, kw, ph, pw, oh, ow) = (n, c, h, w, o, kh, kw, ph, pw, oh, ow)
        let (rowLength, imageRows) = (self.rowLength, self.imageRows)
        // Positions from the first output pixel to the last one (inclusive), in 16-wide panels. A channel's plane
        // holds every padded row (the last image's data ends before row n·imageRows + ph) and the last panel's
        // reads (positions + the largest tap offset).
        let positions = ((n - 1) * imageRows + oh - 1) * rowLength + ow
        let panels = (positions + 15) / 16
        let maxOffset = (kh - 1) * rowLength + (kw - 1)
        let plane = Swift.max(panels * 16 + maxOffset, (n * imageRows + ph) * rowLength + pw)
        let padded = UnsafeMutablePointer<Float>.allocate(capacity: c * plane + panels * 16 * o)
        defer { padded.deallocate() }
        let pad = SendablePointer(padded), result = SendablePointer(padded + c * plane)
        NN.parallel(c, cost: plane) { r in
            for ch in r {
                let dst = pad.base + ch * plane
                dst.update(repeating: 0, count: plane)
                for b in 0..<n {
                    let src = x.base + (b * c + ch) * h * w
                    for y in 0..<h {
                        let row = dst + (b * imageRows + y + ph) * rowLength + pw, from = src + y * w
                        for xx in 0..<w { row[xx] = from[xx] }
                    }
                }
            }
        }
        let k = c * kh * kw
        let offsets = UnsafeMutablePointer<Int>.allocate(capacity: k)
        defer { offsets.deallocate() }
        for ch in 0..<c {
            for i in 0..<kh { for j in 0..<kw { offsets[(ch * kh + i) * kw + j] = ch * plane + i * rowLength + j } }
        }
        SmallGEMM.runRowGathered(m: o, panels: panels, k: k, a: weight, lda: k, b: pad.base, rowOffsets: offsets,
                                 c: result.base, ldc: panels * 16)
        // Compact the valid positions into [N, O, OH, OW], adding the bias.
        NN.parallel(n * o, cost: oh * ow) { r in
            for item in r {
                let b = item / o, ch = item % o
                let dst = out.base + item * oh * ow
                let src = result.base + ch * panels * 16 + b * imageRows * rowLength
                if let bias {
                    let value = bias[ch]
                    for y in 0..<oh { for xx in 0..<ow { dst[y * ow + xx] = src[y * rowLength + xx] + value } }
                } else {
                    for y in 0..<oh { for xx in 0..<ow { dst[y * ow + xx] = src[y * rowLength + xx] } }
                }
            }
        }
    }
}
