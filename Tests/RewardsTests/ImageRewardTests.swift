import Foundation
import Imaging
import ModelIO
import Models
import Rewards
import TensorCore
import Testing

/// Fixtures made by tools/fixtures/make_imagereward_fixtures.py (image-reward 1.5's own classes, transformers 5.24)
/// and tools/fixtures/make_siglip_fixtures.py (aesthetic-predictor-v2-5's loader).
enum BLIPFixtures {
    static func url(_ name: String) -> URL {
        Bundle.module.url(forResource: "Fixtures/" + name, withExtension: nil)!
    }

    static var imageRewardModel: URL { url("imagereward/model") }
    static var aestheticModel: URL { url("aesthetic-v25/model") }

    static func imageRewardIO() throws -> SafetensorsFile {
        try SafetensorsFile(url: url("imagereward/imagereward.io.safetensors"))
    }

    static func aestheticIO() throws -> SafetensorsFile {
        try SafetensorsFile(url: url("aesthetic-v25/aesthetic-v25.io.safetensors"))
    }

    struct ImageRewardInfo: Decodable {
        let prompts: [String]
    }

    static func prompts() throws -> [String] {
        try JSONDecoder().decode(ImageRewardInfo.self, from: Data(contentsOf: url("imagereward/imagereward.json"))).prompts
    }

    struct TokenizerCases: Decodable {
        struct Case: Decodable { let text: String; let ids: [Int]; let attention_mask: [Int]; let legacy_ids: [Int] }
        let max_length: Int
        let cases: [Case]
    }

    static func tokenizerCases() throws -> TokenizerCases {
        try JSONDecoder().decode(TokenizerCases.self, from: Data(contentsOf: url("imagereward/tokenizer.json")))
    }

    /// A temporary copy of a fixture model directory as symbolic links, without the files in `omit` and with
    /// `replace` written instead of the linked file of that name.
    static func modelDirectory(_ source: URL, omit: [String] = [], replace: [String: Data] = [:]) throws -> URL {
        let fm = FileManager.default
        let dir = fm.temporaryDirectory.appendingPathComponent("evosearch-blip-\(UUID().uuidString)")
        try fm.createDirectory(at: dir, withIntermediateDirectories: true)
        for name in try fm.contentsOfDirectory(atPath: source.path) where !omit.contains(name) && replace[name] == nil {
            try fm.createSymbolicLink(at: dir.appendingPathComponent(name), withDestinationURL: source.appendingPathComponent(name))
        }
        for (name, data) in replace { try data.write(to: dir.appendingPathComponent(name)) }
        return dir
    }

    /// config.json of `source` with `edit` applied to its JSON object.
    static func editedConfig(_ source: URL, _ edit: (inout [String: Any]) -> Void) throws -> Data {
        var object = try JSONSerialization.jsonObject(with: Data(contentsOf: source.appendingPathComponent("config.json"))) as! [String: Any]
        edit(&object)
        return try JSONSerialization.data(withJSONObject: object)
    }

    /// Writes `tensors` as a float32 safetensors file (for tests that need a modified checkpoint on disk).
    static func writeSafetensors(_ tensors: [String: Tensor], to url: URL) throws {
        var header: [String: Any] = [:]
        var data = Data()
        for name in tensors.keys.sorted() {
            let t = tensors[name]!
            header[name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [data.count, data.count + 4 * t.count]]
            t.scalars.withUnsafeBytes { data.append(contentsOf: $0) }
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }
        var out = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        out.append(data)
        try out.write(to: url)
    }

    /// Every tensor of a safetensors file.
    static func tensors(_ url: URL) throws -> [String: Tensor] {
        let file = try SafetensorsFile(url: url)
        var out: [String: Tensor] = [:]
        for name in file.names { out[name] = try file.tensor(named: name) }
        return out
    }
}

