import Foundation

/// A diffusers `model_index.json`: the pipeline class and, for each component, the library and class that
/// implement it (`"unet": ["diffusers", "UNet2DConditionModel"]`).
///
/// Matches diffusers' layout: keys starting with `_` are bookkeeping (`_class_name`, `_diffusers_version`),
/// `[null, null]` marks a component the pipeline was saved without (e.g. `safety_checker`), and other
/// non-list values (`requires_safety_checker: true`) are pipeline flags, readable through `config`.
public struct ModelIndex: Sendable {
    public struct Component: Sendable, Equatable {
        /// The implementing library ("diffusers", "transformers").
        public let library: String
        /// The implementing class ("UNet2DConditionModel", "CLIPTextModel", …).
        public let className: String
    }

    /// The whole file, for flags and bookkeeping keys.
    public let config: ConfigFile
    /// `_class_name`, e.g. "StableDiffusionPipeline".
    public var pipelineClass: String? { config.className }
    /// `_diffusers_version`.
    public var diffusersVersion: String? { try? config.optionalString("_diffusers_version") }
    /// Components present in the pipeline.
    public let components: [String: Component]
    /// Components listed as `[null, null]`, sorted.
    public let absentComponents: [String]

    public static func load(_ url: URL) throws -> ModelIndex {
        try ModelIndex(config: ConfigFile.load(url))
    }

    public init(config: ConfigFile) throws {
        self.config = config
        var components: [String: Component] = [:]
        var absent: [String] = []
        for key in config.keys where !key.hasPrefix("_") {
            guard case .array(let pair)? = config.values[key] else { continue }
            switch (pair.count == 2 ? pair[0] : .bool(false), pair.count == 2 ? pair[1] : .bool(false)) {
            case (.string(let lib), .string(let cls)): components[key] = Component(library: lib, className: cls)
            case (.null, .null): absent.append(key)
            default: throw config.invalid(key, "must be a [library, class] pair of strings or [null, null]")
            }
        }
        self.components = components
        self.absentComponents = absent.sorted()
    }
}

/// A diffusers pipeline directory (as saved by `save_pretrained` or found under a Hugging Face cache
/// `snapshots/<revision>/`): `model_index.json` plus one sub-directory per component.
///
/// Finds each component directory (`unet/`, `vae/`, `text_encoder/`, `tokenizer/`, `scheduler/`, or any
/// other name listed in the index) and opens its config and weights, with errors that say what is wrong:
/// not a pipeline (no `model_index.json`, with a hint when the directory looks like a single model or a cache
/// root), a component the index does not list or lists as null, a listed component whose directory is absent.
/// Limits: only the diffusers multi-folder layout; single-file checkpoints are opened with
/// `SafetensorsCheckpoint(url:)` instead.
public struct PipelineDirectory: Sendable {
    public let url: URL
    public let index: ModelIndex

    public init(_ url: URL) throws {
        self.url = url
        let name = displayPath(url)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else {
            throw ModelIOError.cannotOpen(path: name, reason: "no such directory")
        }
        guard isDir.boolValue else {
            throw ModelIOError.invalidPipeline(path: name, reason: "is a file, not a diffusers pipeline directory")
        }
        let indexURL = url.appendingPathComponent("model_index.json")
        guard FileManager.default.fileExists(atPath: indexURL.path) else {
            let fm = FileManager.default
            var hint = ""
            if fm.fileExists(atPath: url.appendingPathComponent("config.json").path) {
                hint = "; it has a config.json, so it may be a single model's directory (a pipeline component)"
            } else if fm.fileExists(atPath: url.appendingPathComponent("snapshots").path) {
                hint = "; it looks like a Hugging Face cache folder: use snapshots/<revision> inside it"
            }
            throw ModelIOError.invalidPipeline(path: name, reason: "not a diffusers pipeline directory (no model_index.json)\(hint)")
        }
        self.index = try ModelIndex.load(indexURL)
    }

    /// The directory of `component`, checked against the index and the file system.
    public func directory(of component: String) throws -> URL {
        let name = displayPath(url)
        guard index.components[component] != nil else {
            if index.absentComponents.contains(component) {
                throw ModelIOError.invalidPipeline(path: name, reason: "component \(quoted(component)) is [null, null] in model_index.json (the pipeline was saved without it)")
            }
            let listed = index.components.keys.sorted().joined(separator: ", ")
            throw ModelIOError.invalidPipeline(path: name, reason: "model_index.json lists no component \(quoted(component)) (it lists: \(listed))")
        }
        let dir = url.appendingPathComponent(component)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir.path, isDirectory: &isDir), isDir.boolValue else {
            throw ModelIOError.invalidPipeline(path: name, reason: "component \(quoted(component)) is listed in model_index.json but \(component)/ does not exist (incomplete download?)")
        }
        return dir
    }

    /// The component's library and class from the index.
    public func component(_ component: String) throws -> ModelIndex.Component {
        _ = try directory(of: component)
        return index.components[component]!
    }

    public var unet: URL { get throws { try directory(of: "unet") } }
    public var vae: URL { get throws { try directory(of: "vae") } }
    public var textEncoder: URL { get throws { try directory(of: "text_encoder") } }
    public var tokenizer: URL { get throws { try directory(of: "tokenizer") } }
    public var scheduler: URL { get throws { try directory(of: "scheduler") } }

    /// The component's config: `scheduler_config.json` for schedulers, `tokenizer_config.json` for
    /// tokenizers, `config.json` otherwise (whichever exists, in that order).
    public func config(of component: String) throws -> ConfigFile {
        let dir = try directory(of: component)
        let candidates = ["config.json", "scheduler_config.json", "tokenizer_config.json"]
        let preferred: [String]
        switch component {
        case "scheduler": preferred = ["scheduler_config.json", "config.json"]
        case "tokenizer", "tokenizer_2": preferred = ["tokenizer_config.json", "config.json"]
        default: preferred = candidates
        }
        for file in preferred where FileManager.default.fileExists(atPath: dir.appendingPathComponent(file).path) {
            return try ConfigFile.load(dir.appendingPathComponent(file))
        }
        throw ModelIOError.invalidPipeline(path: displayPath(dir), reason: "no \(preferred[0]) in this component directory")
    }

    /// The component's safetensors weights (see `SafetensorsCheckpoint` for the file names tried).
    public func checkpoint(of component: String, variant: String? = nil) throws -> SafetensorsCheckpoint {
        try SafetensorsCheckpoint(directory: directory(of: component), variant: variant)
    }

    /// A strict `WeightStore` over the component's weights.
    public func weights(of component: String, variant: String? = nil) throws -> WeightStore {
        WeightStore(try checkpoint(of: component, variant: variant))
    }
}
