import Foundation
import Testing
@testable import ModelIO

// Fixture access and helpers for the ModelIO tests. Fixtures come from tools/fixtures/make_modelio_fixtures.py.

enum Fixture {
    static var root: URL {
        get throws {
            try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil), "ModelIOTests fixtures missing")
        }
    }

    static func url(_ path: String) throws -> URL { try root.appendingPathComponent(path) }

    static var pipeline: URL { get throws { try url("pipeline") } }

    static var expected: Expected {
        get throws { try JSONDecoder().decode(Expected.self, from: Data(contentsOf: url("expected.json"))) }
    }
}

struct Expected: Decodable {
    struct Record: Decodable {
        let dtype: String
        let shape: [Int]
        let bits: [String]
    }
    struct Checkpoint: Decodable {
        let count: Int
        let fnv1a64: String
        let shapes: [String: [Int]]
        let dtypes: [String: String]
    }
    let metadata: [String: String]
    let tensors: [String: Record]
    let all_f16_fnv1a64: String
    let all_bf16_fnv1a64: String
    let checkpoints: [String: Checkpoint]
}

/// FNV-1a 64, as in the fixture script.
struct FNV1a64 {
    var value: UInt64 = 0xCBF2_9CE4_8422_2325

    mutating func add<S: Sequence<UInt8>>(_ bytes: S) {
        for b in bytes {
            value ^= UInt64(b)
            value = value &* 0x100_0000_01B3
        }
    }

    mutating func add(littleEndian v: UInt32) { add(withUnsafeBytes(of: v.littleEndian) { Array($0) }) }
    mutating func add(littleEndian v: Int64) { add(withUnsafeBytes(of: v.littleEndian) { Array($0) }) }

    /// Float32 bit patterns with every NaN replaced by 0x7fc00000.
    mutating func add(canonical values: [Float]) {
        var bytes = [UInt8]()
        bytes.reserveCapacity(values.count * 4)
        for v in values {
            let b = v.isNaN ? 0x7FC0_0000 : v.bitPattern
            withUnsafeBytes(of: b.littleEndian) { bytes.append(contentsOf: $0) }
        }
        add(bytes)
    }

    var hex: String {
        let s = String(value, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}

/// The fixture script's `checkpoint_hash`: sorted names; name, 0, dims as int64, canonical float32 bits.
func checkpointHash(_ source: any WeightSource) throws -> String {
    var h = FNV1a64()
    for name in source.names.sorted() {
        let t = try source.tensor(named: name)
        h.add(Array(name.utf8) + [0])
        for d in t.shape { h.add(littleEndian: Int64(d)) }
        h.add(canonical: t.scalars)
    }
    return h.hex
}

/// A fresh directory under the system temporary directory, removed by `cleanUp()`.
struct TempDir {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("ModelIOTests-" + UUID().uuidString)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> URL { url.appendingPathComponent(name) }

    func write(_ name: String, _ bytes: [UInt8]) throws -> URL {
        let u = file(name)
        try FileManager.default.createDirectory(at: u.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: u)
        return u
    }

    func write(_ name: String, text: String) throws -> URL { try write(name, Array(text.utf8)) }

    func cleanUp() { try? FileManager.default.removeItem(at: url) }
}

/// Bytes of a safetensors file with the given header text and data section.
func safetensorsBytes(header: String, data: [UInt8], declaredLength: UInt64? = nil) -> [UInt8] {
    let h = Array(header.utf8)
    let n = declaredLength ?? UInt64(h.count)
    return withUnsafeBytes(of: n.littleEndian) { Array($0) } + h + data
}

/// Throws unless `body` throws a `ModelIOError`, which it returns.
func modelIOError(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> ModelIOError? {
    do {
        try body()
        Issue.record("expected a ModelIOError, nothing was thrown", sourceLocation: sourceLocation)
        return nil
    } catch let e as ModelIOError {
        return e
    } catch {
        Issue.record("expected a ModelIOError, got \(type(of: error)): \(error)", sourceLocation: sourceLocation)
        return nil
    }
}
