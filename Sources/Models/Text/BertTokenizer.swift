import Foundation
import ModelIO

/// BERT's WordPiece tokenizer as transformers 5.24's `BertTokenizer` computes ids — the `tokenizers`-backed class
/// (BertNormalizer + BertPreTokenizer + WordPiece + a `[CLS] … [SEP]` template) that BLIP's / ImageReward's
/// `init_tokenizer` gets under the pinned transformers — for one text, truncated and padded as a call
/// `tokenizer(text, padding="max_length", truncation=True, max_length=n)` does.
///
/// Pipeline:
///  1. special tokens (`[PAD]`, `[UNK]`, `[CLS]`, `[SEP]`, `[MASK]` and every entry of `added_tokens.json`, e.g.
///     BLIP's `[DEC]` / `[ENC]`) are split out of the raw text first (case-sensitive, leftmost-longest; `[cls]` is
///     ordinary text);
///  2. normalisation, per Unicode scalar: scalars 0 and U+FFFD and "other" characters (categories Cc, Cf, Co, Cs —
///     not Cn; tab, newline and return excepted) are dropped and White_Space characters become a space; CJK
///     ideographs (BERT's ranges) get a space on each side; then, when accents are stripped (the default for an
///     uncased model), NFD and every nonspacing mark (Mn) dropped; then each scalar's full lowercase mapping;
///  3. pre-tokenisation: split at White_Space, every punctuation character (ASCII punctuation or a P* category) a
///     word of its own;
///  4. WordPiece: a word of more than 100 scalars is `[UNK]`; otherwise greedy longest-prefix matching with "##"
///     before continuation pieces, and `[UNK]` for the whole word if some part matches nothing.
/// Vocabulary entries are compared as UTF-8 bytes (not Swift's canonical string equality), as the Rust library does.
///
/// Differences from the legacy Python `BertTokenizer` of transformers 4.x (what ImageReward was published with),
/// all from the Rust library: lowercasing after accent stripping and without context (a final capital sigma becomes
/// "σ", not "ς"), unassigned code points kept (Python drops them as control characters), and the CJK range
/// U+2B820–U+2B91F not treated as CJK. Unicode tables are Swift's, which may differ from the Rust crates' on
/// recently assigned characters.
///
/// Files (`init(directory:)`): `vocab.txt` (required; one token per line, id = line number, a later duplicate wins),
/// optional `tokenizer_config.json` (`do_lower_case` default true, `strip_accents` default = do_lower_case,
/// `tokenize_chinese_chars` default true, special-token strings) and optional `added_tokens.json` (`{token: id}`,
/// every entry treated as a special token matched in the raw text). Errors (`BertTokenizerError`) name the file and
/// the field.
public struct BertTokenizer: Sendable {
    public let clsTokenID: Int
    public let sepTokenID: Int
    public let padTokenID: Int
    public let unkTokenID: Int
    public let lowercase: Bool
    public let stripAccents: Bool
    public let tokenizeChineseChars: Bool
    /// Words longer than this many scalars become `[UNK]` (the WordPiece model's `max_input_chars_per_word`).
    public let maxInputCharsPerWord = 100
    /// Number of entries in vocab.txt (without added tokens).
    public let vocabularyCount: Int
    /// Special tokens matched in the raw text, with their ids.
    public let specialTokens: [String: Int]

    private let vocabulary: [[UInt8]: Int]
    private let specialMatcher: AddedTokenMatcher<UInt8>

    /// Loads `vocab.txt` and the optional `tokenizer_config.json` / `added_tokens.json` of `directory`.
    public init(directory: URL) throws(BertTokenizerError) {
        let vocabURL = directory.appendingPathComponent("vocab.txt")
        let vocab = try BertTokenizer.readVocabulary(vocabURL)
        var config = JSONObject()
        let configURL = directory.appendingPathComponent("tokenizer_config.json")
        if FileManager.default.fileExists(atPath: configURL.path) { config = try BertTokenizer.readObject(configURL) }
        let configPath = configURL.path
        func flag(_ key: String) throws(BertTokenizerError) -> Bool? {
            switch config[key] {
            case nil, .null?: return nil
            case .bool(let b)?: return b
            default: throw .invalidField(path: configPath, field: key, reason: "expected true, false or null")
            }
        }
        func tokenString(_ key: String, _ fallback: String) throws(BertTokenizerError) -> String {
            switch config[key] {
            case nil, .null?: return fallback
            case .string(let s)?: return s
            case .object(let o)?:
                if case .string(let s)? = o["content"] { return s }
                throw .invalidField(path: configPath, field: key + ".content", reason: "expected a string")
            default: throw .invalidField(path: configPath, field: key, reason: "expected a string or an object with \"content\"")
            }
        }
        let lower = try flag("do_lower_case") ?? true
        var added: [String: Int] = [:]
        let addedURL = directory.appendingPathComponent("added_tokens.json")
        if FileManager.default.fileExists(atPath: addedURL.path) {
            let object = try BertTokenizer.readObject(addedURL)
            for key in object.keys {
                guard case .int(let id)? = object[key], id >= 0 else {
                    throw .invalidField(path: addedURL.path, field: key, reason: "expected a non-negative integer id")
                }
                added[key] = id
            }
        }
        try self.init(vocabulary: vocab, vocabPath: vocabURL.path, lowercase: lower,
                      stripAccents: try flag("strip_accents") ?? lower,
                      tokenizeChineseChars: try flag("tokenize_chinese_chars") ?? true,
                      specialTokenStrings: (cls: try tokenString("cls_token", "[CLS]"), sep: try tokenString("sep_token", "[SEP]"),
                                            pad: try tokenString("pad_token", "[PAD]"), unk: try tokenString("unk_token", "[UNK]"),
                                            mask: try tokenString("mask_token", "[MASK]")),
                      addedTokens: added)
    }

