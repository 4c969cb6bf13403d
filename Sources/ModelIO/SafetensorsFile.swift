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

/// Element type of a stored tensor, spelled as in the safetensors header (`"F16"`, `"BF16"`, ...).
///
/// `F32`, `F16`, `BF16`, `F64` and the integer / bool types convert to float32 (integers above 2^24 round to
/// nearest, as `torch.Tensor.float()` does). The float8 types are recognised (so sizes are validated) but not
/// converted; any other dtype string is kept as `.unknown` and rejected when loaded.
public enum DType: Sendable, Hashable, CustomStringConvertible {
    case bool, u8, i8, i16, u16, i32, u32, i64, u64
    case f16, bf16, f32, f64
    case f8e4m3, f8e5m2, f8e8m0
    case unknown(String)

    public init(header: String) {
        switch header {
        case "BOOL": self = .bool
        case "U8": self = .u8
        case "I8": self = .i8
        case "I16": self = .i16
        case "U16": self = .u16
        case "I32": self = .i32
        case "U32": self = .u32
        case "I64": self = .i64
        case "U64": self = .u64
        case "F16": self = .f16
        case "BF16": self = .bf16
        case "F32": self = .f32
        case "F64": self = .f64
        case "F8_E4M3": self = .f8e4m3
        case "F8_E5M2": self = .f8e5m2
        case "F8_E8M0": self = .f8e8m0
        default: self = .unknown(header)
        }
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
        case .unknown(let s): s
        }
    }

    /// Bytes per element, or nil for dtypes ModelIO does not know.
    public var byteSize: Int? {
        switch self {
        case .bool, .u8, .i8, .f8e4m3, .f8e5m2, .f8e8m0: 1
        case .i16, .u16, .f16, .bf16: 2
        case .i32, .u32, .f32: 4
        case .i64, .u64, .f64: 8
        case .unknown: nil
        }
    }

    /// Whether `SafetensorsFile.tensor(named:)` can convert this dtype to float32.
    public var isConvertible: Bool {
        switch self {
        case .f8e4m3, .f8e5m2, .f8e8m0, .unknown: false
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
/// twice (the page cache backs the mapping). Overlapping or non-contiguous tensor ranges are accepted.
///
/// Limits: little-endian hosts; header at most 100 MB; float8 and unknown dtypes are listed but not converted.
/// The file must not be truncated or rewritten while open (the mapping would then fault).
public final class SafetensorsFile: @unchecked Sendable {
    // Immutable after init; the mapping is read-only, so sharing across threads is safe.
    public let url: URL
    /// How errors name this file: its last two path components.
    public let displayName: String
    /// Tensor names in data order (ascending `data_offsets`), excluding `__metadata__`.
    public let names: [String]
    /// The header's `__metadata__` (e.g. `["format": "pt"]`); non-string values are rendered as JSON text.
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
                        for k in m.keys { metadata[k] = m[k]!.stringValue ?? m[k]!.description }
                    } else if !entry.isNull {
                        throw corrupt("__metadata__ is \(entry.kindName), not an object")
                    }
                    continue
                }
                infos[key] = try Self.parseEntry(key, entry, dataSize: dataSize, corrupt: corrupt)
            }
            self.infos = infos
            self.metadata = metadata
            self.names = infos.values.sorted {
                ($0.dataOffsets.lowerBound, $0.dataOffsets.upperBound, $0.name)
                    < ($1.dataOffsets.lowerBound, $1.dataOffsets.upperBound, $1.name)
            }.map(\.name)
            self.base = p
            self.dataStart = 8 + n
        } catch {
            munmap(mapped, size)
            throw error
        }
    }

    private static func parseEntry(_ key: String, _ entry: JSONValue, dataSize: Int,
                                   corrupt: (String) -> ModelIOError) throws -> TensorInfo {
        guard case .object(let e) = entry else { throw corrupt("entry \(quoted(key)) is \(entry.kindName), not an object") }
        guard case .string(let dt)? = e["dtype"] else { throw corrupt("entry \(quoted(key)) has no string \"dtype\"") }
        guard case .array(let shapeValues)? = e["shape"] else { throw corrupt("entry \(quoted(key)) has no \"shape\" list") }
        var shape: [Int] = []
        var count = 1
        var overflow = false
        for v in shapeValues {
            guard case .int(let d) = v, d >= 0 else {
                throw corrupt("entry \(quoted(key)) has an invalid dimension \(v) in its shape")
            }
            shape.append(d)
            (count, overflow) = count.multipliedReportingOverflow(by: d)
            if overflow { throw corrupt("entry \(quoted(key)) has an impossibly large shape \(shape)") }
        }
        guard case .array(let offs)? = e["data_offsets"], offs.count == 2,
              case .int(let begin) = offs[0], case .int(let end) = offs[1] else {
            throw corrupt("entry \(quoted(key)) has no [begin, end] \"data_offsets\"")
        }
        guard begin >= 0, begin <= end else {
            throw corrupt("entry \(quoted(key)) has invalid data_offsets [\(begin), \(end)]")
        }
        guard end <= dataSize else {
            throw corrupt("entry \(quoted(key)) has data_offsets [\(begin), \(end)] past the end of the \(dataSize)-byte data section")
        }
        let dtype = DType(header: dt)
        if let size = dtype.byteSize {
            let (bytes, o) = count.multipliedReportingOverflow(by: size)
            guard !o, bytes == end - begin else {
                throw corrupt("entry \(quoted(key)) of shape \(shape) and dtype \(dt) should take \(o ? "too many" : String(bytes)) bytes, its data_offsets [\(begin), \(end)] span \(end - begin)")
            }
        }
        return TensorInfo(name: key, dtype: dtype, shape: shape, dataOffsets: begin..<end)
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
