import Foundation
import Imaging
import ModelIO
import TensorCore

/// Fixtures made by tools/fixtures/make_clip_fixtures.py from transformers, open_clip and torch.
enum CLIPFixtures {
    static let cases = ["quickgelu", "gelu", "wide"]

    static func url(_ name: String) -> URL {
        Bundle.module.url(forResource: "Fixtures/clip/" + name, withExtension: nil)!
    }

    static func io(_ name: String) throws -> SafetensorsFile {
        try SafetensorsFile(url: url(name + ".io.safetensors"))
    }

    struct CaseInfo: Decodable {
        let prompts: [String]
        let logit_scale: Float
    }

    static func info(_ name: String) throws -> CaseInfo {
        try JSONDecoder().decode(CaseInfo.self, from: Data(contentsOf: url(name + ".json")))
    }

    /// The 8-bit test images.
    static func images() throws -> [Image8] {
        let file = try SafetensorsFile(url: url("images.safetensors"))
        return try (0..<5).map { i in
            let t = try file.tensor(named: "image\(i)")
            return Image8(width: t.shape[1], height: t.shape[0], channels: 3, pixels: t.scalars.map { UInt8($0) })
        }
    }

    /// Decoded-style samples `[2, 3, 30, 26]` in [0, 1].
    static func samples() throws -> Tensor {
        try SafetensorsFile(url: url("images.safetensors")).tensor(named: "samples")
    }

    /// A temporary model directory: the files of `parts` (fixture folders) linked side by side, the last one
    /// winning on a name clash. The shared tokenizer is always included first.
    static func modelDirectory(_ parts: String...) throws -> URL {
        let fm = FileManager.default
        let dir = fm.temporaryDirectory.appendingPathComponent("evosearch-clip-\(UUID().uuidString)")
        try fm.createDirectory(at: dir, withIntermediateDirectories: true)
        for part in ["tokenizer"] + parts {
            let src = url(part)
            for name in try fm.contentsOfDirectory(atPath: src.path) {
                let dst = dir.appendingPathComponent(name)
                if fm.fileExists(atPath: dst.path) { try fm.removeItem(at: dst) }
                try fm.createSymbolicLink(at: dst, withDestinationURL: src.appendingPathComponent(name))
            }
        }
        return dir
    }

    /// Max |a − b| relative to the reference's max |b|.
    static func relativeError(_ a: Tensor, _ b: Tensor) -> Float {
        precondition(a.count == b.count, "sizes \(a.shape) and \(b.shape) differ")
        let scale = max(b.scalars.map(abs).max() ?? 0, 1e-12)
        return Tensor(a.scalars).maxAbsDifference(Tensor(b.scalars)) / scale
    }

    static func relativeError(_ a: [Float], _ b: Tensor) -> Float { relativeError(Tensor(a), b) }

    /// Token id rows of an ids tensor stored as floats.
    static func ids(_ t: Tensor) -> [[Int]] {
        (0..<t.shape[0]).map { t.row($0).scalars.map { Int($0) } }
    }
}
