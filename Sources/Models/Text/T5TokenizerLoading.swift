import Foundation
import ModelIO

extension T5Tokenizer {
    /// Loads a tokenizer folder as transformers does: `tokenizer.json` if present, else `spiece.model`; plus the
    /// optional `tokenizer_config.json` (`eos_token`, `pad_token`, `unk_token`, `extra_ids`).
    public init(directory: URL, interpretation: Interpretation = .transformers) throws {
        let file = { (name: String) in directory.appendingPathComponent(name) }
        let config = FileManager.default.fileExists(atPath: file("tokenizer_config.json").path) ? file("tokenizer_config.json") : nil
        if FileManager.default.fileExists(atPath: file("tokenizer.json").path) {
            try self.init(tokenizerJSON: file("tokenizer.json"), tokenizerConfig: config, interpretation: interpretation)
        } else if FileManager.default.fileExists(atPath: file("spiece.model").path) {
            try self.init(sentencePieceModel: file("spiece.model"), tokenizerConfig: config)
        } else {
            throw T5TokenizerError.missingFile(path: file("tokenizer.json").path + " (nor spiece.model)")
        }
    }

    /// Loads a Hugging Face tokenizer.json whose model is `Unigram` (see the type's comment for `interpretation`).
    public init(tokenizerJSON url: URL, tokenizerConfig: URL? = nil, interpretation: Interpretation = .transformers) throws {
        let path = url.path
        let json = try T5TokenizerFiles.readObject(url)
        let config = try T5TokenizerFiles.TokenConfig(tokenizerConfig)
        guard let modelJSON = json["model"]?.objectValue else {
            throw T5TokenizerError.missingField(path: path, field: "model")
        }
        let type = modelJSON["type"]?.stringValue
        guard type == "Unigram" || (type == nil && modelJSON["vocab"]?.arrayValue != nil) else {
            throw T5TokenizerError.unsupported(path: path, field: "model.type",
                                               reason: "\"\(type ?? "?")\"; a T5 tokenizer is a SentencePiece Unigram model")
        }
        guard let vocab = modelJSON["vocab"]?.arrayValue else {
            throw T5TokenizerError.missingField(path: path, field: "model.vocab")
        }
        var pieces: [String] = [], scores: [Double] = []
        pieces.reserveCapacity(vocab.count)
        scores.reserveCapacity(vocab.count)
        for (i, entry) in vocab.enumerated() {
            guard let pair = entry.arrayValue, pair.count == 2, let piece = pair[0].stringValue, let score = pair[1].doubleValue else {
                throw T5TokenizerError.invalidField(path: path, field: "model.vocab[\(i)]", reason: "expected [piece, score]")
            }
            pieces.append(piece)
            scores.append(score)
        }
        let added = try T5TokenizerFiles.addedTokens(json["added_tokens"], path: path)

        let model: UnigramModel
        let normalizer: TextNormalizer?
        let preTokenizer: PreTokenizer?
        let prefix: [Int], suffix: [Int]
        switch interpretation {
        case .transformers:
            model = try T5TokenizerFiles.model(pieces, scores, unknownID: 2, byteFallback: false, path: path)
            normalizer = try T5TokenizerFiles.firstPrecompiled(json["normalizer"], path: path).map { .precompiled($0) }
            preTokenizer = T5TokenizerFiles.transformersPreTokenizer
            let eos = try T5TokenizerFiles.id(of: config.eos, field: "eos_token", model: model, added: added, path: config.path ?? path)
            (prefix, suffix) = ([], [eos])
        case .asWritten:
            let unk = modelJSON["unk_id"]
            guard let unknownID = unk?.intValue else {
                throw T5TokenizerError.unsupported(path: path, field: "model.unk_id",
                                                   reason: "\(unk?.description ?? "missing"); a Unigram model needs an unknown piece")
            }
            let fallback = modelJSON["byte_fallback"]
            guard fallback == nil || fallback!.isNull || fallback!.boolValue != nil else {
                throw T5TokenizerError.invalidField(path: path, field: "model.byte_fallback", reason: "expected true or false")
            }
            model = try T5TokenizerFiles.model(pieces, scores, unknownID: unknownID, byteFallback: fallback?.boolValue ?? false, path: path)
            normalizer = try T5TokenizerFiles.normalizer(json["normalizer"], field: "normalizer", path: path)
            preTokenizer = try T5TokenizerFiles.preTokenizer(json["pre_tokenizer"], field: "pre_tokenizer", path: path)
            (prefix, suffix) = try T5TokenizerFiles.template(json["post_processor"], path: path)
        }
        var pad = try? T5TokenizerFiles.id(of: config.pad, field: "pad_token", model: model, added: added, path: path)
        if interpretation == .asWritten, let padding = json["padding"]?.objectValue, let id = padding["pad_id"]?.intValue { pad = id }
        guard let padID = pad else {
            throw T5TokenizerError.tokenNotInVocabulary(path: config.path ?? path, field: "pad_token", token: config.pad)
        }
        self.init(model: model, normalizer: normalizer, preTokenizer: preTokenizer, addedTokens: added,
                  prefixIDs: prefix, suffixIDs: suffix, padTokenID: padID)
    }

