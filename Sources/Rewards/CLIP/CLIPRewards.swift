import Foundation
import Imaging
import ModelIO
import Models
import TensorCore

/// A CLIP model directory ready for scoring: the model (one or both towers), its image processor
/// (`preprocessor_config.json`, see `CLIPImageProcessor`) and, when the text tower is loaded, its tokenizer
/// (`tokenizer.json` or `vocab.json` + `merges.txt` with the optional tokenizer configs, as transformers saves them).
public struct CLIPScorer: Sendable {
    public let model: CLIPModel
    public let processor: CLIPImageProcessor
    public let tokenizer: CLIPTokenizer?

    public init(model: CLIPModel, processor: CLIPImageProcessor, tokenizer: CLIPTokenizer?) {
        self.model = model
        self.processor = processor
        self.tokenizer = tokenizer
    }

    /// Loads `directory`; `towers: .vision` skips the text tower and the tokenizer.
    public init(directory: URL, towers: CLIPModel.Towers = .both) throws {
        model = try CLIPModel(directory: directory, towers: towers)
        processor = try CLIPImageProcessor(directory: directory)
        tokenizer = towers == .vision ? nil : try CLIPTokenizer(directory: directory)
        if let size = processor.outputSize, size != (model.config.vision.imageSize, model.config.vision.imageSize), towers != .text {
            throw CLIPInputError("preprocessor_config.json gives \(size.width)×\(size.height) images, the vision tower takes \(model.config.vision.imageSize)×\(model.config.vision.imageSize)")
        }
    }

    /// Projected image embeddings `[N, projection_dim]` of decoded samples `[N, 3, H, W]` in [0, 1] (each rounded to
    /// 8 bits first, see `CLIPImageProcessor`).
    public func imageEmbeddings(_ samples: Tensor) throws -> Tensor {
        try model.imageEmbeddings(processor(samples))
    }

    /// Projected image embeddings of 8-bit images.
    public func imageEmbeddings(_ images: [Image8]) throws -> Tensor {
        try model.imageEmbeddings(processor(images))
    }

    /// The projected text embedding `[1, projection_dim]` of `text`: bos, the BPE ids truncated to the tokenizer's
    /// `model_max_length` − 2, eos (no padding: the pooled EOS state does not depend on it).
    public func textEmbedding(_ text: String) throws -> Tensor {
        guard let tokenizer else { throw CLIPInputError("CLIP: the text tower was not loaded") }
        let ids = tokenizer(text, padToMaxLength: false).ids
        return try model.textEmbeddings([Array(ids.prefix(model.config.text.maxPositions))])
    }
}

/// Rewards that compare a sample's CLIP image embedding with the prompt's text embedding, computed once at
/// construction. With cos = cosine similarity of the projected embeddings:
/// - `clip`: cos — transformers' `logits_per_image / exp(logit_scale)`.
/// - `clipscore`: Hessel et al. (2021) CLIPScore, 2.5·max(cos, 0), with the paper's caption prefix
///   "A photo depicts " before the prompt (their reference code; ViT-B/32 in the paper, usually ViT-L/14 here).
/// - `pickscore`: PickScore (Kirstain et al. 2023), exp(logit_scale)·cos, as its reference code computes with the
///   `yuvalkirstain/PickScore_v1` CLIP-H checkpoint (and the CLIP-H processor; use that directory's files).
/// - `hpsv2`: HPSv2 / HPSv2.1 (Wu et al. 2023): cos (`image_features @ text_features.T` of normalised features in
///   HPSv2's `img_score.py`; no logit scale), on the open_clip ViT-H-14 checkpoint converted by
///   `tools/convert_open_clip.py`, whose preprocessor config asks for HPSv2's resize-longest-side-and-pad on PIL.
///
/// Samples are rounded to 8 bits before preprocessing (like saving them as PNG), so scoring a sample and scoring
/// its PNG give the same number. Tokenisation is transformers' CLIPTokenizer (open_clip's ftfy/HTML clean-up is
/// not applied: prompts with mojibake or HTML entities may tokenise differently). A batch the processor cannot
/// take scores NaN.
public struct CLIPReward: Reward {
    public enum Kind: String, Sendable, CaseIterable {
        case clip, clipscore, pickscore, hpsv2
    }

    /// Hessel et al.'s caption prefix for CLIPScore.
    public static let clipScorePrefix = "A photo depicts "
    /// CLIPScore's w.
    public static let clipScoreWeight: Float = 2.5

    public let kind: Kind
    public let scorer: CLIPScorer
    /// The prompt's projected text embedding `[1, projection_dim]` (with CLIPScore's prefix for `.clipscore`).
    public let textEmbedding: Tensor
    public var name: String { kind.rawValue }

    public init(kind: Kind, scorer: CLIPScorer, prompt: String) throws {
        self.kind = kind
        self.scorer = scorer
        textEmbedding = try scorer.textEmbedding(kind == .clipscore ? CLIPReward.clipScorePrefix + prompt : prompt)
    }

