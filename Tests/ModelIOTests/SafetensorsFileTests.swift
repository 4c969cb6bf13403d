import Foundation
import Testing
import TensorCore
@testable import ModelIO

@Suite struct SafetensorsFileTests {
    /// Every tensor of both files converts to exactly torch's `.float()` bits (NaN only as "is NaN").
    @Test(arguments: ["dtypes.safetensors", "unaligned.safetensors"])
    func valuesMatchTorch(fileName: String) throws {
        let expected = try Fixture.expected
        let file = try SafetensorsFile(url: Fixture.url(fileName))
        let names = file.names.filter { expected.tensors[$0] != nil }
        #expect(names.count >= 6)
        for name in names {
            let record = expected.tensors[name]!
            let info = try file.info(named: name)
            #expect(info.dtype.description == record.dtype, "\(name)")
            #expect(info.shape == record.shape, "\(name)")
            let t = try file.tensor(named: name)
            #expect(t.shape == record.shape, "\(name)")
            #expect(t.scalars.count == record.bits.count, "\(name)")
            for (i, (v, hex)) in zip(t.scalars, record.bits).enumerated() {
                let want = UInt32(hex, radix: 16)!
                let wantValue = Float(bitPattern: want)
                if wantValue.isNaN {
                    #expect(v.isNaN, "\(name)[\(i)] should be NaN, got \(v)")
                } else {
                    #expect(v.bitPattern == want, "\(name)[\(i)]: got \(String(v.bitPattern, radix: 16)) (\(v)), torch \(hex) (\(wantValue))")
                }
            }
        }
    }

