extension NN {
    // MARK: Transposes and permutations

    /// Swaps the last two axes: `[..., R, C] → [..., C, R]` (`x.transpose(-1, -2).contiguous()`), with a
    /// cache-blocked copy split over the cores.
    public static func transposeLastTwo(_ x: Tensor) -> Tensor {
        precondition(x.rank >= 2, "NN.transposeLastTwo: needs rank ≥ 2, got \(x.shape)")
        let r = x.shape[x.rank - 2], c = x.shape[x.rank - 1]
        var shape = x.shape
        shape.swapAt(x.rank - 2, x.rank - 1)
        let batch = r * c == 0 ? 0 : x.count / (r * c)
        return read(x) { src in
            makeTensor(shape: shape) { dst in batchedTranspose(src, dst, batch: batch, rows: r, cols: c) }
        }
    }

    /// NCHW activations to transformer tokens: `[N, C, H, W] → [N, H·W, C]`
    /// (`x.permute(0, 2, 3, 1).reshape(N, H·W, C)`, as diffusers' `Transformer2DModel` does before `proj_in`
    /// when `use_linear_projection`).
    public static func nchwToTokens(_ x: Tensor) -> Tensor {
        precondition(x.rank == 4, "NN.nchwToTokens: needs [N, C, H, W], got \(x.shape)")
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        return transposeLastTwo(x.reshaped([n, c, h * w]))
    }

    /// Transformer tokens back to NCHW: `[N, H·W, C] → [N, C, H, W]` (`x.reshape(N, H, W, C).permute(0, 3, 1, 2)`).
    public static func tokensToNCHW(_ x: Tensor, height: Int, width: Int) -> Tensor {
        precondition(x.rank == 3 && x.shape[1] == height * width,
                     "NN.tokensToNCHW: needs [N, \(height)·\(width), C], got \(x.shape)")
        let (n, c) = (x.shape[0], x.shape[2])
        return transposeLastTwo(x).reshaped([n, c, height, width])
    }

    /// `x.permute(axes).contiguous()`. Axes that stay adjacent are merged first; a permutation that is then a
    /// batched 2-D transpose (the NCHW ↔ NHWC and head-split cases) uses the blocked transpose, otherwise a
    /// strided copy whose innermost loop runs over the output's last axis.
    public static func permute(_ x: Tensor, _ axes: [Int]) -> Tensor {
        precondition(axes.count == x.rank && Set(axes) == Set(0..<x.rank), "NN.permute: \(axes) is not a permutation of 0..<\(x.rank)")
        let outShape = axes.map { x.shape[$0] }
        if x.count == 0 { return Tensor(zeros: outShape) }
        // Merge runs of output axes that are consecutive input axes; drop size-1 axes.
        var groups: [[Int]] = []
        for a in axes where x.shape[a] != 1 {
            if let last = groups.last?.last, last + 1 == a { groups[groups.count - 1].append(a) } else { groups.append([a]) }
        }
        // Merged input axes in input order, and the output order as indices into them.
        let inOrder = groups.sorted { $0[0] < $1[0] }
        let inSizes = inOrder.map { g in g.reduce(1) { $0 * x.shape[$1] } }
        let perm = groups.map { g in inOrder.firstIndex { $0 == g }! }
        if perm == Array(0..<perm.count) { return Tensor(shape: outShape, scalars: x.scalars) }
        let m = perm.count
        // Batched transpose: leading merged axes in place, last two swapped.
        if m >= 2 && perm[m - 2] == m - 1 && perm[m - 1] == m - 2 && Array(perm.prefix(m - 2)) == Array(0..<(m - 2)) {
            let r = inSizes[m - 2], c = inSizes[m - 1]
            return read(x) { src in
                makeTensor(shape: outShape) { dst in batchedTranspose(src, dst, batch: x.count / (r * c), rows: r, cols: c) }
            }
        }
        // General strided copy.
        var inStrides = [Int](repeating: 1, count: m)
        for i in stride(from: m - 2, through: 0, by: -1) { inStrides[i] = inStrides[i + 1] * inSizes[i + 1] }
        let sizes = perm.map { inSizes[$0] }, strides = perm.map { inStrides[$0] }
        let inner = sizes[m - 1], innerStride = strides[m - 1]
        let outer = x.count / inner
        return read(x) { src in
            makeTensor(shape: outShape) { dst in
                parallel(outer, cost: inner) { range in
                    for o in range {
                        var rem = o, offset = 0
                        for a in stride(from: m - 2, through: 0, by: -1) {
                            offset += (rem % sizes[a]) * strides[a]
                            rem /= sizes[a]
                        }
                        let s = src.base + offset, d = dst.base + o * inner
                        for i in 0..<inner { d[i] = s[i * innerStride] }
                    }
                }
            }
        }
    }

