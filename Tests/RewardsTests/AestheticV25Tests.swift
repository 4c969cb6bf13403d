import Foundation
import Imaging
import ModelIO
import Models
import Rewards
import TensorCore
import Testing

/// The SigLIP vision tower, its image processor and the aesthetic predictor v2.5 against the
/// aesthetic-predictor-v2-5 package (transformers 5.24) on a random model.
@Suite struct AestheticV25Tests {
    @Test func processorTowerAndScoresMatchThePackage() throws {
        let predictor = try AestheticV25Predictor(directory: BLIPFixtures.aestheticModel)
        let io = try BLIPFixtures.aestheticIO()

        // SiglipImageProcessor (torchvision backend): exact resize to 30×30, no crop, mean = std = 0.5.
        #expect(predictor.processor.crop == nil && predictor.processor.resize == .exact(height: 30, width: 30))
        let pixels = try predictor.processor(try CLIPFixtures.images())
        let reference = try io.tensor(named: "pixel_values")
        #expect(pixels.shape == reference.shape)
        #expect(pixels.maxAbsDifference(reference) <= 1e-6)

        let (hidden, pooled) = try predictor.vision(reference)
        let hiddenErr = CLIPFixtures.relativeError(hidden, try io.tensor(named: "last_hidden_state"))
        #expect(hiddenErr < 1e-4, "last_hidden_state: relative error \(hiddenErr)")
        let pooledErr = CLIPFixtures.relativeError(try #require(pooled), try io.tensor(named: "pooler_output"))
        #expect(pooledErr < 1e-4, "pooler_output: relative error \(pooledErr)")

        let scoreErr = CLIPFixtures.relativeError(try predictor.scores(pixelValues: pixels), try io.tensor(named: "scores"))
        #expect(scoreErr < 1e-4, "scores: relative error \(scoreErr)")
    }

    @Test func registryRewardScoresDecodedSamples() throws {
        let reward = try RewardRegistry.standard.make("aesthetic-v2.5", models: RewardModels(shared: BLIPFixtures.aestheticModel))
        #expect(reward.name == "aesthetic-v2.5")
        let err = CLIPFixtures.relativeError(try reward.scores(try CLIPFixtures.samples()), try BLIPFixtures.aestheticIO().tensor(named: "sample_scores"))
        #expect(err < 1e-4, "samples: relative error \(err)")
        #expect(try reward.scores(Tensor(zeros: [0, 3, 8, 8])).isEmpty)
    }

    @Test func hubLayoutWithVisionModelPrefixLoadsTheSameTower() throws {
        let dir = BLIPFixtures.aestheticModel
        let config = try VisionTowerConfig.siglip(ConfigFile.load(dir.appendingPathComponent("config.json")))
        var prefixed: [String: Tensor] = [:]
        for (k, v) in try BLIPFixtures.tensors(dir.appendingPathComponent("model.safetensors")) where !k.hasPrefix("layers.") {
            prefixed["vision_model." + k] = v
        }
        let store = WeightStore(InMemoryWeights(prefixed))
        let model = try SiglipVisionModel(config: config, weights: SiglipVisionModel.visionScope(store))
        try store.finish()
        let io = try BLIPFixtures.aestheticIO()
        let pooled = try #require(try model(io.tensor(named: "pixel_values")).pooled)
        #expect(CLIPFixtures.relativeError(pooled, try io.tensor(named: "pooler_output")) < 1e-4)
    }

    // MARK: Bad input

    @Test func missingHeadAndMisShapedWeightsNameTheKey() throws {
        let dir = BLIPFixtures.aestheticModel
        let config = try VisionTowerConfig.siglip(ConfigFile.load(dir.appendingPathComponent("config.json")))
        let tensors = try BLIPFixtures.tensors(dir.appendingPathComponent("model.safetensors"))

        var missing = tensors
        missing["head.attention.in_proj_bias"] = nil
        #expect {
            try SiglipVisionModel(config: config, weights: WeightStore(InMemoryWeights(missing)))
        } throws: { "\($0)".contains("missing weight \"head.attention.in_proj_bias\"") }

        var wrong = tensors
        wrong["head.probe"] = Tensor(zeros: [1, 2, config.hiddenSize])
        #expect {
            try SiglipVisionModel(config: config, weights: WeightStore(InMemoryWeights(wrong)))
        } throws: { "\($0)".contains("head.probe") && "\($0)".contains("[1, 2, 16]") }

        var noHead = tensors
        for k in noHead.keys where k.hasPrefix("layers.") { noHead[k] = nil }
        let headless = try BLIPFixtures.modelDirectory(dir, omit: ["model.safetensors"])
        defer { try? FileManager.default.removeItem(at: headless) }
        try BLIPFixtures.writeSafetensors(noHead, to: headless.appendingPathComponent("model.safetensors"))
        #expect {
            try AestheticV25Predictor(directory: headless)
        } throws: { "\($0)".contains("layers.scoring_head") && "\($0)".contains("convert_aesthetic_v25.py") }
    }

    @Test func missingProcessorConfigAndInconsistentConfigsAreNamed() throws {
        let source = BLIPFixtures.aestheticModel
        let noProcessor = try BLIPFixtures.modelDirectory(source, omit: ["preprocessor_config.json"])
        defer { try? FileManager.default.removeItem(at: noProcessor) }
        #expect {
            try AestheticV25Predictor(directory: noProcessor)
        } throws: { "\($0)".contains("preprocessor_config.json") }

        let cases: [(String, (inout [String: Any]) -> Void)] = [
            ("num_attention_heads", { c in c["num_attention_heads"] = 5 }),
            ("vision_use_head", { c in c["vision_use_head"] = false }),
            ("hidden_act", { c in c["hidden_act"] = "swish" }),
            ("takes 28×28", { c in c["image_size"] = 28 }),
        ]
        for (needle, edit) in cases {
            let dir = try BLIPFixtures.modelDirectory(source, replace: ["config.json": try BLIPFixtures.editedConfig(source, edit)])
            defer { try? FileManager.default.removeItem(at: dir) }
            #expect {
                try AestheticV25Predictor(directory: dir)
            } throws: { "\($0)".contains(needle) }
        }
        #expect {
            try RewardRegistry.standard.make("aesthetic-v2.5", models: RewardModels(shared: BLIPFixtures.imageRewardModel))
        } throws: { error in
            guard case RewardError.wrongModel(let reward, _, _) = error else { return false }
            return reward == "aesthetic-v2.5"
        }
    }
}