    /// Layer weights: f16 / bf16 stay in the mapping (no float32 copy) and widen to torch's `.float()` values;
    /// f32 / f64 come as float32; integer, bool and float8 dtypes are an error naming the tensor and dtype.
    @Test(arguments: ["dtypes.safetensors", "unaligned.safetensors"])
    func storedTensorsKeepHalfPrecisionMapped(fileName: String) throws {
        var stored: [String: StoredTensor] = [:]
        var converted: [String: Tensor] = [:]
        do {
            let file = try SafetensorsFile(url: Fixture.url(fileName))
            for name in file.names {
                let dtype = try file.info(named: name).dtype
                switch dtype {
                case .f16, .bf16, .f32, .f64:
                    let t = try file.storedTensor(named: name)
                    let expectedFormat: StoredTensor.Format = dtype == .f16 ? .f16 : dtype == .bf16 ? .bf16 : .f32
                    #expect(t.format == expectedFormat, "\(name)")
                    #expect((t.float32 == nil) == (dtype == .f16 || dtype == .bf16), "\(name)")
                    #expect(t.shape == (try file.info(named: name).shape), "\(name)")
                    stored[name] = t
                    converted[name] = try file.tensor(named: name)
                default:
                    let e = modelIOError({ _ = try file.storedTensor(named: name) })
                    #expect(e == .unsupportedWeightDType(path: "Fixtures/\(fileName)", key: name, dtype: dtype.description))
                    #expect(e?.description.contains("weight \"\(name)\" has dtype \(dtype)") == true)
                }
            }
        }
        // The file object is gone from this scope; the stored tensors keep its mapping alive.
        #expect(stored.values.contains { $0.format == .f16 } && stored.values.contains { $0.format == .bf16 })
        for (name, t) in stored {
            let w = t.widened(), c = converted[name]!
            let same = zip(w.scalars, c.scalars).allSatisfy { $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN) }
            #expect(same && w.count == c.count, "\(name)")
        }
    }

    @Test func coversEveryDtypeAndShapeKind() throws {
        let file = try SafetensorsFile(url: Fixture.url("dtypes.safetensors"))
        let dtypes = Set(try file.names.map { try file.info(named: $0).dtype.description })
        #expect(dtypes == ["F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "BOOL", "F8_E4M3"])
        #expect(try file.tensor(named: "f32.scalar").shape == [])
        #expect(try file.tensor(named: "f16.scalar").count == 1)
        #expect(try file.tensor(named: "f16.empty").shape == [2, 0, 3])
        #expect(try file.tensor(named: "f32.empty").count == 0)
        // Data order: offsets ascend along `names`.
        let offsets = try file.names.map { try file.info(named: $0).dataOffsets.lowerBound }
        #expect(offsets == offsets.sorted())
    }

    @Test func metadataIsExposedAndNotATensor() throws {
        let file = try SafetensorsFile(url: Fixture.url("dtypes.safetensors"))
        #expect(file.metadata == (try Fixture.expected).metadata)
        #expect(!file.names.contains("__metadata__"))
        #expect(!file.contains("__metadata__"))
        let plain = try SafetensorsFile(url: Fixture.url("unaligned.safetensors"))
        #expect(plain.metadata.isEmpty)
        // Several keys and a header padded with spaces.
        let tmp = try TempDir()
        defer { tmp.cleanUp() }
        let url = try tmp.write("m.safetensors", safetensorsBytes(
            header: "{\"__metadata__\": {\"format\": \"pt\", \"note\": \"caf\\u00e9\"}, \"w\": {\"dtype\": \"U8\", \"shape\": [2], \"data_offsets\": [0, 2]}}     ",
            data: [7, 9]))
        let m = try SafetensorsFile(url: url)
        #expect(m.metadata == ["format": "pt", "note": "café"])
        #expect(m.names == ["w"])
        #expect(try m.tensor(named: "w").scalars == [7, 9])
        // `null` is no metadata; a non-string value is refused, as the safetensors library refuses it.
        let none = try tmp.write("n.safetensors", safetensorsBytes(header: "{\"__metadata__\": null}", data: []))
        #expect(try SafetensorsFile(url: none).metadata.isEmpty)
        let bad = try corruptReason(safetensorsBytes(header: "{\"__metadata__\": {\"step\": 12}}", data: []))
        #expect(bad == "__metadata__ value \"step\" is an integer, not a string")
    }

    @Test func float8IsListedButRefused() throws {
        let file = try SafetensorsFile(url: Fixture.url("dtypes.safetensors"))
        let info = try file.info(named: "f8.unsupported")
        #expect(info.dtype == .f8e4m3 && info.shape == [3])
        let e = modelIOError { _ = try file.tensor(named: "f8.unsupported") }
        #expect(e == .unsupportedDType(path: "Fixtures/dtypes.safetensors", key: "f8.unsupported", dtype: "F8_E4M3"))
        #expect(e?.description == "Fixtures/dtypes.safetensors: weight \"f8.unsupported\" has dtype F8_E4M3, which cannot be converted to float32")
    }

    @Test func missingTensorNamesFileAndKey() throws {
        let file = try SafetensorsFile(url: Fixture.url("dtypes.safetensors"))
        let e = modelIOError { _ = try file.tensor(named: "f16.od") }
        #expect(e?.description == "Fixtures/dtypes.safetensors: missing weight \"f16.od\" (did you mean \"f16.odd\"?)")
    }

    /// All 65536 half and bfloat16 bit patterns, at an odd file offset, against torch's conversion.
    @Test(arguments: ["F16", "BF16"])
    func everyBitPatternMatchesTorch(dtype: String) throws {
        let tmp = try TempDir()
        defer { tmp.cleanUp() }
        var data = [UInt8]()
        for b in 0...0xFFFF { data.append(UInt8(b & 0xFF)); data.append(UInt8(b >> 8)) }
        var header = "{\"all\":{\"dtype\":\"\(dtype)\",\"shape\":[65536],\"data_offsets\":[0,131072]}}"
        if header.utf8.count % 2 == 0 { header += " " }
        #expect(header.utf8.count % 2 == 1)
        let url = try tmp.write("all.safetensors", safetensorsBytes(header: header, data: data))
        let t = try SafetensorsFile(url: url).tensor(named: "all")
        var h = FNV1a64()
        h.add(canonical: t.scalars)
        let expected = try Fixture.expected
        #expect(h.hex == (dtype == "F16" ? expected.all_f16_fnv1a64 : expected.all_bf16_fnv1a64))
    }

    /// Large tensors take the multi-threaded path; the result must match the element-wise conversion.
    @Test func largeTensorConversionIsConsistent() throws {
        let tmp = try TempDir()
        defer { tmp.cleanUp() }
        let n = 600_001
        var data = [UInt8](repeating: 0, count: 2 * n)
        var state: UInt32 = 12345
        for i in 0..<n {
            state = state &* 1_664_525 &+ 1_013_904_223
            data[2 * i] = UInt8(truncatingIfNeeded: state >> 8)
            data[2 * i + 1] = UInt8(truncatingIfNeeded: state >> 16)
        }
        let header = "{\"h\":{\"dtype\":\"F16\",\"shape\":[\(n)],\"data_offsets\":[0,\(2 * n)]}}"
        let t = try SafetensorsFile(url: tmp.write("big.safetensors", safetensorsBytes(header: header, data: data))).tensor(named: "h")
        var mismatches = 0
        for i in 0..<n {
            let ref = Float(Float16(bitPattern: UInt16(data[2 * i]) | UInt16(data[2 * i + 1]) << 8))
            if ref.bitPattern != t.scalars[i].bitPattern { mismatches += 1 }
        }
        #expect(mismatches == 0)
    }

    // MARK: Corrupt files give typed errors

    private func corruptReason(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) throws -> String? {
        let tmp = try TempDir()
        defer { tmp.cleanUp() }
        let url = try tmp.write("bad.safetensors", bytes)
        let e = modelIOError({ _ = try SafetensorsFile(url: url) }, sourceLocation: sourceLocation)
        guard case .corruptFile(let path, let reason)? = e else {
            Issue.record("expected .corruptFile, got \(String(describing: e))", sourceLocation: sourceLocation)
            return nil
        }
        #expect(path.hasSuffix("/bad.safetensors"), sourceLocation: sourceLocation)
        #expect(e!.description.contains(": not a valid safetensors file: "), sourceLocation: sourceLocation)
        return reason
    }

    @Test func tooShortFiles() throws {
        #expect(try corruptReason([])?.contains("too short") == true)
        #expect(try corruptReason([1, 0, 0])?.contains("too short") == true)
    }

    @Test func headerLengthPastTheEnd() throws {
        let bytes = safetensorsBytes(header: "{}", data: [], declaredLength: 1000)
        #expect(try corruptReason(bytes)?.contains("header length 1000 exceeds the 2 bytes") == true)
        let huge = safetensorsBytes(header: "{}", data: [], declaredLength: UInt64.max)
        #expect(try corruptReason(huge)?.contains("exceeds") == true)
    }

    @Test func truncatedFile() throws {
        let full = try [UInt8](Data(contentsOf: Fixture.url("dtypes.safetensors")))
        let reason = try corruptReason(Array(full.prefix(full.count - 7)))
        #expect(reason?.contains("past the end of the") == true)
        // Cut inside the header.
        let headerCut = try corruptReason(Array(full.prefix(40)))
        #expect(headerCut?.contains("exceeds") == true)
    }

    @Test func badJSON() throws {
        #expect(try corruptReason(safetensorsBytes(header: "{\"a\": [", data: []))?.contains("not valid JSON") == true)
        #expect(try corruptReason(safetensorsBytes(header: "{\"a\": 1,}", data: []))?.contains("not valid JSON") == true)
        #expect(try corruptReason(safetensorsBytes(header: "[1, 2]", data: []))?.contains("not an object") == true)
        #expect(try corruptReason(safetensorsBytes(header: "\u{0}\u{0}", data: []))?.contains("not valid JSON") == true)
    }

    @Test func badEntries() throws {
        func entry(_ e: String, data: Int = 16) -> [UInt8] {
            safetensorsBytes(header: "{\"w\": \(e)}", data: [UInt8](repeating: 0, count: data))
        }
        #expect(try corruptReason(entry("{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}"))?
            .contains("should take 16 bytes, its data_offsets [0, 12] span 12") == true)
        #expect(try corruptReason(entry("{\"dtype\":\"F32\",\"shape\":[2,4],\"data_offsets\":[0,32]}"))?
            .contains("past the end of the 16-byte data section") == true)
        #expect(try corruptReason(entry("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}"))?
            .contains("invalid data_offsets [8, 4]") == true)
        #expect(try corruptReason(entry("{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}"))?
            .contains("invalid dimension -1") == true)
        #expect(try corruptReason(entry("{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,4]}"))?
            .contains("invalid dimension") == true)
        #expect(try corruptReason(entry("{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,4]}"))?
            .contains("impossibly large") == true)
        #expect(try corruptReason(entry("{\"shape\":[1],\"data_offsets\":[0,4]}"))?.contains("no string \"dtype\"") == true)
        #expect(try corruptReason(entry("{\"dtype\":\"F32\",\"shape\":[1]}"))?.contains("data_offsets") == true)
        #expect(try corruptReason(entry("7"))?.contains("is an integer, not an object") == true)
        #expect(try corruptReason(safetensorsBytes(header: "{\"__metadata__\": 3}", data: []))?.contains("__metadata__") == true)
    }

    @Test func unknownDtypeIsRefusedOnOpen() throws {
        let reason = try corruptReason(safetensorsBytes(
            header: "{\"q\":{\"dtype\":\"Q4_K\",\"shape\":[3],\"data_offsets\":[0,5]}}", data: [1, 2, 3, 4, 5]))
        #expect(reason?.hasPrefix("entry \"q\" has dtype \"Q4_K\", which safetensors does not define (it defines BOOL, ") == true)
        #expect(DType(header: "Q4_K") == nil)
        #expect(DType.allCases.allSatisfy { DType(header: $0.description) == $0 })
    }

    /// The layout rules of the safetensors library: tensors tile the data section in offset order.
    @Test func tensorsMustTileTheDataSection() throws {
        func file(_ entries: [(String, String, [Int], Int, Int)], data: Int) -> [UInt8] {
            let body = entries.map { "\"\($0.0)\": {\"dtype\": \"\($0.1)\", \"shape\": \($0.2), \"data_offsets\": [\($0.3), \($0.4)]}" }
            return safetensorsBytes(header: "{" + body.joined(separator: ", ") + "}", data: [UInt8](repeating: 1, count: data))
        }
        #expect(try corruptReason(file([("a", "U8", [2], 0, 2), ("b", "U8", [2], 3, 5)], data: 5))
            == "entry \"b\" has data_offsets [3, 5], which leaves a gap after \"a\" ending at 2 (tensors must follow each other without gaps or overlaps)")
        #expect(try corruptReason(file([("a", "U8", [2], 0, 2), ("b", "U8", [2], 1, 3)], data: 3))
            == "entry \"b\" has data_offsets [1, 3], which overlaps \"a\" ending at 2 (tensors must follow each other without gaps or overlaps)")
        #expect(try corruptReason(file([("a", "U8", [2], 1, 3)], data: 3))
            == "entry \"a\" has data_offsets [1, 3], but the first tensor must start at 0")
        #expect(try corruptReason(file([("a", "U8", [2], 0, 2)], data: 3))
            == "the tensors cover 2 of the 3 bytes of the data section; the rest is not part of any tensor")
        #expect(try corruptReason(file([], data: 2))
            == "the tensors cover 0 of the 2 bytes of the data section; the rest is not part of any tensor")
        #expect(try corruptReason(file([("a", "F4", [3], 0, 2)], data: 2))
            == "entry \"a\" of shape [3] and dtype F4 takes 12 bits, not a whole number of bytes")
        // Header order does not matter, zero-size tensors may share an offset, packed F4 counts half bytes.
        let tmp = try TempDir()
        defer { tmp.cleanUp() }
        let ok = try SafetensorsFile(url: tmp.write("ok.safetensors", file(
            [("z", "F4", [4], 3, 5), ("e1", "U8", [0], 0, 0), ("e2", "F32", [2, 0], 0, 0), ("a", "I8", [3], 0, 3)], data: 5)))
        #expect(ok.names == ["e1", "e2", "a", "z"])
        #expect(try ok.info(named: "z").dtype == .f4)
    }

    @Test func missingFileAndDirectory() throws {
        let tmp = try TempDir()
        defer { tmp.cleanUp() }
        guard case .cannotOpen(_, let reason)? = modelIOError({ _ = try SafetensorsFile(url: tmp.file("nope.safetensors")) }) else {
            Issue.record("expected cannotOpen"); return
        }
        #expect(reason.contains("cannot open file"))
        guard case .cannotOpen(_, let r2)? = modelIOError({ _ = try SafetensorsFile(url: tmp.url) }) else {
            Issue.record("expected cannotOpen"); return
        }
        #expect(r2 == "not a regular file")
    }

    @Test func rawBytesAreTheStoredOnes() throws {
        let file = try SafetensorsFile(url: Fixture.url("unaligned.safetensors"))
        let bytes = try file.withRawBytes(named: "ua.u8") { Array($0) }
        #expect(bytes == [1, 2, 3])
    }
}
