import Foundation
import ModelIO
import Models
import Rewards
import TensorCore
import Testing

/// CLIPModel (both towers, projections, logit scale) against transformers on random models.
@Suite struct CLIPModelTests {
    @Test(arguments: CLIPFixtures.cases)
    func embeddingsAndLogitsMatchTransformers(name: String) throws {
        let model = try CLIPModel(directory: CLIPFixtures.url(name))
        let io = try CLIPFixtures.io(name)
        let info = try CLIPFixtures.info(name)
        #expect(abs(model.logitScale - info.logit_scale) <= 1e-6 * abs(info.logit_scale))

        let image = try model.imageEmbeddings(try io.tensor(named: "pixel_values_torchvision"))
        let imageErr = CLIPFixtures.relativeError(image, try io.tensor(named: "image_embeds"))
        #expect(imageErr < 1e-4, "\(name) image embeddings: relative error \(imageErr)")

        let text = try model.textEmbeddings(CLIPFixtures.ids(try io.tensor(named: "input_ids")))
        let textErr = CLIPFixtures.relativeError(text, try io.tensor(named: "text_embeds"))
        #expect(textErr < 1e-4, "\(name) text embeddings: relative error \(textErr)")

        // logits_per_image [images, prompts] = exp(logit_scale) · cos.
        let prompts = text.shape[0]
        var logits: [Float] = []
        let perPrompt = (0..<prompts).map { CLIPModel.cosineSimilarities(image, text.row($0)) }
        for i in 0..<image.shape[0] { for p in 0..<prompts { logits.append(model.logitScaleExp * perPrompt[p][i]) } }
        let logitErr = CLIPFixtures.relativeError(logits, try io.tensor(named: "logits_per_image"))
        #expect(logitErr < 1e-4, "\(name) logits: relative error \(logitErr)")
    }

    @Test func ourTokenizerGivesTheReferenceIDs() throws {
        let dir = try CLIPFixtures.modelDirectory("quickgelu")
        defer { try? FileManager.default.removeItem(at: dir) }
        let tokenizer = try CLIPTokenizer(directory: dir)
        for name in CLIPFixtures.cases {
            let info = try CLIPFixtures.info(name)
            let ref = CLIPFixtures.ids(try CLIPFixtures.io(name).tensor(named: "input_ids"))
            #expect(tokenizer(info.prompts, padToMaxLength: false).ids == ref)
        }
    }

    @Test func oneTowerLoadsStrictlyWithoutTheOther() throws {
        let vision = try CLIPModel(directory: CLIPFixtures.url("gelu"), towers: .vision)
        #expect(vision.text == nil && vision.vision != nil)
        #expect(throws: CLIPInputError.self) { try vision.textEmbeddings([[49406, 49407]]) }
        let text = try CLIPModel(directory: CLIPFixtures.url("gelu"), towers: .text)
        #expect(text.vision == nil)
        #expect(throws: CLIPInputError.self) { try text.imageEmbeddings(Tensor(zeros: [1, 3, 16, 16])) }
    }

    @Test func unusedAndMisShapedWeightsAreErrors() throws {
        let dir = CLIPFixtures.url("wide")
        let config = try CLIPConfig(ConfigFile.load(dir.appendingPathComponent("config.json")))
        let file = try SafetensorsFile(url: dir.appendingPathComponent("model.safetensors"))
        var tensors: [String: Tensor] = [:]
        for name in file.names { tensors[name] = try file.tensor(named: name) }

        var extra = tensors
        extra["vision_model.surprise.weight"] = Tensor(zeros: [2])
        let store = WeightStore(InMemoryWeights(extra))
        _ = try CLIPModel(config: config, weights: store)
        #expect(throws: ModelIOError.unusedWeights(path: "in-memory weights", keys: ["vision_model.surprise.weight"])) { try store.finish() }

        var wrong = tensors
        wrong["visual_projection.weight"] = Tensor(zeros: [config.projectionDim + 1, config.vision.hiddenSize])
        #expect(throws: ModelIOError.self) { try CLIPModel(config: config, weights: WeightStore(InMemoryWeights(wrong))) }
    }

    @Test func aTextEncoderDirectoryIsNotACLIPModel() throws {
        let c = try ConfigFile(parsing: #"{"architectures": ["CLIPTextModel"], "hidden_size": 16}"#, displayName: "text_encoder/config.json")
        #expect {
            try CLIPConfig(c)
        } throws: { error in
            "\(error)".contains("not a CLIPModel config") && "\(error)".contains("CLIPTextModel")
        }
    }

    @Test func imagesOfTheWrongSizeAreRefused() throws {
        let model = try CLIPModel(directory: CLIPFixtures.url("quickgelu"), towers: .vision)
        #expect(throws: CLIPInputError.self) { try model.imageEmbeddings(Tensor(zeros: [1, 3, 32, 32])) }
        #expect(try model.imageEmbeddings(Tensor(zeros: [0, 3, 24, 24])).shape == [0, 8])
    }
}
