import Foundation
import Testing
@testable import Models

// CLIPTokenizer against transformers 5.24's CLIPTokenizer on the real CLIP vocabulary. Fixtures (and what each
// holds) come from tools/fixtures/make_tokenizer_fixtures.py.

private enum TokFixture {
    static var root: URL {
        get throws {
            try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil), "ModelsTests fixtures missing")
                .appendingPathComponent("tokenizer")
        }
    }

    static func url(_ path: String) throws -> URL { try root.appendingPathComponent(path) }

    static var expected: TokExpected {
        get throws { try JSONDecoder().decode(TokExpected.self, from: Data(contentsOf: url("expected.json"))) }
    }

    /// The real CLIP vocabulary with the config files of one variant ("sd1", "sd2", "sd2-modern").
    static func tokenizer(_ variant: String) throws -> CLIPTokenizer {
        let clip = try url("clip")
        if variant == "sd1" { return try CLIPTokenizer(directory: clip) }
        let dir = try url(variant)
        let map = dir.appendingPathComponent("special_tokens_map.json")
        return try CLIPTokenizer(
            vocab: clip.appendingPathComponent("vocab.json"), merges: clip.appendingPathComponent("merges.txt"),
            tokenizerConfig: dir.appendingPathComponent("tokenizer_config.json"),
            specialTokensMap: FileManager.default.fileExists(atPath: map.path) ? map : nil)
    }

    static func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cliptok-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }
}

private struct TokExpected: Decodable {
    struct Case: Decodable {
        let ids: [Int]
        let mask: [Int]
        let encode: [Int]
        let decode: String?
        let decode_specials: String?
    }
    struct Added: Decodable {
        let content: String
        let normalized: Bool
    }
    struct Variant: Decodable {
        let pad_token_id: Int
        let added_tokens: [String: Added]
        let cases: [Case]
    }
    struct Batch: Decodable {
        let prompts: [String]
        let ids: [[Int]]
        let mask: [[Int]]
    }
    let transformers: String
    let prompts: [String]
    let variants: [String: Variant]
    let batch: Batch
    let tiny_prompts: [String]
    let tiny: [Case]
    let tiny_pad_token_id: Int
}

private func shortened(_ s: String) -> String { s.count > 60 ? String(s.prefix(60)) + "…" : s }

@Suite("CLIPTokenizer")
struct CLIPTokenizerTests {
    @Test("fixture prompts give transformers' ids, masks and unpadded ids", arguments: ["sd1", "sd2", "sd2-modern"])
    func fixturePrompts(variant: String) throws {
        let expected = try TokFixture.expected
        let v = try #require(expected.variants[variant])
        let tok = try TokFixture.tokenizer(variant)
        #expect(tok.modelMaxLength == 77)
        #expect(tok.bosTokenID == 49406 && tok.eosTokenID == 49407)
        #expect(tok.padTokenID == v.pad_token_id)
        #expect(tok.vocabularyCount == 49408)
        #expect(expected.prompts.count >= 40 && v.cases.count == expected.prompts.count)
        let added = Dictionary(uniqueKeysWithValues: tok.addedTokens.map { (String($0.id), $0) })
        #expect(Set(added.keys) == Set(v.added_tokens.keys))
        for (id, e) in v.added_tokens {
            #expect(added[id]?.content == e.content && added[id]?.normalized == e.normalized, "added token \(id)")
        }
        for (prompt, c) in zip(expected.prompts, v.cases) {
            let (ids, mask) = tok(prompt)
            #expect(ids == c.ids, "\(variant) ids of \"\(shortened(prompt))\"")
            #expect(mask == c.mask, "\(variant) mask of \"\(shortened(prompt))\"")
            #expect(tok.encode(prompt) == c.encode, "\(variant) encode of \"\(shortened(prompt))\"")
            let unpadded = tok(prompt, padToMaxLength: false)
            #expect(unpadded.ids == Array(c.ids.prefix(c.mask.reduce(0, +))))
            #expect(unpadded.attentionMask.allSatisfy { $0 == 1 })
        }
    }

    @Test("SD 2.x files: every \"!\" is the pad token id 0, as in transformers")
    func sd2ExclamationIsPadToken() throws {
        let sd1 = try TokFixture.tokenizer("sd1"), sd2 = try TokFixture.tokenizer("sd2")
        #expect(sd1.encode("wow!") == [2781, 256])
        #expect(sd2.encode("wow!") == [2781, 0])
        #expect(sd2("hi").ids.suffix(3) == [0, 0, 0])
        #expect(sd1("hi").ids.suffix(3) == [49407, 49407, 49407])
    }

