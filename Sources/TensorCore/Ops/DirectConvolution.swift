/// Direct convolution for the SD UNet / VAE 3×3 convolutions (groups 1, any kernel, stride and padding):
/// the input is copied once into a zero-padded channels-last buffer `[Hp][Wp][C]`, the weights into panels of
/// 16 output channels `[O/16][KH][KW][C][16]`, and a 6×16 register tile (6 output pixels of a row × 16
/// output channels) accumulates over (kh, kw, c) with every memory stream sequential: one 16-float weight
/// vector and six broadcast input values per step, 12 FMAs. This avoids im2col's `C·KH·KW`-fold copy, which
/// dominates for few channels at high resolution (the VAE decoder's 128/256-channel 512×512 convolutions).
/// Output rows are split over the cores; results are stored straight into NCHW.
struct DirectConvolution {
    let n, c, h, w, o, kh, kw, sh, sw, ph, pw, oh, ow: Int

    var hp: Int { h + 2 * ph }
    var wp: Int { w + 2 * pw }
    var oBlocks: Int { (o + 15) / 16 }

    /// Whether the direct kernel is the better choice (else im2col + GEMM): enough input channels for long
    /// accumulation runs but ≤ 512 (beyond, a tile's input rows spill out of L1 and the GEMM path is faster),
    /// output channels filling most of the 16 lanes, and output rows ≥ 48 wide (rows are cut into 6-pixel
    /// tiles). The thresholds come from timing both paths (docs/BENCHMARKS.md, "Kernel choices").
    static func suitable(c: Int, o: Int, kh: Int, kw: Int, ow: Int, groups: Int) -> Bool {
        groups == 1 && kh * kw > 1 && c >= 16 && c <= 512 && o >= 16 && (o % 16 == 0 || o >= 64) && ow >= 48
    }

    func run(x: SendablePointer, weight: MatrixElements, bias: SendablePointer?, out: SendablePointer) {
        // Weights: [oBlock][i][j][c][16], zero for output channels ≥ o.
        let panel = kh * kw * c * 16
        let wpack = UnsafeMutablePointer<Float>.allocate(capacity: oBlocks * panel)
        defer { wpack.deallocate() }
        let wpk = SendablePointer(wpack)
        let (o, c, kh, kw) = (self.o, self.c, self.kh, self.kw)
        NN.parallel(oBlocks, cost: panel) { r in
            for ob in r {
                let dst = wpk.base + ob * panel
                for lane in 0..<16 {
                    let oc = ob * 16 + lane
                    for i in 0..<kh {
                        for j in 0..<kw {
                            let d = dst + (i * kw + j) * c * 16 + lane
                            if oc < o {
                                let s = ((oc * c) * kh + i) * kw + j   // weight[oc][ch][i][j]
                                if weight.isFloat32 {
                                    let f = weight.float32 + s
                                    for ch in 0..<c { d[ch * 16] = f[ch * kh * kw] }
                                } else {
                                    for ch in 0..<c { d[ch * 16] = weight.value(s + ch * kh * kw) }
                                }
                            } else {
                                for ch in 0..<c { d[ch * 16] = 0 }
                            }
                        }
                    }
                }
            }
        }
        // Padded channels-last input, reused for every image; the slack covers the last tile's overhang.
        let slack = (6 * sw + kw + 1) * c
        let xsize = hp * wp * c
        let xbuf = UnsafeMutablePointer<Float>.allocate(capacity: xsize + slack)
        defer { xbuf.deallocate() }
        let xb = SendablePointer(xbuf)
        let this = self
        // Zero only what the images never overwrite (padding and slack), in parallel: the first touches of a
        // fresh buffer of 100+ MB are page faults that cost more than the zeroing, so they must not be serial.
        let (hp, wp, ph, pw, h) = (self.hp, self.wp, self.ph, self.pw, self.h)
        NN.parallel(hp, cost: wp * c) { r in
            for y in r {
                let row = xb.base + y * wp * c
                if y < ph || y >= ph + h {
                    row.update(repeating: 0, count: wp * c)
                } else {
                    row.update(repeating: 0, count: pw * c)
                    (row + (wp - pw) * c).update(repeating: 0, count: pw * c)
                }
            }
        }
        (xb.base + xsize).update(repeating: 0, count: slack)
        for img in 0..<n {
            let src = x + img * c * h * w
            NN.parallel(h, cost: w * c) { r in this.toChannelsLast(src, xb, rows: r) }
            let dst = out + img * o * oh * ow
            NN.parallel(oh, cost: ow * o * c * kh * kw) { r in
                this.compute(xb, wpk, bias: bias, dst, rows: r)
            }
        }
    }

