import CZlib
import Foundation
import TensorCore

/// An 8-bit image in memory: `height × width × channels` bytes, row-major, channels interleaved
/// (1 = gray, 2 = gray + alpha, 3 = RGB, 4 = RGBA).
public struct Image8: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var channels: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * channels, "Image8: \(pixels.count) bytes for \(width)×\(height)×\(channels)")
        self.width = width; self.height = height; self.channels = channels; self.pixels = pixels
    }

    /// RGB, dropping alpha and expanding gray.
    public var rgb: Image8 {
        if channels == 3 { return self }
        var out = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) {
            for c in 0..<3 {
                out[i * 3 + c] = channels >= 3 ? pixels[i * channels + c] : pixels[i * channels]
            }
        }
        return Image8(width: width, height: height, channels: 3, pixels: out)
    }

    /// A `[3, H, W]` float tensor in [0, 1] (RGB).
    public func tensor() -> Tensor {
        let src = rgb
        var out = [Float](repeating: 0, count: 3 * width * height)
        let plane = width * height
        for i in 0..<plane { for c in 0..<3 { out[c * plane + i] = Float(src.pixels[i * 3 + c]) / 255 } }
        return Tensor(shape: [3, height, width], scalars: out)
    }

    /// From a `[3, H, W]` tensor in [0, 1]; values are clamped and rounded as diffusers' `numpy_to_pil`
    /// does (`(x * 255).round()`).
    public init(tensor t: Tensor) {
        precondition(t.rank == 3 && t.shape[0] == 3, "Image8(tensor:): expected [3, H, W], got \(t.shape)")
        let h = t.shape[1], w = t.shape[2], plane = h * w
        var px = [UInt8](repeating: 0, count: plane * 3)
        for i in 0..<plane {
            for c in 0..<3 {
                let x = t.scalars[c * plane + i]
                // NaN shows as magenta (a decoder that produced NaNs stays visible instead of crashing).
                let v = x.isNaN ? (c == 1 ? 0 : 1) : Swift.min(Swift.max(x, 0), 1)
                px[i * 3 + c] = UInt8((v * 255).rounded())
            }
        }
        self.init(width: w, height: h, channels: 3, pixels: px)
    }
}

/// Why a PNG could not be read or written: `kind` for code, `description` ("<file>: <problem>") for people.
public struct PNGError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: Sendable, Equatable {
        /// The file cannot be read or written.
        case io
        /// Not a PNG (bad signature).
        case notPNG
        /// The file ends inside a chunk or before the image data is complete.
        case truncated
        /// The CRC stored after chunk `chunk` does not match its type and data.
        case badCRC(chunk: String)
        /// The header's `width × height` is more than the decoder's `limit` of pixels; nothing was allocated.
        case tooManyPixels(width: Int, height: Int, limit: Int)
        /// A valid PNG feature this reader does not implement (interlacing, gray below 8 bits, ...).
        case unsupported
        /// Anything else the PNG specification forbids (bad chunk layout, corrupt compressed data, ...).
        case corrupt
    }

    public var kind: Kind
    public var description: String
    init(_ source: String, _ problem: String, _ kind: Kind = .corrupt) {
        self.kind = kind
        description = "\(source): \(problem)"
    }
}

/// PNG reading and writing (RFC 2083 / ISO 15948), through zlib.
///
/// Reads non-interlaced images of colour types gray, gray+alpha, RGB, RGBA (8 or 16 bits; 16 is reduced to
/// the high byte) and palette (1–8 bits, expanded to RGB/RGBA with tRNS). Adam7-interlaced files and
/// gray below 8 bits are refused with an error. Writes 8-bit gray/RGB/RGBA, compression level 6.
///
/// Reading is bounded by the file, not by what its header claims: `width × height` above `maxPixels`
/// (default `defaultMaxPixels`, 2²⁶) is a `.tooManyPixels` error before any pixel memory is allocated, and IDAT
/// data too short to inflate to the rows the header implies (deflate expands at most 1032:1) is `.truncated`
/// before the row buffer is allocated. Every chunk's CRC is checked (`.badCRC` naming the chunk) — like libpng
/// for critical chunks and stricter than Pillow, which skips the CRCs of IDAT and IEND. Bytes after IEND are
/// ignored and a file that ends after complete image data without IEND is read, as Pillow and libpng do;
/// compressed data beyond the last row is ignored (as Pillow does). Unknown chunks are skipped.
public enum PNG {
    static let signature: [UInt8] = [137, 80, 78, 71, 13, 10, 26, 10]