    /// Loads a SentencePiece model file as transformers 5.24's `T5Tokenizer` does when it is the only file: its
    /// pieces and scores, then `extra_ids` sentinel pieces `<extra_id_{N-1}>` … `<extra_id_0>`; control and
    /// user-defined pieces, `<unk>` and the sentinels are added tokens; the normaliser is the model's charsmap.
    public init(sentencePieceModel url: URL, tokenizerConfig: URL? = nil) throws {
        let path = url.path
        let bytes = try T5TokenizerFiles.readBytes(url)
        let file: SentencePieceModelFile
        do { file = try SentencePieceModelFile(bytes) } catch {
            throw T5TokenizerError.unreadableFile(path: path, reason: "not a SentencePiece model: \(error)")
        }
        guard file.modelType == 1 else {
            let name = [2: "BPE", 3: "WORD", 4: "CHAR"][file.modelType] ?? "\(file.modelType)"
            throw T5TokenizerError.unsupported(path: path, field: "trainer_spec.model_type",
                                               reason: "\(name); a T5 tokenizer is a SentencePiece Unigram model")
        }
        let config = try T5TokenizerFiles.TokenConfig(tokenizerConfig)
        var pieces = file.pieces.map(\.piece), scores = file.pieces.map { Double($0.score) }
        var added: [AddedToken] = []
        for (i, p) in file.pieces.enumerated() where p.type == .control || p.type == .userDefined || p.type == .unknown {
            added.append(AddedToken(content: p.piece, id: i, special: p.type != .userDefined))
        }
        for n in stride(from: config.extraIDs - 1, through: 0, by: -1) {
            added.append(AddedToken(content: "<extra_id_\(n)>", id: pieces.count))
            pieces.append("<extra_id_\(n)>")
            scores.append(0)
        }
        let model = try T5TokenizerFiles.model(pieces, scores, unknownID: 2, byteFallback: false, path: path)
        var normalizer: TextNormalizer?
        if let map = file.precompiledCharsMap {
            do { normalizer = .precompiled(try PrecompiledCharsMap(map)) } catch {
                throw T5TokenizerError.invalidField(path: path, field: "normalizer_spec.precompiled_charsmap", reason: error.description)
            }
        }
        let idPath = config.path ?? path
        let eos = try T5TokenizerFiles.id(of: config.eos, field: "eos_token", model: model, added: added, path: idPath)
        let pad = try T5TokenizerFiles.id(of: config.pad, field: "pad_token", model: model, added: added, path: idPath)
        self.init(model: model, normalizer: normalizer, preTokenizer: T5TokenizerFiles.transformersPreTokenizer,
                  addedTokens: added, prefixIDs: [], suffixIDs: [eos], padTokenID: pad)
    }
}

/// Reading the parts of tokenizer files (tokenizer.json sections, tokenizer_config.json).
enum T5TokenizerFiles {
    /// transformers 5.24 `T5Tokenizer`'s pre-tokeniser.
    static let transformersPreTokenizer = PreTokenizer.sequence([.whitespaceSplit,
                                                                 .metaspace(replacement: "▁", prependScheme: .always, split: true)])

    /// The special-token strings of tokenizer_config.json, with T5's defaults.
    struct TokenConfig {
        var path: String?
        var eos = "</s>", pad = "<pad>", unk = "<unk>"
        var extraIDs = 100

        init(_ url: URL?) throws {
            guard let url else { return }
            path = url.path
            let object = try readObject(url)
            func token(_ key: String, _ fallback: String) throws -> String {
                switch object[key] {
                case nil, .null?: return fallback
                case .string(let s)?: return s
                case .object(let o)?:
                    if case .string(let s)? = o["content"] { return s }
                    throw T5TokenizerError.invalidField(path: url.path, field: key + ".content", reason: "expected a string")
                default: throw T5TokenizerError.invalidField(path: url.path, field: key, reason: "expected a string or an object with \"content\"")
                }
            }
            eos = try token("eos_token", eos)
            pad = try token("pad_token", pad)
            unk = try token("unk_token", unk)
            if let v = object["extra_ids"], !v.isNull {
                guard let n = v.intValue, n >= 0 else {
                    throw T5TokenizerError.invalidField(path: url.path, field: "extra_ids", reason: "expected a non-negative integer")
                }
                extraIDs = n
            }
        }
    }