/// ImageReward (BLIP ViT + BERT with cross-attention + MLP head) and its BERT tokenizer against the image-reward
/// package on a random model.
@Suite struct ImageRewardTests {
    @Test func tokenizerMatchesTransformersOnAwkwardStrings() throws {
        let tokenizer = try BertTokenizer(directory: BLIPFixtures.imageRewardModel)
        let fixture = try BLIPFixtures.tokenizerCases()
        #expect(fixture.cases.count == 25)
        #expect(tokenizer.specialTokens["[DEC]"] == tokenizer.vocabularyCount && tokenizer.specialTokens["[ENC]"] == tokenizer.vocabularyCount + 1)
        for c in fixture.cases {
            let (ids, mask) = tokenizer.encode(c.text, maxLength: fixture.max_length)
            #expect(ids == c.ids, "\(c.text.debugDescription)")
            #expect(mask == c.attention_mask, "\(c.text.debugDescription)")
        }
        // Truncation keeps [CLS] + 33 pieces + [SEP]; unpadded encoding stops at [SEP].
        let long = fixture.cases.last!
        #expect(tokenizer.encode(long.text, maxLength: 35, padToMaxLength: false).ids == long.ids)
        #expect(tokenizer.encode("a red circle", maxLength: 35, padToMaxLength: false).ids.count == 5)
    }

    @Test func towersAndScoresMatchTheImageRewardPackage() throws {
        let scorer = try ImageRewardScorer(directory: BLIPFixtures.imageRewardModel)
        let io = try BLIPFixtures.imageRewardIO()
        let images = try CLIPFixtures.images()

        // ImageReward's torchvision transform on PIL images.
        let pixels = try scorer.processor(images)
        let reference = try io.tensor(named: "pixel_values")
        #expect(pixels.shape == reference.shape)
        #expect(pixels.maxAbsDifference(reference) <= 1e-6)

        let vision = try scorer.model.vision(reference)
        let visionErr = CLIPFixtures.relativeError(vision, try io.tensor(named: "image_embeds"))
        #expect(visionErr < 1e-4, "visual_encoder: relative error \(visionErr)")

        let prompts = try BLIPFixtures.prompts()
        let refIDs = CLIPFixtures.ids(try io.tensor(named: "input_ids"))
        for (k, prompt) in prompts.enumerated() {
            let ids = scorer.tokenIDs(prompt)
            #expect(ids == Array(refIDs[k].prefix(ids.count)) && refIDs[k].dropFirst(ids.count).allSatisfy { $0 == 0 })
            if k == 0 {
                let features = try scorer.model.features(pixelValues: reference, ids: ids)
                let err = CLIPFixtures.relativeError(features, try io.tensor(named: "text_features_p0"))
                #expect(err < 1e-4, "text encoder [CLS]: relative error \(err)")
            }
            let scores = try scorer.scores(pixelValues: pixels, ids: ids)
            let err = CLIPFixtures.relativeError(scores, try io.tensor(named: "scores_p\(k)"))
            #expect(err < 1e-4, "prompt \(k) scores: relative error \(err)")
        }
        let single = try scorer.scores(pixelValues: pixels.row(0).reshaped([1] + Array(pixels.shape.dropFirst())),
                                       ids: scorer.tokenIDs(prompts[0]))
        #expect(CLIPFixtures.relativeError(single, try io.tensor(named: "score_single_p0")) < 1e-4)
    }

