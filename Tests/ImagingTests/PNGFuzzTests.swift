import CZlib
import Foundation
import FuzzSupport
@testable import Imaging
import Testing

/// The PNG reader under seeded mutations of the Pillow fixtures, on crafted hostile headers, and on random
/// write → read round trips.
@Suite struct PNGFuzzTests {
    static let fixtureNames = ["gray.png", "gray_alpha.png", "rgb.png", "rgba.png", "palette.png", "palette_trns.png",
                               "palette_1bit.png", "gray16.png"]

    static func fixtures() throws -> [[UInt8]] {
        try fixtureNames.map { name in
            let url = try #require(Bundle.module.url(forResource: "Fixtures/" + name, withExtension: nil))
            return [UInt8](try Data(contentsOf: url))
        }
    }

    /// Tokens that make mutations hit the chunk layer: chunk types, lengths at the limits, an IHDR body.
    static let dictionary: [[UInt8]] = [
        Array("IHDR".utf8), Array("IDAT".utf8), Array("IEND".utf8), Array("PLTE".utf8), Array("tRNS".utf8),
        [0xFF, 0xFF, 0xFF, 0xFF], [0x7F, 0xFF, 0xFF, 0xFF], [0, 0, 0, 0], [0, 0, 0x4E, 0x20], [0, 0, 0, 13],
        [0, 0, 0x4E, 0x20, 0, 0, 0x4E, 0x20, 8, 2, 0, 0, 0],
    ]

