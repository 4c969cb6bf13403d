/// The pre-tokenizers of a tokenizer.json that T5 / UMT5 files use, applied as the `tokenizers` library applies
/// them (empty pieces are dropped after every step):
/// - `whitespaceSplit`: split at White_Space, which is removed;
/// - `metaspace`: every space becomes `replacement` ("▁"); then `replacement` is put in front unless the piece
///   already starts with it — always, only for a piece that begins at the start of the input (`first`), or never;
///   then, with `split`, the piece is cut before every `replacement` (each one starts a new piece);
/// - `sequence`: each in order.
public enum PreTokenizer: Sendable {
    case whitespaceSplit
    case metaspace(replacement: Unicode.Scalar, prependScheme: PrependScheme, split: Bool)
    case sequence([PreTokenizer])

    /// Metaspace's `prepend_scheme`.
    public enum PrependScheme: String, Sendable, CaseIterable {
        case always, first, never
    }

    func apply(_ pieces: [NormalizedText]) -> [NormalizedText] {
        switch self {
        case .whitespaceSplit:
            return pieces.flatMap { piece in
                var out: [NormalizedText] = []
                var start = 0
                for (i, s) in piece.scalars.enumerated() where s.properties.isWhitespace {
                    if start < i { out.append(piece.slice(start..<i)) }
                    start = i + 1
                }
                if start < piece.scalars.count { out.append(piece.slice(start..<piece.scalars.count)) }
                return out
            }
        case .metaspace(let replacement, let scheme, let split):
            return pieces.flatMap { piece -> [NormalizedText] in
                var p = piece
                for i in p.scalars.indices where p.scalars[i] == " " { p.scalars[i] = replacement }
                let prepend = switch scheme {
                case .always: p.scalars.first != replacement
                case .first: p.scalars.first != replacement && p.originStart == 0
                case .never: false
                }
                if prepend {
                    p.scalars.insert(replacement, at: 0)
                    p.origins.insert(p.origins.first ?? p.originStart, at: 0)
                }
                guard split else { return p.isEmpty ? [] : [p] }
                var out: [NormalizedText] = []
                var start = 0
                for (i, s) in p.scalars.enumerated() where s == replacement && i > start {
                    out.append(p.slice(start..<i))
                    start = i
                }
                if start < p.scalars.count { out.append(p.slice(start..<p.scalars.count)) }
                return out
            }
        case .sequence(let steps):
            return steps.reduce(pieces) { $1.apply($0) }
        }
    }
}
