extension NN {
    /// `torch.nn.functional.linear(x, weight, bias)`: `x @ weightᵀ + bias` over the last axis, with `x` of
    /// shape `[..., in]`, `weight` `[out, in]` (PyTorch's layout), `bias` `[out]` or nil; returns `[..., out]`.
    /// One `GEMM.sgemm` (transposed B) over all leading rows, the bias added as its tiles are stored.
    /// Layers applied many times should keep their weight transposed once (`linear(_:transposedWeight:bias:)`):
    /// small products then skip repacking the weight on every call.
    public static func linear(_ x: Tensor, weight: Tensor, bias: Tensor? = nil) -> Tensor {
        precondition(x.rank >= 1 && weight.rank == 2, "NN.linear: needs x [..., in] and weight [out, in], got \(x.shape), \(weight.shape)")
        return linear(x, weight, transposed: false, bias: bias, residual: nil)
    }

    /// `linear` with the weight stored transposed, `[in, out]` (`weight.T.contiguous()`): the same result; the
    /// product reads the weight in place (`Linear` layers store theirs this way).
    /// With `residual` (the output's shape) the result is `linear(x) + residual`, added as the product is
    /// stored (a transformer block's skip connection without a separate pass).
    public static func linear(_ x: Tensor, transposedWeight: Tensor, bias: Tensor? = nil, residual: Tensor? = nil) -> Tensor {
        precondition(x.rank >= 1 && transposedWeight.rank == 2,
                     "NN.linear: needs x [..., in] and a transposed weight [in, out], got \(x.shape), \(transposedWeight.shape)")
        return linear(x, transposedWeight, transposed: true, bias: bias, residual: residual)
    }

    /// `linear` with the weight `[out, in]` as its checkpoint stores it (`StoredTensor`: float32, or f16 / bf16
    /// widened a 16-column panel or a block at a time as the product reads it), plus `residual` when given.
    public static func linear(_ x: Tensor, weight: StoredTensor, bias: Tensor? = nil, residual: Tensor? = nil) -> Tensor {
        precondition(x.rank >= 1 && weight.rank == 2, "NN.linear: needs x [..., in] and weight [out, in], got \(x.shape), \(weight.shape)")
        if let t = weight.float32 { return linear(x, t, transposed: false, bias: bias, residual: residual) }
        return weight.withElements { e in
            linear(x, e, shape: weight.shape, transposed: false, bias: bias, residual: residual)
        }
    }

    private static func linear(_ x: Tensor, _ w: Tensor, transposed: Bool, bias: Tensor?, residual: Tensor?) -> Tensor {
        read(w) { wt in linear(x, MatrixElements(wt.base), shape: w.shape, transposed: transposed, bias: bias, residual: residual) }
    }

    private static func linear(_ x: Tensor, _ wt: MatrixElements, shape wshape: [Int], transposed: Bool, bias: Tensor?,
                               residual: Tensor?) -> Tensor {
        let inF = transposed ? wshape[0] : wshape[1], outF = transposed ? wshape[1] : wshape[0]
        precondition(x.shape[x.rank - 1] == inF, "NN.linear: x \(x.shape) has last axis ≠ \(inF) (weight \(wshape))")
        if let b = bias { precondition(b.count == outF, "NN.linear: bias has \(b.count) values for \(outF) outputs") }
        let shape = Array(x.shape.dropLast()) + [outF]
        if let r = residual { precondition(r.shape == shape, "NN.linear: residual \(r.shape) is not the output's shape \(shape)") }
        let m = x.shape.dropLast().reduce(1, *)
        let none = Tensor(zeros: [0])
        return read(x) { src in
            read(bias ?? none) { b in
                read(residual ?? none) { r in
                    makeTensor(shape: shape) { dst in
                        if m == 0 || outF == 0 { return }
                        if inF == 0 && bias == nil && residual == nil { dst.base.update(repeating: 0, count: m * outF); return }
                        GEMM.gemm(transB: !transposed, m: m, n: outF, k: inF, a: MatrixElements(src.base), lda: inF, b: wt,
                                  ldb: transposed ? outF : inF, beta: 0, c: dst.base, ldc: outF,
                                  bias: bias == nil ? nil : UnsafePointer(b.base),
                                  addend: residual == nil ? nil : UnsafePointer(r.base))
                    }
                }
            }
        }
    }
}
