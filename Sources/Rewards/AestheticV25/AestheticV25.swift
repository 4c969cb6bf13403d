import Foundation
import ModelIO
import Models
import TensorCore

extension CLIPImageProcessor {
    /// transformers' `SiglipImageProcessor` from `preprocessor_config.json`: resize to exactly `size`
    /// (`{"height", "width"}`, default 224×224) with bicubic, rescale by 1/255, normalise with mean = std = 0.5 unless
    /// the file says otherwise, and never a center crop (the class has none). The keys are read as
    /// `CLIPImageProcessor(config:)` reads them (so `evosearch_backend` applies; the default `.torchvision` is
    /// transformers 5.24's `SiglipImageProcessor`, the class the aesthetic predictor v2.5's processor extends).
    public init(siglipConfig c: ConfigFile) throws {
        var values = c.values
        if values["size"] == nil || values["size"] == .null {
            values["size"] = .object(JSONObject([("height", .int(224)), ("width", .int(224))]))
        }
        for key in ["image_mean", "image_std"] where values[key] == nil || values[key] == .null {
            values[key] = .array([.double(0.5), .double(0.5), .double(0.5)])
        }
        values["do_center_crop"] = .bool(false)
        try self.init(config: ConfigFile(values: values, displayName: c.displayName, keyPath: c.keyPath))
    }
}

/// A directory for the aesthetic predictor v2.5 (discus0434's aesthetic-predictor-v2-5 package,
/// `AestheticPredictorV2_5Model`): a SigLIP vision tower whose pooled output, L2-normalised, goes through a head of
/// five linear layers without activations (`layers.scoring_head.{0,2,4,6,8}`: hidden → 1024 → 128 → 64 → 16 → 1).
///
/// Layout: what `AestheticPredictorV2_5Model.save_pretrained` writes under transformers 5.24 and
/// tools/convert_aesthetic_v25.py produces — config.json (a `SiglipVisionConfig`, or a full `SiglipConfig` whose
/// `vision_config` is used and whose text tower keys are then skipped), model.safetensors (the vision tower at the
/// root or under `vision_model.`, plus the head; strict), preprocessor_config.json (a `SiglipImageProcessor`, required).
public struct AestheticV25Predictor: Sendable {
    public static let headLayerIndices = [0, 2, 4, 6, 8]

    public let vision: SiglipVisionModel
    public let head: AestheticHead
    public let processor: CLIPImageProcessor

    public init(directory: URL) throws {
        let configURL = directory.appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: configURL.path) else {
            throw ModelConfigError(directory.lastPathComponent, "no config.json: not an aesthetic predictor v2.5 directory (see tools/convert_aesthetic_v25.py)")
        }
        let file = try ConfigFile.load(configURL)
        let config = try VisionTowerConfig.siglip(file)
        if !config.useHead {
            throw file.invalid("vision_use_head", "must be true (the predictor scores the attention-pooled output)")
        }
        let store = try WeightStore(directory: directory, baseName: "model")
        if file.has("vision_config") {
            store.ignoreAll { $0.hasPrefix("text_model.") || $0 == "logit_scale" || $0 == "logit_bias" }
        }
        vision = try SiglipVisionModel(config: config, weights: SiglipVisionModel.visionScope(store))
        guard store.contains("layers.scoring_head.0.weight") else {
            throw ModelConfigError(store.displayName, "no \"layers.scoring_head.*\" weights: a SigLIP checkpoint without the aesthetic predictor v2.5 head (add it with tools/convert_aesthetic_v25.py)")
        }
        head = try AestheticHead(store.scope("layers.scoring_head"), layerIndices: AestheticV25Predictor.headLayerIndices)
        if head.inputSize != config.hiddenSize {
            throw ModelConfigError(store.displayName, "layers.scoring_head.0 takes \(head.inputSize) inputs, the SigLIP tower gives \(config.hiddenSize)")
        }
        try store.finish()
        let preURL = directory.appendingPathComponent("preprocessor_config.json")
        guard FileManager.default.fileExists(atPath: preURL.path) else {
            throw ModelConfigError(directory.lastPathComponent, "no preprocessor_config.json (the SigLIP image processor settings of the checkpoint)")
        }
        processor = try CLIPImageProcessor(siglipConfig: ConfigFile.load(preURL))
        if let out = processor.outputSize, out != (config.imageSize, config.imageSize) {
            throw ModelConfigError("preprocessor_config.json", "gives \(out.width)×\(out.height) images, the SigLIP tower takes \(config.imageSize)×\(config.imageSize)")
        }
    }

    /// The predictor's score per preprocessed image `[N, 3, S, S]`: head(pooler_output / ‖pooler_output‖).
    public func scores(pixelValues: Tensor) throws -> [Float] {
        guard let pooled = try vision(pixelValues).pooled else { return [] }
        return head(CLIPModel.normalizedRows(pooled))
    }
}

/// `aesthetic-v2.5`: the aesthetic predictor v2.5 score (about 1–10 for real images; 5.5+ is considered good) of each
/// sample, as `AestheticPredictorV2_5Model(pixel_values).logits` with its `SiglipImageProcessor`. Needs no prompt.
/// Samples are rounded to 8 bits before preprocessing (like their PNG). The embedding is normalised in Double (the
/// package divides in float32; the difference is ~1e-7 relative). A batch the model cannot take scores NaN.
public struct AestheticV25Reward: Reward {
    public let predictor: AestheticV25Predictor
    public var name: String { "aesthetic-v2.5" }

    public init(predictor: AestheticV25Predictor) { self.predictor = predictor }

    public func scores(_ samples: Tensor) throws -> [Float] {
        try requireImages(samples)
        if samples.shape[0] == 0 { return [] }
        return try scoring { try predictor.scores(pixelValues: try predictor.processor(samples)) }
    }
}
