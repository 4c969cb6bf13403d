import Foundation
import TensorCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

#if _endian(big)
#error("ModelIO reads little-endian safetensors data directly and supports little-endian hosts only")
#endif

/// Element type of a stored tensor, spelled as in the safetensors header (`"F16"`, `"BF16"`, ...): the dtypes the
/// `safetensors` library defines (its `Dtype` enum), no others.
///
/// `F32`, `F16`, `BF16`, `F64` and the integer / bool types convert to float32 (integers above 2^24 round to
/// nearest, as `torch.Tensor.float()` does). The float8, sub-byte (`F4`, `F6_*`) and complex types are recognised
/// (so sizes are validated) but not converted.
public enum DType: Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case bool, u8, i8, i16, u16, i32, u32, i64, u64
    case f16, bf16, f32, f64
    case f8e4m3, f8e5m2, f8e8m0, f8e4m3fnuz, f8e5m2fnuz
    case f4, f6e2m3, f6e3m2
    case c64

    /// The dtype spelled `header`, or nil for a spelling the safetensors format does not define.
    public init?(header: String) {
        guard let d = Self.allCases.first(where: { $0.description == header }) else { return nil }
        self = d
    }

    /// The header spelling.
    public var description: String {
        switch self {
        case .bool: "BOOL"
        case .u8: "U8"
        case .i8: "I8"
        case .i16: "I16"
        case .u16: "U16"
        case .i32: "I32"
        case .u32: "U32"
        case .i64: "I64"
        case .u64: "U64"
        case .f16: "F16"
        case .bf16: "BF16"
        case .f32: "F32"
        case .f64: "F64"
        case .f8e4m3: "F8_E4M3"
        case .f8e5m2: "F8_E5M2"
        case .f8e8m0: "F8_E8M0"
        case .f8e4m3fnuz: "F8_E4M3FNUZ"
        case .f8e5m2fnuz: "F8_E5M2FNUZ"
        case .f4: "F4"
        case .f6e2m3: "F6_E2M3"
        case .f6e3m2: "F6_E3M2"
        case .c64: "C64"
        }
    }

    /// Bits per element (4 and 6 for the packed microscaling types).
    public var bitSize: Int {
        switch self {
        case .f4: 4
        case .f6e2m3, .f6e3m2: 6
        case .bool, .u8, .i8, .f8e4m3, .f8e5m2, .f8e8m0, .f8e4m3fnuz, .f8e5m2fnuz: 8
        case .i16, .u16, .f16, .bf16: 16
        case .i32, .u32, .f32: 32
        case .i64, .u64, .f64, .c64: 64
        }
    }

    /// Bytes per element, or nil for the sub-byte types.
    public var byteSize: Int? { bitSize % 8 == 0 ? bitSize / 8 : nil }

    /// Whether `SafetensorsFile.tensor(named:)` can convert this dtype to float32.
    public var isConvertible: Bool {
        switch self {
        case .f8e4m3, .f8e5m2, .f8e8m0, .f8e4m3fnuz, .f8e5m2fnuz, .f4, .f6e2m3, .f6e3m2, .c64: false
        default: true
        }
    }
}

/// Where a tensor lives in a safetensors file and what it holds, read from the header alone.
public struct TensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: DType
    public let shape: [Int]
    /// Byte range inside the data section (which starts right after the header), as in `data_offsets`.
    public let dataOffsets: Range<Int>
    /// Number of elements, the product of `shape` (1 for a 0-d scalar).
    public var elementCount: Int { shape.reduce(1, *) }
}

