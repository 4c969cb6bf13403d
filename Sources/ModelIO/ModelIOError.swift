import Foundation

/// Every error ModelIO throws. `description` is one line that starts with the file (or directory) it concerns,
/// shortened to its last two path components (`unet/diffusion_pytorch_model.safetensors`).
public enum ModelIOError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A file or directory that should exist does not (or cannot be opened / mapped).
    case cannotOpen(path: String, reason: String)
    /// A safetensors file whose header or layout is invalid (truncated, bad JSON, offsets past the end, ...).
    case corruptFile(path: String, reason: String)
    /// A tensor stored in a dtype that ModelIO cannot convert to float32 (e.g. F8_E4M3).
    case unsupportedDType(path: String, key: String, dtype: String)
    /// A layer weight (a matrix, kernel or embedding table) stored in a dtype layers cannot read: they take F32,
    /// F16, BF16 (kept as stored) and F64 (rounded to F32).
    case unsupportedWeightDType(path: String, key: String, dtype: String)
    /// A weight the model asked for is not in the checkpoint. `suggestions` are near names, best first.
    case missingWeight(path: String, key: String, suggestions: [String])
    /// A weight exists but its stored shape differs from the one the model's config implies.
    case shapeMismatch(path: String, key: String, stored: [Int], expected: [Int])
    /// Checkpoint weights that no module took (reported by `WeightStore.finish()`), sorted.
    case unusedWeights(path: String, keys: [String])
    /// A JSON file that does not parse.
    case invalidJSON(path: String, reason: String)
    /// A `*.safetensors.index.json` whose `weight_map` is malformed or disagrees with its shards.
    case invalidIndex(path: String, reason: String)
    /// A required config key is absent (or `null`).
    case missingConfigKey(path: String, key: String)
    /// A config value of the wrong type or out of range; `reason` reads "must be …, got …".
    case invalidConfigValue(path: String, key: String, reason: String)
    /// A directory that is not a diffusers pipeline, or lacks a component / weights file.
    case invalidPipeline(path: String, reason: String)

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason):
            return "\(path): \(reason)"
        case let .corruptFile(path, reason):
            return "\(path): not a valid safetensors file: \(reason)"
        case let .unsupportedDType(path, key, dtype):
            return "\(path): weight \(quoted(key)) has dtype \(dtype), which cannot be converted to float32"
        case let .unsupportedWeightDType(path, key, dtype):
            return "\(path): weight \(quoted(key)) has dtype \(dtype); layer weights must be F32, F16, BF16 or F64 "
                + "(quantised checkpoints are not supported: convert it to one of those, e.g. with torch)"
        case let .missingWeight(path, key, suggestions):
            var s = "\(path): missing weight \(quoted(key))"
            if !suggestions.isEmpty {
                s += " (did you mean " + suggestions.map(quoted).joined(separator: " or ") + "?)"
            }
            return s
        case let .shapeMismatch(path, key, stored, expected):
            return "\(path): \(quoted(key)) has shape \(stored), the config implies \(expected)"
        case let .unusedWeights(path, keys):
            let shown = keys.prefix(5).map(quoted).joined(separator: ", ")
            let more = keys.count > 5 ? ", … (\(keys.count - 5) more)" : ""
            return "\(path): \(keys.count) weight\(keys.count == 1 ? " was" : "s were") not used: \(shown)\(more)"
        case let .invalidJSON(path, reason):
            return "\(path): invalid JSON: \(reason)"
        case let .invalidIndex(path, reason):
            return "\(path): invalid checkpoint index: \(reason)"
        case let .missingConfigKey(path, key):
            return "\(path): missing required key \(quoted(key))"
        case let .invalidConfigValue(path, key, reason):
            return "\(path): \(quoted(key)) \(reason)"
        case let .invalidPipeline(path, reason):
            return "\(path): \(reason)"
        }
    }
}

/// The last two path components of `url` ("unet/config.json"), the way errors name files.
func displayPath(_ url: URL) -> String {
    let comps = url.standardizedFileURL.pathComponents.filter { $0 != "/" }
    return comps.suffix(2).joined(separator: "/")
}
