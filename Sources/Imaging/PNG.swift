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

/// Why a PNG could not be read or written.
public struct PNGError: Error, CustomStringConvertible, Equatable, Sendable {
    public var description: String
    init(_ source: String, _ problem: String) { description = "\(source): \(problem)" }
}

/// PNG reading and writing (RFC 2083 / ISO 15948), through zlib.
///
/// Reads non-interlaced images of colour types gray, gray+alpha, RGB, RGBA (8 or 16 bits; 16 is reduced to
/// the high byte) and palette (1–8 bits, expanded to RGB/RGBA with tRNS). Adam7-interlaced files and
/// gray below 8 bits are refused with an error. Writes 8-bit gray/RGB/RGBA, compression level 6.
public enum PNG {
    static let signature: [UInt8] = [137, 80, 78, 71, 13, 10, 26, 10]

    public static func read(path: String) throws(PNGError) -> Image8 {
        guard let data = FileManager.default.contents(atPath: path) else { throw PNGError(path, "cannot be read (missing or not a file)") }
        return try decode([UInt8](data), source: path)
    }

    public static func write(_ image: Image8, to path: String) throws(PNGError) {
        let bytes = try encode(image)
        do { try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw PNGError(path, "cannot be written: \(error.localizedDescription)")
        }
    }

    // MARK: Encoding