/// One `.safetensors` file, memory-mapped read-only.
///
/// Matches the format of the `safetensors` library: an 8-byte little-endian header length N, N bytes of JSON
/// (`{"name": {"dtype", "shape", "data_offsets": [begin, end]}, …, "__metadata__": {str: str}}`, possibly padded
/// with spaces), then the data section. Opening maps the file and parses and validates the header (every
/// tensor's bytes lie inside the file and number product(shape)·dtype size); tensor data is only touched when
/// `tensor(named:)` converts it, so opening a multi-gigabyte checkpoint is cheap and the weights are never held
/// twice (the page cache backs the mapping).
///
/// Validation mirrors the `safetensors` library's `SafeTensors::read_metadata` (what `safe_open` and
/// `load_file` accept, no more, no less): the header is at most 100 MB and lies inside the file; it is a JSON
/// object whose `__metadata__` (optional, may be `null`) maps strings to strings; every other member is an
/// object with a known `dtype`, a `shape` of non-negative integers and two non-negative integer `data_offsets`
/// (other members are ignored, as serde ignores them); taken in offset order the tensors tile the data section
/// exactly — the first starts at 0, each starts where the previous ends (no gaps, no overlaps), the last ends
/// at the end of the file; each spans product(shape)·bits/8 bytes, a whole number, computed without overflow.
/// Any violation is `ModelIOError.corruptFile` naming the file and the tensor.
///
/// Limits: little-endian hosts; dimensions up to `Int.max` (the reference allows up to `UInt64.max` in a
/// zero-element tensor); float8, sub-byte and complex dtypes are listed but not converted.
/// The file must not be truncated or rewritten while open (the mapping would then fault).
public final class SafetensorsFile: @unchecked Sendable {
    // Immutable after init; the mapping is read-only, so sharing across threads is safe.
    public let url: URL
    /// How errors name this file: its last two path components.
    public let displayName: String
    /// Tensor names in data order (ascending `data_offsets`), excluding `__metadata__`.
    public let names: [String]
    /// The header's `__metadata__` (e.g. `["format": "pt"]`).
    public let metadata: [String: String]
    /// File size in bytes.
    public let byteCount: Int
    private let infos: [String: TensorInfo]
    private let base: UnsafeRawPointer?
    private let dataStart: Int

    /// Maps and validates `url`. Throws `ModelIOError.cannotOpen` or `.corruptFile`.
    public init(url: URL) throws {
        self.url = url
        let name = displayPath(url)
        self.displayName = name
        func corrupt(_ reason: String) -> ModelIOError { .corruptFile(path: name, reason: reason) }

        let fd = open(url.path, O_RDONLY)
        guard fd >= 0 else {
            throw ModelIOError.cannotOpen(path: name, reason: "cannot open file (\(String(cString: strerror(errno))))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw ModelIOError.cannotOpen(path: name, reason: "cannot stat file (\(String(cString: strerror(errno))))")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw ModelIOError.cannotOpen(path: name, reason: "not a regular file")
        }
        let size = Int(st.st_size)
        byteCount = size
        guard size >= 8 else { throw corrupt("file is \(size) bytes, too short for the 8-byte header length") }
        guard let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), mapped != MAP_FAILED else {
            throw ModelIOError.cannotOpen(path: name, reason: "cannot map file (\(String(cString: strerror(errno))))")
        }
        let p = UnsafeRawPointer(mapped)
        // From here on, a throw must unmap: `deinit` does not run for a partially initialised class.
        do {
            let headerLength = p.loadUnaligned(as: UInt64.self).littleEndian
            guard headerLength <= UInt64(size - 8) else {
                throw corrupt("header length \(headerLength) exceeds the \(size - 8) bytes after it")
            }
            guard headerLength <= 100_000_000 else { throw corrupt("header length \(headerLength) exceeds 100 MB") }
            let n = Int(headerLength)
            let dataSize = size - 8 - n
            let header: JSONValue
            do {
                header = try JSONValue.parse(UnsafeRawBufferPointer(start: p + 8, count: n))
            } catch {
                throw corrupt("header is not valid JSON: \(error)")
            }
            guard case .object(let obj) = header else { throw corrupt("header is \(header.kindName), not an object") }

            var infos: [String: TensorInfo] = [:]
            var metadata: [String: String] = [:]
            for key in obj.keys {
                let entry = obj[key]!
                if key == "__metadata__" {
                    if case .object(let m) = entry {
                        for (k, v) in m.members {
                            guard case .string(let text) = v else {
                                throw corrupt("__metadata__ value \(quoted(k)) is \(v.kindName), not a string")
                            }
                            metadata[k] = text
                        }
                    } else if !entry.isNull {
                        throw corrupt("__metadata__ is \(entry.kindName), not an object")
                    }
                    continue
                }
                infos[key] = try Self.parseEntry(key, entry, corrupt: corrupt)
            }
            let ordered = infos.values.sorted {
                ($0.dataOffsets.lowerBound, $0.dataOffsets.upperBound, $0.name)
                    < ($1.dataOffsets.lowerBound, $1.dataOffsets.upperBound, $1.name)
            }
            try Self.checkTiling(ordered, dataSize: dataSize, corrupt: corrupt)
            self.infos = infos
            self.metadata = metadata
            self.names = ordered.map(\.name)
            self.base = p
            self.dataStart = 8 + n
        } catch {
            munmap(mapped, size)
            throw error
        }
    }