    @Test("decode matches transformers' decode (with and without special tokens)")
    func decode() throws {
        let expected = try TokFixture.expected
        let tok = try TokFixture.tokenizer("sd1")
        let v = try #require(expected.variants["sd1"])
        for (prompt, c) in zip(expected.prompts, v.cases) {
            #expect(tok.decode(c.ids) == c.decode, "decode of \"\(shortened(prompt))\"")
            #expect(tok.decode(c.encode, skipSpecialTokens: false) == c.decode_specials,
                    "decode (specials kept) of \"\(shortened(prompt))\"")
        }
        #expect(tok.token(320) == "a</w>" && tok.tokenID("a</w>") == 320 && tok.tokenID("<|endoftext|>") == 49407)
    }

    @Test("a batch padded to the longest prompt")
    func batchLongest() throws {
        let b = try TokFixture.expected.batch
        let tok = try TokFixture.tokenizer("sd1")
        let out = tok(b.prompts, padToMaxLength: false)
        #expect(out.ids == b.ids && out.attentionMask == b.mask)
        let full = tok(b.prompts)
        #expect(full.ids.allSatisfy { $0.count == 77 })
        #expect(full.ids == b.prompts.map { tok($0).ids })
    }

    @Test("tokenizer.json with a tiny vocabulary: merges as pairs and as strings; unknown bytes; max length 12",
          arguments: ["tiny", "tiny-strings"])
    func tinyTokenizerJSON(folder: String) throws {
        let expected = try TokFixture.expected
        let tok = try CLIPTokenizer(directory: TokFixture.url(folder))
        #expect(tok.modelMaxLength == 12 && tok.padTokenID == expected.tiny_pad_token_id)
        #expect(tok.unkTokenID != nil)
        for (prompt, c) in zip(expected.tiny_prompts, expected.tiny) {
            let (ids, mask) = tok(prompt)
            #expect(ids == c.ids && mask == c.mask, "\(folder): \"\(prompt)\"")
            #expect(tok.encode(prompt) == c.encode, "\(folder) encode: \"\(prompt)\"")
        }
    }

    @Test("a full CLIP tokenizer.json gives the same ids as vocab.json + merges.txt")
    func fullTokenizerJSON() throws {
        // The real one is 3.6 MB, so it is not committed; write one in tokenizers' layout from the fixtures.
        let clip = try TokFixture.url("clip")
        let vocabText = try String(contentsOf: clip.appendingPathComponent("vocab.json"), encoding: .utf8)
        let mergeLines = try String(contentsOf: clip.appendingPathComponent("merges.txt"), encoding: .utf8)
            .split(separator: "\n").dropFirst()
        func quote(_ s: Substring) throws -> String {
            String(decoding: try JSONSerialization.data(withJSONObject: String(s), options: [.fragmentsAllowed]), as: UTF8.self)
        }
        var json = """
            {"version": "1.0", "truncation": null, "padding": null, "added_tokens": [
              {"id": 49406, "content": "<|startoftext|>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": true, "special": true},
              {"id": 49407, "content": "<|endoftext|>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
             "normalizer": null, "pre_tokenizer": null, "post_processor": null, "decoder": null,
             "model": {"type": "BPE", "dropout": null, "unk_token": "<|endoftext|>", "continuing_subword_prefix": "",
                       "end_of_word_suffix": "</w>", "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                       "vocab": \(vocabText.trimmingCharacters(in: .whitespacesAndNewlines)), "merges": [
            """
        var parts: [String] = []
        for line in mergeLines {
            let ab = line.split(separator: " ")
            parts.append("[\(try quote(ab[0])), \(try quote(ab[1]))]")
        }
        json += parts.joined(separator: ",\n") + "]}}"
        let dir = try TokFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try json.write(to: dir.appendingPathComponent("tokenizer.json"), atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(at: clip.appendingPathComponent("tokenizer_config.json"),
                                         to: dir.appendingPathComponent("tokenizer_config.json"))
        let fast = try CLIPTokenizer(directory: dir)
        let expected = try TokFixture.expected
        let v = try #require(expected.variants["sd1"])
        #expect(fast.addedTokens.map(\.id) == [49406, 49407])
        for (prompt, c) in zip(expected.prompts, v.cases) {
            let (ids, mask) = fast(prompt)
            #expect(ids == c.ids && mask == c.mask, "tokenizer.json: \"\(shortened(prompt))\"")
        }
    }

    @Test("per code point: character classes and normalisation equal the tokenizers library's")
    func unicodeTables() throws {
        let data = try Data(contentsOf: TokFixture.url("unicode.json"))
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let ranges = try #require(root["classes"] as? [[Any]])
        let normalized = try #require(root["normalized"] as? [String: String])
        var classMismatches: [String] = []
        var covered = 0
        for r in ranges {
            let first = try #require(r[0] as? Int), last = try #require(r[1] as? Int), cls = try #require(r[2] as? String)
            for v in first...last {
                guard let s = Unicode.Scalar(UInt32(v)) else { continue }
                covered += 1
                let mine: String
                switch CLIPTextPipeline.charClass(s) {
                case .letter: mine = "L"
                case .number: mine = "N"
                case .space: mine = "S"
                case .other: mine = "P"
                }
                if mine != cls { classMismatches.append("U+\(String(v, radix: 16, uppercase: true)) \(mine)≠\(cls)") }
            }
        }
        #expect(covered == 0x110000 - 0x800)
        #expect(classMismatches.isEmpty, "\(classMismatches.count) class mismatches: \(classMismatches.prefix(20))")

        var normMismatches: [String] = []
        for v in 0..<0x110000 {
            guard let s = Unicode.Scalar(UInt32(v)) else { continue }
            let input = String(Character(s))
            let want = normalized[String(v)] ?? input
            let got = String(String.UnicodeScalarView(CLIPTextPipeline.normalize(Array(input.utf8)[...])))
            if got.unicodeScalars.elementsEqual(want.unicodeScalars) == false {
                normMismatches.append("U+\(String(v, radix: 16, uppercase: true)) → \(got.unicodeScalars.map { String($0.value, radix: 16) }) want \(want.unicodeScalars.map { String($0.value, radix: 16) })")
            }
        }
        #expect(normMismatches.isEmpty, "\(normMismatches.count) normalisation mismatches: \(normMismatches.prefix(20))")
    }

    @Test("merges: rank order, leftmost first, cache gives the same answer twice")
    func bpeDetails() throws {
        let tok = try TokFixture.tokenizer("sd1")
        let first = tok.encode("supercalifragilisticexpialidocious aaaaaaaaaaaaaaaa")
        #expect(tok.encode("supercalifragilisticexpialidocious aaaaaaaaaaaaaaaa") == first)
        #expect(tok.encode("a photo of a cat") == [320, 1125, 539, 320, 2368])
        #expect(tok.encode("") == [] && tok("").ids.prefix(3) == [49406, 49407, 49407])
        // Digits are single pieces; "'s" splits off.
        #expect(tok.encode("2024").count == 4)
        #expect(tok.encode("it's") == [585, 568])
    }

    // MARK: Errors

    @Test("missing vocab.json names the file")
    func missingVocab() throws {
        let dir = try TokFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try "#version: 0.2\n".write(to: dir.appendingPathComponent("merges.txt"), atomically: true, encoding: .utf8)
        #expect(throws: CLIPTokenizerError.missingFile(path: dir.appendingPathComponent("vocab.json").path)) {
            try CLIPTokenizer(directory: dir)
        }
    }

    @Test("malformed merges.txt lines name the file and line", arguments: [
        ("a b\n\na b</w>\n", 3, ""),          // empty line
        ("a b c\n", 2, "a b c"),             // three tokens
        ("a  b\n", 2, "a  b"),               // two spaces
        ("a\tb\n", 2, "a\tb"),               // tab
        ("ab\n", 2, "ab"),                   // one token
    ])
    func malformedMerges(body: String, line: Int, text: String) throws {
        let dir = try TokFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try #"{"a": 0, "b": 1, "a</w>": 2, "b</w>": 3, "ab": 4, "ab</w>": 5, "<|startoftext|>": 6, "<|endoftext|>": 7}"#
            .write(to: dir.appendingPathComponent("vocab.json"), atomically: true, encoding: .utf8)
        try ("#version: 0.2\n" + body).write(to: dir.appendingPathComponent("merges.txt"), atomically: true, encoding: .utf8)
        #expect(throws: CLIPTokenizerError.malformedMerge(path: dir.appendingPathComponent("merges.txt").path, line: line, text: text)) {
            try CLIPTokenizer(directory: dir)
        }
    }

    @Test("other load errors: merge token not in vocabulary, bad JSON, tokenizer.json fields, CRLF merges load")
    func otherErrors() throws {
        let dir = try TokFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let vocab = dir.appendingPathComponent("vocab.json"), merges = dir.appendingPathComponent("merges.txt")
        let vocabText = #"{"a": 0, "b": 1, "a</w>": 2, "b</w>": 3, "ab": 4, "ab</w>": 5, "<|startoftext|>": 6, "<|endoftext|>": 7}"#
        try vocabText.write(to: vocab, atomically: true, encoding: .utf8)

        try "#version: 0.2\r\na b</w>\r\na b\r\n".write(to: merges, atomically: true, encoding: .utf8)
        let ok = try CLIPTokenizer(directory: dir)
        #expect(ok.encode("ab abab aab") == [5, 4, 5, 0, 5])
        #expect(ok("ab", padToMaxLength: false).ids == [6, 5, 7])

        try "#version: 0.2\na c\n".write(to: merges, atomically: true, encoding: .utf8)
        #expect(throws: CLIPTokenizerError.tokenNotInVocabulary(path: merges.path, field: "line 2", token: "c")) {
            try CLIPTokenizer(directory: dir)
        }
        try "#version: 0.2\nb a\n".write(to: merges, atomically: true, encoding: .utf8)
        #expect(throws: CLIPTokenizerError.tokenNotInVocabulary(path: merges.path, field: "line 2", token: "ba")) {
            try CLIPTokenizer(directory: dir)
        }

        try #"{"a": 0, "b": }"#.write(to: vocab, atomically: true, encoding: .utf8)
        #expect(throws: CLIPTokenizerError.invalidJSON(path: vocab.path, reason: "unexpected character '}' at byte 14")) {
            try CLIPTokenizer(directory: dir)
        }
        try #"{"a": "zero"}"#.write(to: vocab, atomically: true, encoding: .utf8)
        #expect(throws: CLIPTokenizerError.invalidField(path: vocab.path, field: #"["a"]"#, reason: "expected a non-negative integer id, got a string")) {
            try CLIPTokenizer(directory: dir)
        }

        // A vocabulary that is not byte-complete needs its unknown token.
        try #"{"a": 0, "a</w>": 1, "<|startoftext|>": 2, "<|endoftext|>": 3}"#.write(to: vocab, atomically: true, encoding: .utf8)
        try "#version: 0.2\n".write(to: merges, atomically: true, encoding: .utf8)
        let config = dir.appendingPathComponent("tokenizer_config.json")
        try #"{"unk_token": "<unk>", "model_max_length": 8}"#.write(to: config, atomically: true, encoding: .utf8)
        #expect(throws: CLIPTokenizerError.tokenNotInVocabulary(path: config.path, field: "unk_token", token: "<unk>")) {
            try CLIPTokenizer(directory: dir)
        }
        try #"{"model_max_length": 8, "padding_side": "left"}"#.write(to: config, atomically: true, encoding: .utf8)
        #expect(throws: CLIPTokenizerError.unsupported(path: config.path, field: "padding_side", reason: "left, only \"right\"")) {
            try CLIPTokenizer(directory: dir)
        }
        try #"{"model_max_length": 8, "pad_token": {"content": "!"}}"#.write(to: config, atomically: true, encoding: .utf8)
        #expect(throws: CLIPTokenizerError.invalidField(path: config.path, field: "pad_token", reason: "an object without \"__type\": \"AddedToken\"")) {
            try CLIPTokenizer(directory: dir)
        }
        try #"{"model_max_length": 8}"#.write(to: config, atomically: true, encoding: .utf8)
        let small = try CLIPTokenizer(directory: dir)
        #expect(small.modelMaxLength == 8 && small.unkTokenID == 3)
        #expect(small("a b a").ids == [2, 1, 3, 1, 3, 3, 3, 3])

        // tokenizer.json: missing and malformed fields.
        let tj = dir.appendingPathComponent("tokenizer.json")
        try #"{"model": {"type": "BPE", "merges": []}}"#.write(to: tj, atomically: true, encoding: .utf8)
        #expect(throws: CLIPTokenizerError.missingField(path: tj.path, field: "model.vocab")) {
            try CLIPTokenizer(directory: dir)
        }
        try #"{"model": {"vocab": {"a": 0}}}"#.write(to: tj, atomically: true, encoding: .utf8)
        #expect(throws: CLIPTokenizerError.missingField(path: tj.path, field: "model.merges")) {
            try CLIPTokenizer(tokenizerJSON: tj)
        }
        try #"{"model": {"vocab": {"a": 0, "a</w>": 1}, "merges": ["a a</w>", "a"]}}"#.write(to: tj, atomically: true, encoding: .utf8)
        #expect(throws: CLIPTokenizerError.invalidField(path: tj.path, field: "model.merges[1]", reason: "\"a\" is not two tokens separated by one space")) {
            try CLIPTokenizer(tokenizerJSON: tj)
        }
        try #"{"model": {"type": "WordPiece", "vocab": {}, "merges": []}}"#.write(to: tj, atomically: true, encoding: .utf8)
        #expect(throws: CLIPTokenizerError.unsupported(path: tj.path, field: "model.type", reason: "WordPiece, only BPE")) {
            try CLIPTokenizer(tokenizerJSON: tj)
        }
        try "[1, 2".write(to: tj, atomically: true, encoding: .utf8)
        #expect(throws: CLIPTokenizerError.invalidJSON(path: tj.path, reason: "unterminated list at byte 5")) {
            try CLIPTokenizer(tokenizerJSON: tj)
        }
        #expect(throws: CLIPTokenizerError.missingFile(path: dir.appendingPathComponent("nope.json").path)) {
            try CLIPTokenizer(tokenizerJSON: dir.appendingPathComponent("nope.json"))
        }
    }
}
