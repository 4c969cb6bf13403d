import Imaging
import TensorCore

/// One object of a clip: a shape of the image world moving in a straight line at constant velocity, visible in
/// `visibleFrames` (the frames it is drawn in; outside them it is absent).
public struct MovingShape: Sendable, Codable, Equatable {
    public var shape: ShapeKind
    public var color: ShapeColor
    /// Side of the bounding box in pixels, as `ShapeObject.size`.
    public var size: Double
    /// Centre in frame 0 (continuous pixel coordinates, y downwards).
    public var startX: Double
    public var startY: Double
    /// Pixels per frame.
    public var velocityX: Double
    public var velocityY: Double
    public var visibleFrames: Range<Int>

    public init(shape: ShapeKind, color: ShapeColor, size: Double, startX: Double, startY: Double,
                velocityX: Double = 0, velocityY: Double = 0, visibleFrames: Range<Int>) {
        self.shape = shape; self.color = color; self.size = size; self.startX = startX; self.startY = startY
        self.velocityX = velocityX; self.velocityY = velocityY; self.visibleFrames = visibleFrames
    }

    /// The object as drawn in frame `f` (wherever it would be; see `visibleFrames` for whether it is drawn).
    public func object(atFrame f: Int) -> ShapeObject {
        ShapeObject(shape: shape, color: color, centerX: startX + velocityX * Double(f),
                    centerY: startY + velocityY * Double(f), size: size)
    }
}

/// A clip of the moving-shapes world: `frameCount` frames of a square canvas `imageSize` pixels wide, each the
/// image world's scene of the objects visible in that frame (`scene(atFrame:)`, drawn by `ShapesRenderer`).
public struct ShapesClip: Sendable, Codable, Equatable {
    public var imageSize: Int
    public var frameCount: Int
    public var objects: [MovingShape]

    public init(imageSize: Int, frameCount: Int, objects: [MovingShape]) {
        self.imageSize = imageSize; self.frameCount = frameCount; self.objects = objects
    }

    /// The default clip length: 17 frames (Wan's VAE packs 1 + 4·k frames; 17 give 5 latent frames).
    public static let defaultFrameCount = 17

    /// Checks a clip length for rendering: 1 + 4·k frames with k ≥ 1 (the Wan VAE's temporal factor is 4), so 5,
    /// 9, 13, 17, …
    public static func checkFrameCount(_ frames: Int) throws(ShapesVideoError) {
        guard frames >= 5, (frames - 1) % 4 == 0 else { throw .frameCountNotWanShaped(frames) }
    }

    /// The image-world scene of frame `f`: the objects visible in it, in order.
    public func scene(atFrame f: Int) -> ShapesScene {
        ShapesScene(imageSize: imageSize, objects: objects.filter { $0.visibleFrames.contains(f) }.map { $0.object(atFrame: f) })
    }

    /// The ground-truth tracks: each object's centre in the frames it is visible in.
    public var tracks: [ObjectTrack] {
        objects.map { o in
            ObjectTrack(shape: o.shape, color: o.color, centers: (0..<frameCount).map { f in
                guard o.visibleFrames.contains(f) else { return nil }
                let p = o.object(atFrame: f)
                return TrackPoint(x: p.centerX, y: p.centerY)
            })
        }
    }
}

extension ShapesRenderer {
    /// The clip's frames as 8-bit images.
    public func render(_ clip: ShapesClip) -> [Image8] {
        (0..<clip.frameCount).map { render(clip.scene(atFrame: $0)) }
    }

    /// The clip as a `[F, 3, H, W]` tensor in [0, 1] (a decoded video sample's layout).
    public func renderTensor(_ clip: ShapesClip) -> Tensor {
        Tensor.stack(render(clip).map { $0.tensor() })
    }
}

/// Why a clip or a video cannot be made or judged; `description` says what to pass instead.
public enum ShapesVideoError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A clip length that is not 1 + 4·k frames (k ≥ 1).
    case frameCountNotWanShaped(Int)
    /// A tensor that is not a video `[F, 3, H, W]` (or a batch `[N, F, 3, H, W]`).
    case notAVideo(shape: [Int])
    /// Fewer than two frames: motion cannot be judged.
    case tooFewFrames(Int)
    /// A frame the detector cannot read (too small).
    case unreadableFrame(index: Int, ShapesImageError)
    /// A canvas too small for the detector to read.
    case canvasTooSmall(Int)

    public var description: String {
        switch self {
        case .frameCountNotWanShaped(let f):
            let below = max(5, (f - 1) / 4 * 4 + 1), above = max(5, ((f - 1) / 4 + 1) * 4 + 1)
            return "a clip needs 1 + 4·k frames (5, 9, 13, 17, …; the Wan VAE packs frames in fours after the first); got \(f)\(f > 5 && below != above ? " — use \(below) or \(above)" : "")"
        case .notAVideo(let shape):
            return "the shapes video verifier reads videos as [F, 3, H, W] tensors in [0, 1] (batches as [N, F, 3, H, W]); got a tensor of shape \(shape)"
        case .tooFewFrames(let f):
            return "the shapes video verifier needs at least 2 frames to judge motion; got \(f)"
        case let .unreadableFrame(index, error):
            return "frame \(index): \(error)"
        case .canvasTooSmall(let size):
            return "clips of the shapes world need at least \(ObjectDetector.minimumSide)×\(ObjectDetector.minimumSide) pixels (the detector's smallest image); got \(size)×\(size)"
        }
    }
}
