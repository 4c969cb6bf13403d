import Foundation
import ModelIO

/// The CLIP BPE tokenizer used by Stable Diffusion's text encoders, behaving exactly like transformers 5.24's
/// `CLIPTokenizer` called as `tokenizer(text, padding="max_length", truncation=True,
/// max_length=tokenizer.model_max_length)`.
///
/// In transformers 5.x `CLIPTokenizer` is the `tokenizers`-backed class (`CLIPTokenizerFast` is an alias; the
/// slow Python class and its optional ftfy / BasicTokenizer cleanup are gone). Its pipeline, reproduced here:
///  1. added tokens are split out first: those with `normalized: false` on the raw text, then those with
///     `normalized: true` on the normalised rest (leftmost, longest);
///  2. normalisation: NFC, each run of Unicode whitespace to one space, lowercase (per character);
///  3. CLIP's pre-tokenisation regex (see `CLIPTextPipeline`), whitespace dropped;
///  4. byte-level BPE with "</w>" marking the end of each piece;
///  5. `<|startoftext|>` ... `<|endoftext|>` around the ids; truncation keeps the first `modelMaxLength - 2`
///     ids; padding appends `padTokenID` (SD 1.x: `<|endoftext|>`; SD 2.x: "!", id 0) with mask 0.
/// Which tokens are "added" (and how) follows transformers' loading of tokenizer_config.json,
/// special_tokens_map.json and tokenizer.json; e.g. with SD 2.x files "!" is a special added token, so every
/// "!" in a prompt becomes id 0, as in transformers.
///
/// Thread-safe; the per-word BPE cache is shared between copies.
public struct CLIPTokenizer: Sendable {
    /// A token that is matched in the text before normalisation / BPE.
    public struct AddedToken: Sendable, Equatable {
        public let content: String
        public let id: Int
        /// Matched on the normalised (lowercased, ...) text rather than the raw text.
        public let normalized: Bool
        /// Dropped by `decode(_:skipSpecialTokens: true)`.
        public let special: Bool
    }

    public let bosTokenID: Int
    public let eosTokenID: Int
    public let padTokenID: Int
    public let unkTokenID: Int?
    /// Sequence length with bos/eos that calls truncate and pad to (`model_max_length`; 77 for SD).
    public let modelMaxLength: Int
    public let addedTokens: [AddedToken]
    /// Number of entries in the BPE vocabulary (49408 for CLIP).
    public let vocabularyCount: Int
    /// transformers' `clean_up_tokenization_spaces` (used by `decode`), false unless the config says so.
    public let cleanUpTokenizationSpaces: Bool

    let bpe: ByteLevelBPE
    private let rawMatcher: AddedTokenMatcher<UInt8>
    private let normalizedMatcher: AddedTokenMatcher<Unicode.Scalar>
    private let addedByID: [Int: AddedToken]

    // MARK: Loading

    /// Loads a tokenizer folder as transformers does: `tokenizer.json` if present, else `vocab.json` +
    /// `merges.txt`; plus the optional `tokenizer_config.json` and `special_tokens_map.json`.
    /// `maxLength` overrides `model_max_length` (which defaults to 77 when the config has none).
    public init(directory: URL, maxLength: Int? = nil) throws {
        let fm = FileManager.default
        let file = { (name: String) in directory.appendingPathComponent(name) }
        let config = file("tokenizer_config.json"), specialMap = file("special_tokens_map.json")
        let configURL = fm.fileExists(atPath: config.path) ? config : nil
        let specialMapURL = fm.fileExists(atPath: specialMap.path) ? specialMap : nil
        if fm.fileExists(atPath: file("tokenizer.json").path) {
            try self.init(tokenizerJSON: file("tokenizer.json"), tokenizerConfig: configURL,
                          specialTokensMap: specialMapURL, maxLength: maxLength)
        } else {
            try self.init(vocab: file("vocab.json"), merges: file("merges.txt"), tokenizerConfig: configURL,
                          specialTokensMap: specialMapURL, maxLength: maxLength)
        }
    }