    static func model(_ pieces: [String], _ scores: [Double], unknownID: Int, byteFallback: Bool, path: String) throws -> UnigramModel {
        do { return try UnigramModel(pieces: pieces, scores: scores, unknownID: unknownID, byteFallback: byteFallback) } catch {
            throw T5TokenizerError.invalidField(path: path, field: "model.vocab", reason: error.description)
        }
    }

    static func id(of token: String, field: String, model: UnigramModel, added: [T5Tokenizer.AddedToken], path: String) throws -> Int {
        if let t = added.last(where: { $0.content == token }) { return t.id }
        if let id = model.id(of: token) { return id }
        throw T5TokenizerError.tokenNotInVocabulary(path: path, field: field, token: token)
    }

    static func addedTokens(_ value: JSONValue?, path: String) throws -> [T5Tokenizer.AddedToken] {
        guard let value, !value.isNull else { return [] }
        guard let list = value.arrayValue else {
            throw T5TokenizerError.invalidField(path: path, field: "added_tokens", reason: "expected a list, got \(value.kindName)")
        }
        return try list.enumerated().map { i, entry in
            let field = "added_tokens[\(i)]"
            guard let content = entry["content"]?.stringValue, let id = entry["id"]?.intValue, id >= 0 else {
                throw T5TokenizerError.invalidField(path: path, field: field, reason: "expected \"id\" and \"content\"")
            }
            for flag in ["lstrip", "rstrip", "single_word"] where entry[flag]?.boolValue == true {
                throw T5TokenizerError.unsupported(path: path, field: "\(field).\(flag)", reason: "true (token \"\(content)\")")
            }
            return T5Tokenizer.AddedToken(content: content, id: id, normalized: entry["normalized"]?.boolValue ?? false,
                                          special: entry["special"]?.boolValue ?? false)
        }
    }

    /// The first `Precompiled` normalizer, alone or in a `Sequence` (what transformers 5.24 keeps).
    static func firstPrecompiled(_ value: JSONValue?, path: String) throws -> PrecompiledCharsMap? {
        guard let value, !value.isNull else { return nil }
        let list = value["type"]?.stringValue == "Sequence" ? value["normalizers"]?.arrayValue ?? [] : [value]
        for (i, n) in list.enumerated() where n["type"]?.stringValue == "Precompiled" {
            return try precompiled(n, field: list.count == 1 ? "normalizer" : "normalizer.normalizers[\(i)]", path: path)
        }
        return nil
    }

    static func precompiled(_ n: JSONValue, field: String, path: String) throws -> PrecompiledCharsMap {
        guard let text = n["precompiled_charsmap"]?.stringValue else {
            throw T5TokenizerError.missingField(path: path, field: field + ".precompiled_charsmap")
        }
        guard let data = Data(base64Encoded: text) else {
            throw T5TokenizerError.invalidField(path: path, field: field + ".precompiled_charsmap", reason: "not base64")
        }
        do { return try PrecompiledCharsMap([UInt8](data)) } catch {
            throw T5TokenizerError.invalidField(path: path, field: field + ".precompiled_charsmap", reason: error.description)
        }
    }

    static func normalizer(_ value: JSONValue?, field: String, path: String) throws -> TextNormalizer? {
        guard let value, !value.isNull else { return nil }
        guard let type = value["type"]?.stringValue else { throw T5TokenizerError.missingField(path: path, field: field + ".type") }
        switch type {
        case "Sequence":
            guard let list = value["normalizers"]?.arrayValue else {
                throw T5TokenizerError.missingField(path: path, field: field + ".normalizers")
            }
            return .sequence(try list.enumerated().compactMap { i, n in
                try normalizer(n, field: "\(field).normalizers[\(i)]", path: path)
            })
        case "Precompiled":
            return .precompiled(try precompiled(value, field: field, path: path))
        case "Replace":
            guard let content = value["content"]?.stringValue else {
                throw T5TokenizerError.missingField(path: path, field: field + ".content")
            }
            if let s = value["pattern"]?["String"]?.stringValue {
                guard !s.isEmpty else { throw T5TokenizerError.invalidField(path: path, field: field + ".pattern.String", reason: "empty") }
                return .replace(.string(s), content: content)
            }
            if let r = value["pattern"]?["Regex"]?.stringValue {
                do { return .replace(.regex(try SendableRegex(r)), content: content) } catch {
                    throw T5TokenizerError.unsupported(path: path, field: field + ".pattern.Regex", reason: "cannot compile \"\(r)\"")
                }
            }
            throw T5TokenizerError.invalidField(path: path, field: field + ".pattern", reason: "expected {\"String\": …} or {\"Regex\": …}")
        case "Strip":
            return .strip(left: value["strip_left"]?.boolValue ?? true, right: value["strip_right"]?.boolValue ?? true)
        default:
            throw T5TokenizerError.unsupported(path: path, field: field + ".type",
                                               reason: "normalizer \"\(type)\" (supported: Sequence, Precompiled, Replace, Strip)")
        }
    }