    /// Rows `rows` of one NCHW image into the padded [Hp][Wp][C] buffer (interior only; borders stay 0).
    private func toChannelsLast(_ src: SendablePointer, _ dst: SendablePointer, rows: Range<Int>) {
        copyToPaddedChannelsLast(src, channelStride: h * w, dst, rows: rows, channels: c, width: w, paddedWidth: wp,
                                 padding: (ph, pw))
    }

    private func compute(_ xb: SendablePointer, _ wpk: SendablePointer, bias: SendablePointer?, _ dst: SendablePointer,
                         rows: Range<Int>) {
        let panel = kh * kw * c * 16
        let plane = oh * ow
        for oy in rows {
            var ox = 0
            while ox < ow {
                let pixels = Swift.min(6, ow - ox)
                let x = xb.base + ((oy * sh) * wp + ox * sw) * c
                for ob in 0..<oBlocks {
                    let t = DirectConvolution.tile(x, pixelStride: sw * c, rowStride: wp * c, c: c, kh: kh, kw: kw,
                                                   wpk.base + ob * panel)
                    let lanes = Swift.min(16, o - ob * 16)
                    let base = dst.base + ob * 16 * plane + oy * ow + ox
                    for lane in 0..<lanes {
                        let b = bias?.base[ob * 16 + lane] ?? 0
                        let d = base + lane * plane
                        d[0] = t.0[lane] + b
                        if pixels > 1 { d[1] = t.1[lane] + b }
                        if pixels > 2 { d[2] = t.2[lane] + b }
                        if pixels > 3 { d[3] = t.3[lane] + b }
                        if pixels > 4 { d[4] = t.4[lane] + b }
                        if pixels > 5 { d[5] = t.5[lane] + b }
                    }
                }
                ox += 6
            }
        }
    }

    /// Σ over (i, j, ch) of input[pixel r at tap (i, j)][ch] · W[i][j][ch][0..<16] for 6 pixels r.
    @inline(__always)
    static func tile(_ x: UnsafeMutablePointer<Float>, pixelStride: Int, rowStride: Int, c: Int, kh: Int, kw: Int,
                     _ w: UnsafeMutablePointer<Float>) -> (VFloat, VFloat, VFloat, VFloat, VFloat, VFloat) {
        var c0 = VFloat(), c1 = VFloat(), c2 = VFloat(), c3 = VFloat(), c4 = VFloat(), c5 = VFloat()
        var wp = w
        for i in 0..<kh {
            for j in 0..<kw {
                let x0 = x + i * rowStride + j * c
                let x1 = x0 + pixelStride, x2 = x1 + pixelStride, x3 = x2 + pixelStride
                let x4 = x3 + pixelStride, x5 = x4 + pixelStride
                for ch in 0..<c {
                    let bv = VMath.load(wp)
                    c0 = c0.addingProduct(VFloat(repeating: x0[ch]), bv)
                    c1 = c1.addingProduct(VFloat(repeating: x1[ch]), bv)
                    c2 = c2.addingProduct(VFloat(repeating: x2[ch]), bv)
                    c3 = c3.addingProduct(VFloat(repeating: x3[ch]), bv)
                    c4 = c4.addingProduct(VFloat(repeating: x4[ch]), bv)
                    c5 = c5.addingProduct(VFloat(repeating: x5[ch]), bv)
                    wp += 16
                }
            }
        }
        return (c0, c1, c2, c3, c4, c5)
    }
}

/// Rows `rows` of a `[C][H][W]` image whose channel planes start `channelStride` floats apart into the interior of
/// a padded `[Hp][Wp][C]` buffer (borders untouched), in 16 × 16 blocks of channels and columns so both sides
/// stay in cache.
func copyToPaddedChannelsLast(_ src: SendablePointer, channelStride: Int, _ dst: SendablePointer, rows: Range<Int>,
                              channels c: Int, width w: Int, paddedWidth wp: Int, padding: (h: Int, w: Int)) {
    for y in rows {
        let drow = dst.base + ((y + padding.h) * wp + padding.w) * c
        var c0 = 0
        while c0 < c {
            let c1 = Swift.min(c, c0 + 16)
            var x0 = 0
            while x0 < w {
                let x1 = Swift.min(w, x0 + 16)
                for ch in c0..<c1 {
                    let s = src.base + ch * channelStride + y * w
                    for xx in x0..<x1 { drow[xx * c + ch] = s[xx] }
                }
                x0 = x1
            }
            c0 = c1
        }
    }
}