    private static func parseEntry(_ key: String, _ entry: JSONValue,
                                   corrupt: (String) -> ModelIOError) throws -> TensorInfo {
        let name = quoted(key)
        guard case .object(let e) = entry else { throw corrupt("entry \(name) is \(entry.kindName), not an object") }
        guard case .string(let dt)? = e["dtype"] else { throw corrupt("entry \(name) has no string \"dtype\"") }
        guard let dtype = DType(header: dt) else {
            throw corrupt("entry \(name) has dtype \(quoted(dt)), which safetensors does not define (it defines "
                + DType.allCases.map(\.description).joined(separator: ", ") + ")")
        }
        guard case .array(let shapeValues)? = e["shape"] else { throw corrupt("entry \(name) has no \"shape\" list") }
        var shape: [Int] = []
        var count = 1
        var overflow = false
        for v in shapeValues {
            guard case .int(let d) = v, d >= 0 else {
                throw corrupt("entry \(name) has an invalid dimension \(v) in its shape")
            }
            shape.append(d)
            (count, overflow) = count.multipliedReportingOverflow(by: d)
            if overflow { throw corrupt("entry \(name) has an impossibly large shape \(shapeValues.map(\.description))") }
        }
        guard case .array(let offs)? = e["data_offsets"], offs.count == 2,
              case .int(let begin) = offs[0], case .int(let end) = offs[1], begin >= 0, end >= 0 else {
            throw corrupt("entry \(name) has no [begin, end] \"data_offsets\" of two non-negative integers")
        }
        guard begin <= end else {
            throw corrupt("entry \(name) has invalid data_offsets [\(begin), \(end)] (begin after end)")
        }
        let (bits, o) = count.multipliedReportingOverflow(by: dtype.bitSize)
        if o { throw corrupt("entry \(name) has an impossibly large shape \(shape) for dtype \(dt)") }
        guard bits % 8 == 0 else {
            throw corrupt("entry \(name) of shape \(shape) and dtype \(dt) takes \(bits) bits, not a whole number of bytes")
        }
        guard bits / 8 == end - begin else {
            throw corrupt("entry \(name) of shape \(shape) and dtype \(dt) should take \(bits / 8) bytes, its data_offsets [\(begin), \(end)] span \(end - begin)")
        }
        return TensorInfo(name: key, dtype: dtype, shape: shape, dataOffsets: begin..<end)
    }

