import Foundation
import ModelIO
import TensorCore

/// config.json of an ImageReward directory written by tools/convert_imagereward.py (`architectures`, when present,
/// must be `["ImageReward"]`): `vision_config`
/// (`VisionTowerConfig.blip`), `text_config` (`BLIPTextConfig`), `score_mean` / `score_std` (ImageReward's published
/// normalisation, the defaults) and `max_length` (35, the prompt length ImageReward tokenises to, [CLS] and [SEP]
/// included).
public struct ImageRewardConfig: Sendable, Equatable {
    public static let publishedMean = 0.16717362830052426
    public static let publishedStd = 1.0333394966054072

    public var vision: VisionTowerConfig
    public var text: BLIPTextConfig
    public var scoreMean: Double
    public var scoreStd: Double
    public var maxLength: Int

    public init(_ c: ConfigFile) throws {
        if let name = c.className, name != "ImageReward" {
            throw ModelConfigError(c.displayName, "describes \(name), not an ImageReward model (convert ImageReward.pt with tools/convert_imagereward.py)")
        }
        guard let v = try c.optionalObject("vision_config"), let t = try c.optionalObject("text_config") else {
            throw ModelConfigError(c.displayName, "not an ImageReward config (needs \"vision_config\" and \"text_config\"; convert the checkpoint with tools/convert_imagereward.py)")
        }
        vision = try VisionTowerConfig.blip(v)
        text = try BLIPTextConfig(t, defaultEncoderWidth: vision.hiddenSize)
        if text.encoderWidth != vision.hiddenSize {
            throw t.invalid("encoder_width", "must equal vision_config.hidden_size \(vision.hiddenSize)")
        }
        scoreMean = try c.double("score_mean", default: ImageRewardConfig.publishedMean)
        scoreStd = try c.double("score_std", default: ImageRewardConfig.publishedStd)
        if !(scoreStd > 0) || !scoreStd.isFinite { throw c.invalid("score_std", "must be a positive number") }
        maxLength = try c.int("max_length", default: 35)
        if maxLength < 2 || maxLength > text.maxPositions {
            throw c.invalid("max_length", "must be between 2 and text_config.max_position_embeddings \(text.maxPositions)")
        }
    }
}

/// The towers of ImageReward (the image-reward package's `ImageReward` module, BLIP inside): BLIP's ViT
/// (`BLIPVisionTransformer`, `visual_encoder.*`) and BLIP's BERT with cross-attention (`BLIPTextEncoder`,
/// `text_encoder.*`). `features` is the `[CLS]` state of the text encoder reading the image — what
/// `ImageReward.score` / `inference_rank` feed to the reward head (`mlp.*`, loaded by the reward, not here).
public struct ImageRewardModel: Sendable {
    public let config: ImageRewardConfig
    public let vision: BLIPVisionTransformer
    public let text: BLIPTextEncoder

    /// `weights` at the directory's root; takes `visual_encoder.*` and `text_encoder.*`.
    public init(config c: ImageRewardConfig, weights s: WeightStore) throws {
        config = c
        vision = try BLIPVisionTransformer(config: c.vision, weights: s.scope("visual_encoder"))
        text = try BLIPTextEncoder(config: c.text, weights: s.scope("text_encoder"))
    }

    /// `text_encoder(ids, image tokens).last_hidden_state[:, 0]` `[N, H]` for preprocessed images `[N, C, S, S]` and one
    /// unpadded token sequence ([CLS] … [SEP]).
    public func features(pixelValues: Tensor, ids: [Int]) throws(CLIPInputError) -> Tensor {
        let image = try vision(pixelValues)
        let states = try text(ids, image: image)
        let n = states.shape[0], l = states.shape[1], h = states.shape[2]
        var cls = [Float](repeating: 0, count: n * h)
        for i in 0..<n { for j in 0..<h { cls[i * h + j] = states.scalars[i * l * h + j] } }
        return Tensor(shape: [n, h], scalars: cls)
    }
}
