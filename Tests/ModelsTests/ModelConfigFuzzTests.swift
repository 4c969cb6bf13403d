import Foundation
import FuzzSupport
import ModelIO
@testable import Models
import Testing

/// The model config decoders (UNet2DConditionConfig, AutoencoderKLConfig, CLIPTextConfig) under seeded
/// mutations of the committed diffusers / transformers config.json fixtures.
@Suite struct ModelConfigFuzzTests {
    static let files = ["sd/unet-sd1/config.json", "sd/unet-sd2/config.json", "sd/unet-heads/config.json",
                        "sd/pipeline-tiny/unet/config.json", "sd/vae-small/config.json", "sd/vae-three/config.json",
                        "sd/pipeline-tiny/vae/config.json", "sd/text-gelu/config.json", "sd/text-quickgelu/config.json",
                        "sd/pipeline-tiny/text_encoder/config.json"]

    static let tokens: [[UInt8]] = ["\"block_out_channels\"", "\"down_block_types\"", "\"up_block_types\"",
                                    "\"attention_head_dim\"", "\"num_attention_heads\"", "\"hidden_size\"",
                                    "\"DownBlock2D\"", "\"CrossAttnDownBlock2D\"", "[1, 2, 3]", "[]"]
        .map { Array($0.utf8) } + ByteMutator.jsonTokens

    /// 3000 mutated configs: each decodes (with all three decoders tried) or gives a ModelIOError or
    /// ModelConfigError naming config.json; the unmutated files decode.
    @Test func mutatedConfigsDecodeOrGiveTypedErrors() throws {
        let root = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        let corpus = try Self.files.map { [UInt8](try Data(contentsOf: root.appendingPathComponent($0))) }
        func decode(_ bytes: [UInt8], as kind: Int) throws {
            let c = try ConfigFile(parsing: Data(bytes), displayName: "x/config.json")
            switch kind {
            case 0: _ = try UNet2DConditionConfig(c)
            case 1: _ = try AutoencoderKLConfig(c)
            default: _ = try CLIPTextConfig(c)
            }
        }
        for (i, bytes) in corpus.enumerated() { try decode(bytes, as: i < 4 ? 0 : i < 7 ? 1 : 2) }
        var mutator = ByteMutator(seed: 41, corpus: corpus, dictionary: Self.tokens, maxMutations: 3)
        var decoded = 0, refused = 0
        for c in mutator.cases(3000) {
            do {
                try decode(c.bytes, as: c.source < 4 ? 0 : c.source < 7 ? 1 : 2)
                decoded += 1
            } catch let e as ModelIOError {
                refused += 1
                #expect(e.description.hasPrefix("x/config.json: "), "\(c.description): \(e)")
            } catch let e as ModelConfigError {
                refused += 1
                #expect(e.description.hasPrefix("x/config.json: "), "\(c.description): \(e)")
            } catch {
                Issue.record("\(c.description): expected ModelIOError or ModelConfigError, got \(type(of: error)): \(error)")
            }
        }
        #expect(decoded > 300 && refused > 1000, "decoded \(decoded), refused \(refused)")
    }
}