    /// The default pixel cap of `read` and `decode` (8192 × 8192).
    public static let defaultMaxPixels = 1 << 26

    /// Reads the PNG at `path`; `maxPixels` bounds `width × height` before decoding.
    public static func read(path: String, maxPixels: Int = defaultMaxPixels) throws(PNGError) -> Image8 {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PNGError(path, "cannot be read (missing or not a file)", .io)
        }
        return try decode([UInt8](data), source: path, maxPixels: maxPixels)
    }

    public static func write(_ image: Image8, to path: String) throws(PNGError) {
        let bytes = try encode(image)
        do { try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw PNGError(path, "cannot be written: \(error.localizedDescription)", .io)
        }
    }

    // MARK: Encoding

    public static func encode(_ image: Image8) throws(PNGError) -> [UInt8] {
        let colorType = try colorType(channels: image.channels, encoder: "PNG.encode")
        let compressed = try deflatedRows(image)
        var out = signature
        appendChunk("IHDR", header(image, colorType: colorType), to: &out)
        appendChunk("IDAT", compressed, to: &out)
        appendChunk("IEND", [], to: &out)
        return out
    }

    /// The PNG colour type of 8-bit images with `channels` channels (gray, gray + alpha, RGB, RGBA).
    static func colorType(channels: Int, encoder: String) throws(PNGError) -> UInt8 {
        switch channels {
        case 1: return 0
        case 2: return 4
        case 3: return 2
        case 4: return 6
        default: throw PNGError(encoder, "\(channels) channels; use 1 to 4")
        }
    }

    /// IHDR's payload: size, 8 bits, the colour type, no interlace.
    static func header(_ image: Image8, colorType: UInt8) -> [UInt8] {
        bigEndian(UInt32(image.width)) + bigEndian(UInt32(image.height)) + [8, colorType, 0, 0, 0]
    }

    /// The image's rows, each with filter byte 0, deflated (zlib level 6): the payload of IDAT (and of APNG's fdAT).
    static func deflatedRows(_ image: Image8) throws(PNGError) -> [UInt8] {
        let stride = image.width * image.channels
        var raw = [UInt8]()
        raw.reserveCapacity((stride + 1) * image.height)
        for y in 0..<image.height {
            raw.append(0)  // filter: none
            raw.append(contentsOf: image.pixels[(y * stride)..<((y + 1) * stride)])
        }
        var bound = compressBound(uLong(raw.count))
        var compressed = [UInt8](repeating: 0, count: Int(bound))
        let status = compress2(&compressed, &bound, raw, uLong(raw.count), 6)
        guard status == Z_OK else { throw PNGError("PNG.encode", "zlib compress failed (\(status))") }
        compressed.removeSubrange(Int(bound)...)
        return compressed
    }

    static func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 255), UInt8((v >> 8) & 255), UInt8(v & 255)] }

    static func appendChunk(_ type: String, _ payload: [UInt8], to out: inout [UInt8]) {
        let typeBytes = Array(type.utf8)
        out += bigEndian(UInt32(payload.count))
        out += typeBytes
        out += payload
        var c = crc32(0, typeBytes, uInt(typeBytes.count))
        c = payload.withUnsafeBufferPointer { crc32(c, $0.baseAddress, uInt(payload.count)) }
        out += bigEndian(UInt32(c))
    }

    // MARK: Decoding

    /// The largest chunk length and image side the PNG specification allows (2³¹ − 1).
    static let maxPNGInteger = 0x7FFF_FFFF
    /// Deflate's largest expansion: one 258-byte match per 2 bits of a fixed-Huffman block, about 1032:1.
    static let maxInflateRatio = 1032

    /// The chunks that shape decoding, gathered from the file.
    struct Chunks {
        var width = 0, height = 0, bitDepth = 0, colorType = 0, interlace = 0
        var idat = [UInt8]()
        var palette: [UInt8] = []
        var transparency: [UInt8] = []
    }

    /// Decodes a PNG held in memory; `source` names it in errors, `maxPixels` bounds `width × height`.
    public static func decode(_ bytes: [UInt8], source: String = "PNG",
                              maxPixels: Int = defaultMaxPixels) throws(PNGError) -> Image8 {
        let c = try readChunks(bytes, source: source, maxPixels: maxPixels)
        let samples: Int
        switch c.colorType {
        case 0, 3: samples = 1
        case 2: samples = 3
        case 4: samples = 2
        default: samples = 4
        }
        let width = c.width, height = c.height, bitDepth = c.bitDepth
        let bitsPerPixel = samples * bitDepth
        let stride = (width * bitsPerPixel + 7) / 8
        let bpp = Swift.max(1, bitsPerPixel / 8)
        let (rawCount, overflow) = (stride + 1).multipliedReportingOverflow(by: height)
        guard !overflow else {
            throw PNGError(source, "is \(width)×\(height) pixels, too many to address", .tooManyPixels(width: width, height: height, limit: maxPixels))
        }
        guard c.idat.count >= rawCount / maxInflateRatio else {
            throw PNGError(source, "IDAT holds \(c.idat.count) bytes, too few to inflate to the \(rawCount) bytes a \(width)×\(height) image needs (truncated?)", .truncated)
        }
        var raw = try inflateRows(c.idat, count: rawCount, source: source)
        try unfilter(&raw, stride: stride, height: height, bpp: bpp, source: source)
        // Rows of `raw` start at y * (stride + 1) + 1 (after their filter byte).
        func row(_ y: Int) -> Int { y * (stride + 1) + 1 }
        if c.colorType == 3 {
            let palette = c.palette, transparency = c.transparency
            let channels = transparency.isEmpty ? 3 : 4
            var px = [UInt8](repeating: 255, count: width * height * channels)
            let perByte = 8 / bitDepth
            let mask = (1 << bitDepth) - 1
            for y in 0..<height {
                for x in 0..<width {
                    let byte = Int(raw[row(y) + x / perByte])
                    let shift = (perByte - 1 - x % perByte) * bitDepth
                    let index = (byte >> shift) & mask
                    guard index * 3 + 2 < palette.count else {
                        throw PNGError(source, "palette index \(index) is out of range (PLTE has \(palette.count / 3) entries)")
                    }
                    let o = (y * width + x) * channels
                    px[o] = palette[index * 3]; px[o + 1] = palette[index * 3 + 1]; px[o + 2] = palette[index * 3 + 2]
                    if channels == 4 { px[o + 3] = index < transparency.count ? transparency[index] : 255 }
                }
            }
            return Image8(width: width, height: height, channels: channels, pixels: px)
        }
        let rowSamples = width * samples
        var px = [UInt8](repeating: 0, count: height * rowSamples)
        let step = bitDepth == 16 ? 2 : 1  // 16-bit samples keep their high (first) byte
        for y in 0..<height {
            let src = row(y), dst = y * rowSamples
            for i in 0..<rowSamples { px[dst + i] = raw[src + i * step] }
        }
        return Image8(width: width, height: height, channels: samples, pixels: px)
    }

    /// Walks the chunks: checks layout and CRCs, validates IHDR (and the pixel cap) as soon as it is read.
    static func readChunks(_ bytes: [UInt8], source: String, maxPixels: Int) throws(PNGError) -> Chunks {
        guard bytes.count >= 8, Array(bytes[0..<8]) == signature else {
            throw PNGError(source, "is not a PNG file (bad signature)", .notPNG)
        }
        var c = Chunks()
        var pos = 8
        var sawHeader = false
        func u32(_ i: Int) -> Int { Int(bytes[i]) << 24 | Int(bytes[i + 1]) << 16 | Int(bytes[i + 2]) << 8 | Int(bytes[i + 3]) }
        while pos < bytes.count {
            guard pos + 8 <= bytes.count else {
                throw PNGError(source, "ends inside a chunk header at byte \(pos) (truncated?)", .truncated)
            }
            let length = u32(pos)
            let typeBytes = bytes[(pos + 4)..<(pos + 8)]
            guard typeBytes.allSatisfy({ (65...90).contains($0) || (97...122).contains($0) }) else {
                throw PNGError(source, "has a chunk at byte \(pos) whose type is not four ASCII letters")
            }
            let type = String(decoding: typeBytes, as: UTF8.self)
            guard length <= maxPNGInteger else {
                throw PNGError(source, "chunk \(type) claims \(length) bytes; PNG allows at most 2^31 - 1")
            }
            let start = pos + 8
            guard start + length + 4 <= bytes.count else {
                throw PNGError(source, "chunk \(type) runs past the end of the file (truncated?)", .truncated)
            }
            let stored = UInt32(u32(start + length))
            let computed = bytes.withUnsafeBufferPointer { b in
                UInt32(crc32(0, b.baseAddress! + pos + 4, uInt(length + 4)))
            }
            guard stored == computed else {
                throw PNGError(source, "chunk \(type) has CRC \(hex8(stored)), its contents give \(hex8(computed)) (the file is corrupt)", .badCRC(chunk: type))
            }
            guard sawHeader || type == "IHDR" else { throw PNGError(source, "starts with chunk \(type), not IHDR") }
            let payload = bytes[start..<(start + length)]
            switch type {
            case "IHDR":
                guard !sawHeader else { throw PNGError(source, "has a second IHDR chunk") }
                guard length == 13 else { throw PNGError(source, "IHDR has length \(length), expected 13") }
                try readHeader(payload, into: &c, source: source, maxPixels: maxPixels)
                sawHeader = true
            case "PLTE":
                guard length % 3 == 0, (3...768).contains(length) else {
                    throw PNGError(source, "PLTE has length \(length); it must hold 1 to 256 RGB entries")
                }
                c.palette = Array(payload)
            case "tRNS": c.transparency = Array(payload)
            case "IDAT": c.idat += payload
            case "IEND": return try finished(c, source: source)
            default: break
            }
            pos = start + length + 4
        }
        guard sawHeader else { throw PNGError(source, "has no IHDR chunk", .truncated) }
        return try finished(c, source: source)
    }

    /// Checks what IHDR says before anything is allocated for the image.
    static func readHeader(_ p: ArraySlice<UInt8>, into c: inout Chunks, source: String,
                           maxPixels: Int) throws(PNGError) {
        let b = Array(p)
        let width = Int(b[0]) << 24 | Int(b[1]) << 16 | Int(b[2]) << 8 | Int(b[3])
        let height = Int(b[4]) << 24 | Int(b[5]) << 16 | Int(b[6]) << 8 | Int(b[7])
        guard (1...maxPNGInteger).contains(width), (1...maxPNGInteger).contains(height) else {
            throw PNGError(source, "has invalid size \(width)×\(height)")
        }
        guard width * height <= maxPixels else {
            throw PNGError(source, "is \(width)×\(height) = \(width * height) pixels, more than the limit of \(maxPixels)",
                           .tooManyPixels(width: width, height: height, limit: maxPixels))
        }
        let bitDepth = Int(b[8]), colorType = Int(b[9])
        guard [0, 2, 3, 4, 6].contains(colorType) else { throw PNGError(source, "has unknown colour type \(colorType)") }
        let validDepth = colorType == 3 ? [1, 2, 4, 8].contains(bitDepth) : [8, 16].contains(bitDepth)
        guard validDepth else {
            let kind: PNGError.Kind = colorType == 0 && [1, 2, 4].contains(bitDepth) ? .unsupported : .corrupt
            throw PNGError(source, "bit depth \(bitDepth) with colour type \(colorType) is not supported", kind)
        }
        guard b[10] == 0, b[11] == 0 else {
            throw PNGError(source, "has compression method \(b[10]) and filter method \(b[11]); PNG defines only 0")
        }
        guard b[12] <= 1 else { throw PNGError(source, "has unknown interlace method \(b[12])") }
        guard b[12] == 0 else {
            throw PNGError(source, "is Adam7-interlaced, which is not supported; re-save it without interlacing", .unsupported)
        }
        c.width = width; c.height = height; c.bitDepth = bitDepth; c.colorType = colorType; c.interlace = Int(b[12])
    }

    static func finished(_ c: Chunks, source: String) throws(PNGError) -> Chunks {
        if c.colorType == 3 && c.palette.isEmpty { throw PNGError(source, "is a palette image without a PLTE chunk") }
        guard !c.idat.isEmpty else { throw PNGError(source, "has no image data (IDAT chunk)", .truncated) }
        return c
    }

    /// Inflates the zlib stream `data` into exactly `count` bytes; data past them is ignored.
    static func inflateRows(_ data: [UInt8], count: Int, source: String) throws(PNGError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var stream = z_stream()
        guard inflateInit_(&stream, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw PNGError(source, "zlib could not be initialised", .io)
        }
        defer { inflateEnd(&stream) }
        var status: Int32 = Z_OK
        var produced = 0
        data.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                stream.next_in = UnsafeMutablePointer(mutating: src.baseAddress)
                stream.avail_in = uInt(src.count)
                stream.next_out = dst.baseAddress
                stream.avail_out = uInt(dst.count)
                repeat { status = CZlib.inflate(&stream, Z_NO_FLUSH) } while status == Z_OK && stream.avail_out > 0 && stream.avail_in > 0
                produced = dst.count - Int(stream.avail_out)
            }
        }
        if produced == count && (status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR) { return out }
        if status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR {
            throw PNGError(source, "image data ends after \(produced) of \(count) bytes (truncated?)", .truncated)
        }
        throw PNGError(source, "image data is corrupt (zlib status \(status))")
    }

    /// Undoes the per-row filters in place: row y's filter byte is at y * (stride + 1), its bytes follow.
    static func unfilter(_ raw: inout [UInt8], stride: Int, height: Int, bpp: Int, source: String) throws(PNGError) {
        let rowStep = stride + 1
        for y in 0..<height {
            let filter = raw[y * rowStep]
            let cur = y * rowStep + 1, prev = cur - rowStep
            switch filter {
            case 0: break
            case 1: for x in bpp..<Swift.max(bpp, stride) { raw[cur + x] &+= raw[cur + x - bpp] }
            case 2: if y > 0 { for x in 0..<stride { raw[cur + x] &+= raw[prev + x] } }
            case 3:
                for x in 0..<stride {
                    let a = x >= bpp ? Int(raw[cur + x - bpp]) : 0
                    let b = y > 0 ? Int(raw[prev + x]) : 0
                    raw[cur + x] &+= UInt8((a + b) / 2)
                }
            case 4:
                for x in 0..<stride {
                    let a = x >= bpp ? Int(raw[cur + x - bpp]) : 0
                    let b = y > 0 ? Int(raw[prev + x]) : 0
                    let c = (x >= bpp && y > 0) ? Int(raw[prev + x - bpp]) : 0
                    let p = a + b - c
                    let pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
                    raw[cur + x] &+= UInt8((pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c))
                }
            default: throw PNGError(source, "row \(y) has unknown filter type \(filter)")
            }
        }
    }

    static func hex8(_ v: UInt32) -> String {
        let h = String(v, radix: 16)
        return "0x" + String(repeating: "0", count: 8 - h.count) + h
    }
}