    /// A tokenizer over `vocabulary` (index = id) with BERT's default special tokens, plus `addedTokens`.
    public init(vocabulary tokens: [String], lowercase: Bool = true, stripAccents: Bool? = nil, tokenizeChineseChars: Bool = true,
                addedTokens: [String: Int] = [:]) throws(BertTokenizerError) {
        try self.init(vocabulary: tokens, vocabPath: "vocab.txt", lowercase: lowercase, stripAccents: stripAccents ?? lowercase,
                      tokenizeChineseChars: tokenizeChineseChars,
                      specialTokenStrings: ("[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]"), addedTokens: addedTokens)
    }

    private init(vocabulary tokens: [String], vocabPath: String, lowercase: Bool, stripAccents: Bool, tokenizeChineseChars: Bool,
                 specialTokenStrings s: (cls: String, sep: String, pad: String, unk: String, mask: String),
                 addedTokens: [String: Int]) throws(BertTokenizerError) {
        var vocab: [[UInt8]: Int] = [:]
        for (i, t) in tokens.enumerated() { vocab[Array(t.utf8)] = i }
        func id(_ token: String, _ field: String) throws(BertTokenizerError) -> Int {
            if let i = addedTokens[token] ?? vocab[Array(token.utf8)] { return i }
            throw .tokenNotInVocabulary(path: vocabPath, field: field, token: token)
        }
        clsTokenID = try id(s.cls, "cls_token")
        sepTokenID = try id(s.sep, "sep_token")
        padTokenID = try id(s.pad, "pad_token")
        unkTokenID = try id(s.unk, "unk_token")
        var special = addedTokens
        for (token, field) in [(s.cls, "cls_token"), (s.sep, "sep_token"), (s.pad, "pad_token"), (s.unk, "unk_token")] {
            special[token] = try id(token, field)
        }
        if let m = addedTokens[s.mask] ?? vocab[Array(s.mask.utf8)] { special[s.mask] = m }
        self.lowercase = lowercase
        self.stripAccents = stripAccents
        self.tokenizeChineseChars = tokenizeChineseChars
        vocabularyCount = tokens.count
        vocabulary = vocab
        specialTokens = special
        specialMatcher = AddedTokenMatcher(special.map { (Array($0.key.utf8), $0.value) })
    }

    // MARK: Encoding

    /// `[CLS]`, the WordPiece ids of `text` (the first `maxLength − 2`), `[SEP]`, then `[PAD]` up to `maxLength` when
    /// `padToMaxLength`; the attention mask is 1 on real tokens and 0 on padding.
    public func encode(_ text: String, maxLength: Int, padToMaxLength: Bool = true) -> (ids: [Int], attentionMask: [Int]) {
        precondition(maxLength >= 2, "BertTokenizer.encode: maxLength \(maxLength) leaves no room for [CLS] and [SEP]")
        var ids = [clsTokenID] + tokenize(text).prefix(maxLength - 2) + [sepTokenID]
        var mask = [Int](repeating: 1, count: ids.count)
        if padToMaxLength && ids.count < maxLength {
            mask += [Int](repeating: 0, count: maxLength - ids.count)
            ids += [Int](repeating: padTokenID, count: maxLength - ids.count)
        }
        return (ids, mask)
    }

    /// The ids of `text` without `[CLS]` / `[SEP]`, untruncated.
    public func tokenize(_ text: String) -> [Int] {
        let bytes = Array(text.utf8)
        var out: [Int] = []
        specialMatcher.split(bytes, segment: { range in
            let piece = String(decoding: bytes[range], as: UTF8.self)
            for word in preTokenize(normalize(piece)) { wordPiece(word, into: &out) }
        }, token: { out.append($0) })
        return out
    }

