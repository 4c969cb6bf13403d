import Foundation
import Imaging
import ModelIO
import Models
import Rewards
import TensorCore
import Testing

/// The CLIP-family rewards built through the registry, against scores computed by transformers / open_clip.
@Suite struct RewardTests {
    @Test(arguments: CLIPFixtures.cases)
    func clipRewardsMatchTransformers(name: String) throws {
        let dir = try CLIPFixtures.modelDirectory(name)
        defer { try? FileManager.default.removeItem(at: dir) }
        let io = try CLIPFixtures.io(name)
        let prompt = try CLIPFixtures.info(name).prompts[0]
        let images = try CLIPFixtures.images()
        let samples = try CLIPFixtures.samples()
        for kind in ["clip", "clipscore", "pickscore"] {
            let reward = try RewardRegistry.standard.make(kind, models: RewardModels(shared: dir), prompt: prompt)
            let clip = try #require(reward as? CLIPReward)
            #expect(clip.name == kind)
            // 8-bit images of several sizes (one batch per image: sizes differ before preprocessing).
            let cosines = try CLIPModel.cosineSimilarities(clip.scorer.imageEmbeddings(images), clip.textEmbedding)
            let err = CLIPFixtures.relativeError(clip.score(cosines: cosines), try io.tensor(named: "scores_\(kind)"))
            #expect(err < 1e-4, "\(name) \(kind) on images: relative error \(err)")
            // Decoded samples through the Reward protocol.
            let sampleErr = CLIPFixtures.relativeError(try reward.scores(samples), try io.tensor(named: "sample_scores_\(kind)"))
            #expect(sampleErr < 1e-4, "\(name) \(kind) on samples: relative error \(sampleErr)")
        }
    }

    @Test func aestheticMatchesTheReference() throws {
        let dir = try CLIPFixtures.modelDirectory("quickgelu", "aesthetic")
        defer { try? FileManager.default.removeItem(at: dir) }
        let reward = try #require(try RewardRegistry.standard.make("aesthetic", models: RewardModels(shared: dir)) as? AestheticReward)
        #expect(reward.scorer.model.text == nil)
        let io = try CLIPFixtures.io("aesthetic")
        let pixels = try reward.scorer.processor(try CLIPFixtures.images())
        #expect(pixels.maxAbsDifference(try io.tensor(named: "pixel_values")) <= 1e-6)
        let scores = reward.head(CLIPModel.normalizedRows(try reward.scorer.model.imageEmbeddings(pixels)))
        let err = CLIPFixtures.relativeError(scores, try io.tensor(named: "scores"))
        #expect(err < 1e-4, "aesthetic: relative error \(err)")
    }

    /// An open_clip model converted by tools/convert_open_clip.py scores as open_clip itself does under HPSv2's
    /// preprocessing (longest side + zero padding) and scoring (cos).
    @Test func hpsv2OnAConvertedOpenCLIPModelMatchesOpenCLIP() throws {
        let dir = try CLIPFixtures.modelDirectory("openclip-hps")
        defer { try? FileManager.default.removeItem(at: dir) }
        let prompt = try CLIPFixtures.info("quickgelu").prompts[0]
        let reward = try #require(try RewardRegistry.standard.make("hpsv2", models: RewardModels(shared: dir), prompt: prompt) as? CLIPReward)
        let io = try CLIPFixtures.io("openclip-hps")
        let images = try CLIPFixtures.images()
        let pixels = try reward.scorer.processor(images)
        #expect(pixels.maxAbsDifference(try io.tensor(named: "pixel_values")) <= 1e-6)
        let tokenizer = try #require(reward.scorer.tokenizer)
        let openCLIPIDs = CLIPFixtures.ids(try io.tensor(named: "input_ids"))[0]
        #expect(tokenizer(prompt, padToMaxLength: false).ids == Array(openCLIPIDs.prefix { $0 != 0 }))
        let cosines = CLIPModel.cosineSimilarities(try reward.scorer.model.imageEmbeddings(pixels), reward.textEmbedding)
        let err = CLIPFixtures.relativeError(reward.score(cosines: cosines), try io.tensor(named: "scores"))
        #expect(err < 1e-4, "hpsv2: relative error \(err)")
    }

