import Foundation

/// Neural-network operators for the Stable Diffusion UNet, VAE and CLIP text encoder, on `Tensor`, matching
/// PyTorch's fp32 CPU numerics (checked against fixtures from `tools/fixtures/make_op_fixtures.py`).
///
/// Layouts follow PyTorch: activations are NCHW for convolutions and normalisations, `[B, L, C]` for
/// transformer tokens; weights keep PyTorch's layout (conv `[out, in/groups, kh, kw]`, linear `[out, in]`), so
/// checkpoint tensors can be used unchanged. Every operator allocates its result. Large operators split their
/// work over the cores (`WorkerPool`; GEMMs through `GEMM.sgemm`, OpenBLAS single-threaded).
public enum NN {
    /// Performance knobs. They change only how work is tiled, not what is computed (up to float summation
    /// order). They are task-local: override them for a scope with e.g.
    /// `NN.Tuning.$attentionKeyBlock.withValue(64) { … }`; the operators read them on the calling task.
    public enum Tuning {
        /// Floats of im2col scratch per convolution tile (default 4 Mi floats = 16 MB): large enough for
        /// efficient GEMMs, small enough to bound memory for big images (the VAE decoder at 512×512).
        @TaskLocal public static var im2colTileFloats = 4 << 20
        /// Which `conv2d` implementation runs: `.automatic` picks per shape (see `conv2d`); `.gemm` forces
        /// im2col / plain GEMM, `.direct` the direct channels-last kernel (for groups = 1), `.implicitGEMM` the
        /// padded-input GEMM (where `ImplicitGEMMConvolution.applicable`; elsewhere im2col / GEMM), `.winograd`
        /// Winograd F(2×2, 3×3) (where a `WinogradKernel` is given and applies; elsewhere the automatic choice) —
        /// for tests and comparisons.
        @TaskLocal public static var convolution = ConvolutionAlgorithm.automatic
        /// Query rows per attention work item (rounded up to a multiple of 6, the micro-kernel's tile height).
        @TaskLocal public static var attentionRowBlock = 48
        /// Keys per online-softmax step in attention (rounded down to a multiple of 16, at least 16): the
        /// `rows × keyBlock` scores and the key/value panels of a step stay in L1/L2.
        @TaskLocal public static var attentionKeyBlock = 512
        /// Which attention kernel runs: `.automatic` picks `NarrowHeadAttention` for heads of ≤ 8 features and
        /// `FusedAttention` otherwise; `.tiled` / `.narrowHeads` force one (the narrow kernel only where the
        /// heads fit it) — for tests and comparisons.
        @TaskLocal public static var attention = AttentionAlgorithm.automatic
    }
}

extension NN {
    /// See `NN.Tuning.convolution`.
    public enum ConvolutionAlgorithm: Sendable {
        case automatic, gemm, direct, implicitGEMM, winograd
    }

    /// See `NN.Tuning.attention`.
    public enum AttentionAlgorithm: Sendable {
        case automatic, tiled, narrowHeads
    }
}

// MARK: - Internal helpers shared by the operator files

/// A raw float pointer that may be captured by closures run on several threads (`NN.parallel`). Callers
/// guarantee that concurrent users touch disjoint elements (or only read).
struct SendablePointer: @unchecked Sendable {
    let base: UnsafeMutablePointer<Float>
    init(_ base: UnsafeMutablePointer<Float>) { self.base = base }
    init(_ base: UnsafePointer<Float>) { self.base = UnsafeMutablePointer(mutating: base) }
    subscript(i: Int) -> Float {
        get { base[i] }
        nonmutating set { base[i] = newValue }
    }
    static func + (p: SendablePointer, offset: Int) -> SendablePointer { SendablePointer(p.base + offset) }
}

extension NN {
    /// A tensor of `shape` whose scalars are all written by `body` (the memory starts uninitialised).
    static func makeTensor(shape: [Int], _ body: (SendablePointer) -> Void) -> Tensor {
        let n = shape.reduce(1, *)
        let scalars = [Float](unsafeUninitializedCapacity: n) { buffer, initialized in
            if n > 0 { body(SendablePointer(buffer.baseAddress!)) }
            initialized = n
        }
        return Tensor(shape: shape, scalars: scalars)
    }

    /// Calls `body` with a pointer to the tensor's scalars (read-only use).
    @inline(__always)
    static func read<R>(_ t: Tensor, _ body: (SendablePointer) -> R) -> R {
        t.scalars.withUnsafeBufferPointer { b in
            // An empty array may have no base address; no operator reads through it then.
            body(SendablePointer(b.baseAddress ?? UnsafePointer(bitPattern: 16)!))
        }
    }

    /// `read` for an optional operand (a bias, an addend): `body(nil)` when there is none.
    @inline(__always)
    static func read<R>(_ t: Tensor?, _ body: (SendablePointer?) -> R) -> R {
        if let t { return read(t) { (p: SendablePointer) in body(p) } }
        return body(nil)
    }
}
