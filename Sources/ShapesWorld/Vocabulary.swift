/// The shapes world's words: three shapes, five well-separated colours, four spatial relations and the
/// number words of counting prompts. The renderer, the caption grammar and the verifier all read these.

/// A shape the renderer draws and the verifier classifies.
public enum ShapeKind: String, CaseIterable, Sendable, Codable {
    case circle, square, triangle

    /// The plural used in counting prompts ("three green circles").
    public var plural: String { rawValue + "s" }
}

/// A fill colour. The five are far apart in RGB (pairwise distance ≥ 120 of 441) and far from the background,
/// so nearest-colour segmentation survives blur, noise and a model's imperfect colours.
public enum ShapeColor: String, CaseIterable, Sendable, Codable {
    case red, green, blue, yellow, purple

    /// sRGB fill, 0…255.
    public var rgb: (r: UInt8, g: UInt8, b: UInt8) {
        switch self {
        case .red: return (225, 45, 45)
        case .green: return (45, 185, 70)
        case .blue: return (45, 90, 230)
        case .yellow: return (240, 215, 45)
        case .purple: return (165, 65, 215)
        }
    }
}

/// The canvas colour behind every object (dark gray), far from all five fills.
public let shapesBackground: (r: UInt8, g: UInt8, b: UInt8) = (28, 28, 32)

/// "to the left of", "to the right of", "above", "below": where the first-named object is relative to the second.
public enum SpatialRelation: String, CaseIterable, Sendable, Codable {
    case leftOf = "to the left of"
    case rightOf = "to the right of"
    case above = "above"
    case below = "below"

    /// Whether an object centred at `a` stands in this relation to one centred at `b` (image coordinates,
    /// y grows downwards): the centres differ along the relation's axis by at least `margin` pixels in the
    /// right direction. The other axis is not constrained (GenEval's rule).
    public func holds(_ a: (x: Double, y: Double), _ b: (x: Double, y: Double), margin: Double) -> Bool {
        switch self {
        case .leftOf: return b.x - a.x >= margin
        case .rightOf: return a.x - b.x >= margin
        case .above: return b.y - a.y >= margin
        case .below: return a.y - b.y >= margin
        }
    }

    /// The relation margin for an image `width` pixels wide: 5% of the width.
    public static func margin(imageSize: Int) -> Double { 0.05 * Double(imageSize) }
}

/// Number words of counting prompts (2…4; scenes hold at most four objects).
public let countWords: [Int: String] = [2: "two", 3: "three", 4: "four"]
