extension NN {
    /// diffusers' `WanCausalConv3d.forward(x, cache_x)` on `[N, C, F, H, W]`: a 3-D convolution (dilation 1) whose
    /// time axis is causal. The frames convolved are `zeros ++ previous ++ x`, where `previous` (`[N, C, P, H, W]`,
    /// the feature cache's last frames of the preceding chunk) stands in for `P` of the `2·padding.t` zero frames
    /// in front (`max(0, 2·padding.t − P)` zero frames remain; none behind); height and width are zero padded by
    /// `padding.h` / `padding.w` on both sides. With `padding.t = 0` a given `previous` is simply prepended (as
    /// `WanResample`'s downsample path concatenates the cached frame itself; diffusers' class would ignore it).
    /// Weight `[O, C, KT, KH, KW]` in its stored precision, bias `[O]`; returns `[N, O, FT, OH, OW]` with
    /// `FT = (frames − KT) / stride.t + 1` and `OH = (H + 2·padding.h − KH) / stride.h + 1` (likewise OW).
    ///
    /// How: k×k×k convolutions with ≥ 16 input and ≥ 32 output channels and output rows ≥ 24 wide (the VAE's
    /// residual blocks and heads) run `CausalDirectConvolution`: each frame copied once into a padded
    /// channels-last buffer, one register tile summing over every time tap, the zero frames' taps skipped.
    /// Otherwise (the 1-D time convolutions, narrow images, few channels) the weight viewed as `[O, C·KT, KH, KW]`
    /// (no copy) is a 2-D convolution over the `C·KT` planes `(c, t·stride.t + j)` of each output frame,
    /// gathered into one image; `conv2d` then runs its fastest path for that shape, several output frames per
    /// call while the gathered images stay ≤ 16 MB (one frame per call above that). `Tuning.convolution`
    /// `.direct` forces the first path, any other value but `.automatic` the second. A 1×1×1 unpadded,
    /// unstrided convolution without `previous` is one GEMM per video, with no copy.
    /// Results differ from PyTorch only by float summation order.
    public static func causalConv3d(_ x: Tensor, weight: StoredTensor, bias: Tensor? = nil,
                                    stride: (t: Int, h: Int, w: Int) = (1, 1, 1),
                                    padding: (t: Int, h: Int, w: Int) = (0, 0, 0),
                                    previous: Tensor? = nil) -> Tensor {
        precondition(x.rank == 5, "NN.causalConv3d: input must be [N, C, F, H, W], got \(x.shape)")
        precondition(weight.rank == 5, "NN.causalConv3d: weight must be [O, C, KT, KH, KW], got \(weight.shape)")
        let (n, c, f, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3], x.shape[4])
        let (o, kt, kh, kw) = (weight.shape[0], weight.shape[2], weight.shape[3], weight.shape[4])
        precondition(weight.shape[1] == c, "NN.causalConv3d: weight \(weight.shape) does not take \(c) input channels")
        precondition(stride.t >= 1 && stride.h >= 1 && stride.w >= 1 && padding.t >= 0 && padding.h >= 0 && padding.w >= 0,
                     "NN.causalConv3d: bad stride \(stride) or padding \(padding)")
        if let bias { precondition(bias.count == o, "NN.causalConv3d: bias has \(bias.count) values for \(o) channels") }
        let p = previous?.shape[2] ?? 0
        if let previous {
            precondition(previous.shape == [n, c, p, h, w],
                         "NN.causalConv3d: previous frames \(previous.shape) must be [\(n), \(c), P, \(h), \(w)]")
            precondition(padding.t == 0 || p <= 2 * padding.t,
                         "NN.causalConv3d: \(p) previous frames exceed the \(2 * padding.t) causal padding frames")
        }
        let zeros = Swift.max(0, 2 * padding.t - p)
        let length = zeros + p + f
        precondition(length >= kt, "NN.causalConv3d: \(length) frames (with padding) are fewer than the kernel's \(kt)")
        let ft = (length - kt) / stride.t + 1
        let oh = (h + 2 * padding.h - kh) / stride.h + 1, ow = (w + 2 * padding.w - kw) / stride.w + 1
        precondition(h + 2 * padding.h >= kh && w + 2 * padding.w >= kw,
                     "NN.causalConv3d: kernel \(kh)×\(kw) larger than the padded frame \(h)×\(w)")
        let weight2 = weight.reshaped([o, c * kt, kh, kw])
        if kt == 1 && kh == 1 && kw == 1 && stride == (1, 1, 1) && padding == (0, 0, 0) && p == 0 {
            return conv2d(x.reshaped([n, c, f * h, w]), weight: weight2, bias: bias).reshaped([n, o, f, h, w])
        }
        let algorithm = Tuning.convolution
        if algorithm == .direct
            || (algorithm == .automatic && CausalDirectConvolution.suitable(c: c, o: o, kh: kh, kw: kw, ow: ow)) {
            let conv = CausalDirectConvolution(n: n, c: c, o: o, frames: f, previous: p, zeros: zeros, kt: kt, kh: kh,
                                               kw: kw, st: stride.t, sh: stride.h, sw: stride.w, ph: padding.h,
                                               pw: padding.w, h: h, w: w)
            return read(x) { src in
                read(previous) { prev in
                    read(bias) { b in
                        weight.withElements { wt in
                            makeTensor(shape: [n, o, ft, oh, ow]) { dst in
                                conv.run(x: src, previousFrames: prev, weight: wt, bias: b, out: dst)
                            }
                        }
                    }
                }
            }
        }
        let plane = h * w, outPlane = oh * ow
        let items = n * ft
        let perItem = c * kt * plane
        let group = Swift.max(1, Swift.min(items, (4 << 20) / Swift.max(1, perItem)))
        return read(x) { src in
            read(previous) { prev in
                makeTensor(shape: [n, o, ft, oh, ow]) { dst in
                    var next = 0
                    while next < items {
                        let first = next, count = Swift.min(group, items - next)
                        let gathered = makeTensor(shape: [count, c * kt, h, w]) { g in
                            parallel(count * c * kt, cost: plane) { range in
                                for r in range {
                                    let item = first + r / (c * kt), ch = (r / kt) % c, j = r % kt
                                    let img = item / ft, t = item % ft
                                    let frame = t * stride.t + j
                                    let d = g.base + r * plane
                                    if frame < zeros {
                                        d.update(repeating: 0, count: plane)
                                    } else if frame < zeros + p, let prev {
                                        d.update(from: prev.base + ((img * c + ch) * p + frame - zeros) * plane, count: plane)
                                    } else {
                                        d.update(from: src.base + ((img * c + ch) * f + frame - zeros - p) * plane, count: plane)
                                    }
                                }
                            }
                        }
                        let y = conv2d(gathered, weight: weight2, bias: bias, stride: (stride.h, stride.w),
                                       padding: (padding.h, padding.w))
                        read(y) { ys in
                            parallel(count * o, cost: outPlane) { range in
                                for r in range {
                                    let item = first + r / o, ch = r % o
                                    let img = item / ft, t = item % ft
                                    (dst.base + ((img * o + ch) * ft + t) * outPlane).update(from: ys.base + r * outPlane,
                                                                                              count: outPlane)
                                }
                            }
                        }
                        next += count
                    }
                }
            }
        }
    }

    /// `causalConv3d` with a float32 weight.
    public static func causalConv3d(_ x: Tensor, weight: Tensor, bias: Tensor? = nil,
                                    stride: (t: Int, h: Int, w: Int) = (1, 1, 1),
                                    padding: (t: Int, h: Int, w: Int) = (0, 0, 0),
                                    previous: Tensor? = nil) -> Tensor {
        causalConv3d(x, weight: StoredTensor(weight), bias: bias, stride: stride, padding: padding, previous: previous)
    }

    /// diffusers' `WanRMS_norm` (channel-first) on `[N, C, …]`: `F.normalize(x, dim=1)` — each position's channel
    /// vector divided by `max(‖x‖₂, eps)` — times `√C · gamma[c]`, plus `bias[c]` when given; with `silu: true`
    /// followed by SiLU in the same sweep (the residual block's norm → nonlinearity). `gamma`/`bias` hold `C`
    /// values (the checkpoint's `[C, 1, 1(, 1)]` flattened). Squares are summed in float over the channels, per
    /// position, as PyTorch's CPU kernel does.
    public static func channelRMSNorm(_ x: Tensor, gamma: Tensor, bias: Tensor? = nil, eps: Float = 1e-12,
                                      silu: Bool = false) -> Tensor {
        precondition(x.rank >= 2, "NN.channelRMSNorm: needs [N, C, …], got \(x.shape)")
        let n = x.shape[0], c = x.shape[1]
        precondition(gamma.count == c, "NN.channelRMSNorm: gamma has \(gamma.count) values for \(c) channels")
        if let bias { precondition(bias.count == c, "NN.channelRMSNorm: bias has \(bias.count) values for \(c) channels") }
        let positions = n * c == 0 ? 0 : x.count / (n * c)
        let block = 256
        let blocks = (positions + block - 1) / block
        let scale = Float(c).squareRoot()
        return read(x) { src in
            makeTensor(shape: x.shape) { dst in
                read(gamma) { g in
                    read(bias) { b in
                        parallel(n * blocks, cost: 3 * c * block) { range in
                            var norms = [Float](repeating: 0, count: block)
                            norms.withUnsafeMutableBufferPointer { nb in
                                let acc = nb.baseAddress!
                                for item in range {
                                    let img = item / blocks, p0 = (item % blocks) * block
                                    let len = Swift.min(block, positions - p0)
                                    let base = img * c * positions + p0
                                    acc.update(repeating: 0, count: len)
                                    for ch in 0..<c {
                                        let s = src.base + base + ch * positions
                                        for i in 0..<len { acc[i] += s[i] * s[i] }
                                    }
                                    for i in 0..<len { acc[i] = scale / Swift.max(acc[i].squareRoot(), eps) }
                                    for ch in 0..<c {
                                        let s = src.base + base + ch * positions, d = dst.base + base + ch * positions
                                        let gc = g[ch], bc = b?[ch] ?? 0
                                        for i in 0..<len { d[i] = s[i] * acc[i] * gc + bc }
                                        if silu { siluKernel(d, d, len) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// `x.permute(0, 2, 1, 3, 4).reshape(N·F, C, H, W)`: the frames of `[N, C, F, H, W]` as a batch of images (how
    /// diffusers' Wan VAE runs its 2-D layers). A reshape only when F = 1.
    public static func framesToImages(_ x: Tensor) -> Tensor {
        precondition(x.rank == 5, "NN.framesToImages: needs [N, C, F, H, W], got \(x.shape)")
        let (n, c, f, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3], x.shape[4])
        if f == 1 { return x.reshaped([n, c, h, w]) }
        return permute(x.reshaped([n, c, f, h * w]), [0, 2, 1, 3]).reshaped([n * f, c, h, w])
    }

    /// The inverse of `framesToImages`: `[N·F, C, H, W]` → `[N, C, F, H, W]`.
    public static func imagesToFrames(_ x: Tensor, frames f: Int) -> Tensor {
        precondition(x.rank == 4 && f >= 1 && x.shape[0] % f == 0,
                     "NN.imagesToFrames: needs [N·\(f), C, H, W], got \(x.shape)")
        let (nf, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        if f == 1 { return x.reshaped([nf, c, 1, h, w]) }
        return permute(x.reshaped([nf / f, f, c, h * w]), [0, 2, 1, 3]).reshaped([nf / f, c, f, h, w])
    }

    /// Frames `range` of `[N, C, F, H, W]` (`x[:, :, range]`, copied).
    public static func frames(_ x: Tensor, _ range: Range<Int>) -> Tensor {
        precondition(x.rank == 5 && range.lowerBound >= 0 && range.upperBound <= x.shape[2],
                     "NN.frames: \(range) is not inside the frames of \(x.shape)")
        let (n, c, f, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3], x.shape[4])
        if range == 0..<f { return x }
        let plane = h * w, k = range.count
        return read(x) { src in
            makeTensor(shape: [n, c, k, h, w]) { dst in
                parallel(n * c, cost: k * plane) { r in
                    for i in r {
                        (dst.base + i * k * plane).update(from: src.base + (i * f + range.lowerBound) * plane, count: k * plane)
                    }
                }
            }
        }
    }

    /// `torch.cat(items, dim=2)` for `[N, C, F_i, H, W]` tensors that agree on the other axes.
    public static func concatFrames(_ items: [Tensor]) -> Tensor {
        precondition(!items.isEmpty, "NN.concatFrames: nothing to concatenate")
        if items.count == 1 { return items[0] }
        let first = items[0]
        precondition(first.rank == 5, "NN.concatFrames: needs [N, C, F, H, W], got \(first.shape)")
        let (n, c, h, w) = (first.shape[0], first.shape[1], first.shape[3], first.shape[4])
        for t in items {
            precondition(t.rank == 5 && t.shape[0] == n && t.shape[1] == c && t.shape[3] == h && t.shape[4] == w,
                         "NN.concatFrames: \(t.shape) does not match \(first.shape) outside the frame axis")
        }
        let total = items.reduce(0) { $0 + $1.shape[2] }
        let plane = h * w
        var out = Tensor(zeros: [n, c, total, h, w])
        out.scalars.withUnsafeMutableBufferPointer { o in
            let dst = SendablePointer(o.baseAddress!)
            var offset = 0
            for t in items {
                let k = t.shape[2], start = offset
                read(t) { src in
                    parallel(n * c, cost: k * plane) { r in
                        for i in r {
                            (dst.base + (i * total + start) * plane).update(from: src.base + i * k * plane, count: k * plane)
                        }
                    }
                }
                offset += k
            }
        }
        return out
    }

    /// WanResample's frame doubling after its time convolution: `[N, 2C, F, H, W]` → `[N, C, 2F, H, W]` with
    /// output frame `2t + s` = input channels `s·C ..< (s+1)·C` of frame t (`x.reshape(b, 2, c, t, h, w)`, stacked
    /// on a new axis after t).
    public static func interleaveTimeChannels(_ x: Tensor) -> Tensor {
        precondition(x.rank == 5 && x.shape[1] % 2 == 0, "NN.interleaveTimeChannels: needs [N, 2C, F, H, W], got \(x.shape)")
        let (n, c2, f, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3], x.shape[4])
        let c = c2 / 2
        return permute(x.reshaped([n, 2, c, f, h * w]), [0, 2, 3, 1, 4]).reshaped([n, c, 2 * f, h, w])
    }
}