    /// Step 2 of the pipeline (BertNormalizer).
    func normalize(_ text: String) -> [Unicode.Scalar] {
        var cleaned: [Unicode.Scalar] = []
        cleaned.reserveCapacity(text.unicodeScalars.count)
        for c in text.unicodeScalars {
            if c.value == 0 || c.value == 0xFFFD || BertTokenizer.isOther(c) { continue }
            if BertTokenizer.isWhitespace(c) { cleaned.append(" "); continue }
            if tokenizeChineseChars && BertTokenizer.isCJK(c.value) {
                cleaned += [" ", c, " "]
            } else {
                cleaned.append(c)
            }
        }
        if stripAccents {
            var s = String.UnicodeScalarView()
            s.append(contentsOf: cleaned)
            cleaned = String(s).decomposedStringWithCanonicalMapping.unicodeScalars.filter {
                $0.properties.generalCategory != .nonspacingMark
            }
        }
        if lowercase { cleaned = cleaned.flatMap { $0.properties.lowercaseMapping.unicodeScalars } }
        return cleaned
    }

    /// Step 3 (BertPreTokenizer): words split at whitespace, punctuation isolated.
    func preTokenize(_ scalars: [Unicode.Scalar]) -> [ArraySlice<Unicode.Scalar>] {
        var words: [ArraySlice<Unicode.Scalar>] = []
        var start = 0
        for (i, c) in scalars.enumerated() {
            if c.properties.isWhitespace {
                if start < i { words.append(scalars[start..<i]) }
                start = i + 1
            } else if BertTokenizer.isPunctuation(c) {
                if start < i { words.append(scalars[start..<i]) }
                words.append(scalars[i...i])
                start = i + 1
            }
        }
        if start < scalars.count { words.append(scalars[start...]) }
        return words
    }

    /// Step 4: greedy longest-match-first WordPiece of one word.
    func wordPiece(_ word: ArraySlice<Unicode.Scalar>, into out: inout [Int]) {
        if word.count > maxInputCharsPerWord { out.append(unkTokenID); return }
        let utf8 = word.map { Array(String($0).utf8) }
        var pieces: [Int] = []
        var start = 0
        while start < utf8.count {
            var end = utf8.count
            var found: Int?
            while end > start {
                var key: [UInt8] = start > 0 ? [0x23, 0x23] : []
                for u in utf8[start..<end] { key += u }
                if let id = vocabulary[key] { found = id; break }
                end -= 1
            }
            guard let id = found else { out.append(unkTokenID); return }
            pieces.append(id)
            start = end
        }
        out += pieces
    }

    // MARK: Character classes

    /// Rust's `char::is_whitespace` (the White_Space property) plus tab, newline and return.
    static func isWhitespace(_ c: Unicode.Scalar) -> Bool { c.properties.isWhitespace }

    /// The Rust normaliser's "other" class: control, format, private use, surrogate (tab, newline, return excepted).
    static func isOther(_ c: Unicode.Scalar) -> Bool {
        if c == "\t" || c == "\n" || c == "\r" { return false }
        switch c.properties.generalCategory {
        case .control, .format, .privateUse, .surrogate: return true
        default: return false
        }
    }

    /// ASCII punctuation (which includes `$+<=>^`|~`) or a Unicode punctuation category.
    static func isPunctuation(_ c: Unicode.Scalar) -> Bool {
        let v = c.value
        if (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) { return true }
        switch c.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
             .finalPunctuation, .otherPunctuation: return true
        default: return false
        }
    }

    /// BERT's CJK ideograph ranges as the Rust normaliser has them.
    static func isCJK(_ v: UInt32) -> Bool {
        (0x4E00...0x9FFF).contains(v) || (0x3400...0x4DBF).contains(v) || (0x20000...0x2A6DF).contains(v)
            || (0x2A700...0x2B73F).contains(v) || (0x2B740...0x2B81F).contains(v) || (0x2B920...0x2CEAF).contains(v)
            || (0xF900...0xFAFF).contains(v) || (0x2F800...0x2FA1F).contains(v)
    }

    // MARK: Files

    /// `vocab.txt`: one token per line (a final newline ends the last line; "\r" is kept as part of a token, as
    /// transformers' `load_vocab` does).
    static func readVocabulary(_ url: URL) throws(BertTokenizerError) -> [String] {
        let bytes = try readBytes(url)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw .unreadableFile(path: url.path, reason: "not UTF-8 text")
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        if lines.isEmpty { throw .invalidField(path: url.path, field: "tokens", reason: "the vocabulary is empty") }
        return lines
    }

    static func readObject(_ url: URL) throws(BertTokenizerError) -> JSONObject {
        let bytes = try readBytes(url)
        let json: JSONValue
        do { json = try JSONValue.parse(bytes) } catch {
            throw .invalidJSON(path: url.path, reason: "\(error)")
        }
        guard let object = json.objectValue else { throw .invalidJSON(path: url.path, reason: "expected an object") }
        return object
    }

    static func readBytes(_ url: URL) throws(BertTokenizerError) -> [UInt8] {
        guard FileManager.default.fileExists(atPath: url.path) else { throw .missingFile(path: url.path) }
        do { return [UInt8](try Data(contentsOf: url)) } catch {
            throw .unreadableFile(path: url.path, reason: error.localizedDescription)
        }
    }
}

/// Why a BERT tokenizer could not be loaded: the same cases (and messages, naming the file and field) as the CLIP
/// tokenizer's.
public typealias BertTokenizerError = CLIPTokenizerError
