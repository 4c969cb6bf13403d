extension NN {
    /// `torch.nn.functional.linear(x, weight, bias)`: `x @ weightᵀ + bias` over the last axis, with `x` of
    /// shape `[..., in]`, `weight` `[out, in]` (PyTorch's layout), `bias` `[out]` or nil; returns `[..., out]`.
    /// One `GEMM.sgemm` (transposed B) over all leading rows, the bias added as its tiles are stored.
    /// Layers applied many times should keep their weight transposed once (`linear(_:transposedWeight:bias:)`):
    /// small products then skip repacking the weight on every call.
    public static func linear(_ x: Tensor, weight: Tensor, bias: Tensor? = nil) -> Tensor {
        precondition(x.rank >= 1 && weight.rank == 2, "NN.linear: needs x [..., in] and weight [out, in], got \(x.shape), \(weight.shape)")
        return linear(x, weight, transposed: false, bias: bias)
    }

    /// `linear` with the weight stored transposed, `[in, out]` (`weight.T.contiguous()`): the same result; the
    /// product reads the weight in place (`Linear` layers store theirs this way).
    public static func linear(_ x: Tensor, transposedWeight: Tensor, bias: Tensor? = nil) -> Tensor {
        precondition(x.rank >= 1 && transposedWeight.rank == 2,
                     "NN.linear: needs x [..., in] and a transposed weight [in, out], got \(x.shape), \(transposedWeight.shape)")
        return linear(x, transposedWeight, transposed: true, bias: bias)
    }

    private static func linear(_ x: Tensor, _ w: Tensor, transposed: Bool, bias: Tensor?) -> Tensor {
        let inF = transposed ? w.shape[0] : w.shape[1], outF = transposed ? w.shape[1] : w.shape[0]
        precondition(x.shape[x.rank - 1] == inF, "NN.linear: x \(x.shape) has last axis ≠ \(inF) (weight \(w.shape))")
        if let b = bias { precondition(b.count == outF, "NN.linear: bias has \(b.count) values for \(outF) outputs") }
        let m = x.shape.dropLast().reduce(1, *)
        return read(x) { src in
            read(w) { wt in
                makeTensor(shape: Array(x.shape.dropLast()) + [outF]) { dst in
                    if m == 0 || outF == 0 { return }
                    if inF == 0 && bias == nil { dst.base.update(repeating: 0, count: m * outF); return }
                    let product = { (b: UnsafePointer<Float>?) in
                        GEMM.sgemm(transB: !transposed, m: m, n: outF, k: inF, a: src.base, lda: inF, b: wt.base,
                                   ldb: transposed ? outF : inF, beta: 0, c: dst.base, ldc: outF, bias: b)
                    }
                    if let bias { read(bias) { b in product(b.base) } } else { product(nil) }
                }
            }
        }
    }
}
