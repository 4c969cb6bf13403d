extension NN {
    /// `torch.nn.functional.conv2d(x, weight, bias, stride, padding, dilation=1, groups)` with symmetric
    /// stride and padding. See `conv2d(_:weight:bias:stride:padding:groups:)` with tuples for the details.
    public static func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0,
                              groups: Int = 1, winograd: WinogradKernel? = nil, channelOffsets: Tensor? = nil,
                              residual: Tensor? = nil) -> Tensor {
        conv2d(x, weight: weight, bias: bias, stride: (stride, stride), padding: (padding, padding), groups: groups,
               winograd: winograd, channelOffsets: channelOffsets, residual: residual)
    }

    /// `torch.nn.functional.conv2d` (dilation 1, zero padding) on NCHW input `[N, C, H, W]` with a weight in
    /// PyTorch's layout `[O, C/groups, KH, KW]` and an optional bias `[O]`; returns `[N, O, OH, OW]` with
    /// `OH = (H + 2·padding.h − KH) / stride.h + 1` (likewise OW). Any kernel size, stride, padding and group count.
    ///
    /// Paths: given `winograd` (the weight transformed once, `WinogradKernel(weight:)`), 3×3 stride-1 padding-1
    /// convolutions of 8×8 up to < 48-wide images run `WinogradConvolution` (F(2×2, 3×3), 2.25× fewer
    /// multiply–adds). Other stride-1 k×k convolutions with output rows < 48 wide and no groups (the small UNets'
    /// 4×4–32×32 levels) run `ImplicitGEMMConvolution` (one GEMM reading a padded copy of the input, no im2col).
    /// A 1×1 stride-1 unpadded convolution is one `GEMM.sgemm` per image and group (no copies, whatever the batch).
    /// Other small images (≤ 512 output positions, several images, no groups — the strided downsamplers) are
    /// unfolded side by side into one im2col GEMM. k×k convolutions with 16…512 input channels, ≥ 16 output
    /// channels, output rows ≥ 48 wide and no groups run the direct channels-last kernel (`DirectConvolution`,
    /// no im2col: the SD UNet's 64×64-level and the VAE's 3×3 convolutions, stride 1 or 2). Everything else is
    /// im2col + GEMM, tiled over output rows so the column buffer stays ≤ 16 MB (`Tuning.im2colTileFloats`), with
    /// the bias initialising the output (β = 1). GEMMs, copies and the direct kernel are split over the cores
    /// (`Tuning.convolution` can force a path).
    /// Results differ from PyTorch (oneDNN) only by float summation order.
    ///
    /// `channelOffsets` (`[N, O]`, or `[O]` for every image; e.g. a ResnetBlock's projected time embedding) and
    /// `residual` (`[N, O, OH, OW]`, its skip connection) are added to the result: by the Winograd path as it
    /// stores its rows, by the others afterwards (`addPerChannel`, `add`).
    public static func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: (Int, Int), padding: (Int, Int),
                              groups: Int = 1, winograd: WinogradKernel? = nil, channelOffsets: Tensor? = nil,
                              residual: Tensor? = nil) -> Tensor {
        conv2d(x, weight: StoredTensor(weight), bias: bias, stride: stride, padding: padding, groups: groups,
               winograd: winograd, channelOffsets: channelOffsets, residual: residual)
    }

    /// `conv2d` with the weight as its checkpoint stores it (`StoredTensor`): an f16 / bf16 weight is widened as
    /// each path reads it — a band of output channels at a time by the GEMM paths (`GEMM.gemm`,
    /// `SmallGEMM.runRowGathered`), while packing its 16-channel panels by the direct kernel.
    public static func conv2d(_ x: Tensor, weight: StoredTensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0,
                              groups: Int = 1, winograd: WinogradKernel? = nil, channelOffsets: Tensor? = nil,
                              residual: Tensor? = nil) -> Tensor {
        conv2d(x, weight: weight, bias: bias, stride: (stride, stride), padding: (padding, padding), groups: groups,
               winograd: winograd, channelOffsets: channelOffsets, residual: residual)
    }

    /// `conv2d` with a stored weight and stride / padding per axis.
    public static func conv2d(_ x: Tensor, weight: StoredTensor, bias: Tensor?, stride: (Int, Int), padding: (Int, Int),
                              groups: Int = 1, winograd: WinogradKernel? = nil, channelOffsets: Tensor? = nil,
                              residual: Tensor? = nil) -> Tensor {
        precondition(x.rank == 4, "NN.conv2d: input must be [N, C, H, W], got \(x.shape)")
        precondition(weight.rank == 4, "NN.conv2d: weight must be [O, C/groups, KH, KW], got \(weight.shape)")
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (o, cg, kh, kw) = (weight.shape[0], weight.shape[1], weight.shape[2], weight.shape[3])
        let (sh, sw) = stride, (ph, pw) = padding
        precondition(groups >= 1 && c == cg * groups && o % groups == 0,
                     "NN.conv2d: input \(x.shape), weight \(weight.shape) and groups \(groups) do not match")
        precondition(sh >= 1 && sw >= 1 && ph >= 0 && pw >= 0, "NN.conv2d: bad stride \(stride) or padding \(padding)")
        let oh = (h + 2 * ph - kh) / sh + 1, ow = (w + 2 * pw - kw) / sw + 1
        precondition(h + 2 * ph >= kh && w + 2 * pw >= kw, "NN.conv2d: kernel \(kh)×\(kw) larger than padded input \(h)×\(w)")
        if let b = bias { precondition(b.count == o, "NN.conv2d: bias has \(b.count) values for \(o) output channels") }
        let plane = oh * ow
        if let offsets = channelOffsets {
            precondition((offsets.count == n * o && offsets.shape.first == n) || offsets.count == o,
                         "NN.conv2d: channelOffsets \(offsets.shape) must be [N, O] = [\(n), \(o)] or [O]")
        }
        if let residual {
            precondition(residual.shape == [n, o, oh, ow], "NN.conv2d: residual \(residual.shape) must be \([n, o, oh, ow])")
        }
        let requested = Tuning.convolution
        if let winograd, plane > 0,
           WinogradConvolution.applicable(kernel: winograd, c: c, o: o, kh: kh, kw: kw, sh: sh, sw: sw, ph: ph, pw: pw,
                                          groups: groups),
           requested == .winograd || (requested == .automatic && WinogradConvolution.suitable(h: h, w: w)) {
            let conv = WinogradConvolution(n: n, c: c, h: h, w: w, o: o)
            return read(x) { src in
                makeTensor(shape: [n, o, oh, ow]) { dst in
                    read(bias) { b in
                        read(channelOffsets) { offsets in
                            read(residual) { r in
                                conv.run(x: src, kernel: winograd, bias: b, channelOffsets: offsets,
                                         offsetsPerImage: (channelOffsets?.count ?? 0) == n * o, residual: r, out: dst)
                            }
                        }
                    }
                }
            }
        }
        var y = convolve(x, weight: weight, bias: bias, stride: stride, padding: padding, groups: groups,
                         algorithm: requested == .winograd ? .automatic : requested)
        if let channelOffsets { y = addPerChannel(y, channelOffsets) }
        if let residual { y = add(y, residual) }
        return y
    }

    /// `conv2d` by the paths other than Winograd.
    private static func convolve(_ x: Tensor, weight: StoredTensor, bias: Tensor?, stride: (Int, Int), padding: (Int, Int),
                                 groups: Int, algorithm: ConvolutionAlgorithm) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (o, cg, kh, kw) = (weight.shape[0], weight.shape[1], weight.shape[2], weight.shape[3])
        let (sh, sw) = stride, (ph, pw) = padding
        let oh = (h + 2 * ph - kh) / sh + 1, ow = (w + 2 * pw - kw) / sw + 1
        let og = o / groups
        let plane = oh * ow
        let k = cg * kh * kw
        return read(x) { src in
            weight.withElements { wt in
                makeTensor(shape: [n, o, oh, ow]) { dst in
                    if plane == 0 { return }
                    // Stride-1 k×k convolutions of small images: one GEMM over a padded copy, no im2col.
                    let implicitFits = ImplicitGEMMConvolution.applicable(n: n, c: c, h: h, w: w, kh: kh, kw: kw, sh: sh,
                                                                          sw: sw, ph: ph, pw: pw, groups: groups)
                    if implicitFits && (algorithm == .implicitGEMM
                                        || (algorithm == .automatic && ImplicitGEMMConvolution.suitable(ow: ow))) {
                        let implicit = ImplicitGEMMConvolution(n: n, c: c, h: h, w: w, o: o, kh: kh, kw: kw, ph: ph, pw: pw)
                        read(bias) { b in implicit.run(x: src, weight: wt, bias: b, out: dst) }
                        return
                    }
                    // Small images batch into one GEMM (below); other multi-channel k×k convolutions run direct.
                    let batchSmall = algorithm != .direct && n > 1 && groups == 1 && plane <= 512
                        && k * n * plane <= Tuning.im2colTileFloats
                    let direct = groups == 1 && (algorithm == .direct || (algorithm == .automatic && !batchSmall
                        && DirectConvolution.suitable(c: c, o: o, kh: kh, kw: kw, ow: ow, groups: groups)))
                    if direct {
                        let direct = DirectConvolution(n: n, c: c, h: h, w: w, o: o, kh: kh, kw: kw, sh: sh, sw: sw,
                                                       ph: ph, pw: pw, oh: oh, ow: ow)
                        read(bias) { b in direct.run(x: src, weight: wt, bias: b, out: dst) }
                        return
                    }
                    let beta: Float = bias == nil ? 0 : 1
                    if let bias { fillChannels(dst, bias: bias, images: n, channels: o, plane: plane) }
                    if k == 0 {
                        if bias == nil { dst.base.update(repeating: 0, count: n * o * plane) }
                        return
                    }
                    // 1×1 stride 1: a GEMM per image and group straight on the input (also for batches of small
                    // images: the batched im2col below would only copy the input and scatter the result).
                    if kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0 {
                        for img in 0..<n {
                            for g in 0..<groups {
                                GEMM.gemm(m: og, n: plane, k: cg, a: wt.advanced(by: g * og * cg), lda: cg,
                                          b: MatrixElements(src.base + (img * c + g * cg) * h * w), ldb: plane,
                                          beta: beta, c: dst.base + (img * o + g * og) * plane, ldc: plane)
                            }
                        }
                        return
                    }
                    let geometry = Im2Col(channels: cg, height: h, width: w, kernelH: kh, kernelW: kw,
                                          strideH: sh, strideW: sw, padH: ph, padW: pw, outW: ow)
                    // Small images (the UNet's 8×8 and 16×16 levels): all images side by side in one GEMM,
                    // whose N = images·plane keeps OpenBLAS efficient; the result is scattered to [N, O, plane].
                    if batchSmall {
                        let cols = n * plane
                        let col = UnsafeMutablePointer<Float>.allocate(capacity: k * cols + o * cols)
                        defer { col.deallocate() }
                        let tmp = SendablePointer(col + k * cols)
                        for img in 0..<n {
                            geometry.fill(SendablePointer(col + img * plane), rowStride: cols,
                                          from: src + img * c * h * w, firstRow: 0, rows: oh)
                        }
                        GEMM.gemm(m: o, n: cols, k: k, a: wt, lda: k, b: MatrixElements(col), ldb: cols, beta: 0,
                                  c: tmp.base, ldc: cols)
                        parallel(n * o, cost: plane) { r in
                            for item in r {
                                let img = item / o, ch = item % o
                                let d = dst.base + item * plane, s = tmp.base + ch * cols + img * plane
                                if beta == 0 {
                                    d.update(from: s, count: plane)
                                } else {
                                    VMath.map2(s, d, d, plane, VAdd())
                                }
                            }
                        }
                        return
                    }
                    let tileRows = Swift.max(1, Swift.min(oh, Tuning.im2colTileFloats / Swift.max(1, k * ow)))
                    let col = UnsafeMutablePointer<Float>.allocate(capacity: k * tileRows * ow)
                    defer { col.deallocate() }
                    for img in 0..<n {
                        for g in 0..<groups {
                            let input = src + (img * c + g * cg) * h * w
                            var row0 = 0
                            while row0 < oh {
                                let rows = Swift.min(tileRows, oh - row0)
                                let cols = rows * ow
                                geometry.fill(SendablePointer(col), rowStride: cols, from: input, firstRow: row0, rows: rows)
                                GEMM.gemm(m: og, n: cols, k: k, a: wt.advanced(by: g * og * k), lda: k, b: MatrixElements(col),
                                          ldb: cols, beta: beta, c: dst.base + (img * o + g * og) * plane + row0 * ow, ldc: plane)
                                row0 += rows
                            }
                        }
                    }
                }
            }
        }
    }

    /// Writes bias[ch] over each `[plane]` block of an `[images, channels, plane]` buffer.
    static func fillChannels(_ dst: SendablePointer, bias: Tensor, images: Int, channels: Int, plane: Int) {
        read(bias) { b in
            parallel(images * channels, cost: plane) { r in
                for i in r { (dst.base + i * plane).update(repeating: b[i % channels], count: plane) }
            }
        }
    }
}