    /// Loads `vocab.json` + `merges.txt` (the slow-tokenizer files Stable Diffusion pipelines ship) and optional
    /// config files, which may live elsewhere (e.g. one vocabulary shared by SD 1.x- and 2.x-style configs).
    public init(vocab: URL, merges: URL, tokenizerConfig: URL? = nil, specialTokensMap: URL? = nil,
                maxLength: Int? = nil) throws {
        let vocabPath = vocab.path
        let vocabBytes = try readFile(vocab)
        let vocabJSON: JSONValue
        do { vocabJSON = try JSONValue.parse(vocabBytes) } catch {
            throw CLIPTokenizerError.invalidJSON(path: vocabPath, reason: "\(error)")
        }
        guard let vocabObject = vocabJSON.objectValue else {
            throw CLIPTokenizerError.invalidJSON(path: vocabPath, reason: "expected an object, got \(vocabJSON.kindName)")
        }
        var table: [String: Int] = [:]
        table.reserveCapacity(vocabObject.count)
        for (token, value) in vocabObject.members {
            guard let id = value.intValue, id >= 0 else {
                throw CLIPTokenizerError.invalidField(path: vocabPath, field: "[\"\(token)\"]", reason: "expected a non-negative integer id, got \(value.kindName)")
            }
            table[token] = id
        }
        let pairs = try parseMergesFile(merges)
        let settings = try TokenizerSettings(config: tokenizerConfig, specialTokensMap: specialTokensMap,
                                             tokenizerJSONAdded: nil)
        try self.init(vocab: table, merges: pairs.map(\.pair), mergeSource: { index in
            (merges.path, "line \(pairs[index].line)")
        }, settings: settings, vocabPath: vocabPath, maxLength: maxLength)
    }

    /// Loads a Hugging Face fast-tokenizer file (`model.vocab` and `model.merges`, merges as "a b" strings or
    /// [a, b] pairs; `added_tokens`). Like transformers' CLIPTokenizer it takes only the vocabulary, merges and
    /// added tokens from it and always uses CLIP's normaliser / pre-tokeniser / "</w>" suffix.
    public init(tokenizerJSON url: URL, tokenizerConfig: URL? = nil, specialTokensMap: URL? = nil,
                maxLength: Int? = nil) throws {
        let path = url.path
        let json = try readJSONObject(url)
        guard json.objectValue != nil else {
            throw CLIPTokenizerError.invalidJSON(path: path, reason: "expected an object, got \(json.kindName)")
        }
        guard let model = json["model"] else { throw CLIPTokenizerError.missingField(path: path, field: "model") }
        guard model.objectValue != nil else {
            throw CLIPTokenizerError.invalidField(path: path, field: "model", reason: "expected an object, got \(model.kindName)")
        }
        if let type = model["type"], type.stringValue != "BPE" {
            throw CLIPTokenizerError.unsupported(path: path, field: "model.type", reason: "\(type.stringValue ?? type.kindName), only BPE")
        }
        guard let vocabJSON = model["vocab"] else { throw CLIPTokenizerError.missingField(path: path, field: "model.vocab") }
        guard let vocabPairs = vocabJSON.objectValue?.members else {
            throw CLIPTokenizerError.invalidField(path: path, field: "model.vocab", reason: "expected an object, got \(vocabJSON.kindName)")
        }
        var table: [String: Int] = [:]
        table.reserveCapacity(vocabPairs.count)
        for (token, value) in vocabPairs {
            guard let id = value.intValue, id >= 0 else {
                throw CLIPTokenizerError.invalidField(path: path, field: "model.vocab[\"\(token)\"]", reason: "expected a non-negative integer id")
            }
            table[token] = id
        }
        guard let mergesJSON = model["merges"] else { throw CLIPTokenizerError.missingField(path: path, field: "model.merges") }
        guard let mergeItems = mergesJSON.arrayValue else {
            throw CLIPTokenizerError.invalidField(path: path, field: "model.merges", reason: "expected a list, got \(mergesJSON.kindName)")
        }
        var pairs: [(Substring, Substring)] = []
        pairs.reserveCapacity(mergeItems.count)
        for (i, item) in mergeItems.enumerated() {
            if let s = item.stringValue {
                guard let pair = splitMerge(s) else {
                    throw CLIPTokenizerError.invalidField(path: path, field: "model.merges[\(i)]", reason: "\"\(s)\" is not two tokens separated by one space")
                }
                pairs.append(pair)
            } else if let a = item.arrayValue, a.count == 2, let l = a[0].stringValue, let r = a[1].stringValue {
                pairs.append((Substring(l), Substring(r)))
            } else {
                throw CLIPTokenizerError.invalidField(path: path, field: "model.merges[\(i)]", reason: "expected \"a b\" or [a, b]")
            }
        }
        var added: [(Int, TokenSpec)] = []
        if let list = json["added_tokens"], !list.isNull {
            guard let items = list.arrayValue else {
                throw CLIPTokenizerError.invalidField(path: path, field: "added_tokens", reason: "expected a list, got \(list.kindName)")
            }
            for (i, item) in items.enumerated() {
                let field = "added_tokens[\(i)]"
                guard let id = item["id"]?.intValue else { throw CLIPTokenizerError.missingField(path: path, field: field + ".id") }
                added.append((id, try TokenSpec(json: item, path: path, field: field, specialDefault: false)))
            }
        }
        let settings = try TokenizerSettings(config: tokenizerConfig, specialTokensMap: specialTokensMap,
                                             tokenizerJSONAdded: added)
        try self.init(vocab: table, merges: pairs, mergeSource: { index in (path, "model.merges[\(index)]") },
                      settings: settings, vocabPath: path, maxLength: maxLength)
    }