    @Test func textEmbeddingIsComputedOnceAtConstruction() throws {
        let dir = try CLIPFixtures.modelDirectory("gelu")
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = try #require(try RewardRegistry.standard.make("clip", models: RewardModels(shared: dir), prompt: "a cat") as? CLIPReward)
        let b = try #require(try RewardRegistry.standard.make("clipscore", models: RewardModels(shared: dir), prompt: "a cat") as? CLIPReward)
        #expect(a.textEmbedding.shape == [1, 10])
        // CLIPScore embeds the prefixed caption.
        #expect(a.textEmbedding != b.textEmbedding)
        #expect(b.textEmbedding == (try a.scorer.textEmbedding("A photo depicts a cat")))
    }

    @Test func clipScoreClampsAtZeroAndPickScoreScales() throws {
        let dir = try CLIPFixtures.modelDirectory("wide")
        defer { try? FileManager.default.removeItem(at: dir) }
        let s = try #require(try RewardRegistry.standard.make("clipscore", models: RewardModels(shared: dir), prompt: "x") as? CLIPReward)
        #expect(s.score(cosines: [-0.3, 0, 0.4]) == [0, 0, 1.0])
        let p = try #require(try RewardRegistry.standard.make("pickscore", models: RewardModels(shared: dir), prompt: "x") as? CLIPReward)
        #expect(abs(p.score(cosines: [0.5])[0] - 0.5 * Float(exp(3.0))) < 1e-4)
    }
}