    /// `batch` matrices `[rows, cols]` → `[cols, rows]`, in 32×32 tiles, split over the cores.
    static func batchedTranspose(_ src: SendablePointer, _ dst: SendablePointer, batch: Int, rows: Int, cols: Int) {
        let tile = 32
        let rowTiles = (rows + tile - 1) / tile
        parallel(batch * rowTiles, cost: tile * cols) { range in
            for item in range {
                let bi = item / rowTiles, i0 = (item % rowTiles) * tile
                let i1 = Swift.min(rows, i0 + tile)
                let s = src.base + bi * rows * cols, d = dst.base + bi * rows * cols
                var j0 = 0
                while j0 < cols {
                    let j1 = Swift.min(cols, j0 + tile)
                    for j in j0..<j1 {
                        let dr = d + j * rows
                        for i in i0..<i1 { dr[i] = s[i * cols + j] }
                    }
                    j0 = j1
                }
            }
        }
    }

    // MARK: Resampling and concatenation

    /// `F.interpolate(x, scale_factor=2, mode="nearest")` on `[N, C, H, W]` → `[N, C, 2H, 2W]` (diffusers'
    /// `Upsample2D` before its convolution).
    public static func upsampleNearest2x(_ x: Tensor) -> Tensor {
        precondition(x.rank == 4, "NN.upsampleNearest2x: needs [N, C, H, W], got \(x.shape)")
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        return read(x) { src in
            makeTensor(shape: [n, c, 2 * h, 2 * w]) { dst in
                parallel(n * c * h, cost: 4 * w) { range in
                    for row in range {
                        let s = src.base + row * w
                        let d = dst.base + row * 4 * w
                        for j in 0..<w { let v = s[j]; d[2 * j] = v; d[2 * j + 1] = v }
                        (d + 2 * w).update(from: d, count: 2 * w)
                    }
                }
            }
        }
    }

    /// `torch.cat([a, b, …], dim=1)` for NCHW (or any `[N, C, …]`) tensors whose other axes agree.
    public static func concatChannels(_ tensors: [Tensor]) -> Tensor {
        precondition(!tensors.isEmpty, "NN.concatChannels: nothing to concatenate")
        let first = tensors[0]
        precondition(first.rank >= 2, "NN.concatChannels: needs [N, C, …], got \(first.shape)")
        let n = first.shape[0], tail = Array(first.shape.dropFirst(2))
        for t in tensors {
            precondition(t.rank == first.rank && t.shape[0] == n && Array(t.shape.dropFirst(2)) == tail,
                         "NN.concatChannels: shapes \(first.shape) and \(t.shape) do not concatenate on axis 1")
        }
        let blocks = tensors.map { n == 0 ? 0 : $0.count / n }   // floats per image of each input
        let outBlock = blocks.reduce(0, +)
        let c = tensors.reduce(0) { $0 + $1.shape[1] }
        return makeTensor(shape: [n, c] + tail) { dst in
            var offset = 0
            for (t, blk) in zip(tensors, blocks) {
                let off = offset
                read(t) { src in
                    parallel(n, cost: blk) { r in
                        for img in r { (dst.base + img * outBlock + off).update(from: src.base + img * blk, count: blk) }
                    }
                }
                offset += blk
            }
        }
    }

    /// `torch.cat([a, b], dim=1)`; see `concatChannels(_:)`.
    public static func concatChannels(_ a: Tensor, _ b: Tensor) -> Tensor { concatChannels([a, b]) }

    // MARK: Elementwise arithmetic

    /// `x + bias[:, :, None, None]`-style broadcasting over `[N, C, …]`: `bias` is `[C]` (one value per channel)
    /// or `[N, C]` / `[N, C, 1, 1]` (per image and channel, e.g. diffusers' `ResnetBlock2D` adding the projected
    /// time embedding).
    public static func addPerChannel(_ x: Tensor, _ bias: Tensor) -> Tensor {
        precondition(x.rank >= 2, "NN.addPerChannel: needs [N, C, …], got \(x.shape)")
        let n = x.shape[0], c = x.shape[1]
        let perImage: Bool
        if bias.count == c && (bias.rank == 1 || (n == 1 && bias.shape.first == 1) || bias.shape.first == c) {
            perImage = false
        } else if bias.count == n * c && bias.shape.first == n {
            perImage = true
        } else {
            preconditionFailure("NN.addPerChannel: bias \(bias.shape) is neither [C] nor [N, C] for \(x.shape)")
        }
        let plane = n * c == 0 ? 0 : x.count / (n * c)
        return read(x) { src in
            read(bias) { b in
                makeTensor(shape: x.shape) { dst in
                    parallel(n * c, cost: plane) { r in
                        for i in r {
                            let f = VAddConstant(c: VFloat(repeating: b[perImage ? i : i % c]))
                            VMath.map(src.base + i * plane, dst.base + i * plane, plane, f)
                        }
                    }
                }
            }
        }
    }

    /// Elementwise `a + b` for tensors of one shape (residual connections), vectorised and split over the cores.
    public static func add(_ a: Tensor, _ b: Tensor) -> Tensor {
        precondition(a.shape == b.shape, "NN.add: shapes \(a.shape) and \(b.shape) differ")
        return read(a) { pa in
            read(b) { pb in
                makeTensor(shape: a.shape) { dst in
                    parallel(a.count, cost: 1) { r in
                        VMath.map2(pa.base + r.lowerBound, pb.base + r.lowerBound, dst.base + r.lowerBound, r.count, VAdd())
                    }
                }
            }
        }
    }
}