    private init(vocab: [String: Int], merges: [(Substring, Substring)],
                 mergeSource: (Int) -> (path: String, field: String),
                 settings: TokenizerSettings, vocabPath: String, maxLength: Int?) throws {
        let bpe: ByteLevelBPE
        do {
            bpe = try ByteLevelBPE(vocab: vocab, merges: merges, unkToken: settings.unkToken)
        } catch {
            let source = mergeSource(error.index)
            throw CLIPTokenizerError.tokenNotInVocabulary(path: source.path, field: source.field, token: error.token)
        }
        self.bpe = bpe
        vocabularyCount = vocab.count

        // Register added tokens in order; a later registration of the same content replaces the earlier one
        // (tokenizers' AddedVocabulary). Ids: the vocabulary's, else new ids after the vocabulary.
        var byContent: [String: AddedToken] = [:]
        var order: [String] = []
        var nextID = max(bpe.idToToken.count, (settings.added.map(\.explicitID).compactMap { $0 }.max() ?? -1) + 1)
        for spec in settings.added {
            let id: Int
            if let v = vocab[spec.content] {
                id = v
            } else if let existing = byContent[spec.content] {
                id = existing.id
            } else {
                id = nextID
                nextID += 1
            }
            if byContent[spec.content] == nil { order.append(spec.content) }
            byContent[spec.content] = AddedToken(content: spec.content, id: id, normalized: spec.normalized, special: spec.special)
        }
        let tokens = order.map { byContent[$0]! }.sorted { $0.id < $1.id }
        addedTokens = tokens
        addedByID = Dictionary(tokens.map { ($0.id, $0) }, uniquingKeysWith: { _, b in b })

        func lookup(_ token: String, _ role: String) throws -> Int {
            if let t = byContent[token] { return t.id }
            if let id = vocab[token] { return id }
            throw CLIPTokenizerError.tokenNotInVocabulary(path: settings.sourcePath(for: role) ?? vocabPath, field: role, token: token)
        }
        bosTokenID = try lookup(settings.bosToken, "bos_token")
        eosTokenID = try lookup(settings.eosToken, "eos_token")
        padTokenID = try lookup(settings.padToken, "pad_token")
        unkTokenID = bpe.unkID
        if !bpe.isByteComplete && bpe.unkID == nil {
            throw CLIPTokenizerError.tokenNotInVocabulary(path: settings.sourcePath(for: "unk_token") ?? vocabPath,
                                                          field: "unk_token", token: settings.unkToken ?? "")
        }
        let length = maxLength ?? settings.modelMaxLength ?? 77
        guard length >= 2 else {
            throw CLIPTokenizerError.invalidField(path: settings.configPath ?? vocabPath, field: "model_max_length", reason: "\(length) leaves no room for bos and eos")
        }
        modelMaxLength = length
        cleanUpTokenizationSpaces = settings.cleanUpTokenizationSpaces

        rawMatcher = AddedTokenMatcher(tokens.filter { !$0.normalized }.map { (Array($0.content.utf8), $0.id) })
        normalizedMatcher = AddedTokenMatcher(tokens.filter(\.normalized).map { token in
            let bytes = Array(token.content.utf8)
            return (CLIPTextPipeline.normalize(bytes[...]), token.id)
        })
    }

