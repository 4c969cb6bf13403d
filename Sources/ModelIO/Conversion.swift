import TensorCore

// Conversion of stored tensor bytes to float32. Source bytes come straight from the file mapping and may be
// unaligned (safetensors does not pad tensors), so every load is an unaligned load; the loops are plain
// element-wise maps that LLVM vectorises (AVX2 with the package's haswell target).

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
    case .f8e4m3, .f8e5m2, .f8e8m0, .unknown: preconditionFailure("ModelIO: \(dtype) is not convertible")
    }
}

/// IEEE binary16 → binary32, exact for every bit pattern (subnormals, ±0, ±inf; NaN payloads are kept and
/// quietened, as x86's `vcvtph2ps`, which torch uses, does). Branch-free so that the loop vectorises.
@inline(__always)
func halfToFloat(_ h: UInt16) -> Float {
    let bits = UInt32(h)
    let sign = (bits & 0x8000) << 16
    let em = bits & 0x7FFF // exponent and mantissa
    // Normal numbers: rebias the exponent from 15 to 127.
    let normal = (em << 13) &+ 0x3800_0000
    // Subnormals (and zero): em · 2^-24 exactly, via an exact int → float conversion.
    let subnormal = (Float(Int32(bitPattern: em)) * 0x1p-24).bitPattern
    // Inf / NaN: maximal exponent; a NaN also gets the quiet bit.
    let special = (em << 13) | 0x7F80_0000 | (em > 0x7C00 ? 0x0040_0000 : 0)
    let magnitude = em >= 0x7C00 ? special : (em < 0x0400 ? subnormal : normal)
    return Float(bitPattern: magnitude | sign)
}

private func convertF16(_ src: UnsafeRawPointer, _ n: Int, _ dst: UnsafeMutablePointer<Float>) {
    for i in 0..<n { dst[i] = halfToFloat(src.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) }
}

/// bfloat16 → float32 is the upper half of the float32 bit pattern (exact, payloads kept as torch does).
private func convertBF16(_ src: UnsafeRawPointer, _ n: Int, _ dst: UnsafeMutablePointer<Float>) {
    for i in 0..<n {
        dst[i] = Float(bitPattern: UInt32(src.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) << 16)
    }
}
