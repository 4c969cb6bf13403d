import CHalfConversion

/// A 16-bit floating-point format a weight can be stored in.
public enum HalfFormat: Sendable, Hashable, CustomStringConvertible {
    /// IEEE 754 binary16 (`torch.float16`).
    case f16
    /// bfloat16 (`torch.bfloat16`): the upper half of a float32.
    case bf16

    public var description: String { self == .f16 ? "F16" : "BF16" }

    /// Widens `count` elements at `src` (any alignment) into float32 at `dst`. Exact for every bit pattern:
    /// f16 by F16C's `vcvtph2ps` (subnormals, ±0 and ±inf exact, NaNs quietened as torch's
    /// conversion does on x86), bf16 by a 16-bit shift (payloads kept). Both loops are 16 lanes wide.
    public func widen(_ src: UnsafeRawPointer, count: Int, into dst: UnsafeMutablePointer<Float>) {
        var i = 0
        switch self {
        case .f16:
            while i + 16 <= count {
                VMath.store(evo_widen_f16x16(src + 2 * i), dst + i)
                i += 16
            }
            while i < count { dst[i] = Float(src.loadUnaligned(fromByteOffset: 2 * i, as: Float16.self)); i += 1 }
        case .bf16:
            while i + 16 <= count {
                VMath.store(evo_widen_bf16x16(src + 2 * i), dst + i)
                i += 16
            }
            while i < count {
                dst[i] = Float(bitPattern: UInt32(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16)
                i += 1
            }
        }
    }

    /// Element `i` of the array at `src`, widened.
    @inline(__always)
    func value(_ src: UnsafeRawPointer, _ i: Int) -> Float {
        switch self {
        case .f16: Float(src.loadUnaligned(fromByteOffset: 2 * i, as: Float16.self))
        case .bf16: Float(bitPattern: UInt32(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16)
        }
    }
}

/// A weight in the precision its checkpoint stores it in: float32 (owned, a `Tensor`), or f16 / bf16 read in
/// place from memory that `owner` keeps alive (a safetensors file's read-only mapping). Kernels widen half
/// weights to float32 a panel or block at a time as they read them (`GEMM`, the convolution paths, embedding
/// `rows`), so a half-precision model never holds an f32 copy of its weights; activations stay float32.
///
/// Limits: the element memory must stay unchanged while any copy of the value exists (the mapping is read-only
/// and the file must not be rewritten); only the formats of `Format`.
public struct StoredTensor: Sendable, CustomStringConvertible {
    public enum Format: Sendable, Hashable, CustomStringConvertible {
        case f32, f16, bf16
        public var description: String {
            switch self {
            case .f32: "F32"
            case .f16: "F16"
            case .bf16: "BF16"
            }
        }
    }

    public let shape: [Int]
    private let storage: Storage

    private enum Storage: @unchecked Sendable {
        case f32(Tensor)
        // Read-only memory owned by `owner` (immutable for the value's life), so sharing it is safe.
        case half(HalfFormat, UnsafeRawPointer, owner: any AnyObject & Sendable)
    }

    /// A float32 weight (no copy: `Tensor` shares its storage).
    public init(_ tensor: Tensor) {
        shape = tensor.shape
        storage = .f32(tensor)
    }

    /// `shape.product` elements of `format` at `base` (any alignment), kept readable by `owner` (retained).
    public init(shape: [Int], format: HalfFormat, base: UnsafeRawPointer, owner: AnyObject & Sendable) {
        precondition(shape.allSatisfy { $0 >= 0 }, "StoredTensor: negative dimension in \(shape)")
        self.shape = shape
        storage = .half(format, base, owner: owner)
    }

    public var count: Int { shape.reduce(1, *) }
    public var rank: Int { shape.count }

    public var format: Format {
        switch storage {
        case .f32: .f32
        case .half(.f16, _, _): .f16
        case .half(.bf16, _, _): .bf16
        }
    }

    /// The float32 tensor when the weight is stored as float32, else nil.
    public var float32: Tensor? {
        if case .f32(let t) = storage { return t }
        return nil
    }

    public var description: String { "StoredTensor\(shape) \(format)" }

    /// The same elements under another shape of equal element count (no copy).
    public func reshaped(_ newShape: [Int]) -> StoredTensor {
        precondition(newShape.reduce(1, *) == count && newShape.allSatisfy { $0 >= 0 },
                     "StoredTensor.reshaped: \(newShape) does not hold the \(count) elements of \(shape)")
        switch storage {
        case .f32(let t): return StoredTensor(t.reshaped(newShape))
        case let .half(format, base, owner):
            return StoredTensor(shape: newShape, format: format, base: base, owner: owner)
        }
    }

    /// The whole weight as float32 (a copy for half formats): for small weights (biases, norm scales) and tests.
    public func widened() -> Tensor {
        switch storage {
        case .f32(let t): return t
        case let .half(format, base, owner):
            return withExtendedLifetime(owner) {
                let n = count
                let scalars = [Float](unsafeUninitializedCapacity: n) { buffer, initialized in
                    if n > 0 { format.widen(base, count: n, into: buffer.baseAddress!) }
                    initialized = n
                }
                return Tensor(shape: shape, scalars: scalars)
            }
        }
    }

    /// Entries `indices` of the leading axis, widened: `[indices.count] + shape.dropFirst()` (an embedding
    /// lookup; repeats allowed). Only the rows asked for are read.
    public func rows(_ indices: [Int]) -> Tensor {
        precondition(rank >= 1, "StoredTensor.rows: needs a leading axis, got \(shape)")
        let rowSize = shape.dropFirst().reduce(1, *)
        for i in indices {
            precondition(i >= 0 && i < shape[0], "StoredTensor.rows: index \(i) out of 0..<\(shape[0])")
        }
        return withElements { e in
            NN.makeTensor(shape: [indices.count] + shape.dropFirst()) { dst in
                for (r, i) in indices.enumerated() { e.widen(offset: i * rowSize, count: rowSize, into: dst.base + r * rowSize) }
            }
        }
    }

    /// Calls `body` with the elements (valid only during the call).
    func withElements<R>(_ body: (MatrixElements) -> R) -> R {
        switch storage {
        case .f32(let t):
            return NN.read(t) { p in body(MatrixElements(base: UnsafeRawPointer(p.base), half: nil)) }
        case let .half(format, base, owner):
            return withExtendedLifetime(owner) { body(MatrixElements(base: base, half: format)) }
        }
    }
}

/// The elements of a GEMM operand or convolution weight where they lie: float32, or a half format that the
/// reader widens. Offsets and strides count elements.
struct MatrixElements: @unchecked Sendable {
    let base: UnsafeRawPointer
    /// nil: float32 (aligned as a `[Float]`); else the 16-bit format.
    let half: HalfFormat?

    init(base: UnsafeRawPointer, half: HalfFormat?) { (self.base, self.half) = (base, half) }
    init(_ p: UnsafePointer<Float>) { (base, half) = (UnsafeRawPointer(p), nil) }
    init(_ p: UnsafeMutablePointer<Float>) { (base, half) = (UnsafeRawPointer(p), nil) }

    var isFloat32: Bool { half == nil }
    /// The float32 elements; only when `isFloat32`.
    var float32: UnsafePointer<Float> { base.assumingMemoryBound(to: Float.self) }

    func advanced(by elements: Int) -> MatrixElements {
        MatrixElements(base: base + elements * (half == nil ? 4 : 2), half: half)
    }

    /// Elements `offset ..< offset + count` as float32 at `dst`.
    @inline(__always)
    func widen(offset: Int, count: Int, into dst: UnsafeMutablePointer<Float>) {
        if let half {
            half.widen(base + 2 * offset, count: count, into: dst)
        } else {
            dst.update(from: float32 + offset, count: count)
        }
    }

    /// Element `i` as float32.
    @inline(__always)
    func value(_ i: Int) -> Float {
        if let half { return half.value(base, i) }
        return float32[i]
    }
}