    // MARK: Encoding

    /// The token ids of `text` without bos/eos, padding or truncation (transformers' `add_special_tokens=False`).
    public func encode(_ text: String) -> [Int] {
        var ids: [Int] = []
        ids.reserveCapacity(text.utf8.count / 3 + 4)
        let bytes = Array(text.utf8)
        if bytes.isEmpty { return ids }
        rawMatcher.split(bytes, segment: { range in
            let normalized = CLIPTextPipeline.normalize(bytes[range])
            normalizedMatcher.split(normalized, segment: { r in
                CLIPTextPipeline.preTokenize(normalized[r]) { piece in bpe.encodeWord(piece, into: &ids) }
            }, token: { ids.append($0) })
        }, token: { ids.append($0) })
        return ids
    }

    /// `[bos] + ids + [eos]`, truncated to `modelMaxLength` (eos kept last) and, if `padToMaxLength`, padded
    /// with `padTokenID` to exactly `modelMaxLength`; the attention mask is 1 for real tokens, 0 for padding.
    public func callAsFunction(_ text: String, padToMaxLength: Bool = true) -> (ids: [Int], attentionMask: [Int]) {
        var ids = [bosTokenID]
        ids.reserveCapacity(modelMaxLength)
        let body = encode(text)
        ids.append(contentsOf: body.prefix(modelMaxLength - 2))
        ids.append(eosTokenID)
        var mask = [Int](repeating: 1, count: ids.count)
        if padToMaxLength && ids.count < modelMaxLength {
            let padding = modelMaxLength - ids.count
            ids.append(contentsOf: repeatElement(padTokenID, count: padding))
            mask.append(contentsOf: repeatElement(0, count: padding))
        }
        return (ids, mask)
    }

    /// A batch: each prompt as `callAsFunction(_:padToMaxLength:)`; without `padToMaxLength` the rows are
    /// padded to the longest one (transformers' `padding="longest"`), so all rows have the same length.
    public func callAsFunction(_ texts: [String], padToMaxLength: Bool = true) -> (ids: [[Int]], attentionMask: [[Int]]) {
        var rows = texts.map { self($0, padToMaxLength: padToMaxLength) }
        if !padToMaxLength {
            let longest = rows.map(\.ids.count).max() ?? 0
            for i in rows.indices where rows[i].ids.count < longest {
                let padding = longest - rows[i].ids.count
                rows[i].ids.append(contentsOf: repeatElement(padTokenID, count: padding))
                rows[i].attentionMask.append(contentsOf: repeatElement(0, count: padding))
            }
        }
        return (rows.map(\.ids), rows.map(\.attentionMask))
    }

    // MARK: Vocabulary and decoding

