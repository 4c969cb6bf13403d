import TensorCore

// Conversion of stored tensor bytes to float32. Source bytes come straight from the file mapping and may be
// unaligned (safetensors does not pad tensors), so every load is an unaligned load; f16 and bf16 use
// TensorCore's `HalfFormat.widen` (the kernels' widening), the rest are element-wise maps.

/// A raw pointer that may cross into `Parallel.forRanges` workers (each writes a disjoint range).
private struct SendablePointers: @unchecked Sendable {
    let src: UnsafeRawPointer
    let dst: UnsafeMutablePointer<Float>
}

/// Converts `count` elements of `dtype` at `src` into float32 at `dst`, splitting large tensors over the cores.
/// `dtype` must be convertible (`DType.isConvertible`).
func convertToFloat32(_ src: UnsafeRawPointer, _ dtype: DType, count: Int, into dst: UnsafeMutablePointer<Float>) {
    let size = dtype.byteSize!
    let p = SendablePointers(src: src, dst: dst)
    // Converting is memory-bound; a second core helps once tensors are past the cache sizes.
    if count < 1 << 18 {
        convertRange(p.src, dtype, count: count, into: p.dst)
        return
    }
    Parallel.forRanges(count, costPerItem: 1) { r in
        convertRange(p.src + r.lowerBound * size, dtype, count: r.count, into: p.dst + r.lowerBound)
    }
}

private func convertRange(_ src: UnsafeRawPointer, _ dtype: DType, count n: Int, into dst: UnsafeMutablePointer<Float>) {
    switch dtype {
    case .f32: UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: n * 4)
    case .f16: convertF16(src, n, dst)
    case .bf16: convertBF16(src, n, dst)
    case .f64: for i in 0..<n { dst[i] = Float(src.loadUnaligned(fromByteOffset: i * 8, as: Double.self)) }
    case .i64: for i in 0..<n { dst[i] = Float(src.loadUnaligned(fromByteOffset: i * 8, as: Int64.self)) }
    case .u64: for i in 0..<n { dst[i] = Float(src.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)) }
    case .i32: for i in 0..<n { dst[i] = Float(src.loadUnaligned(fromByteOffset: i * 4, as: Int32.self)) }
    case .u32: for i in 0..<n { dst[i] = Float(src.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)) }
    case .i16: for i in 0..<n { dst[i] = Float(src.loadUnaligned(fromByteOffset: i * 2, as: Int16.self)) }
    case .u16: for i in 0..<n { dst[i] = Float(src.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) }
    case .i8: for i in 0..<n { dst[i] = Float(src.load(fromByteOffset: i, as: Int8.self)) }
    case .u8: for i in 0..<n { dst[i] = Float(src.load(fromByteOffset: i, as: UInt8.self)) }
    case .bool: for i in 0..<n { dst[i] = src.load(fromByteOffset: i, as: UInt8.self) != 0 ? 1 : 0 }
    case .f8e4m3, .f8e5m2, .f8e8m0, .f8e4m3fnuz, .f8e5m2fnuz, .f4, .f6e2m3, .f6e3m2, .c64: preconditionFailure("ModelIO: \(dtype) is not convertible")
    }
}

private func convertF16(_ src: UnsafeRawPointer, _ n: Int, _ dst: UnsafeMutablePointer<Float>) {
    HalfFormat.f16.widen(src, count: n, into: dst)
}

private func convertBF16(_ src: UnsafeRawPointer, _ n: Int, _ dst: UnsafeMutablePointer<Float>) {
    HalfFormat.bf16.widen(src, count: n, into: dst)
}