    /// Checks that `ordered` (sorted by offsets) covers `0..<dataSize` exactly, one tensor after another.
    private static func checkTiling(_ ordered: [TensorInfo], dataSize: Int,
                                    corrupt: (String) -> ModelIOError) throws {
        var position = 0
        var previous: TensorInfo?
        for info in ordered {
            let r = info.dataOffsets
            guard r.lowerBound == position else {
                let span = "data_offsets [\(r.lowerBound), \(r.upperBound)]"
                guard let p = previous else {
                    throw corrupt("entry \(quoted(info.name)) has \(span), but the first tensor must start at 0")
                }
                let relation = r.lowerBound < position ? "overlaps" : "leaves a gap after"
                throw corrupt("entry \(quoted(info.name)) has \(span), which \(relation) \(quoted(p.name)) ending at \(position) (tensors must follow each other without gaps or overlaps)")
            }
            guard r.upperBound <= dataSize else {
                throw corrupt("entry \(quoted(info.name)) has data_offsets [\(r.lowerBound), \(r.upperBound)] past the end of the \(dataSize)-byte data section (truncated?)")
            }
            position = r.upperBound
            previous = info
        }
        guard position == dataSize else {
            throw corrupt("the tensors cover \(position) of the \(dataSize) bytes of the data section; the rest is not part of any tensor")
        }
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), byteCount) }
    }

    public func contains(_ name: String) -> Bool { infos[name] != nil }

    /// Dtype, shape and location of `name`, without touching its data. Throws `.missingWeight`.
    public func info(named name: String) throws -> TensorInfo {
        guard let i = infos[name] else {
            throw ModelIOError.missingWeight(path: displayName, key: name,
                                             suggestions: nearNames(name, in: names))
        }
        return i
    }

    /// The tensor `name` converted to float32. Throws `.missingWeight` or `.unsupportedDType`.
    public func tensor(named name: String) throws -> Tensor {
        let info = try self.info(named: name)
        guard info.dtype.isConvertible else {
            throw ModelIOError.unsupportedDType(path: displayName, key: name, dtype: info.dtype.description)
        }
        return withRawBytes(info) { raw in
            let n = info.elementCount
            let scalars = [Float](unsafeUninitializedCapacity: n) { buffer, initialized in
                if n > 0 { convertToFloat32(raw.baseAddress!, info.dtype, count: n, into: buffer.baseAddress!) }
                initialized = n
            }
            return Tensor(shape: info.shape, scalars: scalars)
        }
    }

    /// The tensor `name` as a layer weight in its stored precision: F16 and BF16 stay in this file's mapping (the
    /// value keeps the file open; no data is read here), F32 is copied into an owned float32 tensor, F64 is
    /// rounded to float32. Throws `.missingWeight`, or `.unsupportedWeightDType` for other dtypes (integers, bool,
    /// float8: quantised weights are not supported).
    public func storedTensor(named name: String) throws -> StoredTensor {
        let info = try self.info(named: name)
        switch info.dtype {
        case .f16, .bf16:
            let start = base! + dataStart + info.dataOffsets.lowerBound
            return StoredTensor(shape: info.shape, format: info.dtype == .f16 ? .f16 : .bf16, base: start, owner: self)
        case .f32, .f64:
            return StoredTensor(try tensor(named: name))
        default:
            throw ModelIOError.unsupportedWeightDType(path: displayName, key: name, dtype: info.dtype.description)
        }
    }

    /// Calls `body` with the stored (unconverted, possibly unaligned) bytes of `name`.
    public func withRawBytes<R>(named name: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        try withRawBytes(try info(named: name), body)
    }

    private func withRawBytes<R>(_ info: TensorInfo, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let start = base! + dataStart + info.dataOffsets.lowerBound
        let count = info.dataOffsets.count
        if count >= 1 << 20 { adviseWillNeed(start, count) }
        return try body(UnsafeRawBufferPointer(start: start, count: count))
    }

    /// Asks the kernel to read the range ahead (a large tensor is otherwise faulted in page by page).
    private func adviseWillNeed(_ start: UnsafeRawPointer, _ count: Int) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let addr = Int(bitPattern: start)
        let aligned = addr & ~(page - 1)
        _ = madvise(UnsafeMutableRawPointer(bitPattern: aligned), count + (addr - aligned), Int32(MADV_WILLNEED))
    }
}
