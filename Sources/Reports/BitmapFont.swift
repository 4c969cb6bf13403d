import Imaging

/// A 3×5-pixel bitmap font built into the package, for labelling contact-sheet tiles without any font files.
///
/// Covers the characters reward labels need: digits, `. - + e E n a i f # / :` and space. Any other character is
/// drawn as a filled block, so an unexpected label is visible rather than silently dropped. Glyphs are scaled by an
/// integer factor; each character advances `4 · scale` pixels (3 columns and one blank).
public enum BitmapFont {
    static let glyphWidth = 3
    static let glyphHeight = 5

    /// Rows of each glyph, top to bottom; bit 2 is the left column.
    static let glyphs: [Character: [UInt8]] = [
        "0": [0b111, 0b101, 0b101, 0b101, 0b111],
        "1": [0b010, 0b110, 0b010, 0b010, 0b111],
        "2": [0b111, 0b001, 0b111, 0b100, 0b111],
        "3": [0b111, 0b001, 0b111, 0b001, 0b111],
        "4": [0b101, 0b101, 0b111, 0b001, 0b001],
        "5": [0b111, 0b100, 0b111, 0b001, 0b111],
        "6": [0b111, 0b100, 0b111, 0b101, 0b111],
        "7": [0b111, 0b001, 0b010, 0b010, 0b010],
        "8": [0b111, 0b101, 0b111, 0b101, 0b111],
        "9": [0b111, 0b101, 0b111, 0b001, 0b111],
        ".": [0b000, 0b000, 0b000, 0b000, 0b010],
        "-": [0b000, 0b000, 0b111, 0b000, 0b000],
        "+": [0b000, 0b010, 0b111, 0b010, 0b000],
        "e": [0b000, 0b111, 0b111, 0b100, 0b111],
        "E": [0b111, 0b100, 0b111, 0b100, 0b111],
        "n": [0b000, 0b000, 0b110, 0b101, 0b101],
        "a": [0b000, 0b110, 0b011, 0b101, 0b111],
        "i": [0b010, 0b000, 0b010, 0b010, 0b010],
        "f": [0b011, 0b010, 0b111, 0b010, 0b010],
        "#": [0b101, 0b111, 0b101, 0b111, 0b101],
        "/": [0b001, 0b001, 0b010, 0b100, 0b100],
        ":": [0b000, 0b010, 0b000, 0b010, 0b000],
        " ": [0b000, 0b000, 0b000, 0b000, 0b000],
    ]
    static let unknown: [UInt8] = [0b111, 0b111, 0b111, 0b111, 0b111]

    /// Width in pixels of `text` drawn at `scale` (no trailing blank column).
    public static func width(of text: String, scale: Int) -> Int {
        text.isEmpty ? 0 : (text.count * (glyphWidth + 1) - 1) * scale
    }

    /// Height in pixels of one line at `scale`.
    public static func height(scale: Int) -> Int { glyphHeight * scale }

    /// Draws `text` into `image` (RGB or gray; other channel counts are drawn on their first three channels)
    /// with its top-left corner at (`x`, `y`); pixels falling outside the image are skipped.
    public static func draw(_ text: String, into image: inout Image8, x: Int, y: Int, scale: Int,
                            color: (UInt8, UInt8, UInt8) = (0, 0, 0)) {
        precondition(scale >= 1, "BitmapFont.draw: scale \(scale) must be at least 1")
        let rgb = [color.0, color.1, color.2]
        let channels = min(image.channels, 3)
        var penX = x
        for ch in text {
            let rows = glyphs[ch] ?? unknown
            for (r, bits) in rows.enumerated() {
                for col in 0..<glyphWidth where bits & (1 << (glyphWidth - 1 - col)) != 0 {
                    for dy in 0..<scale {
                        let py = y + r * scale + dy
                        guard py >= 0 && py < image.height else { continue }
                        for dx in 0..<scale {
                            let px = penX + col * scale + dx
                            guard px >= 0 && px < image.width else { continue }
                            let base = (py * image.width + px) * image.channels
                            for c in 0..<channels { image.pixels[base + c] = image.channels >= 3 ? rgb[c] : rgb[0] }
                        }
                    }
                }
            }
            penX += (glyphWidth + 1) * scale
        }
    }
}