    static func preTokenizer(_ value: JSONValue?, field: String, path: String) throws -> PreTokenizer? {
        guard let value, !value.isNull else { return nil }
        guard let type = value["type"]?.stringValue else { throw T5TokenizerError.missingField(path: path, field: field + ".type") }
        switch type {
        case "Sequence":
            guard let list = value["pretokenizers"]?.arrayValue else {
                throw T5TokenizerError.missingField(path: path, field: field + ".pretokenizers")
            }
            return .sequence(try list.enumerated().compactMap { i, p in
                try preTokenizer(p, field: "\(field).pretokenizers[\(i)]", path: path)
            })
        case "WhitespaceSplit":
            return .whitespaceSplit
        case "Metaspace":
            guard let r = value["replacement"]?.stringValue, r.unicodeScalars.count == 1, let replacement = r.unicodeScalars.first else {
                throw T5TokenizerError.invalidField(path: path, field: field + ".replacement", reason: "expected one character")
            }
            var scheme = PreTokenizer.PrependScheme.always
            if let s = value["prepend_scheme"], !s.isNull {
                guard let name = s.stringValue, let parsed = PreTokenizer.PrependScheme(rawValue: name) else {
                    throw T5TokenizerError.invalidField(path: path, field: field + ".prepend_scheme", reason: "expected always, first or never")
                }
                scheme = parsed
            }
            if value["add_prefix_space"]?.boolValue == false {
                guard scheme == .never else {
                    throw T5TokenizerError.invalidField(path: path, field: field + ".add_prefix_space",
                                                        reason: "false does not match prepend_scheme \(scheme.rawValue)")
                }
                scheme = .never
            }
            return .metaspace(replacement: replacement, prependScheme: scheme, split: value["split"]?.boolValue ?? true)
        default:
            throw T5TokenizerError.unsupported(path: path, field: field + ".type",
                                               reason: "pre-tokenizer \"\(type)\" (supported: Sequence, WhitespaceSplit, Metaspace)")
        }
    }

    /// A `TemplateProcessing` post-processor's single-sequence template as the ids before and after `$A`.
    static func template(_ value: JSONValue?, path: String) throws -> (prefix: [Int], suffix: [Int]) {
        guard let value, !value.isNull else { return ([], []) }
        guard value["type"]?.stringValue == "TemplateProcessing" else {
            throw T5TokenizerError.unsupported(path: path, field: "post_processor.type",
                                               reason: "\"\(value["type"]?.stringValue ?? "?")\" (supported: TemplateProcessing)")
        }
        guard let single = value["single"]?.arrayValue else {
            throw T5TokenizerError.missingField(path: path, field: "post_processor.single")
        }
        var prefix: [Int] = [], suffix: [Int] = []
        var seenSequence = false
        for (i, item) in single.enumerated() {
            if let s = item["Sequence"] {
                guard s["id"]?.stringValue == "A", !seenSequence else {
                    throw T5TokenizerError.unsupported(path: path, field: "post_processor.single[\(i)]", reason: "expected one sequence $A")
                }
                seenSequence = true
            } else if let name = item["SpecialToken"]?["id"]?.stringValue {
                guard let ids = value["special_tokens"]?[name]?["ids"]?.arrayValue?.compactMap(\.intValue) else {
                    throw T5TokenizerError.missingField(path: path, field: "post_processor.special_tokens.\(name).ids")
                }
                if seenSequence { suffix += ids } else { prefix += ids }
            } else {
                throw T5TokenizerError.invalidField(path: path, field: "post_processor.single[\(i)]", reason: "expected Sequence or SpecialToken")
            }
        }
        guard seenSequence else {
            throw T5TokenizerError.invalidField(path: path, field: "post_processor.single", reason: "no $A sequence")
        }
        return (prefix, suffix)
    }

    static func readObject(_ url: URL) throws -> JSONValue {
        let bytes = try readBytes(url)
        let json: JSONValue
        do { json = try JSONValue.parse(bytes) } catch { throw T5TokenizerError.invalidJSON(path: url.path, reason: "\(error)") }
        guard json.objectValue != nil else { throw T5TokenizerError.invalidJSON(path: url.path, reason: "expected an object, got \(json.kindName)") }
        return json
    }

    static func readBytes(_ url: URL) throws -> [UInt8] {
        guard FileManager.default.fileExists(atPath: url.path) else { throw T5TokenizerError.missingFile(path: url.path) }
        do { return [UInt8](try Data(contentsOf: url)) } catch {
            throw T5TokenizerError.unreadableFile(path: url.path, reason: error.localizedDescription)
        }
    }
}
