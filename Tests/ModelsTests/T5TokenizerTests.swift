import Foundation
import Testing
@testable import Models

// T5Tokenizer against transformers 5.24's T5TokenizerFast and tokenizers' Tokenizer.from_file on SentencePiece
// models trained by the sentencepiece package. Fixtures (and what each holds) come from
// tools/fixtures/make_t5_fixtures.py.

private enum T5Fixture {
    static var root: URL {
        get throws {
            try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil), "ModelsTests fixtures missing")
                .appendingPathComponent("t5")
        }
    }

    static func url(_ path: String) throws -> URL { try root.appendingPathComponent(path) }

    static var expected: T5TokenizerExpected {
        get throws { try JSONDecoder().decode(T5TokenizerExpected.self, from: Data(contentsOf: url("tokenizer-expected.json"))) }
    }

    static func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("t5tok-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }
}

private struct T5TokenizerExpected: Decodable {
    struct Encoded: Decodable {
        let input_ids: [[Int]]
        let attention_mask: [[Int]]
    }
    let strings: [String]
    let max_lengths: [Int]
    let cases: [String: [String: Encoded]]
    let unpadded: Encoded
}

/// Every string at every max length; returns the mismatches as readable lines.
private func mismatches(_ tokenizer: T5Tokenizer, _ variant: String, _ expected: T5TokenizerExpected) throws -> [String] {
    var bad: [String] = []
    let cases = try #require(expected.cases[variant], "no fixture cases for \(variant)")
    for length in expected.max_lengths {
        let want = try #require(cases[String(length)])
        for (i, text) in expected.strings.enumerated() {
            let got = tokenizer.encode(text, maxLength: length)
            if got.ids != want.input_ids[i] || got.attentionMask != want.attention_mask[i] {
                bad.append("\(variant) L=\(length) \(text.debugDescription): got \(got.ids) mask \(got.attentionMask), "
                           + "want \(want.input_ids[i]) mask \(want.attention_mask[i])")
            }
        }
    }
    return bad
}

@Suite("T5Tokenizer")
struct T5TokenizerTests {
    @Test("tokenizer.json as transformers' T5TokenizerFast reads it", arguments: ["spm", "spm-bytes"])
    func transformersParity(variant: String) throws {
        let expected = try T5Fixture.expected
        let tokenizer = try T5Tokenizer(directory: T5Fixture.url(variant))
        let bad = try mismatches(tokenizer, variant, expected)
        #expect(bad.isEmpty, "\(bad.count) mismatches:\n\(bad.prefix(8).joined(separator: "\n"))")
    }

    @Test("spiece.model alone gives transformers' ids", arguments: ["spm", "spm-bytes"])
    func sentencePieceModelOnly(variant: String) throws {
        let expected = try T5Fixture.expected
        let dir = try T5Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.copyItem(at: T5Fixture.url("\(variant)/spiece.model"), to: dir.appendingPathComponent("spiece.model"))
        let tokenizer = try T5Tokenizer(directory: dir)
        #expect(tokenizer.model.count == (variant == "spm" ? 212 : 468) + 100)
        let bad = try mismatches(tokenizer, variant, expected)
        #expect(bad.isEmpty, "\(bad.count) mismatches:\n\(bad.prefix(8).joined(separator: "\n"))")
    }

    @Test("tokenizer.json run as written, as tokenizers does",
          arguments: [("spm-bytes-first", "spm-bytes-first"), ("spm-bytes-legacy", "spm-bytes-legacy"), ("spm", "spm")])
    func asWrittenParity(directory: String, variant: String) throws {
        let expected = try T5Fixture.expected
        let tokenizer = try T5Tokenizer(directory: T5Fixture.url(directory), interpretation: .asWritten)
        let bad = try mismatches(tokenizer, variant, expected)
        #expect(bad.isEmpty, "\(bad.count) mismatches:\n\(bad.prefix(8).joined(separator: "\n"))")
    }

    @Test("the fixtures exercise unknown characters, byte fallback and the sentinels")
    func fixturesCoverTheCases() throws {
        let expected = try T5Fixture.expected
        let emoji = try #require(expected.strings.firstIndex(of: "emoji 😀 👍🏽 ok"))
        let sentinel = try #require(expected.strings.firstIndex(of: "mixed<extra_id_0>sentinel"))
        let transformers = try #require(expected.cases["spm-bytes"]?["77"])
        let asWritten = try #require(expected.cases["spm-bytes-first"]?["77"])
        #expect(transformers.input_ids[emoji].contains(2), "transformers 5.24 ignores byte fallback: <unk>")
        #expect(asWritten.input_ids[emoji].contains { (3..<259).contains($0) }, "byte pieces <0x00>…<0xFF> are ids 3…258")
        let tokenizer = try T5Tokenizer(directory: T5Fixture.url("spm"))
        let extra0 = try #require(tokenizer.addedTokens.first { $0.content == "<extra_id_0>" }?.id)
        #expect(tokenizer.tokenize("mixed<extra_id_0>sentinel").contains(extra0))
        #expect(try #require(expected.cases["spm"]?["77"]).input_ids[sentinel].contains(extra0))
    }