    /// The id of a vocabulary entry or added token ("a</w>", "<|endoftext|>", ...).
    public func tokenID(_ token: String) -> Int? {
        if let t = addedTokens.first(where: { $0.content == token }) { return t.id }
        return bpe.tokenToID[token]
    }

    /// The vocabulary entry or added token with this id.
    public func token(_ id: Int) -> String? {
        if let t = addedByID[id] { return t.content }
        guard id >= 0 && id < bpe.idToToken.count, !bpe.idToToken[id].isEmpty else { return nil }
        return bpe.idToToken[id]
    }

    /// Text for ids, as transformers' `decode`: byte-level decoding (invalid UTF-8 becomes U+FFFD), "</w>"
    /// becomes a space, the result is stripped; special added tokens are dropped if `skipSpecialTokens`.
    /// Unknown ids are skipped.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = true) -> String {
        var bytes: [UInt8] = []
        for id in ids {
            if let added = addedByID[id] {
                if skipSpecialTokens && added.special { continue }
                appendTokenBytes(added.content, to: &bytes)
            } else if let t = token(id) {
                appendTokenBytes(t, to: &bytes)
            }
        }
        // Python str operations work on code points; Swift's String ones on grapheme clusters (a "</w>" followed by
        // a combining mark would not be found), so this works on scalars.
        var text = Array(String(decoding: bytes, as: UTF8.self).unicodeScalars)
        text = replaceScalars(text, ByteLevelBPE.endOfWordSuffix, " ")
        var lo = 0, hi = text.count
        while lo < hi && CLIPTextPipeline.isPythonSpace(text[lo]) { lo += 1 }
        while hi > lo && CLIPTextPipeline.isPythonSpace(text[hi - 1]) { hi -= 1 }
        text = Array(text[lo..<hi])
        if cleanUpTokenizationSpaces {
            for (from, to) in [(" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
                               (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")] {
                text = replaceScalars(text, from, to)
            }
        }
        return String(String.UnicodeScalarView(text))
    }

    /// tokenizers' ByteLevel decoder: a token whose characters are all in the byte alphabet gives those bytes,
    /// any other token its own UTF-8.
    private func appendTokenBytes(_ token: String, to bytes: inout [UInt8]) {
        let start = bytes.count
        for s in token.unicodeScalars {
            guard let b = ByteLevelAlphabet.byteForScalar[s.value] else {
                bytes.removeSubrange(start...)
                bytes.append(contentsOf: token.utf8)
                return
            }
            bytes.append(b)
        }
    }
}

// MARK: - File reading

/// Python's `str.replace` on code points.
private func replaceScalars(_ text: [Unicode.Scalar], _ pattern: String, _ replacement: String) -> [Unicode.Scalar] {
    let p = Array(pattern.unicodeScalars), r = Array(replacement.unicodeScalars)
    guard !p.isEmpty, text.count >= p.count else { return text }
    var out: [Unicode.Scalar] = []
    out.reserveCapacity(text.count)
    var i = 0
    while i < text.count {
        if i + p.count <= text.count && text[i] == p[0] && text[i..<(i + p.count)].elementsEqual(p) {
            out.append(contentsOf: r)
            i += p.count
        } else {
            out.append(text[i])
            i += 1
        }
    }
    return out
}

private func readFile(_ url: URL) throws -> [UInt8] {
    let path = url.path
    guard FileManager.default.fileExists(atPath: path) else { throw CLIPTokenizerError.missingFile(path: path) }
    do {
        return [UInt8](try Data(contentsOf: url))
    } catch {
        throw CLIPTokenizerError.unreadableFile(path: path, reason: error.localizedDescription)
    }
}

private func readJSONObject(_ url: URL) throws -> JSONValue {
    let bytes = try readFile(url)
    let json: JSONValue
    do { json = try JSONValue.parse(bytes) } catch {
        throw CLIPTokenizerError.invalidJSON(path: url.path, reason: "\(error)")
    }
    guard json.objectValue != nil else {
        throw CLIPTokenizerError.invalidJSON(path: url.path, reason: "expected an object, got \(json.kindName)")
    }
    return json
}

/// merges.txt as tokenizers reads it: lines (LF or CRLF), lines starting with "#version" skipped,
/// every other line exactly two tokens separated by one space (an empty line is an error too). Works on bytes:
/// Swift's Character view would treat "\r\n" or a space before a combining mark as one character.
private func parseMergesFile(_ url: URL) throws -> [(pair: (Substring, Substring), line: Int)] {
    let bytes = try readFile(url)
    var result: [(pair: (Substring, Substring), line: Int)] = []
    result.reserveCapacity(bytes.count / 10)
    var lineStart = 0
    var lineNumber = 0
    while lineStart < bytes.count {
        lineNumber += 1
        var lineEnd = bytes[lineStart...].firstIndex(of: 0x0A) ?? bytes.count
        let next = lineEnd + 1
        if lineEnd > lineStart && bytes[lineEnd - 1] == 0x0D { lineEnd -= 1 }
        let line = bytes[lineStart..<lineEnd]
        lineStart = next
        if line.starts(with: Array("#version".utf8)) { continue }
        var space = -1
        var spaces = 0
        for k in line.indices where line[k] == 0x20 { space = k; spaces += 1 }
        guard spaces == 1 else {
            throw CLIPTokenizerError.malformedMerge(path: url.path, line: lineNumber, text: String(decoding: line, as: UTF8.self))
        }
        let left = String(decoding: bytes[line.startIndex..<space], as: UTF8.self)
        let right = String(decoding: bytes[(space + 1)..<line.endIndex], as: UTF8.self)
        result.append(((left[...], right[...]), lineNumber))
    }
    return result
}

/// Splits "a b" at its single space (on scalars, see parseMergesFile); nil unless there is exactly one.
private func splitMerge(_ s: String) -> (Substring, Substring)? {
    let scalars = s.unicodeScalars
    guard let space = scalars.firstIndex(of: " "),
          scalars[scalars.index(after: space)...].firstIndex(of: " ") == nil else { return nil }
    return (Substring(scalars[..<space]), Substring(scalars[scalars.index(after: space)...]))
}

// MARK: - Special-token settings

/// One added/special token as transformers' AddedToken.
private struct TokenSpec {
    var content: String
    var normalized: Bool
    var special: Bool
    /// The id a tokenizer.json / added_tokens_decoder entry gives (used only for contents not in the vocabulary).
    var explicitID: Int?

