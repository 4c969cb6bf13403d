import Foundation
import ModelIO
import TensorCore

/// What a generator makes: images `[3, H, W]` or videos `[F, 3, H, W]` (one sample, no batch axis).
public enum SampleKind: String, Sendable, Equatable {
    case image, video
}

/// One text-to-sample request, as the command line gives it. `nil` fields take the pipeline's defaults
/// (`GeneratorPipeline.defaults` for generation; the search defaults are the caller's choice).
public struct GenerationRequest: Sendable, Equatable {
    public var prompt: String
    public var negativePrompt: String
    /// Classifier-free guidance scale (≤ 1: no guidance pair); for guidance-distilled models the embedded guidance.
    public var guidance: Float?
    public var steps: Int?
    public var width: Int?
    public var height: Int?
    /// Frames of a video (video families only).
    public var frames: Int?
    /// A sampler named in the pipeline's `schedulerNames`; nil = the one the checkpoint's scheduler config names.
    public var scheduler: String?
    /// Stochasticity of the sampler: DDIM η (0 = deterministic, 1 = DDPM-like posterior noise); for flow models
    /// 0 selects the Euler ODE, > 0 the flow SDE. nil = the pipeline's default.
    public var eta: Float?
    /// Longest tokenised prompt the text encoder gets (families with a configurable length).
    public var maxSequenceLength: Int?
    /// True classifier-free guidance on top of an embedded guidance (FluxPipeline's `true_cfg_scale`: a second
    /// model pass on the negative prompt when > 1); families without an embedded guidance use `guidance`.
    public var trueCFGScale: Float?

    public init(prompt: String, negativePrompt: String = "", guidance: Float? = nil, steps: Int? = nil, width: Int? = nil,
                height: Int? = nil, frames: Int? = nil, scheduler: String? = nil, eta: Float? = nil,
                maxSequenceLength: Int? = nil, trueCFGScale: Float? = nil) {
        self.prompt = prompt; self.negativePrompt = negativePrompt; self.guidance = guidance; self.steps = steps
        self.width = width; self.height = height; self.frames = frames; self.scheduler = scheduler; self.eta = eta
        self.maxSequenceLength = maxSequenceLength; self.trueCFGScale = trueCFGScale
    }
}

/// What a pipeline does when a request leaves a field out (the reference pipeline's own defaults).
public struct GenerationDefaults: Sendable, Equatable {
    public var steps: Int
    public var guidance: Float
    public var width: Int
    public var height: Int
    public var frames: Int?
    public var eta: Float

    public init(steps: Int, guidance: Float, width: Int, height: Int, frames: Int? = nil, eta: Float = 0) {
        self.steps = steps; self.guidance = guidance; self.width = width; self.height = height; self.frames = frames
        self.eta = eta
    }
}

/// A request a pipeline cannot serve; `field` says which part (the command line maps it to its flag).
public struct GenerationRequestError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Field: String, Sendable, Equatable {
        case prompt, negativePrompt, guidance, steps, size, frames, scheduler, eta, maxSequenceLength, trueCFGScale
    }
    public var field: Field
    public var message: String
    public init(_ field: Field, _ message: String) { self.field = field; self.message = message }
    public var description: String { message }
}

/// A text-to-image or text-to-video generator loaded from a diffusers pipeline directory, as the search and the
/// command line drive it without knowing its family.
///
/// A family (Stable Diffusion, …) implements this in its own module; `PipelineRegistry` picks the type from
/// `model_index.json`'s `_class_name`. `makeTrajectory` binds a prompt, guidance, size and sampler into the
/// `Trajectory` every search strategy steps; `generate` is the reference pipeline's own sampling loop with its
/// random draws (parity with diffusers for a seed).
public protocol GeneratorPipeline: Sendable {
    /// The `_class_name` in `model_index.json` this type loads (e.g. "StableDiffusionPipeline").
    static var className: String { get }
    /// Loads every component from a pipeline directory (strict weights, decoded configs).
    init(directory: URL) throws

    var directory: URL { get }
    /// What the family makes: images or videos (known from `model_index.json` before anything is loaded).
    static var kind: SampleKind { get }
    /// Whether `generate` takes η > 0 (Stable Diffusion's DDIM η); flow and video pipelines generate with their
    /// deterministic samplers only (η > 0 is for searching, through `makeTrajectory`).
    static var generateTakesEta: Bool { get }
    /// Sampler names `GenerationRequest.scheduler` accepts.
    var schedulerNames: [String] { get }
    /// The reference pipeline's defaults for `generate`.
    var defaults: GenerationDefaults { get }

    /// Shape of one decoded sample for the request (validates size and frame count).
    func sampleShape(for request: GenerationRequest) throws(GenerationRequestError) -> [Int]
    /// What the request loses that the user may not expect (a prompt longer than the text encoder takes is cut, as
    /// the reference pipeline cuts it), one line each; empty when nothing is lost.
    func promptWarnings(for request: GenerationRequest) -> [String]
    /// What one request needs in memory (weights, a model row, a decode), from the configs, for `MemoryPlan`.
    func memoryEstimate(for request: GenerationRequest) throws(GenerationRequestError) -> MemoryEstimate
    /// The searchable trajectory for one prompt: text encoded once, guidance bound, sampler at `steps`/`eta`.
    func makeTrajectory(_ request: GenerationRequest) throws -> any Trajectory
    /// Generation exactly as the reference pipeline with a CPU torch generator seeded `seed`: returns
    /// `[1] + sampleShape` in [0, 1]. `progress(done, total)` after each step.
    func generate(_ request: GenerationRequest, seed: UInt64, progress: ((Int, Int) -> Void)?) throws -> Tensor
}

extension GeneratorPipeline {
    public var sampleKind: SampleKind { Self.kind }
}

/// The pipeline families a build knows, by `model_index.json` class name.
public struct PipelineRegistry: Sendable {
    public let families: [any GeneratorPipeline.Type]

    public init(_ families: [any GeneratorPipeline.Type]) { self.families = families }

    public var classNames: [String] { families.map { $0.className } }

    /// The family for a class name, or nil.
    public func family(named className: String) -> (any GeneratorPipeline.Type)? {
        families.first { $0.className == className }
    }

    /// Loads the pipeline in `directory` with the family its `model_index.json` names.
    public func load(_ directory: URL) throws -> any GeneratorPipeline {
        try family(of: directory).init(directory: directory)
    }

    /// The family `directory/model_index.json` names, without loading anything else.
    public func family(of directory: URL) throws -> any GeneratorPipeline.Type {
        let className = try Self.className(in: directory)
        guard let family = family(named: className) else {
            throw PipelineLoadError("model_index.json: _class_name \(className) is not implemented; this build runs \(classNames.joined(separator: ", "))")
        }
        return family
    }

    /// `_class_name` of `directory/model_index.json` (`PipelineDirectory` checks the directory and says what it
    /// looks like when it is not a pipeline).
    public static func className(in directory: URL) throws -> String {
        guard let name = try PipelineDirectory(directory).index.pipelineClass, !name.isEmpty else {
            throw PipelineLoadError("\(directory.appendingPathComponent("model_index.json").path): _class_name is missing; it names the pipeline class (e.g. StableDiffusionPipeline)")
        }
        return name
    }
}

/// Why a pipeline directory could not be opened; one line naming the file and the fix.
public struct PipelineLoadError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ message: String) { description = message }
}