/// The im2col unfolding of one image (one group's channels) for a band of output rows: row
/// `(ch·KH + i)·KW + j` of the column matrix holds input[ch, oh·sh − ph + i, ow·sw − pw + j] (0 outside) for the
/// band's output positions (oh, ow), in row-major order.
struct Im2Col: Sendable {
    let channels, height, width, kernelH, kernelW, strideH, strideW, padH, padW, outW: Int

    /// Writes the `K = channels·KH·KW` rows of the band's columns, row r at `col + r·rowStride`.
    func fill(_ col: SendablePointer, rowStride: Int, from input: SendablePointer, firstRow: Int, rows: Int) {
        let k = channels * kernelH * kernelW
        let this = self
        NN.parallel(k, cost: rows * outW) { range in
            for r in range { this.fillRow(r, col.base + r * rowStride, input, firstRow: firstRow, rows: rows) }
        }
    }

    /// ⌊a / b⌋ for b > 0.
    @inline(__always)
    private func floorDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }

    @inline(__always)
    private func fillRow(_ r: Int, _ out: UnsafeMutablePointer<Float>, _ input: SendablePointer, firstRow: Int, rows: Int) {
        let j = r % kernelW, i = (r / kernelW) % kernelH, ch = r / (kernelW * kernelH)
        let plane = input.base + ch * height * width
        // Valid output columns: 0 ≤ ow·sw − padW + j < width.
        let lo = Swift.min(outW, Swift.max(0, -floorDiv(j - padW, strideW)))
        let hi = Swift.max(lo, Swift.min(outW, floorDiv(width - 1 + padW - j, strideW) + 1))
        var d = out
        // Rows of small images (the UNets' 4–32-wide levels) are copied element by element: memset/memmove calls
        // for 1–16 floats cost more than the copy.
        let short = outW < 64
        for t in 0..<rows {
            let ih = (firstRow + t) * strideH - padH + i
            if ih < 0 || ih >= height {
                if short { for x in 0..<outW { d[x] = 0 } } else { d.update(repeating: 0, count: outW) }
            } else {
                let s = plane + ih * width - padW + j
                if short {
                    for x in 0..<lo { d[x] = 0 }
                    if strideW == 1 { for x in lo..<hi { d[x] = s[x] } } else { for x in lo..<hi { d[x] = s[x * strideW] } }
                    for x in hi..<outW { d[x] = 0 }
                } else {
                    if lo > 0 { d.update(repeating: 0, count: lo) }
                    if strideW == 1 {
                        (d + lo).update(from: s + lo, count: hi - lo)
                    } else {
                        for ow in lo..<hi { d[ow] = s[ow * strideW] }
                    }
                    if hi < outW { (d + hi).update(repeating: 0, count: outW - hi) }
                }
            }
            d += outW
        }
    }
}