    @Test func registryRewardScoresDecodedSamples() throws {
        let prompt = try BLIPFixtures.prompts()[0]
        let reward = try RewardRegistry.standard.make("imagereward", models: RewardModels(shared: BLIPFixtures.imageRewardModel), prompt: prompt)
        #expect(reward.name == "imagereward")
        let scores = try reward.scores(try CLIPFixtures.samples())
        let err = CLIPFixtures.relativeError(scores, try BLIPFixtures.imageRewardIO().tensor(named: "sample_scores_p0"))
        #expect(err < 1e-4, "samples: relative error \(err)")
        #expect(try reward.scores(Tensor(zeros: [0, 3, 8, 8])).isEmpty)
        #expect(throws: RewardError.emptyPrompt(reward: "imagereward")) {
            try RewardRegistry.standard.make("imagereward", models: RewardModels(shared: BLIPFixtures.imageRewardModel), prompt: "  ")
        }
    }

    // MARK: Bad input

    @Test func missingMisShapedAndUnusedWeightsNameTheKey() throws {
        let dir = BLIPFixtures.imageRewardModel
        let config = try ImageRewardConfig(ConfigFile.load(dir.appendingPathComponent("config.json")))
        let tensors = try BLIPFixtures.tensors(dir.appendingPathComponent("model.safetensors"))

        var missing = tensors
        missing["text_encoder.encoder.layer.1.crossattention.self.key.weight"] = nil
        #expect {
            try ImageRewardModel(config: config, weights: WeightStore(InMemoryWeights(missing)))
        } throws: { "\($0)".contains("missing weight \"text_encoder.encoder.layer.1.crossattention.self.key.weight\"") }

        var wrong = tensors
        wrong["visual_encoder.embeddings.position_embedding.weight"] = Tensor(zeros: [3, config.vision.hiddenSize])
        #expect {
            try ImageRewardModel(config: config, weights: WeightStore(InMemoryWeights(wrong)))
        } throws: { "\($0)".contains("visual_encoder.embeddings.position_embedding.weight") && "\($0)".contains("[3, 24]") }

        var extra = tensors
        extra["mlp.layers.9.weight"] = Tensor(zeros: [1, 1])
        let store = WeightStore(InMemoryWeights(extra))
        _ = try ImageRewardModel(config: config, weights: store)
        _ = try AestheticHead(store.scope("mlp.layers"), layerIndices: ImageRewardScorer.headLayerIndices)
        #expect(throws: ModelIOError.unusedWeights(path: "in-memory weights", keys: ["mlp.layers.9.weight"])) { try store.finish() }
    }

    @Test func missingVocabularyIsNamed() throws {
        let dir = try BLIPFixtures.modelDirectory(BLIPFixtures.imageRewardModel, omit: ["vocab.txt"])
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect {
            try ImageRewardScorer(directory: dir)
        } throws: { "\($0)".contains("vocab.txt: file not found") }
        #expect {
            try RewardRegistry.standard.make("imagereward", models: RewardModels(shared: dir), prompt: "a cat")
        } throws: { error in
            guard case RewardError.wrongModel(let reward, _, let reason) = error else { return false }
            return reward == "imagereward" && reason.contains("vocab.txt")
        }
    }

    @Test func vocabularyThatDoesNotFitTheEmbeddingIsRefused() throws {
        var text = try String(contentsOf: BLIPFixtures.imageRewardModel.appendingPathComponent("vocab.txt"), encoding: .utf8)
        text += (0..<10).map { "extra\($0)\n" }.joined()
        let dir = try BLIPFixtures.modelDirectory(BLIPFixtures.imageRewardModel, replace: ["vocab.txt": Data(text.utf8)])
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect {
            try ImageRewardScorer(directory: dir)
        } throws: { "\($0)".contains("vocab.txt") && "\($0)".contains("vocab_size") }
    }

    @Test func inconsistentConfigsNameTheField() throws {
        let source = BLIPFixtures.imageRewardModel
        let cases: [(String, (inout [String: Any]) -> Void)] = [
            ("text_config.encoder_width", { c in
                var t = c["text_config"] as! [String: Any]; t["encoder_width"] = 7; c["text_config"] = t }),
            ("vision_config.num_attention_heads", { c in
                var v = c["vision_config"] as! [String: Any]; v["num_attention_heads"] = 5; c["vision_config"] = v }),
            ("text_config.add_cross_attention", { c in
                var t = c["text_config"] as! [String: Any]; t["add_cross_attention"] = false; c["text_config"] = t }),
            ("max_length", { c in c["max_length"] = 500 }),
            ("not an ImageReward config", { c in c["vision_config"] = nil }),
        ]
        for (needle, edit) in cases {
            let dir = try BLIPFixtures.modelDirectory(source, replace: ["config.json": try BLIPFixtures.editedConfig(source, edit)])
            defer { try? FileManager.default.removeItem(at: dir) }
            #expect {
                try ImageRewardScorer(directory: dir)
            } throws: { "\($0)".contains(needle) && "\($0)".contains("config.json") }
        }
        // A CLIP directory is not an ImageReward directory.
        #expect {
            try ImageRewardScorer(directory: CLIPFixtures.url("gelu"))
        } throws: { "\($0)".contains("describes CLIPModel, not an ImageReward model") }
    }

    @Test func badTokenizerFilesNameTheField() throws {
        let dir = try BLIPFixtures.modelDirectory(BLIPFixtures.imageRewardModel, replace: [
            "tokenizer_config.json": Data(#"{"do_lower_case": "yes"}"#.utf8)])
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect {
            try BertTokenizer(directory: dir)
        } throws: { "\($0)".contains("tokenizer_config.json") && "\($0)".contains("do_lower_case") }
        #expect(throws: BertTokenizerError.tokenNotInVocabulary(path: "vocab.txt", field: "unk_token", token: "[UNK]")) {
            try BertTokenizer(vocabulary: ["[PAD]", "[CLS]", "[SEP]", "a"])
        }
    }
}
