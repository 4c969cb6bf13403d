import Foundation
import FuzzSupport
import Models
import Testing

/// BertTokenizer's loader under seeded mutations of the ImageReward fixture's tokenizer files (vocab.txt,
/// tokenizer_config.json, added_tokens.json; one file mutated per case).
@Suite struct BertTokenizerFuzzTests {
    static let files = ["vocab.txt", "tokenizer_config.json", "added_tokens.json"]

    @Test func mutatedTokenizerFilesLoadOrGiveTypedErrors() throws {
        let originals = try Self.files.map { [UInt8](try Data(contentsOf: BLIPFixtures.imageRewardModel.appendingPathComponent($0))) }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bertfuzz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let tokens = ["[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]", "\"cls_token\"", "\"content\"", "\n", "##"]
            .map { Array($0.utf8) } + ByteMutator.jsonTokens
        var mutator = ByteMutator(seed: 31, corpus: originals, dictionary: tokens, maxMutations: 3)
        var loaded = 0, refused = 0
        for c in mutator.cases(2000) {
            for (i, name) in Self.files.enumerated() {
                try Data(i == c.source ? c.bytes : originals[i]).write(to: dir.appendingPathComponent(name))
            }
            do throws(BertTokenizerError) {
                let t = try BertTokenizer(directory: dir)
                loaded += 1
                for text in ["a photo of a cat", "", "[MASK] x [SEP]", "ÿ\u{0}日本 🙂 don't", String(repeating: "ab ", count: 40)] {
                    let (ids, mask) = t.encode(text, maxLength: 35)
                    #expect(ids.count == 35 && mask.count == 35, "\(c.description)")
                }
            } catch {
                refused += 1
                #expect(error.description.hasPrefix(dir.path), "\(c.description): \(error)")
            }
        }
        #expect(loaded > 300 && refused > 300, "loaded \(loaded), refused \(refused)")
    }
}
