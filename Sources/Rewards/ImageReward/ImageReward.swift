import Foundation
import ModelIO
import Models
import TensorCore

/// An ImageReward directory ready for scoring (the layout tools/convert_imagereward.py writes): config.json
/// (`ImageRewardConfig`), model.safetensors (`visual_encoder.*`, `text_encoder.*` and the reward head
/// `mlp.layers.{0,2,4,6,7}.*`, loaded strictly), the BERT tokenizer files (`BertTokenizer`: vocab.txt,
/// tokenizer_config.json, added_tokens.json) and preprocessor_config.json (`CLIPImageProcessor`; without the file,
/// ImageReward's own transform: torchvision Resize(image_size, bicubic) + CenterCrop on PIL images, ToTensor,
/// Normalize with OpenAI's CLIP mean/std).
///
/// `scores` computes what the image-reward package's `ImageReward.score(prompt, image)` and `inference_rank` return:
/// `(mlp(text_encoder(prompt, visual_encoder(image))[CLS]) − mean) / std`.
public struct ImageRewardScorer: Sendable {
    /// ImageReward's reward head: the indices of its `nn.Sequential` that hold linear layers.
    public static let headLayerIndices = [0, 2, 4, 6, 7]

    public let model: ImageRewardModel
    public let head: AestheticHead
    public let processor: CLIPImageProcessor
    public let tokenizer: BertTokenizer
    public var config: ImageRewardConfig { model.config }

    public init(directory: URL) throws {
        let configURL = directory.appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: configURL.path) else {
            throw ModelConfigError(directory.lastPathComponent, "no config.json: not an ImageReward directory (convert ImageReward.pt with tools/convert_imagereward.py)")
        }
        let config = try ImageRewardConfig(ConfigFile.load(configURL))
        let store = try WeightStore(directory: directory, baseName: "model")
        model = try ImageRewardModel(config: config, weights: store)
        head = try AestheticHead(store.scope("mlp.layers"), layerIndices: ImageRewardScorer.headLayerIndices)
        if head.inputSize != config.text.hiddenSize {
            throw ModelConfigError(store.displayName, "mlp.layers.0 takes \(head.inputSize) inputs, the text encoder gives \(config.text.hiddenSize)")
        }
        try store.finish()
        tokenizer = try BertTokenizer(directory: directory)
        let largest = max(tokenizer.vocabularyCount - 1, tokenizer.specialTokens.values.max() ?? 0)
        if largest >= config.text.vocabSize {
            throw ModelConfigError("vocab.txt", "token id \(largest) does not fit text_config.vocab_size \(config.text.vocabSize) (vocab.txt has \(tokenizer.vocabularyCount) tokens; is it the checkpoint's vocabulary?)")
        }
        let size = config.vision.imageSize
        if FileManager.default.fileExists(atPath: directory.appendingPathComponent("preprocessor_config.json").path) {
            processor = try CLIPImageProcessor(directory: directory)
        } else {
            processor = CLIPImageProcessor(backend: .torchvisionTransforms, resize: .shortestEdge(size), crop: (size, size))
        }
        if let out = processor.outputSize, out != (size, size) {
            throw ModelConfigError("preprocessor_config.json", "gives \(out.width)×\(out.height) images, the vision tower takes \(size)×\(size)")
        }
    }

    /// [CLS], the prompt's WordPiece ids truncated to `max_length` − 2, [SEP] — ImageReward's tokenizer call without
    /// the padding (see `BLIPTextEncoder` on why the padding does not change the score).
    public func tokenIDs(_ prompt: String) -> [Int] {
        tokenizer.encode(prompt, maxLength: config.maxLength, padToMaxLength: false).ids
    }

    /// One ImageReward score per preprocessed image `[N, 3, S, S]` for the prompt's token ids.
    public func scores(pixelValues: Tensor, ids: [Int]) throws -> [Float] {
        let raw = head(try model.features(pixelValues: pixelValues, ids: ids))
        let mean = Float(config.scoreMean), std = Float(config.scoreStd)
        return raw.map { ($0 - mean) / std }
    }
}

/// `imagereward`: ImageReward (Xu et al. 2023), the BLIP-based human-preference reward of EvoSearch's published runs,
/// as the image-reward package (1.5) computes `ImageReward.score(prompt, image)`; roughly standard-normal over typical
/// images. The prompt is tokenised once. Samples are rounded to 8 bits before preprocessing (like their PNG), and
/// preprocessed as ImageReward does on PIL images (Pillow's bicubic; see `CLIPImageProcessor`). A batch the model
/// cannot take scores NaN.
public struct ImageReward: Reward {
    public let scorer: ImageRewardScorer
    /// The prompt's token ids ([CLS] … [SEP], unpadded).
    public let promptIDs: [Int]
    public var name: String { "imagereward" }

    public init(scorer: ImageRewardScorer, prompt: String) {
        self.scorer = scorer
        promptIDs = scorer.tokenIDs(prompt)
    }

    public func scores(_ samples: Tensor) throws -> [Float] {
        try requireImages(samples)
        if samples.shape[0] == 0 { return [] }
        return try scoring { try scorer.scores(pixelValues: try scorer.processor(samples), ids: promptIDs) }
    }
}
