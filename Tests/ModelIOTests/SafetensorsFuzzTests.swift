import Foundation
import FuzzSupport
import Testing
import TensorCore
@testable import ModelIO

/// SafetensorsFile against the reference library's verdicts, under seeded mutations, and on random files.
@Suite struct SafetensorsFuzzTests {
    struct Verdicts: Decodable {
        struct Case: Decodable {
            let kind: String
            let file: String
            let accepted: Bool
            /// name → [dtype, shape, begin, end]
            let tensors: [String: [JSONAny]]?
        }
        let cases: [Case]
    }

    /// A JSON value of the verdict file (a string, an integer or a list of integers).
    enum JSONAny: Decodable {
        case string(String), int(Int), ints([Int])
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let s = try? c.decode(String.self) { self = .string(s) } else if let i = try? c.decode(Int.self) { self = .int(i) } else { self = .ints(try c.decode([Int].self)) }
        }
    }

    /// Opens `bytes` as a file: the file, or the ModelIOError it throws (any other error is recorded).
    static func open(_ bytes: [UInt8], at url: URL) throws -> Result<SafetensorsFile, ModelIOError> {
        try Data(bytes).write(to: url)
        do { return .success(try SafetensorsFile(url: url)) } catch let e as ModelIOError { return .failure(e) }
    }

    /// 800 files mutated and judged by `safetensors.safe_open` (tools/fixtures/make_safetensors_verdict_fixtures.py):
    /// every verdict must match, an accepted file must list the same tensors, and a refused one must be
    /// `.corruptFile`.
    @Test func verdictsMatchTheSafetensorsLibrary() throws {
        let verdicts = try JSONDecoder().decode(Verdicts.self, from: Data(contentsOf: Fixture.url("safetensors_verdicts.json")))
        #expect(verdicts.cases.count == 800)
        let tmp = try TempDir()
        defer { tmp.cleanUp() }
        let url = tmp.file("case.safetensors")
        var disagreements = 0
        for (i, c) in verdicts.cases.enumerated() {
            let bytes = try #require(Data(base64Encoded: c.file)).map { $0 }
            switch try Self.open(bytes, at: url) {
            case .success(let file):
                if !c.accepted {
                    disagreements += 1
                    Issue.record("case \(i) (\(c.kind)): safetensors refuses it, SafetensorsFile accepts \(file.names)")
                    continue
                }
                let want = c.tensors ?? [:]
                #expect(Set(file.names) == Set(want.keys), "case \(i) (\(c.kind))")
                for (name, fields) in want {
                    guard case .string(let dtype) = fields[0], case .ints(let shape) = fields[1],
                          case .int(let begin) = fields[2], case .int(let end) = fields[3] else {
                        Issue.record("case \(i): malformed fixture record"); continue
                    }
                    let info = try file.info(named: name)
                    #expect(info.dtype.description == dtype && info.shape == shape && info.dataOffsets == begin..<end,
                            "case \(i) (\(c.kind)) \(name): \(info)")
                }
            case .failure(let error):
                if c.accepted {
                    disagreements += 1
                    Issue.record("case \(i) (\(c.kind)): safetensors accepts it, SafetensorsFile refuses: \(error)")
                }
                guard case .corruptFile = error else {
                    Issue.record("case \(i) (\(c.kind)): expected .corruptFile, got \(error)"); continue
                }
            }
        }
        #expect(disagreements == 0)
        #expect(verdicts.cases.filter(\.accepted).count > 100)  // both verdicts are well represented
    }

    /// Header bytes `8..<8+n` and the data section of a valid file.
    static func split(_ bytes: [UInt8]) -> (header: [UInt8], data: [UInt8]) {
        let n = Int(bytes[0..<8].withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }.littleEndian)
        return (Array(bytes[8..<(8 + n)]), Array(bytes[(8 + n)...]))
    }

    static let corpusFiles = ["dtypes.safetensors", "unaligned.safetensors", "pipeline/text_encoder/model.safetensors",
                              "pipeline/vae/diffusion_pytorch_model.fp16.safetensors"]

    static let headerTokens: [[UInt8]] = ["\"dtype\"", "\"shape\"", "\"data_offsets\"", "\"__metadata__\"", "\"F16\"",
                                          "\"BF16\"", "\"F4\"", "\"C64\"", "\"Q4\"", "[0, 0]", "[1, 2, 3]"]
        .map { Array($0.utf8) } + ByteMutator.jsonTokens

    /// 1000 whole-file mutations and 2000 header-text mutations (length field kept consistent) of the fixture
    /// files: each opens to a file whose tensors tile its data section and convert, or gives `.corruptFile`.
    @Test func mutatedFilesOpenOrGiveCorruptFileErrors() throws {
        let corpus = try Self.corpusFiles.map { try [UInt8](Data(contentsOf: Fixture.url($0))) }
        let tmp = try TempDir()
        defer { tmp.cleanUp() }
        let url = tmp.file("case.safetensors")
        var whole = ByteMutator(seed: 1, corpus: corpus)
        let parts = corpus.map(Self.split)
        var headers = ByteMutator(seed: 2, corpus: parts.map(\.header), dictionary: Self.headerTokens)
        var opened = 0, refused = 0
        let cases = whole.cases(1000).map { ($0, $0.bytes) } + headers.cases(2000).map { c in
            let n = UInt64(c.bytes.count).littleEndian
            return (c, withUnsafeBytes(of: n) { Array($0) } + c.bytes + parts[c.source].data)
        }
        for (c, bytes) in cases {
            switch try Self.open(bytes, at: url) {
            case .success(let file):
                opened += 1
                try Self.checkConsistent(file, bytes: bytes, c)
            case .failure(let error):
                refused += 1
                guard case .corruptFile(let path, _) = error, path.hasSuffix("case.safetensors") else {
                    Issue.record("\(c.description): expected .corruptFile, got \(error)"); continue
                }
            }
        }
        // The mutator reaches both outcomes (a run where everything is refused would test nothing).
        #expect(opened > 100 && refused > 2000, "opened \(opened), refused \(refused)")
    }

    /// What an opened file promises: data-ordered names, tensors tiling the data section, sizes that match
    /// shape and dtype, and conversions that produce that many values.
    static func checkConsistent(_ file: SafetensorsFile, bytes: [UInt8], _ c: FuzzCase) throws {
        let n = Int(bytes[0..<8].withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }.littleEndian)
        var position = 0
        for name in file.names {
            let info = try file.info(named: name)
            #expect(info.dataOffsets.lowerBound == position, "\(c.description): \(name)")
            #expect(info.dataOffsets.count * 8 == info.elementCount * info.dtype.bitSize, "\(c.description): \(name)")
            position = info.dataOffsets.upperBound
            if info.dtype.isConvertible {
                #expect(try file.tensor(named: name).count == info.elementCount, "\(c.description): \(name)")
            }
            if info.dtype == .f16 || info.dtype == .bf16 {
                #expect(try file.storedTensor(named: name).widened().count == info.elementCount, "\(c.description): \(name)")
            }
        }
        #expect(position == bytes.count - 8 - n, "\(c.description)")
    }

    // MARK: Write → read

    /// A tensor as the test writes it: header fields and raw bytes, plus the float32 values it must read as.
    struct Written {
        let name: String
        let dtype: DType
        let shape: [Int]
        let bytes: [UInt8]
        let values: [Float]
    }

    static func randomTensor(_ name: String, using rng: inout SplitMix64) -> Written {
        let dtypes: [DType] = [.f32, .f16, .bf16, .f64, .i64, .u64, .i32, .u32, .i16, .u16, .i8, .u8, .bool]
        let dtype = dtypes.randomElement(using: &rng)!
        let shape = (0..<Int.random(in: 0...3, using: &rng)).map { _ in Int.random(in: 0...5, using: &rng) }
        let count = shape.reduce(1, *)
        var bytes: [UInt8] = []
        var values: [Float] = []
        func append<T>(_ v: T) { withUnsafeBytes(of: v) { bytes += $0 } }
        for _ in 0..<count {
            let r = rng.next()
            switch dtype {
            case .f32: let v = Float(bitPattern: UInt32(truncatingIfNeeded: r)); append(v); values.append(v)
            case .f16: let v = Float16(bitPattern: UInt16(truncatingIfNeeded: r)); append(v); values.append(Float(v))
            case .bf16:
                let b = UInt16(truncatingIfNeeded: r)
                append(b); values.append(Float(bitPattern: UInt32(b) << 16))
            case .f64: let v = Double(bitPattern: r); append(v); values.append(Float(v))
            case .i64: let v = Int64(bitPattern: r); append(v); values.append(Float(v))
            case .u64: append(r); values.append(Float(r))
            case .i32: let v = Int32(truncatingIfNeeded: r); append(v); values.append(Float(v))
            case .u32: let v = UInt32(truncatingIfNeeded: r); append(v); values.append(Float(v))
            case .i16: let v = Int16(truncatingIfNeeded: r); append(v); values.append(Float(v))
            case .u16: let v = UInt16(truncatingIfNeeded: r); append(v); values.append(Float(v))
            case .i8: let v = Int8(truncatingIfNeeded: r); append(v); values.append(Float(v))
            case .u8: let v = UInt8(truncatingIfNeeded: r); append(v); values.append(Float(v))
            default: let v: UInt8 = r & 1 == 0 ? 0 : 1; append(v); values.append(Float(v))
            }
        }
        return Written(name: name, dtype: dtype, shape: shape, bytes: bytes, values: values)
    }

    /// 300 random files (1–6 tensors of every convertible dtype, 0-d and empty shapes, header members and data
    /// in independent random orders, random padding, sometimes metadata) read back bit-exactly (NaN as NaN), with
    /// `names` in data order.
    @Test func randomFilesRoundTrip() throws {
        var rng = SplitMix64(seed: 7)
        let tmp = try TempDir()
        defer { tmp.cleanUp() }
        for round in 0..<300 {
            let tensors = (0..<Int.random(in: 1...6, using: &rng)).map { Self.randomTensor("t\($0).w", using: &rng) }
            let dataOrder = tensors.shuffled(using: &rng)
            var offsets: [String: (Int, Int)] = [:]
            var data: [UInt8] = []
            for t in dataOrder {
                offsets[t.name] = (data.count, data.count + t.bytes.count)
                data += t.bytes
            }
            var members = tensors.shuffled(using: &rng).map { t in
                "\"\(t.name)\": {\"dtype\": \"\(t.dtype)\", \"shape\": \(t.shape), \"data_offsets\": [\(offsets[t.name]!.0), \(offsets[t.name]!.1)]}"
            }
            let metadata = Bool.random(using: &rng) ? ["format": "pt", "round": "\(round)"] : [:]
            if !metadata.isEmpty { members.insert("\"__metadata__\": {\"format\": \"pt\", \"round\": \"\(round)\"}", at: 0) }
            let header = "{" + members.joined(separator: ", ") + "}" + String(repeating: " ", count: Int.random(in: 0...7, using: &rng))
            let file = try SafetensorsFile(url: tmp.write("rt.safetensors", safetensorsBytes(header: header, data: data)))
            #expect(file.metadata == metadata)
            // Data order, ties (empty tensors at one offset) broken by name.
            func key(_ t: Written) -> (Int, Int, String) { (offsets[t.name]!.0, offsets[t.name]!.1, t.name) }
            let expectedNames: [String] = tensors.sorted { key($0) < key($1) }.map { $0.name }
            #expect(file.names == expectedNames, "round \(round)")
            for t in tensors {
                let got = try file.tensor(named: t.name)
                #expect(got.shape == t.shape, "round \(round) \(t.name)")
                let same = zip(got.scalars, t.values).allSatisfy { $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN) }
                #expect(same && got.count == t.values.count, "round \(round) \(t.name) \(t.dtype)")
            }
        }
    }
}
