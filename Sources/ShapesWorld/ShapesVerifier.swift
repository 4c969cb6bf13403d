import Imaging
import TensorCore

/// The verdict of the shapes verifier on one image (or one object list): each constraint with its answer,
/// the fraction satisfied and whether all are.
public struct ShapesVerdict: Sendable, Equatable, CustomStringConvertible {
    public var constraints: [ShapesConstraintResult]
    /// The objects the verdict was reached on (detected ones for images; empty for ground-truth lists).
    public var detected: [DetectedObject]

    public init(constraints: [ShapesConstraintResult], detected: [DetectedObject] = []) {
        self.constraints = constraints; self.detected = detected
    }

    /// Fraction of constraints satisfied, in [0, 1] (every prompt has at least one constraint).
    public var fraction: Double {
        constraints.isEmpty ? 0 : Double(constraints.filter(\.satisfied).count) / Double(constraints.count)
    }

    public var allSatisfied: Bool { constraints.allSatisfy(\.satisfied) }

    /// "red circle present: yes; blue square present: no"
    public var description: String { constraints.map(\.description).joined(separator: "; ") }
}

/// The exact verifier of the shapes world: a prompt of the shapes grammar, checked against an image by finding
/// its objects (`ObjectDetector`) and judging the prompt's constraints on them (`ShapesConstraints`).
///
/// The prompt is parsed once, when the verifier is made; a text outside the grammar throws `ShapesPromptError`
/// (what was understood, which words are unknown), never a silent score. `verify(objects:)` applies the same
/// constraints to a ground-truth object list, so detector and ground truth are judged by one rule. Images should
/// be shapes-world images (dark gray background, the five fills), square, 32 pixels or larger; see
/// `ObjectDetector` for the detection rules and their limits.
public struct ShapesVerifier: Sendable, Equatable {
    public let prompt: ShapesPrompt
    public var detector: ObjectDetector
    public var constraints: ShapesConstraints { ShapesConstraints(prompt) }

    public init(prompt: ShapesPrompt, detector: ObjectDetector = ObjectDetector()) {
        self.prompt = prompt; self.detector = detector
    }

    /// Parses `text` with `ShapesPrompt(parsing:)`; throws its `ShapesPromptError` for text outside the grammar.
    public init(parsing text: String, detector: ObjectDetector = ObjectDetector()) throws {
        self.init(prompt: try ShapesPrompt(parsing: text), detector: detector)
    }

    /// Judges the prompt on already-known objects (e.g. a scene's ground truth) in an image `imageWidth` wide.
    public func verify<O: PlacedShape>(objects: [O], imageWidth: Int) -> ShapesVerdict {
        ShapesVerdict(constraints: constraints.evaluate(objects, imageWidth: imageWidth))
    }

    /// Judges the prompt on a scene's own objects (the ground truth).
    public func verify(scene: ShapesScene) -> ShapesVerdict {
        verify(objects: scene.objects, imageWidth: scene.imageSize)
    }

    /// Judges the prompt on the objects detected in an 8-bit image.
    public func verify(_ image: Image8) throws(ShapesImageError) -> ShapesVerdict {
        let found = try detector.detect(image)
        return ShapesVerdict(constraints: constraints.evaluate(found, imageWidth: image.width), detected: found)
    }

    /// Judges the prompt on the objects detected in a `[3, H, W]` tensor in [0, 1].
    public func verify(tensor: Tensor) throws(ShapesImageError) -> ShapesVerdict {
        let found = try detector.detect(tensor: tensor)
        return ShapesVerdict(constraints: constraints.evaluate(found, imageWidth: tensor.shape[2]), detected: found)
    }

    /// Judges image `index` of a batch `[N, 3, H, W]` in [0, 1] without copying it out.
    public func verify(batch: Tensor, index: Int) throws(ShapesImageError) -> ShapesVerdict {
        guard batch.rank == 4 && batch.shape[1] == 3 else { throw .notAnRGBImage(shape: batch.shape) }
        precondition(index >= 0 && index < batch.shape[0], "ShapesVerifier: image \(index) of \(batch.shape[0])")
        let h = batch.shape[2], w = batch.shape[3]
        let found = try detector.detect(planes: batch.scalars, offset: index * 3 * h * w, width: w, height: h)
        return ShapesVerdict(constraints: constraints.evaluate(found, imageWidth: w), detected: found)
    }
}