    init(content: String, normalized: Bool, special: Bool, explicitID: Int? = nil) {
        self.content = content
        self.normalized = normalized
        self.special = special
        self.explicitID = explicitID
    }

    /// AddedToken equality (all flags; the id is not part of it).
    func sameToken(_ other: TokenSpec) -> Bool {
        content == other.content && normalized == other.normalized && special == other.special
    }

    /// From an AddedToken object (`{"content": ..., "normalized": ..., ...}`) as `AddedToken(**dict)`: `special`
    /// from the object, else `specialDefault`; `forceSpecial` overrides it (special_tokens_map.json);
    /// `normalized` defaults to `!special`.
    init(json: JSONValue, path: String, field: String, specialDefault: Bool, forceSpecial: Bool? = nil,
         explicitID: Int? = nil) throws {
        guard json.objectValue != nil else {
            throw CLIPTokenizerError.invalidField(path: path, field: field, reason: "expected a string or an AddedToken object, got \(json.kindName)")
        }
        guard let content = json["content"]?.stringValue else { throw CLIPTokenizerError.missingField(path: path, field: field + ".content") }
        func flag(_ name: String) throws -> Bool? {
            guard let v = json[name], !v.isNull else { return nil }
            guard let b = v.boolValue else {
                throw CLIPTokenizerError.invalidField(path: path, field: "\(field).\(name)", reason: "expected a boolean, got \(v.kindName)")
            }
            return b
        }
        for name in ["lstrip", "rstrip", "single_word"] where try flag(name) == true {
            throw CLIPTokenizerError.unsupported(path: path, field: "\(field).\(name)", reason: "true (only false is implemented)")
        }
        let special = try forceSpecial ?? flag("special") ?? specialDefault
        self.init(content: content, normalized: try flag("normalized") ?? !special, special: special, explicitID: explicitID)
    }
}

/// A named special token's value before registration: a plain string or an AddedToken.
private enum RoleValue {
    case string(String)
    case token(TokenSpec)

