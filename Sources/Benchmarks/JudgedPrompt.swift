import Rewards
import Sampling
import ShapesWorld
import TensorCore

/// A prompt of the shapes world (images) or of the moving-shapes world (videos) with its exact verifier: what
/// `ShapesBenchmark` and `PlainSampleEvaluation` run and judge, whichever kind of sample the model makes.
public struct JudgedPrompt: Sendable, CustomStringConvertible {
    public let text: String
    /// The task type's name: a `ShapesTask` or `ShapesVideoTask` raw value.
    public let task: String
    /// What the prompt's verifier judges.
    public let kind: SampleKind
    /// The verifier as a reward (`shapes-verifier` or `shapes-video-verifier`): the fraction of constraints satisfied.
    public let verifierReward: any Reward
    private let verdict: @Sendable (Tensor) throws -> (fraction: Double, satisfied: Bool)
    /// The verifier's detector, for `layout`.
    private let detector: ObjectDetector

    public init(image prompt: ShapesPrompt) {
        let verifier = ShapesVerifier(prompt: prompt)
        text = prompt.text; task = prompt.task.rawValue; kind = .image
        verifierReward = ShapesVerifierReward(verifier: verifier)
        verdict = { sample in let v = try verifier.verify(tensor: sample); return (v.fraction, v.allSatisfied) }
        detector = verifier.detector
    }

    public init(video prompt: ShapesVideoPrompt) {
        let verifier = ShapesVideoVerifier(prompt: prompt)
        text = prompt.text; task = prompt.task.rawValue; kind = .video
        verifierReward = ShapesVideoVerifierReward(verifier: verifier)
        verdict = { sample in let v = try verifier.verify(video: sample); return (v.fraction, v.allSatisfied) }
        detector = verifier.detector
    }

    /// The verifier's fraction of constraints satisfied by one decoded sample (`[3, H, W]` or `[F, 3, H, W]` in
    /// [0, 1], or the same with a leading batch axis of one), and whether all are.
    public func judge(_ sample: Tensor) throws -> (fraction: Double, satisfied: Bool) {
        let single = kind == .image ? 3 : 4
        return try verdict(sample.rank == single + 1 && sample.shape[0] == 1 ? sample.row(0) : sample)
    }

    /// The scene layout of one decoded sample (`[3, H, W]` or `[F, 3, H, W]`), as `ClaimsBenchmark.layout` writes
    /// it from the detected objects: an image's, or a video's first and last frames' joined by " → " (so the same
    /// start with another motion is another layout).
    public func layout(_ sample: Tensor) throws -> String {
        let s = sample.shape
        guard s.count >= 3 else { throw ShapesBenchmarkError("layout: a sample of shape \(s) has no [3, H, W] frames") }
        let (h, w) = (s[s.count - 2], s[s.count - 1])
        let frame = 3 * h * w
        let frames = kind == .image ? [0] : [0, max(0, sample.count / frame - 1)]
        return try frames.map { f in
            ClaimsBenchmark.layout(try detector.detect(planes: sample.scalars, offset: f * frame, width: w, height: h), width: w, height: h)
        }.joined(separator: " → ")
    }

    public var description: String { text }

    /// Throws when `pipeline` makes the other kind of sample than some prompt's verifier judges (before any compute).
    public static func checkKind(_ prompts: [JudgedPrompt], pipeline: any GeneratorPipeline) throws(ShapesBenchmarkError) {
        if let p = prompts.first(where: { $0.kind != pipeline.sampleKind }) {
            throw ShapesBenchmarkError("\"\(p.text)\" is a prompt of the \(p.kind.rawValue) world, but \(type(of: pipeline).className) makes \(pipeline.sampleKind.rawValue)s")
        }
    }

    /// Task type names of a world in its grammar's order (the order of report columns).
    public static func tasks(_ kind: SampleKind) -> [String] {
        kind == .image ? ShapesTask.allCases.map(\.rawValue) : ShapesVideoTask.allCases.map(\.rawValue)
    }

    /// The held-out prompts of a world, the first `perTask` of each task type, in task order.
    public static func heldout(_ kind: SampleKind, perTask: Int) -> [JudgedPrompt] {
        switch kind {
        case .image:
            let all = ShapesPromptSuite.prompts(.heldout)
            return ShapesTask.allCases.flatMap { t in all.filter { $0.task == t }.prefix(perTask).map(JudgedPrompt.init(image:)) }
        case .video:
            let all = ShapesVideoPromptSuite.prompts(.heldout)
            return ShapesVideoTask.allCases.flatMap { t in all.filter { $0.task == t }.prefix(perTask).map(JudgedPrompt.init(video:)) }
        }
    }
}
