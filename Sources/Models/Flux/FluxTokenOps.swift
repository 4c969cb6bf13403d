import TensorCore

/// Row-wise helpers of the Flux blocks on token tensors `[B, L, D]`, split over the cores by rows.
enum FluxTokenOps {
    /// A raw output pointer handed to `Parallel.forRanges` workers, each writing disjoint rows.
    private struct Output: @unchecked Sendable { let base: UnsafeMutablePointer<Float> }
    /// A raw input pointer read by `Parallel.forRanges` workers.
    private struct Input: @unchecked Sendable { let base: UnsafePointer<Float> }

    /// `[B, L, D]` → `x · (1 + scale) + shift`, with `scale` and `shift` taken per batch row from chunks of
    /// `emb` `[B, k·D]` (`emb.chunk(k, dim=1)[scaleChunk]` / `[shiftChunk]`): the modulation of diffusers'
    /// AdaLayerNormZero / …Single / …Continuous after their layer norm.
    static func modulate(_ x: Tensor, emb: Tensor, scaleChunk: Int, shiftChunk: Int) -> Tensor {
        let (b, l, d) = dims(x)
        let width = emb.shape[1]
        precondition(emb.rank == 2 && emb.shape[0] == b && width % d == 0 && scaleChunk * d < width && shiftChunk * d < width,
                     "FluxTokenOps.modulate: emb \(emb.shape) does not hold chunks \(scaleChunk), \(shiftChunk) of \(d) for \(x.shape)")
        return rowwise(x, emb) { src, e, dst, row in
            let m = e + (row / Swift.max(l, 1)) * width
            let scale = m + scaleChunk * d, shift = m + shiftChunk * d
            for k in 0..<d { dst[k] = src[k] * (1 + scale[k]) + shift[k] }
        }
    }

    /// `residual + gate · y` with `gate` chunk `gateChunk` of `emb` `[B, k·D]` per batch row (diffusers'
    /// `x + gate.unsqueeze(1) * branch`).
    static func gatedAdd(_ residual: Tensor, gate emb: Tensor, chunk: Int, _ y: Tensor) -> Tensor {
        let (b, l, d) = dims(residual)
        let width = emb.shape[1]
        precondition(y.shape == residual.shape, "FluxTokenOps.gatedAdd: branch \(y.shape) is not the residual's \(residual.shape)")
        precondition(emb.rank == 2 && emb.shape[0] == b && (chunk + 1) * d <= width,
                     "FluxTokenOps.gatedAdd: emb \(emb.shape) does not hold chunk \(chunk) of \(d)")
        return y.scalars.withUnsafeBufferPointer { yb in
            let yp = Input(base: yb.baseAddress ?? UnsafePointer(bitPattern: 16)!)
            return rowwise(residual, emb) { src, e, dst, row in
                let g = e + (row / Swift.max(l, 1)) * width + chunk * d
                let branch = yp.base + row * d
                for k in 0..<d { dst[k] = src[k] + g[k] * branch[k] }
            }
        }
    }

    /// `torch.cat([a, b], dim=1)` for `[B, La, D]` and `[B, Lb, D]`.
    static func concatSequence(_ a: Tensor, _ b: Tensor) -> Tensor { NN.concatChannels(a, b) }

    /// `x[:, :length]` and `x[:, length:]` of `[B, L, D]`.
    static func splitSequence(_ x: Tensor, at length: Int) -> (Tensor, Tensor) {
        let (b, l, d) = dims(x)
        precondition(length >= 0 && length <= l, "FluxTokenOps.splitSequence: \(length) outside 0…\(l)")
        var first = [Float](), second = [Float]()
        first.reserveCapacity(b * length * d)
        second.reserveCapacity(b * (l - length) * d)
        for n in 0..<b {
            let start = n * l * d
            first.append(contentsOf: x.scalars[start ..< start + length * d])
            second.append(contentsOf: x.scalars[start + length * d ..< start + l * d])
        }
        return (Tensor(shape: [b, length, d], scalars: first), Tensor(shape: [b, l - length, d], scalars: second))
    }

    private static func dims(_ x: Tensor) -> (Int, Int, Int) {
        precondition(x.rank == 3, "FluxTokenOps: tokens must be [B, L, D], got \(x.shape)")
        return (x.shape[0], x.shape[1], x.shape[2])
    }

    /// Calls `body(row of x, emb, row of the output, row index)` for every row of the last axis of `x`, in parallel.
    private static func rowwise(_ x: Tensor, _ emb: Tensor,
                                _ body: @escaping @Sendable (UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void) -> Tensor {
        let d = x.shape[x.rank - 1]
        let rows = d == 0 ? 0 : x.count / d
        var out = [Float](repeating: 0, count: x.count)
        x.scalars.withUnsafeBufferPointer { xb in
            emb.scalars.withUnsafeBufferPointer { eb in
                out.withUnsafeMutableBufferPointer { ob in
                    guard let xp = xb.baseAddress, let ep = eb.baseAddress, let op = ob.baseAddress else { return }
                    let src = Input(base: xp), e = Input(base: ep), dst = Output(base: op)
                    Parallel.forRanges(rows, costPerItem: 3 * d) { range in
                        for row in range { body(src.base + row * d, e.base, dst.base + row * d, row) }
                    }
                }
            }
        }
        return Tensor(shape: x.shape, scalars: out)
    }
}