    /// Python's `==` between str / AddedToken values: equal strings, or AddedTokens with equal flags.
    func equals(_ other: RoleValue) -> Bool {
        switch (self, other) {
        case let (.string(a), .string(b)): a == b
        case let (.token(a), .token(b)): a.sameToken(b)
        default: false
        }
    }

    var content: String {
        switch self {
        case .string(let s): s
        case .token(let t): t.content
        }
    }
}

/// What tokenizer_config.json, special_tokens_map.json and tokenizer.json's added_tokens say, resolved the way
/// transformers 5.24 resolves them (PreTrainedTokenizerBase.from_pretrained + TokenizersBackend.__init__):
/// - with "added_tokens_decoder" in tokenizer_config.json: those tokens, exactly as given; special_tokens_map.json
///   is not read; named tokens not among them are added as special, unnormalised tokens;
/// - otherwise (older files): special_tokens_map.json values replace tokenizer_config.json's, tokenizer.json's
///   added_tokens come first, then the named tokens in the order bos, eos, unk, sep, pad, cls, mask, skipping
///   values equal to one already listed; a plain string is special and not normalised, an AddedToken keeps its
///   flags; the last registration of a content wins. (So SD 1.x files end with <|endoftext|> unnormalised —
///   pad_token is a plain string — while SD 2.x files, whose pad is "!", keep it normalised.)
private struct TokenizerSettings {
    static let roles = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"]
    static let defaults = ["bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>",
                           "unk_token": "<|endoftext|>", "pad_token": "<|endoftext|>"]

    var added: [TokenSpec] = []
    var bosToken = "<|startoftext|>"
    var eosToken = "<|endoftext|>"
    var padToken = "<|endoftext|>"
    var unkToken: String?
    var modelMaxLength: Int?
    var cleanUpTokenizationSpaces = false
    var configPath: String?
    var roleSource: [String: String] = [:]

    func sourcePath(for role: String) -> String? { roleSource[role] ?? configPath }

