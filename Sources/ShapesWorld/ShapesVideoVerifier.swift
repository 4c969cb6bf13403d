import Imaging
import TensorCore

/// The verdict of the video verifier on one clip (or one set of tracks): each constraint with its answer, the
/// fraction satisfied, and the tracks it was reached on.
public struct ShapesVideoVerdict: Sendable, Equatable, CustomStringConvertible {
    public var constraints: [ShapesConstraintResult]
    /// The tracks judged (the tracker's for videos, the given ones otherwise).
    public var tracks: [ObjectTrack]

    public init(constraints: [ShapesConstraintResult], tracks: [ObjectTrack] = []) {
        self.constraints = constraints; self.tracks = tracks
    }

    /// Fraction of constraints satisfied, in [0, 1].
    public var fraction: Double {
        constraints.isEmpty ? 0 : Double(constraints.count(where: \.satisfied)) / Double(constraints.count)
    }

    public var allSatisfied: Bool { constraints.allSatisfy(\.satisfied) }

    /// The constraints that do not hold.
    public var failed: [ShapesConstraintResult] { constraints.filter { !$0.satisfied } }

    public var description: String { constraints.map(\.description).joined(separator: "; ") }
}

/// The exact verifier of the moving-shapes world: a prompt of the video grammar checked against a clip by finding
/// the objects of every frame (`ObjectDetector`, the image verifier's detector), linking them into tracks
/// (`ObjectTracker`) and judging the prompt's constraints on the tracks (`ShapesVideoConstraints`).
///
/// The prompt is parsed when the verifier is made (outside the grammar → `ShapesPromptError`). `verify(clip:)` and
/// `verify(tracks:…)` apply the same constraints to ground-truth tracks. Frames should be shapes-world images
/// (square, ≥ 32 px); see `ObjectDetector` and `ObjectTracker` for their rules and limits.
public struct ShapesVideoVerifier: Sendable, Equatable {
    public let prompt: ShapesVideoPrompt
    public var detector: ObjectDetector
    public var tracker: ObjectTracker
    public var constraints: ShapesVideoConstraints { ShapesVideoConstraints(prompt) }

    public init(prompt: ShapesVideoPrompt, detector: ObjectDetector = ObjectDetector(), tracker: ObjectTracker = ObjectTracker()) {
        self.prompt = prompt; self.detector = detector; self.tracker = tracker
    }

    /// Parses `text` with `ShapesVideoPrompt(parsing:)`; throws its `ShapesPromptError` outside the grammar.
    public init(parsing text: String, detector: ObjectDetector = ObjectDetector(), tracker: ObjectTracker = ObjectTracker()) throws {
        self.init(prompt: try ShapesVideoPrompt(parsing: text), detector: detector, tracker: tracker)
    }

    /// Judges the prompt on known tracks (e.g. a clip's ground truth).
    public func verify(tracks: [ObjectTrack], frameCount: Int, imageWidth: Int) -> ShapesVideoVerdict {
        ShapesVideoVerdict(constraints: constraints.evaluate(tracks, frameCount: frameCount, imageWidth: imageWidth), tracks: tracks)
    }

    /// Judges the prompt on a clip's own objects (the ground truth).
    public func verify(clip: ShapesClip) -> ShapesVideoVerdict {
        verify(tracks: clip.tracks, frameCount: clip.frameCount, imageWidth: clip.imageSize)
    }

    /// Judges the prompt on the objects detected in each frame's detections (already found).
    public func verify(detections frames: [[DetectedObject]], imageWidth: Int) throws(ShapesVideoError) -> ShapesVideoVerdict {
        guard frames.count >= 2 else { throw .tooFewFrames(frames.count) }
        return verify(tracks: tracker.tracks(frames, imageWidth: imageWidth), frameCount: frames.count, imageWidth: imageWidth)
    }

    /// Judges the prompt on 8-bit frames.
    public func verify(frames: [Image8]) throws(ShapesVideoError) -> ShapesVideoVerdict {
        var found: [[DetectedObject]] = []
        for (f, image) in frames.enumerated() {
            do { found.append(try detector.detect(image)) } catch { throw .unreadableFrame(index: f, error) }
        }
        return try verify(detections: found, imageWidth: frames.first?.width ?? 0)
    }

    /// Judges the prompt on a `[F, 3, H, W]` video in [0, 1].
    public func verify(video: Tensor) throws(ShapesVideoError) -> ShapesVideoVerdict {
        guard video.rank == 4, video.shape[1] == 3 else { throw .notAVideo(shape: video.shape) }
        return try verify(planes: video.scalars, offset: 0, frames: video.shape[0], width: video.shape[3], height: video.shape[2])
    }

    /// Judges clip `index` of a batch `[N, F, 3, H, W]` in [0, 1] without copying it out.
    public func verify(batch: Tensor, index: Int) throws(ShapesVideoError) -> ShapesVideoVerdict {
        guard batch.rank == 5, batch.shape[2] == 3 else { throw .notAVideo(shape: batch.shape) }
        precondition(index >= 0 && index < batch.shape[0], "ShapesVideoVerifier: clip \(index) of \(batch.shape[0])")
        let f = batch.shape[1], h = batch.shape[3], w = batch.shape[4]
        return try verify(planes: batch.scalars, offset: index * f * 3 * h * w, frames: f, width: w, height: h)
    }

    /// `frames` planar `[3, H, W]` frames stored one after another from `offset`.
    func verify(planes scalars: [Float], offset: Int, frames: Int, width w: Int, height h: Int) throws(ShapesVideoError) -> ShapesVideoVerdict {
        guard frames >= 2 else { throw .tooFewFrames(frames) }
        var found: [[DetectedObject]] = []
        for f in 0..<frames {
            do { found.append(try detector.detect(planes: scalars, offset: offset + f * 3 * h * w, width: w, height: h)) } catch {
                throw .unreadableFrame(index: f, error)
            }
        }
        return try verify(detections: found, imageWidth: w)
    }
}
