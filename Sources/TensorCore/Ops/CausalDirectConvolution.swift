/// `NN.causalConv3d`'s k×k×k convolutions (WanCausalConv3d) as one direct channels-last kernel over the time taps:
/// each frame of the causal sequence `zeros ++ previous ++ x` is copied once into a zero-padded channels-last
/// buffer `[Hp][Wp][C]` (a ring of KT buffers; a frame shared by several output frames is copied once), the
/// weight into panels of 32 output channels `[O/32][KT][KH][KW][C][32]`, and an 8×32 register tile (8 output
/// pixels of a row × 32 output channels) accumulates over every (tap, kh, kw, c) — the zero frames' taps are
/// skipped — before the bias is added and the tile stored into `[N, O, FT, OH, OW]`. Work items are bands of
/// output columns of one row, sized so the band's input rows and one weight panel stay in L2; a band runs its
/// output-channel panels in turn. Any spatial stride and padding, time stride ≥ 1, groups 1.
/// Results differ from PyTorch only by float summation order.
struct CausalDirectConvolution {
    let n, c, o: Int
    /// Frames of `x`, of `previous`, and leading zero frames of the causal sequence.
    let frames, previous, zeros: Int
    let kt, kh, kw: Int
    let st, sh, sw, ph, pw: Int
    let h, w: Int

    var length: Int { zeros + previous + frames }
    var ft: Int { (length - kt) / st + 1 }
    var oh: Int { (h + 2 * ph - kh) / sh + 1 }
    var ow: Int { (w + 2 * pw - kw) / sw + 1 }
    var hp: Int { h + 2 * ph }
    var wp: Int { w + 2 * pw }
    var oBlocks: Int { (o + 31) / 32 }

    /// Output pixels per register tile.
    static let pixels = 8
    /// Bytes of a band's input rows and weight panel meant to stay in a core's L2 (2 MB here; at least one tile
    /// per band when a panel alone is larger).
    static let l2Budget = 7 << 18

    /// Whether this kernel is the better choice over gathering the taps into one 2-D convolution: a spatial
    /// kernel larger than 1×1, ≥ 16 input channels, output channels filling most of the 32 lanes of a panel and
    /// output rows ≥ 24 wide (rows are cut into 8-pixel tiles).
    static func suitable(c: Int, o: Int, kh: Int, kw: Int, ow: Int) -> Bool {
        kh * kw > 1 && c >= 16 && o >= 32 && (o % 32 == 0 || o >= 96) && ow >= 24
    }

