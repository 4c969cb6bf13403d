import Foundation

/// Animated PNG (APNG, as browsers and Pillow read it): frames of one size and channel count, each shown for
/// `delayMilliseconds`, looping forever. The first frame is the default image (IDAT), so a viewer without APNG
/// support shows it as a still; later frames are `fdAT` chunks. Every frame is stored whole (no disposal or
/// blending tricks, no frame cropping).
public enum AnimatedPNG {
    public static func encode(_ frames: [Image8], delayMilliseconds: Int = 125) throws(PNGError) -> [UInt8] {
        guard let first = frames.first else { throw PNGError("AnimatedPNG.encode", "no frames to encode") }
        guard frames.allSatisfy({ $0.width == first.width && $0.height == first.height && $0.channels == first.channels }) else {
            throw PNGError("AnimatedPNG.encode", "frames differ in size or channels; every frame must be \(first.width)×\(first.height)×\(first.channels)")
        }
        guard (1...65535).contains(delayMilliseconds) else {
            throw PNGError("AnimatedPNG.encode", "frame delay \(delayMilliseconds) ms must be in 1…65535")
        }
        let colorType = try PNG.colorType(channels: first.channels, encoder: "AnimatedPNG.encode")
        var out = PNG.signature
        PNG.appendChunk("IHDR", PNG.header(first, colorType: colorType), to: &out)
        PNG.appendChunk("acTL", PNG.bigEndian(UInt32(frames.count)) + PNG.bigEndian(0), to: &out)
        var sequence: UInt32 = 0
        for (i, frame) in frames.enumerated() {
            var control = PNG.bigEndian(sequence) + PNG.bigEndian(UInt32(first.width)) + PNG.bigEndian(UInt32(first.height))
            control += PNG.bigEndian(0) + PNG.bigEndian(0)                       // x and y offsets
            control += [UInt8(delayMilliseconds >> 8), UInt8(delayMilliseconds & 255), 0x03, 0xE8]  // delay / 1000 s
            control += [0, 0]                                                     // dispose none, blend source
            PNG.appendChunk("fcTL", control, to: &out)
            sequence += 1
            let data = try PNG.deflatedRows(frame)
            if i == 0 {
                PNG.appendChunk("IDAT", data, to: &out)
            } else {
                PNG.appendChunk("fdAT", PNG.bigEndian(sequence) + data, to: &out)
                sequence += 1
            }
        }
        PNG.appendChunk("IEND", [], to: &out)
        return out
    }

    public static func write(_ frames: [Image8], delayMilliseconds: Int = 125, to path: String) throws(PNGError) {
        let bytes = try encode(frames, delayMilliseconds: delayMilliseconds)
        do { try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw PNGError(path, "cannot be written: \(error.localizedDescription)", .io)
        }
    }
}
