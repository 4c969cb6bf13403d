import Imaging
import TensorCore

/// Why a report or an output directory could not be made; the message names the file or the sample and the fix.
public struct ReportError: Error, CustomStringConvertible, Equatable, Sendable {
    public var description: String
    public init(_ message: String) { description = message }
}

/// Converts scored samples (`[3, H, W]` in [0, 1], flattened) to 8-bit images and thumbnails.
public enum SampleImage {
    /// The sample as an RGB image, rounded as diffusers' `numpy_to_pil` (and `best.png`) round.
    /// Throws when the sample does not hold `3 · height · width` values (e.g. a toy search's points).
    public static func image(_ sample: [Float], height: Int, width: Int) throws(ReportError) -> Image8 {
        guard height > 0, width > 0, sample.count == 3 * height * width else {
            throw ReportError("a sample of \(sample.count) values is not a 3×\(height)×\(width) image; pass the decoded image size")
        }
        return Image8(tensor: Tensor(shape: [3, height, width], scalars: sample))
    }

    /// `image` resized for display: images wider or taller than `maximum` are shrunk (bicubic, aspect kept);
    /// images whose larger side is below `minimum` are enlarged by the smallest integer factor that reaches it
    /// (nearest neighbour, so pixels stay crisp). Others are returned unchanged.
    public static func thumbnail(_ image: Image8, minimum: Int, maximum: Int) -> Image8 {
        let side = max(image.width, image.height)
        if side > maximum {
            let w = max(1, image.width * maximum / side), h = max(1, image.height * maximum / side)
            return BicubicResampler.resize(image, width: w, height: h, arithmetic: .pillow)
        }
        if side < minimum, side > 0 {
            let f = (minimum + side - 1) / side
            return enlarge(image, factor: f)
        }
        return image
    }

    /// Nearest-neighbour enlargement by an integer factor.
    static func enlarge(_ image: Image8, factor f: Int) -> Image8 {
        let w = image.width * f, h = image.height * f, c = image.channels
        var out = [UInt8](repeating: 0, count: w * h * c)
        for y in 0..<h {
            let sy = y / f
            for x in 0..<w {
                let s = (sy * image.width + x / f) * c, d = (y * w + x) * c
                for k in 0..<c { out[d + k] = image.pixels[s + k] }
            }
        }
        return Image8(width: w, height: h, channels: c, pixels: out)
    }
}

/// A grid of labelled images in one RGB image: a generation's population with each tile's reward drawn under
/// it in `BitmapFont`.
///
/// Tiles are placed left to right, top to bottom, in the order given, on a white background; each cell is as
/// wide as the widest tile or label and as tall as the tallest tile plus one label line. Tiles should already
/// be thumbnails (see `SampleImage.thumbnail`): the sheet does not resize them. Memory is one byte per pixel
/// and channel of the sheet.
public struct ContactSheet: Sendable {
    /// One cell: an image and the text under it.
    public struct Tile: Sendable {
        public var image: Image8
        public var label: String
        public init(image: Image8, label: String) { self.image = image; self.label = label }
    }

    /// Most tiles per row.
    public var columns: Int
    /// Blank pixels around and between cells.
    public var padding: Int
    /// Scale of the 3×5 font (2 → 6×10-pixel characters).
    public var labelScale: Int

    public init(columns: Int = 8, padding: Int = 4, labelScale: Int = 2) {
        precondition(columns >= 1 && padding >= 0 && labelScale >= 1, "ContactSheet: columns ≥ 1, padding ≥ 0, labelScale ≥ 1")
        self.columns = columns; self.padding = padding; self.labelScale = labelScale
    }

    /// The sheet; an empty tile list gives a blank `padding × padding` image (at least 1×1).
    public func render(_ tiles: [Tile]) -> Image8 {
        guard !tiles.isEmpty else {
            let s = max(1, padding)
            return Image8(width: s, height: s, channels: 3, pixels: [UInt8](repeating: 255, count: s * s * 3))
        }
        let labelHeight = BitmapFont.height(scale: labelScale) + 2 * labelScale
        let cellW = tiles.map { max($0.image.width, BitmapFont.width(of: $0.label, scale: labelScale)) }.max()!
        let cellH = tiles.map(\.image.height).max()! + labelHeight
        let cols = min(columns, tiles.count), rows = (tiles.count + cols - 1) / cols
        let width = cols * cellW + (cols + 1) * padding, height = rows * cellH + (rows + 1) * padding
        var sheet = Image8(width: width, height: height, channels: 3, pixels: [UInt8](repeating: 255, count: width * height * 3))
        for (i, tile) in tiles.enumerated() {
            let x0 = padding + (i % cols) * (cellW + padding), y0 = padding + (i / cols) * (cellH + padding)
            let rgb = tile.image.rgb
            let dx = x0 + (cellW - rgb.width) / 2
            for y in 0..<rgb.height {
                let src = y * rgb.width * 3, dst = ((y0 + y) * width + dx) * 3
                sheet.pixels.replaceSubrange(dst..<(dst + rgb.width * 3), with: rgb.pixels[src..<(src + rgb.width * 3)])
            }
            let labelX = x0 + (cellW - BitmapFont.width(of: tile.label, scale: labelScale)) / 2
            BitmapFont.draw(tile.label, into: &sheet, x: labelX, y: y0 + cellH - labelHeight + labelScale, scale: labelScale)
        }
        return sheet
    }
}
