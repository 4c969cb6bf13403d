/// A centre in one frame (continuous pixel coordinates, y downwards).
public struct TrackPoint: Sendable, Equatable, Codable {
    public var x: Double
    public var y: Double
    public init(x: Double, y: Double) { self.x = x; self.y = y }
}

/// One object followed through a clip: its shape and colour, and its bounding-box centre in each frame where it is
/// present (nil where absent). Both a clip's ground truth (`ShapesClip.tracks`) and the tracker's output are tracks,
/// so one evaluator (`ShapesVideoConstraints`) judges both.
public struct ObjectTrack: Sendable, Equatable, Codable {
    public var shape: ShapeKind
    public var color: ShapeColor
    public var centers: [TrackPoint?]

    public init(shape: ShapeKind, color: ShapeColor, centers: [TrackPoint?]) {
        self.shape = shape; self.color = color; self.centers = centers
    }

    public func isPresent(atFrame f: Int) -> Bool { centers[f] != nil }
    public var firstFrame: Int? { centers.firstIndex { $0 != nil } }
    public var lastFrame: Int? { centers.lastIndex { $0 != nil } }
    /// Frames in which the track is present.
    public var presentFrames: Int { centers.count { $0 != nil } }

    /// Net displacement from the first frame of the clip to the last, or nil unless present in both.
    public var netDisplacement: (dx: Double, dy: Double)? {
        guard let a = centers.first ?? nil, let b = centers.last ?? nil else { return nil }
        return (b.x - a.x, b.y - a.y)
    }
}

/// The object of a track in one frame, as the image world's constraints see it.
struct TrackedObject: PlacedShape {
    var shape: ShapeKind
    var color: ShapeColor
    var centerX: Double
    var centerY: Double
}

extension Array where Element == ObjectTrack {
    /// The objects present in frame `f`.
    func objects(atFrame f: Int) -> [TrackedObject] {
        compactMap { t in t.centers[f].map { TrackedObject(shape: t.shape, color: t.color, centerX: $0.x, centerY: $0.y) } }
    }
}

/// Links the objects detected in each frame into tracks: a detection continues a track of the same shape and colour
/// whose predicted centre (its last centre plus its last velocity times the frames since) is nearest, within
/// `maximumJumpFraction` of the image width; pairs are taken nearest first, each detection and track once. A track
/// missing from up to `maximumGap` frames can be continued (those frames stay absent); a detection continuing no
/// track starts one. Tracks are ordered by the frame, then the order, of their first detection.
///
/// Limits: a change of shape or colour in one frame (a misclassified frame) ends a track and starts another; two
/// objects of one shape and colour crossing paths may swap identities (the sampler keeps objects apart).
public struct ObjectTracker: Sendable, Equatable {
    /// Largest distance, as a fraction of the width, between a track's predicted centre and a detection it takes
    /// (16 px at 64 px; the sampler's objects move at most 1.8 px per frame in 17 frames, 7.2 px in 5).
    public var maximumJumpFraction: Double
    /// How many frames in a row a track may be missing and still be continued.
    public var maximumGap: Int

    public init(maximumJumpFraction: Double = 0.25, maximumGap: Int = 2) {
        self.maximumJumpFraction = maximumJumpFraction; self.maximumGap = maximumGap
    }

    /// Tracks through `frames` (detections per frame) of images `imageWidth` pixels wide.
    public func tracks(_ frames: [[DetectedObject]], imageWidth: Int) -> [ObjectTrack] {
        let count = frames.count
        let jump = maximumJumpFraction * Double(imageWidth)
        var tracks: [ObjectTrack] = []
        var last: [Int] = []                      // the last frame each track was seen in
        var velocity: [(Double, Double)] = []     // per frame, from its last two observations
        for (f, found) in frames.enumerated() {
            var pairs: [(distance: Double, track: Int, detection: Int)] = []
            for t in tracks.indices where f - last[t] - 1 <= maximumGap {
                guard let p = tracks[t].centers[last[t]] else { continue }
                let gap = Double(f - last[t])
                let px = p.x + velocity[t].0 * gap, py = p.y + velocity[t].1 * gap
                for (d, o) in found.enumerated() where o.shape == tracks[t].shape && o.color == tracks[t].color {
                    let distance = ((o.centerX - px) * (o.centerX - px) + (o.centerY - py) * (o.centerY - py)).squareRoot()
                    if distance <= jump { pairs.append((distance, t, d)) }
                }
            }
            pairs.sort { ($0.distance, $0.track, $0.detection) < ($1.distance, $1.track, $1.detection) }
            var trackTaken = Set<Int>(), detectionTaken = Set<Int>()
            for pair in pairs where !trackTaken.contains(pair.track) && !detectionTaken.contains(pair.detection) {
                trackTaken.insert(pair.track); detectionTaken.insert(pair.detection)
                let o = found[pair.detection], t = pair.track
                if let p = tracks[t].centers[last[t]] {
                    let gap = Double(f - last[t])
                    velocity[t] = ((o.centerX - p.x) / gap, (o.centerY - p.y) / gap)
                }
                tracks[t].centers[f] = TrackPoint(x: o.centerX, y: o.centerY)
                last[t] = f
            }
            for (d, o) in found.enumerated() where !detectionTaken.contains(d) {
                var centers = [TrackPoint?](repeating: nil, count: count)
                centers[f] = TrackPoint(x: o.centerX, y: o.centerY)
                tracks.append(ObjectTrack(shape: o.shape, color: o.color, centers: centers))
                last.append(f)
                velocity.append((0, 0))
            }
        }
        return tracks
    }
}
