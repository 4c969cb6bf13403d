import Foundation

/// `generation_defaults.json` at a pipeline's root: the size and prompt length a model was trained for, where the
/// reference pipeline's own defaults would not suit it (FluxPipeline samples 1024 px and pads T5 to 512 tokens;
/// the project's 64-px embedded models need neither). Not a diffusers file: diffusers ignores it.
///
/// Keys, each optional: `height`, `width` (pixels), `frames` (video models), `max_sequence_length` (text tokens),
/// positive integers.
/// Any other key is an error naming it, so a misspelt default is not silently dropped.
public struct GenerationDefaultsFile: Sendable, Equatable {
    public static let fileName = "generation_defaults.json"
    static let knownKeys: Set<String> = ["height", "width", "frames", "max_sequence_length"]

    public var height: Int?
    public var width: Int?
    public var frames: Int?
    public var maxSequenceLength: Int?

    public init(height: Int? = nil, width: Int? = nil, frames: Int? = nil, maxSequenceLength: Int? = nil) {
        self.height = height; self.width = width; self.frames = frames; self.maxSequenceLength = maxSequenceLength
    }

    public init(config: ConfigFile) throws {
        if let unknown = config.keys.sorted().first(where: { !Self.knownKeys.contains($0) }) {
            throw config.invalid(unknown, "is not a generation default (known: \(Self.knownKeys.sorted().joined(separator: ", ")))")
        }
        func positive(_ key: String) throws -> Int? {
            guard let v = try config.optionalInt(key) else { return nil }
            guard v >= 1 else { throw config.invalid(key, "must be a positive integer") }
            return v
        }
        height = try positive("height")
        width = try positive("width")
        frames = try positive("frames")
        maxSequenceLength = try positive("max_sequence_length")
    }

    /// The file in `directory`, or nil when there is none.
    public static func load(in directory: URL) throws -> GenerationDefaultsFile? {
        let url = directory.appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        return try GenerationDefaultsFile(config: ConfigFile.load(url))
    }
}