    /// Recomputes the CRC of every chunk whose length still fits the file, so that a mutation reaches the
    /// decoder behind the CRC check.
    static func repairCRCs(_ bytes: [UInt8]) -> [UInt8] {
        var b = bytes
        var pos = 8
        while pos + 12 <= b.count {
            let length = Int(b[pos]) << 24 | Int(b[pos + 1]) << 16 | Int(b[pos + 2]) << 8 | Int(b[pos + 3])
            guard length <= b.count - pos - 12 else { break }
            let crc = b.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress! + pos + 4, uInt(length + 4))) }
            let at = pos + 8 + length
            b[at] = UInt8(crc >> 24); b[at + 1] = UInt8((crc >> 16) & 255); b[at + 2] = UInt8((crc >> 8) & 255); b[at + 3] = UInt8(crc & 255)
            pos = at + 4
        }
        return b
    }

    /// 6000 mutated files (half with CRCs repaired so that the mutation reaches IHDR, PLTE and the image data),
    /// decoded under a cap of 4096 pixels: each is an image within the cap whose pixel buffer matches its size,
    /// or a PNGError. Every error kind shows up, so the run reaches past the CRC check.
    @Test func mutatedFilesDecodeOrGiveTypedErrors() throws {
        var mutator = ByteMutator(seed: 11, corpus: try Self.fixtures(), dictionary: Self.dictionary, maxMutations: 2)
        let cap = 4096
        var decoded = 0
        var kinds: [String: Int] = [:]
        for (i, c) in mutator.cases(6000).enumerated() {
            let bytes = i % 2 == 0 ? c.bytes : Self.repairCRCs(c.bytes)
            do throws(PNGError) {
                let image = try PNG.decode(bytes, source: "case", maxPixels: cap)
                decoded += 1
                #expect(image.width * image.height <= cap && image.width > 0 && image.height > 0, "\(c.description)")
                #expect(image.pixels.count == image.width * image.height * image.channels, "\(c.description)")
                #expect((1...4).contains(image.channels), "\(c.description)")
            } catch {
                let name: String
                switch error.kind {
                case .badCRC: name = "badCRC"
                case .tooManyPixels(let w, let h, let limit):
                    name = "tooManyPixels"
                    #expect(w * h > limit && limit == cap, "\(c.description)")
                default: name = "\(error.kind)"
                }
                kinds[name, default: 0] += 1
                #expect(error.description.hasPrefix("case: "), "\(c.description): \(error)")
            }
        }
        #expect(decoded > 100, "decoded \(decoded), errors \(kinds)")
        for kind in ["badCRC", "tooManyPixels", "truncated", "corrupt", "notPNG"] {
            #expect(kinds[kind, default: 0] > 10, "\(kind): \(kinds)")
        }
    }

    static func chunk(_ type: String, _ payload: [UInt8]) -> [UInt8] {
        var out = [UInt8]()
        PNG.appendChunk(type, payload, to: &out)
        return out
    }

    static func header(_ width: UInt32, _ height: UInt32, depth: UInt8 = 8, colorType: UInt8 = 2) -> [UInt8] {
        PNG.bigEndian(width) + PNG.bigEndian(height) + [depth, colorType, 0, 0, 0]
    }

    static func zlib(_ raw: [UInt8]) -> [UInt8] {
        var bound = compressBound(uLong(raw.count))
        var out = [UInt8](repeating: 0, count: Int(bound))
        _ = compress2(&out, &bound, raw, uLong(raw.count), 9)
        return Array(out.prefix(Int(bound)))
    }

    static func expectKind(_ bytes: [UInt8], _ kind: PNGError.Kind, maxPixels: Int = PNG.defaultMaxPixels,
                           containing text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do throws(PNGError) {
            _ = try PNG.decode(bytes, source: "x.png", maxPixels: maxPixels)
            Issue.record("decoded; expected \(kind)", sourceLocation: sourceLocation)
        } catch {
            #expect(error.kind == kind, "\(error)", sourceLocation: sourceLocation)
            #expect(error.description.contains(text), "\(error)", sourceLocation: sourceLocation)
        }
    }

    /// A 69-byte file whose header claims 20000 × 20000 is refused from the header alone, under the default cap
    /// and under a caller's cap; a size within the cap but IDAT far too short for it is refused before the
    /// row buffer is allocated.
    @Test func hostileHeadersAreRefusedBeforeAllocating() {
        let sig = PNG.signature
        let bomb = sig + Self.chunk("IHDR", Self.header(20000, 20000)) + Self.chunk("IDAT", Self.zlib([0])) + Self.chunk("IEND", [])
        #expect(bomb.count <= 69)
        Self.expectKind(bomb, .tooManyPixels(width: 20000, height: 20000, limit: 1 << 26),
                        containing: "x.png: is 20000×20000 = 400000000 pixels, more than the limit of 67108864")
        let headerOnly = sig + Self.chunk("IHDR", Self.header(20000, 20000))
        Self.expectKind(headerOnly, .tooManyPixels(width: 20000, height: 20000, limit: 1 << 26), containing: "more than the limit")
        Self.expectKind(sig + Self.chunk("IHDR", Self.header(65, 64)), .tooManyPixels(width: 65, height: 64, limit: 4096),
                        maxPixels: 4096, containing: "65×64 = 4160 pixels")
        // 8000 × 8000 RGB needs 192 MB of rows; 100 bytes of IDAT cannot inflate to that.
        let short = sig + Self.chunk("IHDR", Self.header(8000, 8000)) + Self.chunk("IDAT", [UInt8](repeating: 0, count: 100)) + Self.chunk("IEND", [])
        Self.expectKind(short, .truncated, containing: "IDAT holds 100 bytes, too few to inflate to the 192008000 bytes a 8000×8000 image needs")
        Self.expectKind(sig + Self.chunk("IHDR", Self.header(0x8000_0000, 1)), .corrupt, containing: "invalid size 2147483648×1")
    }

    /// CRCs of every chunk are checked, naming the chunk; truncation anywhere is `.truncated` or a chunk error.
    @Test func crcAndTruncation() throws {
        let good = try PNG.encode(Image8(width: 3, height: 2, channels: 3, pixels: Array(0..<18)))
        var offsets: [(String, Int)] = []
        var pos = 8
        while pos < good.count {
            let length = Int(good[pos]) << 24 | Int(good[pos + 1]) << 16 | Int(good[pos + 2]) << 8 | Int(good[pos + 3])
            offsets.append((String(decoding: good[(pos + 4)..<(pos + 8)], as: UTF8.self), pos + 8 + length))
            pos += 12 + length
        }
        #expect(offsets.map(\.0) == ["IHDR", "IDAT", "IEND"])
        for (type, crcAt) in offsets {
            var bad = good
            bad[crcAt + 3] ^= 1
            Self.expectKind(bad, .badCRC(chunk: type), containing: "chunk \(type) has CRC")
        }
        for cut in 8..<(good.count - 12) {
            do throws(PNGError) {
                _ = try PNG.decode(Array(good.prefix(cut)))
                Issue.record("a file cut at \(cut) of \(good.count) bytes decoded")
            } catch {
                #expect(error.kind == .truncated, "cut at \(cut): \(error)")
            }
        }
    }

    /// As Pillow: bytes after IEND are ignored, a missing IEND after complete data is accepted, compressed data
    /// past the last row is ignored; data that stops short is `.truncated`.
    @Test func trailingAndMissingEndsMatchPillow() throws {
        let image = Image8(width: 2, height: 2, channels: 1, pixels: [1, 2, 3, 4])
        let good = try PNG.encode(image)
        #expect(try PNG.decode(good + Array("garbage after IEND".utf8)) == image)
        #expect(try PNG.decode(good + Self.chunk("IDAT", [1, 2])) == image)
        #expect(try PNG.decode(Array(good.dropLast(12))) == image)  // no IEND
        let sig = PNG.signature, ihdr = Self.chunk("IHDR", Self.header(2, 2, colorType: 0))
        let rows: [UInt8] = [0, 1, 2, 0, 3, 4]
        #expect(try PNG.decode(sig + ihdr + Self.chunk("IDAT", Self.zlib(rows + [0, 9, 9])) + Self.chunk("IEND", [])) == image)
        Self.expectKind(sig + ihdr + Self.chunk("IDAT", Self.zlib(Array(rows.prefix(4)))) + Self.chunk("IEND", []), .truncated,
                        containing: "image data ends after 4 of 6 bytes")
        Self.expectKind(sig + ihdr + Self.chunk("IEND", []), .truncated, containing: "has no image data")
        Self.expectKind(sig + Self.chunk("tEXt", Array("a\0b".utf8)) + ihdr, .corrupt, containing: "starts with chunk tEXt, not IHDR")
        Self.expectKind(sig + ihdr + ihdr, .corrupt, containing: "second IHDR")
    }

    /// 300 random images (1–40 × 1–40, 1–4 channels, noise or flat regions) survive encode → decode exactly,
    /// and a cap of exactly their pixel count still reads them.
    @Test func randomImagesRoundTrip() throws {
        var rng = SplitMix64(seed: 5)
        for round in 0..<300 {
            let w = Int.random(in: 1...40, using: &rng), h = Int.random(in: 1...40, using: &rng)
            let channels = Int.random(in: 1...4, using: &rng)
            let flat = Bool.random(using: &rng)
            let value = UInt8.random(in: 0...255, using: &rng)
            let px = (0..<(w * h * channels)).map { _ in flat ? value : UInt8.random(in: 0...255, using: &rng) }
            let image = Image8(width: w, height: h, channels: channels, pixels: px)
            let bytes = try PNG.encode(image)
            #expect(try PNG.decode(bytes, maxPixels: w * h) == image, "round \(round): \(w)×\(h)×\(channels)")
            if w * h > 1 {
                Self.expectKind(bytes, .tooManyPixels(width: w, height: h, limit: w * h - 1), maxPixels: w * h - 1,
                                containing: "more than the limit")
            }
        }
    }
}
