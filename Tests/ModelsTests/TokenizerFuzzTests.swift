import Foundation
import FuzzSupport
import Testing
@testable import Models
import ModelIO

/// The CLIP tokenizer loaders under seeded mutations of the committed tokenizer fixtures: `tokenizer.json`,
/// `vocab.json` + `merges.txt` (rebuilt from the tiny fixture's model section, so that every case is small) and
/// the config files (`tokenizer_config.json`, `special_tokens_map.json`).
@Suite struct TokenizerFuzzTests {
    static var root: URL {
        get throws {
            try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil)).appendingPathComponent("tokenizer")
        }
    }

    static func bytes(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: root.appendingPathComponent(path))) }

    /// vocab.json and merges.txt holding the tiny fixture's vocabulary and merges.
    static func slowFiles() throws -> (vocab: [UInt8], merges: [UInt8]) {
        let json = try JSONValue.parse(try bytes("tiny/tokenizer.json"))
        let model = try #require(json["model"]?.objectValue)
        let vocab = try #require(model["vocab"]?.objectValue)
        let entries = vocab.members.map { "\(String(reflecting: $0.key)): \($0.value)" }
        var merges = "#version: 0.2\n"
        for m in try #require(model["merges"]?.arrayValue) {
            if let s = m.stringValue { merges += s + "\n" } else if let pair = m.arrayValue?.compactMap(\.stringValue), pair.count == 2 {
                merges += pair[0] + " " + pair[1] + "\n"
            }
        }
        return (Array(("{" + entries.joined(separator: ", ") + "}").utf8), Array(merges.utf8))
    }

    static let tokens: [[UInt8]] = ["\"<|endoftext|>\"", "\"<|startoftext|>\"", "</w>", "\"model\"", "\"vocab\"",
                                    "\"merges\"", "\"added_tokens\"", "\"content\"", "\"id\"", "\n", " ", "#version: 0.2"]
        .map { Array($0.utf8) } + ByteMutator.jsonTokens

    /// Whether `bytes` is JSON holding a number above 2^20. The loaders size tables by the largest token id
    /// and reserve `model_max_length` ids per call without an upper bound, so such a file can exhaust memory or
    /// trap on overflow; those cases are counted and skipped until the loaders bound them.
    static func holdsHugeNumber(_ bytes: [UInt8]) -> Bool {
        guard let json = try? JSONValue.parse(bytes) else { return false }
        func huge(_ v: JSONValue) -> Bool {
            switch v {
            case .int(let i): return i > 1 << 20
            case .double(let d): return d > 0x1p20
            case .array(let a): return a.contains(where: huge)
            case .object(let o): return o.members.contains { huge($0.value) }
            default: return false
            }
        }
        return huge(json)
    }

    static let probes = ["a photo of a cat", "", "  <|endoftext|> x", "ÿ\u{0}日本 🙂 don't", String(repeating: "ab", count: 60)]

    /// Loads one case; an error must be a CLIPTokenizerError whose message starts with the file it names.
    static func check(_ load: () throws -> CLIPTokenizer, _ c: FuzzCase, loaded: inout Int, refused: inout Int) {
        if holdsHugeNumber(c.bytes) { return }
        do {
            let t = try load()
            loaded += 1
            for text in probes {
                // Padding allocates model_max_length ids, which a config may set to anything (transformers
                // pads to it too); pad only at sizes a real config uses.
                let pad = t.modelMaxLength <= 1024
                let (ids, mask) = t(text, padToMaxLength: pad)
                #expect(ids.count == mask.count && (!pad || ids.count == t.modelMaxLength), "\(c.description)")
                #expect(ids.allSatisfy { t.token($0) != nil }, "\(c.description): \(ids)")
                _ = t.decode(ids)
            }
        } catch let e as CLIPTokenizerError {
            refused += 1
            #expect(e.description.hasPrefix("/"), "\(c.description): \(e)")
        } catch {
            refused += 1
            Issue.record("\(c.description): expected a CLIPTokenizerError, got \(type(of: error)): \(error)")
        }
    }

    @Test func mutatedTokenizerFilesLoadOrGiveTypedErrors() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tokfuzz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func write(_ name: String, _ bytes: [UInt8]) throws -> URL {
            let url = dir.appendingPathComponent(name)
            try Data(bytes).write(to: url)
            return url
        }
        var loaded = 0, refused = 0
        let tinyConfig = try write("tiny_config.json", try Self.bytes("tiny/tokenizer_config.json"))

        // tokenizer.json (both merge spellings).
        var fast = ByteMutator(seed: 21, corpus: [try Self.bytes("tiny/tokenizer.json"), try Self.bytes("tiny-strings/tokenizer.json")],
                               dictionary: Self.tokens, maxMutations: 3)
        for c in fast.cases(1200) {
            let url = try write("tokenizer.json", c.bytes)
            Self.check({ try CLIPTokenizer(tokenizerJSON: url, tokenizerConfig: tinyConfig) }, c, loaded: &loaded, refused: &refused)
        }
        // vocab.json + merges.txt, one of them mutated.
        let slow = try Self.slowFiles()
        var slowMutator = ByteMutator(seed: 22, corpus: [slow.vocab, slow.merges], dictionary: Self.tokens, maxMutations: 3)
        for c in slowMutator.cases(1200) {
            let vocab = try write("vocab.json", c.source == 0 ? c.bytes : slow.vocab)
            let merges = try write("merges.txt", c.source == 1 ? c.bytes : slow.merges)
            Self.check({ try CLIPTokenizer(vocab: vocab, merges: merges, tokenizerConfig: tinyConfig) }, c, loaded: &loaded, refused: &refused)
        }
        // Config files over the tiny vocabulary.
        let tinyJSON = try write("tiny_tokenizer.json", try Self.bytes("tiny/tokenizer.json"))
        let configs = try ["clip/tokenizer_config.json", "clip/special_tokens_map.json", "sd2/tokenizer_config.json",
                           "sd2/special_tokens_map.json", "sd2-modern/tokenizer_config.json", "tiny/tokenizer_config.json",
                           "tiny-strings/tokenizer_config.json"].map(Self.bytes)
        var configMutator = ByteMutator(seed: 23, corpus: configs, dictionary: Self.tokens, maxMutations: 3)
        for c in configMutator.cases(1200) {
            let url = try write("config.json", c.bytes)
            let isMap = c.source == 1 || c.source == 3
            Self.check({
                try CLIPTokenizer(tokenizerJSON: tinyJSON, tokenizerConfig: isMap ? tinyConfig : url, specialTokensMap: isMap ? url : nil)
            }, c, loaded: &loaded, refused: &refused)
        }
        #expect(loaded > 120 && refused > 1000, "loaded \(loaded), refused \(refused)")
    }
}