    public static func encode(_ image: Image8) throws(PNGError) -> [UInt8] {
        let colorType: UInt8
        switch image.channels {
        case 1: colorType = 0
        case 2: colorType = 4
        case 3: colorType = 2
        case 4: colorType = 6
        default: throw PNGError("PNG.encode", "\(image.channels) channels; use 1 to 4")
        }
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
        var out = signature
        var ihdr = [UInt8]()
        ihdr += bigEndian(UInt32(image.width)) + bigEndian(UInt32(image.height))
        ihdr += [8, colorType, 0, 0, 0]
        appendChunk("IHDR", ihdr, to: &out)
        appendChunk("IDAT", compressed, to: &out)
        appendChunk("IEND", [], to: &out)
        return out
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

    public static func decode(_ bytes: [UInt8], source: String = "PNG") throws(PNGError) -> Image8 {
        guard bytes.count >= 8, Array(bytes[0..<8]) == signature else { throw PNGError(source, "is not a PNG file (bad signature)") }
        var pos = 8
        var width = 0, height = 0, bitDepth = 0, colorType = 0, interlace = 0
        var idat = [UInt8]()
        var palette: [UInt8] = []
        var transparency: [UInt8] = []
        var sawHeader = false
        func u32(_ i: Int) -> Int { Int(bytes[i]) << 24 | Int(bytes[i + 1]) << 16 | Int(bytes[i + 2]) << 8 | Int(bytes[i + 3]) }
        while pos + 12 <= bytes.count {
            let length = u32(pos)
            let type = String(decoding: bytes[(pos + 4)..<(pos + 8)], as: UTF8.self)
            let start = pos + 8
            guard length >= 0, start + length + 4 <= bytes.count else { throw PNGError(source, "chunk \(type) runs past the end of the file (truncated?)") }
            let payload = bytes[start..<(start + length)]
            switch type {
            case "IHDR":
                guard length == 13 else { throw PNGError(source, "IHDR has length \(length), expected 13") }
                width = u32(start); height = u32(start + 4)
                bitDepth = Int(bytes[start + 8]); colorType = Int(bytes[start + 9]); interlace = Int(bytes[start + 12])
                sawHeader = true
            case "PLTE": palette = Array(payload)
            case "tRNS": transparency = Array(payload)
            case "IDAT": idat += payload
            case "IEND": pos = bytes.count; continue
            default: break
            }
            pos = start + length + 4
        }
        guard sawHeader else { throw PNGError(source, "has no IHDR chunk") }
        guard width > 0, height > 0, width < 1 << 16, height < 1 << 16 else { throw PNGError(source, "has unsupported size \(width)×\(height)") }
        guard interlace == 0 else { throw PNGError(source, "is Adam7-interlaced, which is not supported; re-save it without interlacing") }
        let samples: Int
        switch colorType {
        case 0: samples = 1
        case 2: samples = 3
        case 3: samples = 1
        case 4: samples = 2
        case 6: samples = 4
        default: throw PNGError(source, "has unknown colour type \(colorType)")
        }
        let validDepth = colorType == 3 ? [1, 2, 4, 8].contains(bitDepth) : [8, 16].contains(bitDepth)
        guard validDepth else { throw PNGError(source, "bit depth \(bitDepth) with colour type \(colorType) is not supported") }
        if colorType == 3 && palette.isEmpty { throw PNGError(source, "is a palette image without a PLTE chunk") }
        let bitsPerPixel = samples * bitDepth
        let stride = (width * bitsPerPixel + 7) / 8
        let bpp = Swift.max(1, bitsPerPixel / 8)
        var raw = [UInt8](repeating: 0, count: (stride + 1) * height)
        var rawLength = uLongf(raw.count)
        let status = idat.withUnsafeBufferPointer { src in
            raw.withUnsafeMutableBufferPointer { dst in uncompress(dst.baseAddress, &rawLength, src.baseAddress, uLong(idat.count)) }
        }
        guard status == Z_OK, Int(rawLength) == raw.count else { throw PNGError(source, "image data is corrupt or truncated (zlib status \(status))") }
        // Undo the per-row filters.
        var data = [UInt8](repeating: 0, count: stride * height)
        for y in 0..<height {
            let filter = raw[y * (stride + 1)]
            let src = y * (stride + 1) + 1
            let dst = y * stride
            for x in 0..<stride {
                let a = x >= bpp ? Int(data[dst + x - bpp]) : 0
                let b = y > 0 ? Int(data[dst - stride + x]) : 0
                let c = (x >= bpp && y > 0) ? Int(data[dst - stride + x - bpp]) : 0
                let v = Int(raw[src + x])
                let out: Int
                switch filter {
                case 0: out = v
                case 1: out = v + a
                case 2: out = v + b
                case 3: out = v + (a + b) / 2
                case 4:
                    let p = a + b - c
                    let pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
                    out = v + ((pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c))
                default: throw PNGError(source, "row \(y) has unknown filter type \(filter)")
                }
                data[dst + x] = UInt8(truncatingIfNeeded: out)
            }
        }
        // Expand to 8-bit samples.
        if colorType == 3 {
            let channels = transparency.isEmpty ? 3 : 4
            var px = [UInt8](repeating: 255, count: width * height * channels)
            let perByte = 8 / bitDepth
            let mask = (1 << bitDepth) - 1
            for y in 0..<height {
                for x in 0..<width {
                    let byte = Int(data[y * stride + x / perByte])
                    let shift = (perByte - 1 - x % perByte) * bitDepth
                    let index = (byte >> shift) & mask
                    guard index * 3 + 2 < palette.count else { throw PNGError(source, "palette index \(index) is out of range") }
                    let o = (y * width + x) * channels
                    px[o] = palette[index * 3]; px[o + 1] = palette[index * 3 + 1]; px[o + 2] = palette[index * 3 + 2]
                    if channels == 4 { px[o + 3] = index < transparency.count ? transparency[index] : 255 }
                }
            }
            return Image8(width: width, height: height, channels: channels, pixels: px)
        }
        if bitDepth == 16 {
            var px = [UInt8](repeating: 0, count: width * height * samples)
            for i in 0..<px.count { px[i] = data[(i / (width * samples)) * stride + (i % (width * samples)) * 2] }
            return Image8(width: width, height: height, channels: samples, pixels: px)
        }
        return Image8(width: width, height: height, channels: samples, pixels: data)
    }
}