    @Test("no padding and no truncation without a max length")
    func unpadded() throws {
        let expected = try T5Fixture.expected
        let tokenizer = try T5Tokenizer(directory: T5Fixture.url("spm"))
        for (i, text) in expected.strings.enumerated() {
            let got = tokenizer.encode(text, maxLength: nil)
            #expect(got.ids == expected.unpadded.input_ids[i], "\(text.debugDescription)")
            #expect(got.attentionMask == expected.unpadded.attention_mask[i])
        }
        let batch = tokenizer.encode(["hello", "", "a long prompt a long prompt"], maxLength: 5)
        #expect(batch.ids.allSatisfy { $0.count == 5 } && batch.attentionMask.map { $0.reduce(0, +) } == [5, 1, 5])
    }

    @Test("a tokenizer.json of another model type is refused, naming the file and the type",
          arguments: [("BPE", #"{"type": "BPE", "vocab": {"a": 0}, "merges": []}"#),
                      ("WordPiece", #"{"type": "WordPiece", "unk_token": "[UNK]", "vocab": {"[UNK]": 0}}"#)])
    func otherModelType(type: String, model: String) throws {
        let dir = try T5Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("tokenizer.json")
        try Data(#"{"version": "1.0", "added_tokens": [], "model": \#(model)}"#.utf8).write(to: file)
        let error = #expect(throws: T5TokenizerError.self) { try T5Tokenizer(directory: dir) }
        guard case .unsupported(let path, let field, let reason)? = error else {
            Issue.record("expected .unsupported, got \(String(describing: error))")
            return
        }
        #expect(path == file.path && field == "model.type" && reason.contains("\"\(type)\""))
        #expect(error?.description.contains("tokenizer.json") == true && error?.description.contains("Unigram") == true)
    }

    @Test("an unsupported normalizer or pre-tokenizer is named when the file is run as written")
    func unsupportedParts() throws {
        let source = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: T5Fixture.url("spm/tokenizer.json"))) as? [String: Any])
        let dir = try T5Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("tokenizer.json")
        var nfkc = source
        nfkc["normalizer"] = ["type": "NFKC"]
        try JSONSerialization.data(withJSONObject: nfkc).write(to: file)
        let error = #expect(throws: T5TokenizerError.self) { try T5Tokenizer(directory: dir, interpretation: .asWritten) }
        #expect(error == .unsupported(path: file.path, field: "normalizer.type",
                                      reason: "normalizer \"NFKC\" (supported: Sequence, Precompiled, Replace, Strip)"))
        // transformers keeps only the charsmap, so the same file loads (without one) in the default reading.
        #expect(try T5Tokenizer(directory: dir).normalizer == nil)

        var punctuation = source
        punctuation["pre_tokenizer"] = ["type": "Sequence", "pretokenizers": [["type": "Punctuation", "behavior": "Isolated"]]]
        try JSONSerialization.data(withJSONObject: punctuation).write(to: file)
        let error2 = #expect(throws: T5TokenizerError.self) { try T5Tokenizer(directory: dir, interpretation: .asWritten) }
        #expect(error2 == .unsupported(path: file.path, field: "pre_tokenizer.pretokenizers[0].type",
                                       reason: "pre-tokenizer \"Punctuation\" (supported: Sequence, WhitespaceSplit, Metaspace)"))
    }

    @Test("spiece.model problems are specific errors")
    func sentencePieceErrors() throws {
        let dir = try T5Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("spiece.model")
        // ModelProto { pieces { piece: "a" score: 0 } trainer_spec { model_type: BPE } }
        try Data([0x0A, 0x08, 0x0A, 0x01, 0x61, 0x15, 0, 0, 0, 0, 0x12, 0x02, 0x18, 0x02]).write(to: file)
        let bpe = #expect(throws: T5TokenizerError.self) { try T5Tokenizer(directory: dir) }
        #expect(bpe == .unsupported(path: file.path, field: "trainer_spec.model_type",
                                    reason: "BPE; a T5 tokenizer is a SentencePiece Unigram model"))

        let real = try Data(contentsOf: T5Fixture.url("spm/spiece.model"))
        try real.prefix(1000).write(to: file)
        let truncated = #expect(throws: T5TokenizerError.self) { try T5Tokenizer(directory: dir) }
        guard case .unreadableFile(let path, let reason)? = truncated else {
            Issue.record("expected .unreadableFile, got \(String(describing: truncated))")
            return
        }
        #expect(path == file.path && reason.hasPrefix("not a SentencePiece model: byte "))

        try FileManager.default.removeItem(at: file)
        let missing = #expect(throws: T5TokenizerError.self) { try T5Tokenizer(directory: dir) }
        #expect(missing?.description.contains("tokenizer.json (nor spiece.model): file not found") == true)
    }

    @Test("the protobuf reader reads pieces, types, scores and the trainer and normalizer specs")
    func sentencePieceFile() throws {
        let file = try SentencePieceModelFile([UInt8](Data(contentsOf: T5Fixture.url("spm-bytes/spiece.model"))))
        #expect(file.pieces.count == 468 && file.modelType == 1 && file.unknownID == 2 && file.byteFallback)
        #expect(file.pieces.prefix(3).map(\.piece) == ["<pad>", "</s>", "<unk>"])
        #expect(file.pieces.prefix(3).map(\.type) == [.control, .control, .unknown])
        #expect(file.pieces[3] == .init(piece: "<0x00>", score: 0, type: .byte))
        #expect(file.pieces[259].type == .normal && file.pieces[259].score < 0)
        #expect((file.precompiledCharsMap?.count ?? 0) > 100_000)
    }
}