    /// `x`: `[N, C, F, H, W]`; `previousFrames`: `[N, C, P, H, W]` (when P > 0); `out`: `[N, O, FT, OH, OW]`.
    func run(x: SendablePointer, previousFrames: SendablePointer?, weight: MatrixElements, bias: SendablePointer?,
             out: SendablePointer) {
        let (c, o, kt, kh, kw) = (c, o, kt, kh, kw)
        let panel = kt * kh * kw * c * 32
        let tapPanel = kh * kw * c * 32
        let wpack = UnsafeMutablePointer<Float>.allocate(capacity: oBlocks * panel)
        defer { wpack.deallocate() }
        let wpk = SendablePointer(wpack)
        // Weights: [oBlock][t][i][j][c][32] from [O][C][KT][KH][KW], zero for output channels ≥ o.
        NN.parallel(oBlocks, cost: panel) { r in
            for ob in r {
                for lane in 0..<32 {
                    let oc = ob * 32 + lane
                    for tap in 0..<(kt * kh * kw) {
                        let d = wpk.base + ob * panel + tap * c * 32 + lane
                        if oc < o {
                            let s = oc * c * kt * kh * kw + tap   // weight[oc][0][t][i][j]
                            let step = kt * kh * kw
                            if weight.isFloat32 {
                                let f = weight.float32 + s
                                for ch in 0..<c { d[ch * 32] = f[ch * step] }
                            } else {
                                for ch in 0..<c { d[ch * 32] = weight.value(s + ch * step) }
                            }
                        } else {
                            for ch in 0..<c { d[ch * 32] = 0 }
                        }
                    }
                }
            }
        }
        // A ring of KT padded channels-last frames; the slack covers the last tile's overhang. Only the interior
        // is ever rewritten, so the padding is zeroed once.
        let (hp, wp, ph, pw, h, w) = (hp, wp, ph, pw, h, w)
        let slack = (Self.pixels * sw + kw + 1) * c
        let frameFloats = hp * wp * c + slack
        let ring = UnsafeMutablePointer<Float>.allocate(capacity: kt * frameFloats)
        defer { ring.deallocate() }
        let rb = SendablePointer(ring)
        NN.parallel(kt * hp, cost: wp * c) { r in
            for item in r {
                let slot = item / hp, y = item % hp
                let row = rb.base + slot * frameFloats + y * wp * c
                if y < ph || y >= ph + h {
                    row.update(repeating: 0, count: wp * c)
                } else {
                    row.update(repeating: 0, count: pw * c)
                    (row + (wp - pw) * c).update(repeating: 0, count: pw * c)
                }
            }
        }
        for slot in 0..<kt { (rb.base + slot * frameFloats + hp * wp * c).update(repeating: 0, count: slack) }

        // Column bands: the band's KT·KH input rows plus one weight panel within `l2Budget` bytes.
        let (oh, ow, ft) = (oh, ow, ft)
        let budget = Self.l2Budget - 4 * panel
        let bandInputs = Swift.max(1, budget / Swift.max(1, kt * kh * c * 4))
        let bandTiles = Swift.max(1, (bandInputs / sw - kw) / Self.pixels)
        let tilesPerRow = (ow + Self.pixels - 1) / Self.pixels
        let bandCount = (tilesPerRow + bandTiles - 1) / bandTiles
        let bands = (tilesPerRow + bandCount - 1) / bandCount   // tiles per band, balanced
        let this = self
        var slotFrame = [Int](repeating: -1, count: kt)
        for img in 0..<n {
            for s in 0..<kt { slotFrame[s] = -1 }
            for t in 0..<ft {
                // The taps on real frames, each with its frame's slot (copied in if not already there).
                var taps: [(tap: Int, slot: Int)] = []
                for j in 0..<kt {
                    let q = t * st + j
                    if q < zeros { continue }
                    if let s = slotFrame.firstIndex(of: q) { taps.append((j, s)); continue }
                    let s = (0..<kt).first { s in
                        let held = slotFrame[s]
                        return held < t * st || held >= t * st + kt
                    }!
                    slotFrame[s] = q
                    this.copyFrame(q, image: img, x: x, previousFrames: previousFrames, into: rb + s * frameFloats)
                    taps.append((j, s))
                }
                let outFrame = out.base + img * o * ft * oh * ow + t * oh * ow
                let frameStride = ft * oh * ow
                let tapList = taps
                NN.parallel(oh * bandCount, cost: bands * Self.pixels * o * c * kh * kw * Swift.max(1, taps.count)) { r in
                    for item in r {
                        let oy = item / bandCount, band = item % bandCount
                        let tile0 = band * bands, tile1 = Swift.min(tilesPerRow, tile0 + bands)
                        for ob in 0..<this.oBlocks {
                            let lanes = Swift.min(32, o - ob * 32)
                            for tile in tile0..<tile1 {
                                let ox = tile * Self.pixels
                                let pixels = Swift.min(Self.pixels, ow - ox)
                                var acc = Tile8x32()
                                for (tap, slot) in tapList {
                                    let xs = rb.base + slot * frameFloats + ((oy * this.sh) * wp + ox * this.sw) * c
                                    acc.accumulate(xs, pixelStride: this.sw * c, rowStride: wp * c, c: c, kh: kh, kw: kw,
                                                   wpk.base + ob * panel + tap * tapPanel)
                                }
                                let base = outFrame + ob * 32 * frameStride + oy * ow + ox
                                for lane in 0..<lanes {
                                    let b = bias?.base[ob * 32 + lane] ?? 0
                                    let d = base + lane * frameStride
                                    for px in 0..<pixels { d[px] = acc[px, lane] + b }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Frame `q` of the causal sequence (≥ zeros) of image `img` into a padded channels-last buffer's interior.
    private func copyFrame(_ q: Int, image img: Int, x: SendablePointer, previousFrames: SendablePointer?,
                           into dst: SendablePointer) {
        let plane = h * w
        let src: UnsafeMutablePointer<Float>, channelStride: Int
        if q < zeros + previous, let previousFrames {
            src = previousFrames.base + (img * c * previous + q - zeros) * plane
            channelStride = previous * plane
        } else {
            src = x.base + (img * c * frames + q - zeros - previous) * plane
            channelStride = frames * plane
        }
        let (c, w, wp, ph, pw) = (c, w, wp, ph, pw)
        let from = SendablePointer(src)
        NN.parallel(h, cost: w * c) { r in
            copyToPaddedChannelsLast(from, channelStride: channelStride, dst, rows: r, channels: c, width: w,
                                     paddedWidth: wp, padding: (ph, pw))
        }
    }
}

/// 8 output pixels × 16 output channels of accumulators (one half of a `Tile8x32`).
struct Tile8 {
    var v0 = VFloat(), v1 = VFloat(), v2 = VFloat(), v3 = VFloat()
    var v4 = VFloat(), v5 = VFloat(), v6 = VFloat(), v7 = VFloat()

    subscript(i: Int) -> VFloat {
        switch i {
        case 0: v0
        case 1: v1
        case 2: v2
        case 3: v3
        case 4: v4
        case 5: v5
        case 6: v6
        default: v7
        }
    }
}

/// 8 output pixels × 32 output channels of accumulators: 16 registers, two weight vectors and eight broadcast
/// inputs per channel step, 16 FMAs.
struct Tile8x32 {
    var a = Tile8(), b = Tile8()

    /// Output channel `lane` (0..<32) of pixel `px`.
    subscript(px: Int, lane: Int) -> Float { lane < 16 ? a[px][lane] : b[px][lane - 16] }

    /// += Σ over (i, j, ch) of input[pixel r at tap (i, j)][ch] · W[i][j][ch][0..<32] for the 8 pixels r.
    @inline(__always)
    mutating func accumulate(_ x: UnsafeMutablePointer<Float>, pixelStride: Int, rowStride: Int, c: Int, kh: Int,
                             kw: Int, _ w: UnsafeMutablePointer<Float>) {
        var (a0, a1, a2, a3, a4, a5, a6, a7) = (a.v0, a.v1, a.v2, a.v3, a.v4, a.v5, a.v6, a.v7)
        var (b0, b1, b2, b3, b4, b5, b6, b7) = (b.v0, b.v1, b.v2, b.v3, b.v4, b.v5, b.v6, b.v7)
        var wp = w
        for i in 0..<kh {
            for j in 0..<kw {
                let x0 = x + i * rowStride + j * c
                let x1 = x0 + pixelStride, x2 = x1 + pixelStride, x3 = x2 + pixelStride
                let x4 = x3 + pixelStride, x5 = x4 + pixelStride, x6 = x5 + pixelStride, x7 = x6 + pixelStride
                for ch in 0..<c {
                    let wa = VMath.load(wp), wb = VMath.load(wp + 16)
                    var s = VFloat(repeating: x0[ch]); a0 = a0.addingProduct(s, wa); b0 = b0.addingProduct(s, wb)
                    s = VFloat(repeating: x1[ch]); a1 = a1.addingProduct(s, wa); b1 = b1.addingProduct(s, wb)
                    s = VFloat(repeating: x2[ch]); a2 = a2.addingProduct(s, wa); b2 = b2.addingProduct(s, wb)
                    s = VFloat(repeating: x3[ch]); a3 = a3.addingProduct(s, wa); b3 = b3.addingProduct(s, wb)
                    s = VFloat(repeating: x4[ch]); a4 = a4.addingProduct(s, wa); b4 = b4.addingProduct(s, wb)
                    s = VFloat(repeating: x5[ch]); a5 = a5.addingProduct(s, wa); b5 = b5.addingProduct(s, wb)
                    s = VFloat(repeating: x6[ch]); a6 = a6.addingProduct(s, wa); b6 = b6.addingProduct(s, wb)
                    s = VFloat(repeating: x7[ch]); a7 = a7.addingProduct(s, wa); b7 = b7.addingProduct(s, wb)
                    wp += 32
                }
            }
        }
        (a.v0, a.v1, a.v2, a.v3, a.v4, a.v5, a.v6, a.v7) = (a0, a1, a2, a3, a4, a5, a6, a7)
        (b.v0, b.v1, b.v2, b.v3, b.v4, b.v5, b.v6, b.v7) = (b0, b1, b2, b3, b4, b5, b6, b7)
    }
}