/// The registry, the `--reward` syntax, composites and the errors a user sees.
@Suite struct RegistryTests {
    @Test func namesAndUnknownNames() throws {
        let expected = ["brightness", "contrast", "colorfulness", "clip", "clipscore", "pickscore", "hpsv2", "aesthetic",
                        "imagereward", "aesthetic-v2.5"]
        #expect(expected.allSatisfy(RewardRegistry.standard.names.contains) && Set(RewardRegistry.standard.names).count == RewardRegistry.standard.names.count)
        #expect(throws: RewardError.unknownReward(name: "imagereward-v9", known: RewardRegistry.standard.names)) {
            try RewardRegistry.standard.make("imagereward-v9")
        }
        let message = RewardError.unknownReward(name: "x", known: RewardRegistry.standard.names).description
        #expect(message.contains("known rewards: brightness, contrast") && !message.contains("\n"))
        #expect(try RewardRegistry.standard.make("brightness").name == "brightness")
    }

    @Test func compositeSyntax() throws {
        let spec = try RewardRegistry.standard.parse("clip:1, zscore(aesthetic):0.5,brightness")
        #expect(spec.terms == [.init(name: "clip", weight: 1, zScore: false), .init(name: "aesthetic", weight: 0.5, zScore: true),
                               .init(name: "brightness", weight: 1, zScore: false)])
        #expect(try RewardRegistry.standard.parse("clip").isSingle)
        #expect(!(try RewardRegistry.standard.parse("clip:2").isSingle))
        for bad in ["", "clip,", "clip:x", "clip:1,clip:2", "zscore(clip:1", "clip:inf"] {
            #expect(throws: RewardError.self, "\(bad)") { try RewardRegistry.standard.parse(bad) }
        }
        #expect(throws: RewardError.unknownReward(name: "nope", known: RewardRegistry.standard.names)) { try RewardRegistry.standard.parse("clip,zscore(nope)") }
    }

    @Test func weightedSumAndZScores() throws {
        // Two images: one dark, one bright.
        var pixels = [Float](repeating: 0.1, count: 2 * 3 * 4 * 4)
        for i in (3 * 16)..<(6 * 16) { pixels[i] = 0.7 }
        let batch = Tensor(shape: [2, 3, 4, 4], scalars: pixels)
        let sum = try RewardRegistry.standard.make("brightness:2,contrast:-1", prompt: "")
        #expect(sum.name == "brightness:2,contrast:-1")
        let s = try sum.scores(batch)
        #expect(abs(s[0] - 0.2) < 1e-6 && abs(s[1] - 1.4) < 1e-6)
        let z = try RewardRegistry.standard.make("zscore(brightness):3")
        let zs = try z.scores(batch)
        #expect(abs(zs[0] + 3) < 1e-5 && abs(zs[1] - 3) < 1e-5)
        #expect(try z.scores(batch.gatherRows([0])) == [0], "one sample has no spread: z = 0")
        let w = WeightedSumReward.zScores([1, .nan, 3, 5])
        let r = Float((1.5).squareRoot())
        #expect(abs(w[0] + r) < 1e-6 && w[1].isNaN && w[2] == 0 && abs(w[3] - r) < 1e-6)
    }

    @Test func modelDirectoriesPerName() throws {
        let m = try RewardModels(arguments: ["shared/dir", "aesthetic=/models/l14"])
        #expect(m.directory(for: "clip") == URL(fileURLWithPath: "shared/dir"))
        #expect(m.directory(for: "aesthetic") == URL(fileURLWithPath: "/models/l14"))
        #expect(throws: RewardError.self) { try RewardModels(arguments: ["a", "b"]) }
        #expect(throws: RewardError.self) { try RewardModels(arguments: ["clip="]) }
        #expect(try RewardModels(arguments: ["odd=name/dir"]).shared == URL(fileURLWithPath: "odd=name/dir"))
    }

    @Test func userErrorsAreOneLineAndSayWhatIsWrong() throws {
        func message(_ spec: String, _ models: RewardModels, _ prompt: String = "a cat") -> String {
            do { _ = try RewardRegistry.standard.make(spec, models: models, prompt: prompt); return "no error" } catch { return "\(error)" }
        }
        let missing = message("clip", RewardModels())
        #expect(missing.contains("needs a model") && missing.contains("--reward-model"))
        let nowhere = message("clip", RewardModels(shared: URL(fileURLWithPath: "/no/such/dir")))
        #expect(nowhere.contains("no such directory"))

        let textOnly = try CLIPFixtures.modelDirectory()   // only the tokenizer files: no config.json
        defer { try? FileManager.default.removeItem(at: textOnly) }
        #expect(message("clip", RewardModels(shared: textOnly)).contains("not a CLIPModel directory"))

        let clipDir = try CLIPFixtures.modelDirectory("quickgelu")
        defer { try? FileManager.default.removeItem(at: clipDir) }
        #expect(message("clip", RewardModels(shared: clipDir), "  ").contains("prompt, which is empty"))
        #expect(message("aesthetic", RewardModels(shared: clipDir)).contains("no aesthetic_head.safetensors"))
        #expect(message("hpsv2", RewardModels(shared: clipDir)).contains("evosearch_reward"))
        // An aesthetic head whose input does not fit the model.
        let mismatch = try CLIPFixtures.modelDirectory("gelu", "aesthetic")
        defer { try? FileManager.default.removeItem(at: mismatch) }
        #expect(message("aesthetic", RewardModels(shared: mismatch)).contains("8-dimensional"))
        for m in [missing, nowhere] { #expect(!m.contains("\n")) }
        // A model whose preprocessing does not give the vision tower's size.
        let wrongSize = try CLIPFixtures.modelDirectory("gelu")
        defer { try? FileManager.default.removeItem(at: wrongSize) }
        try FileManager.default.removeItem(at: wrongSize.appendingPathComponent("preprocessor_config.json"))
        #expect(message("clip", RewardModels(shared: wrongSize)).contains("224×224"))
    }

    @Test func aCompositeSharesOneLoadedModel() throws {
        let dir = try CLIPFixtures.modelDirectory("quickgelu", "aesthetic")
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try #require(try RewardRegistry.standard.make("clip:1,aesthetic:0.5", models: RewardModels(shared: dir), prompt: "a cat") as? WeightedSumReward)
        let samples = try CLIPFixtures.samples()
        let clip = try r.terms[0].reward.scores(samples), aesthetic = try r.terms[1].reward.scores(samples)
        let total = try r.scores(samples)
        for i in 0..<2 { #expect(abs(total[i] - (clip[i] + 0.5 * aesthetic[i])) < 1e-5) }
    }
}