    public func scores(_ samples: Tensor) throws -> [Float] {
        try requireImages(samples)
        if samples.shape[0] == 0 { return [] }
        let embeddings = try scoring { try scorer.imageEmbeddings(samples) }
        return score(cosines: CLIPModel.cosineSimilarities(embeddings, textEmbedding))
    }

    /// The reward from cosine similarities.
    public func score(cosines: [Float]) -> [Float] {
        switch kind {
        case .clip, .hpsv2: return cosines
        case .clipscore: return cosines.map { CLIPReward.clipScoreWeight * max($0, 0) }
        case .pickscore:
            let s = scorer.model.logitScaleExp
            return cosines.map { s * $0 }
        }
    }
}

/// The LAION aesthetic predictor v2 ("improved-aesthetic-predictor", `sac+logos+ava1-l14-linearMSE.pth`): an MLP
/// on the L2-normalised CLIP ViT-L/14 image embedding, Linear(768→1024) → Linear(→128) → Linear(→64) → Linear(→16)
/// → Linear(→1) with no activations (the dropouts between are inactive at inference). Weights are the
/// `aesthetic_head.safetensors` written by `tools/convert_aesthetic_head.py`, keys `layers.{0,2,4,6,7}.{weight,bias}`
/// (the indices of the original `nn.Sequential`); loaded strictly, sizes from the stored shapes.
///
/// The same shape of head — linear layers without activations, one output — scores ImageReward (`mlp.layers`,
/// indices 0, 2, 4, 6, 7) and the aesthetic predictor v2.5 (`layers.scoring_head`, indices 0, 2, 4, 6, 8): see
/// `init(_:layerIndices:)`.
public struct AestheticHead: Sendable {
    public static let fileName = "aesthetic_head.safetensors"
    public static let layerIndices = [0, 2, 4, 6, 7]
    let layers: [(weight: Tensor, bias: Tensor)]
    /// The embedding size the head takes (768 for ViT-L/14).
    public var inputSize: Int { layers[0].weight.shape[1] }

    public init(file: URL) throws {
        let store = try WeightStore(SafetensorsFile(url: file))
        try self.init(store.scope("layers"), layerIndices: AestheticHead.layerIndices)
        try store.finish()
    }

    /// The linear layers `{i}.weight` / `{i}.bias` for each of `layerIndices` under `store` (an `nn.Sequential`'s
    /// keys), sizes from the stored shapes, each taking the previous one's outputs, the last giving one. Errors name
    /// the store's file and the full key.
    public init(_ store: WeightStore, layerIndices: [Int]) throws {
        var layers: [(Tensor, Tensor)] = []
        var width: Int?
        for i in layerIndices {
            let key = store.fullKey("\(i).weight")
            guard let shape = store.shape(of: "\(i).weight"), shape.count == 2 else {
                throw ModelConfigError(store.displayName, "missing 2-D weight \"\(key)\" (not a head of linear layers)")
            }
            if let w = width, shape[1] != w {
                throw ModelConfigError(store.displayName, "\(key) takes \(shape[1]) inputs, the previous layer gives \(w)")
            }
            let weight = try store.take("\(i).weight", shape: shape)
            let bias = try store.take("\(i).bias", shape: [shape[0]])
            layers.append((weight, bias))
            width = shape[0]
        }
        if width != 1 { throw ModelConfigError(store.displayName, "the last layer gives \(width ?? 0) outputs, expected 1") }
        self.layers = layers
    }

    /// One score per row of L2-normalised embeddings `[N, inputSize]`.
    public func callAsFunction(_ embeddings: Tensor) -> [Float] {
        var x = embeddings
        for l in layers { x = NN.linear(x, weight: l.weight, bias: l.bias) }
        return x.scalars
    }
}

/// `aesthetic`: the LAION aesthetic predictor v2 score (about 1–10) of each sample, from a CLIP ViT-L/14 directory
/// (vision tower only) that also holds `aesthetic_head.safetensors`. Preprocessing follows the predictor's reference
/// code (OpenAI's `clip` package: torchvision `Resize`/`CenterCrop` on PIL images, so `.torchvisionTransforms`) with
/// the directory's sizes, mean and std. The embedding is normalised in Double before the head. Needs no prompt.
public struct AestheticReward: Reward {
    public let scorer: CLIPScorer
    public let head: AestheticHead
    public var name: String { "aesthetic" }

    public init(scorer: CLIPScorer, head: AestheticHead) throws {
        guard head.inputSize == scorer.model.config.projectionDim else {
            throw ModelConfigError(AestheticHead.fileName, "the head takes \(head.inputSize)-dimensional embeddings, the CLIP model gives \(scorer.model.config.projectionDim)")
        }
        var processor = scorer.processor
        processor.backend = .torchvisionTransforms
        self.scorer = CLIPScorer(model: scorer.model, processor: processor, tokenizer: scorer.tokenizer)
        self.head = head
    }

    public func scores(_ samples: Tensor) throws -> [Float] {
        try requireImages(samples)
        if samples.shape[0] == 0 { return [] }
        let embeddings = try scoring { try scorer.imageEmbeddings(samples) }
        return head(CLIPModel.normalizedRows(embeddings))
    }
}
