/// Why a CLIP tokenizer could not be loaded. Every case names the file (as given) and, where it applies, the
/// field or line that is missing or malformed.
public enum CLIPTokenizerError: Error, Equatable, CustomStringConvertible {
    /// A required file does not exist (e.g. `vocab.json` when the folder has no `tokenizer.json` either).
    case missingFile(path: String)
    /// The file exists but could not be read.
    case unreadableFile(path: String, reason: String)
    /// The file is not valid JSON.
    case invalidJSON(path: String, reason: String)
    /// A required field is absent (`model.vocab` in tokenizer.json, ...).
    case missingField(path: String, field: String)
    /// A field has the wrong type or an unusable value.
    case invalidField(path: String, field: String, reason: String)
    /// A merges.txt line is not exactly two tokens separated by one space. `line` is 1-based in the file.
    case malformedMerge(path: String, line: Int, text: String)
    /// A token named by a merge, or a special token, is not in the vocabulary.
    case tokenNotInVocabulary(path: String, field: String, token: String)
    /// A setting this tokenizer does not implement (so it refuses rather than tokenising differently).
    case unsupported(path: String, field: String, reason: String)

    public var description: String {
        switch self {
        case .missingFile(let path):
            "\(path): file not found"
        case .unreadableFile(let path, let reason):
            "\(path): cannot read: \(reason)"
        case .invalidJSON(let path, let reason):
            "\(path): invalid JSON: \(reason)"
        case .missingField(let path, let field):
            "\(path): missing field '\(field)'"
        case .invalidField(let path, let field, let reason):
            "\(path): field '\(field)': \(reason)"
        case .malformedMerge(let path, let line, let text):
            "\(path): line \(line): a merge must be two tokens separated by one space, got \"\(text.prefix(80))\""
        case .tokenNotInVocabulary(let path, let field, let token):
            "\(path): \(field): token \"\(token.prefix(80))\" is not in the vocabulary"
        case .unsupported(let path, let field, let reason):
            "\(path): field '\(field)': unsupported: \(reason)"
        }
    }
}