    init(config: URL?, specialTokensMap: URL?, tokenizerJSONAdded: [(Int, TokenSpec)]?) throws {
        let configJSON = try config.map(readJSONObject)
        let path = config?.path ?? ""
        configPath = config?.path

        var decoder: [(Int, TokenSpec)] = []
        var hasDecoder = false
        var roles: [String: RoleValue] = [:]

        if let configJSON {
            if let v = configJSON["model_max_length"], !v.isNull {
                guard let d = v.doubleValue, d.rounded() == d, d >= 0 else {
                    throw CLIPTokenizerError.invalidField(path: path, field: "model_max_length", reason: "expected a non-negative integer, got \(v)")
                }
                // transformers writes 1e30 ("no limit") when a tokenizer has none; keep the CLIP default then.
                modelMaxLength = d < 1e9 ? Int(d) : nil
            }
            for side in ["padding_side", "truncation_side"] {
                if let v = configJSON[side], !v.isNull, v.stringValue != "right" {
                    throw CLIPTokenizerError.unsupported(path: path, field: side, reason: "\(v.stringValue ?? v.kindName), only \"right\"")
                }
            }
            if let v = configJSON["clean_up_tokenization_spaces"], !v.isNull {
                guard let b = v.boolValue else {
                    throw CLIPTokenizerError.invalidField(path: path, field: "clean_up_tokenization_spaces", reason: "expected a boolean, got \(v.kindName)")
                }
                cleanUpTokenizationSpaces = b
            }
            if let d = configJSON["added_tokens_decoder"], !d.isNull {
                guard let pairs = d.objectValue?.members else {
                    throw CLIPTokenizerError.invalidField(path: path, field: "added_tokens_decoder", reason: "expected an object, got \(d.kindName)")
                }
                hasDecoder = true
                for (key, value) in pairs {
                    guard let id = Int(key) else {
                        throw CLIPTokenizerError.invalidField(path: path, field: "added_tokens_decoder", reason: "key \"\(key)\" is not an integer id")
                    }
                    decoder.append((id, try TokenSpec(json: value, path: path, field: "added_tokens_decoder[\"\(key)\"]",
                                                      specialDefault: false, explicitID: id)))
                }
            }
            for role in Self.roles {
                if let v = configJSON[role], !v.isNull {
                    roles[role] = try Self.roleValue(v, path: path, field: role, fromSpecialMap: false)
                    roleSource[role] = path
                }
            }
        }
        if !hasDecoder {
            if let specialTokensMap {
                let mapJSON = try readJSONObject(specialTokensMap)
                for role in Self.roles {
                    if let v = mapJSON[role], !v.isNull {
                        roles[role] = try Self.roleValue(v, path: specialTokensMap.path, field: role, fromSpecialMap: true)
                        roleSource[role] = specialTokensMap.path
                    }
                }
            }
            if let tokenizerJSONAdded {
                decoder = tokenizerJSONAdded.map { ($0.0, { var t = $0.1; t.explicitID = $0.0; return t }($0)) }
            }
        }
        for (role, value) in Self.defaults where roles[role] == nil { roles[role] = .string(value) }

        // Named tokens become the added token of the same content when there is one.
        let decoderByContent = Dictionary(decoder.map { ($0.1.content, $0.1) }, uniquingKeysWith: { _, b in b })
        if !decoderByContent.isEmpty {
            for (role, value) in roles { if let t = decoderByContent[value.content] { roles[role] = .token(t) } }
        }

        var list: [RoleValue] = decoder.sorted { $0.0 < $1.0 }.map { .token($0.1) }
        let existing = Set(list.map(\.content))
        for role in Self.roles {
            guard let value = roles[role] else { continue }
            if !existing.contains(value.content) && !list.contains(where: { $0.equals(value) }) { list.append(value) }
        }
        let named = Set(roles.values.map(\.content))
        added = list.map { value in
            switch value {
            case .string(let s): return TokenSpec(content: s, normalized: false, special: true)
            case .token(var t):
                if !t.special && named.contains(t.content) { t.special = true }
                return t
            }
        }
        bosToken = roles["bos_token"]!.content
        eosToken = roles["eos_token"]!.content
        padToken = roles["pad_token"]!.content
        unkToken = roles["unk_token"]?.content
    }

    /// A role's value in tokenizer_config.json (a string, or an AddedToken with "__type": "AddedToken") or in
    /// special_tokens_map.json (a string or any AddedToken object; forced special there).
    private static func roleValue(_ v: JSONValue, path: String, field: String, fromSpecialMap: Bool) throws -> RoleValue {
        if let s = v.stringValue { return .string(s) }
        guard v.objectValue != nil else {
            throw CLIPTokenizerError.invalidField(path: path, field: field, reason: "expected a string or an AddedToken object, got \(v.kindName)")
        }
        if fromSpecialMap {
            return .token(try TokenSpec(json: v, path: path, field: field, specialDefault: true, forceSpecial: true))
        }
        guard v["__type"]?.stringValue == "AddedToken" else {
            throw CLIPTokenizerError.invalidField(path: path, field: field, reason: "an object without \"__type\": \"AddedToken\"")
        }
        return .token(try TokenSpec(json: v, path: path, field: field, specialDefault: false))
    }
}
