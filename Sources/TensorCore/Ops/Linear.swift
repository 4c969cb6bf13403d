extension NN {
    /// `torch.nn.functional.linear(x, weight, bias)`: `x @ weightᵀ + bias` over the last axis, with `x` of
    /// shape `[..., in]`, `weight` `[out, in]` (PyTorch's layout), `bias` `[out]` or nil; returns `[..., out]`.
    /// One `GEMM.sgemm` (transposed B) over all leading rows; the bias initialises the output (β = 1).
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
                    if let bias {
                        read(bias) { b in
                            parallel(m, cost: outF) { r in
                                for row in r { (dst.base + row * outF).update(from: b.base, count: outF) }
                            }
                        }
                    } else if inF == 0 {
                        dst.base.update(repeating: 0, count: m * outF)
                    }
                    if m == 0 || outF == 0 || inF == 0 { return }
                    GEMM.sgemm(transB: !transposed, m: m, n: outF, k: inF, a: src.base, lda: inF, b: wt.base,
                               ldb: transposed ? outF : inF, beta: bias == nil ? 0 : 1, c: dst.base, ldc: outF)
                }
            }
        }
    }
}
