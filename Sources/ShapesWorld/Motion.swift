/// The moving-shapes world's motion words: how an object moves over a clip, and the margins by which the video
/// verifier tells one motion from another.

/// A straight-line motion over a clip (image coordinates: y grows downwards, so "up" is −y).
///
/// The caption words are `rawValue`; the parser also reads "falling" as `down` and "rising" as `up`, and prints the
/// canonical words. Judged on a track's net displacement between its first and last frames
/// (`isShown(byDisplacementX:y:imageWidth:)`): motion along the named axis of at least `minimumTravelFraction` of
/// the width in the named direction, with at most `maximumDriftFraction` of the width on the other axis; `still`
/// allows at most `maximumDriftFraction` on both axes. The path between the ends is not judged (an object that goes
/// and comes back reads as still).
public enum ShapeMotion: String, CaseIterable, Sendable, Codable {
    case still = "staying still"
    case left = "moving left"
    case right = "moving right"
    case up = "moving up"
    case down = "moving down"

    /// The motions with a direction (every case but `still`).
    public static let directions: [ShapeMotion] = [.left, .right, .up, .down]

    /// Net displacement, as a fraction of the image width, from which a track counts as moving along an axis
    /// (9.6 px at 64 px; the clip sampler moves objects 25–45 % of the width).
    public static let minimumTravelFraction = 0.15
    /// Largest net displacement, as a fraction of the width, allowed across the axis of motion, and on both axes for
    /// `still` (5.1 px at 64 px; the sampler's objects move along one axis only).
    public static let maximumDriftFraction = 0.08

    /// Unit step of the motion (0, 0 for `still`).
    public var unitStep: (dx: Double, dy: Double) {
        switch self {
        case .still: return (0, 0)
        case .left: return (-1, 0)
        case .right: return (1, 0)
        case .up: return (0, -1)
        case .down: return (0, 1)
        }
    }

    /// Whether a net displacement (dx, dy) in pixels, over a clip `imageWidth` pixels wide, shows this motion.
    public func isShown(byDisplacementX dx: Double, y dy: Double, imageWidth: Int) -> Bool {
        let travel = Self.minimumTravelFraction * Double(imageWidth)
        let drift = Self.maximumDriftFraction * Double(imageWidth)
        switch self {
        case .still: return abs(dx) <= drift && abs(dy) <= drift
        case .left: return -dx >= travel && abs(dy) <= drift
        case .right: return dx >= travel && abs(dy) <= drift
        case .up: return -dy >= travel && abs(dx) <= drift
        case .down: return dy >= travel && abs(dx) <= drift
        }
    }
}

/// What one object of a video caption does: a motion, or appearing / disappearing partway through the clip (an
/// appearing or disappearing object stays where it is).
public enum VideoAction: Sendable, Hashable, Codable {
    case motion(ShapeMotion)
    case appearing
    case disappearing

    /// "moving left", "appearing", "disappearing".
    public var words: String {
        switch self {
        case .motion(let m): return m.rawValue
        case .appearing: return "appearing"
        case .disappearing: return "disappearing"
        }
    }
}
