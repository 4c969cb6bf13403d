import Foundation
import ModelIO
import TensorCore

/// transformers' `CLIPConfig`: the `text_config` and `vision_config` objects of a `CLIPModel` config.json, the
/// shared `projection_dim` (default 512) and `logit_scale_init_value` (only the initial value; the checkpoint's
/// `logit_scale` is what scores use).
public struct CLIPConfig: Sendable, Equatable {
    public var text: CLIPTextConfig
    public var vision: CLIPVisionConfig
    public var projectionDim: Int

    /// Requires both nested configs: a directory whose config.json lacks them (a `CLIPTextModel`, a diffusers
    /// component, …) is not a CLIPModel and is refused with an error saying so.
    public init(_ c: ConfigFile) throws {
        guard let t = try c.optionalObject("text_config"), let v = try c.optionalObject("vision_config") else {
            throw ModelConfigError(c.displayName, "not a CLIPModel config (needs \"text_config\" and \"vision_config\"; found \(c.className ?? "no architecture"))")
        }
        text = try CLIPTextConfig(t)
        vision = try CLIPVisionConfig(v)
        projectionDim = try c.int("projection_dim", default: 512)
        if projectionDim < 1 { throw c.invalid("projection_dim", "must be at least 1") }
    }
}

/// transformers' `CLIPModel` for scoring: the text tower (`CLIPTextTransformer`) with `text_projection`, the vision
/// tower (`CLIPVisionTransformer`) with `visual_projection` (both linear without bias), and the learned
/// temperature `logit_scale` (stored as its log; logits = exp(logit_scale) · cos).
///
/// Loads transformers' layout: `config.json` with `text_config`/`vision_config` and `model.safetensors` (or a sharded
/// `model.safetensors.index.json`, optionally a variant) with keys `text_model.…`, `vision_model.…`,
/// `text_projection.weight`, `visual_projection.weight`, `logit_scale`. Loading is strict: every key must be used
/// (the `position_ids` buffers some checkpoints carry are ignored; with `towers: .vision` or `.text` the other
/// tower's keys are deliberately skipped, not loaded). Limits: no position-embedding interpolation (images must be
/// `image_size`), no attention mask for text (the pooled EOS state does not depend on the padding after it).
public struct CLIPModel: Sendable {
    /// Which towers to load.
    public enum Towers: Sendable { case both, text, vision }

    public let config: CLIPConfig
    public let text: CLIPTextModel?
    public let vision: CLIPVisionTransformer?
    let textProjection: StoredTensor?
    let visualProjection: StoredTensor?
    /// The checkpoint's `logit_scale` parameter (a log temperature).
    public let logitScale: Float
    /// exp(logit_scale), as `CLIPModel.forward` multiplies the cosine similarities by (100 for OpenAI's CLIP).
    public var logitScaleExp: Float { Float(Foundation.exp(Double(logitScale))) }

    /// Loads a CLIPModel directory (see the type's documentation).
    public init(directory: URL, towers: Towers = .both, variant: String? = nil) throws {
        let config = try CLIPConfig(ConfigFile.load(directory.appendingPathComponent("config.json")))
        let store = try WeightStore(directory: directory, baseName: "model", variant: variant)
        try self.init(config: config, weights: store, towers: towers)
        try store.finish()
    }

    /// `weights` at the model's root (keys `text_model.…`, `vision_model.…`, …). Call `finish()` on the store
    /// afterwards for strict loading.
    public init(config c: CLIPConfig, weights s: WeightStore, towers: Towers = .both) throws {
        config = c
        s.ignoreAll { $0.hasSuffix("position_ids") }
        if towers != .vision {
            text = try CLIPTextModel(config: c.text, weights: s.scope("text_model"))
            textProjection = try s.takeStored("text_projection.weight", shape: [c.projectionDim, c.text.hiddenSize])
        } else {
            s.ignoreAll { $0.hasPrefix("text_model.") || $0 == "text_projection.weight" }
            text = nil; textProjection = nil
        }
        if towers != .text {
            vision = try CLIPVisionTransformer(config: c.vision, weights: s.scope("vision_model"))
            visualProjection = try s.takeStored("visual_projection.weight", shape: [c.projectionDim, c.vision.hiddenSize])
        } else {
            s.ignoreAll { $0.hasPrefix("vision_model.") || $0 == "visual_projection.weight" }
            vision = nil; visualProjection = nil
        }
        logitScale = try s.take("logit_scale", reshapedTo: [1]).scalars[0]
    }

    /// Projected image embeddings `[N, projection_dim]` (transformers' `get_image_features`, not normalised) of
    /// preprocessed `pixelValues` `[N, 3, S, S]`.
    public func imageEmbeddings(_ pixelValues: Tensor) throws(CLIPInputError) -> Tensor {
        guard let vision, let visualProjection else { throw CLIPInputError("CLIP: the vision tower was not loaded") }
        return NN.linear(try vision(pixelValues), weight: visualProjection)
    }

    /// Projected text embeddings `[B, projection_dim]` (transformers' `get_text_features`, not normalised) of
    /// token id rows of one length (bos … eos, optionally padded).
    public func textEmbeddings(_ ids: [[Int]]) throws -> Tensor {
        guard let text, let textProjection else { throw CLIPInputError("CLIP: the text tower was not loaded") }
        return NN.linear(try text(ids).pooled, weight: textProjection)
    }

    /// Each row divided by its L2 norm (transformers' `_get_vector_norm`; sums in Double). A zero row stays zero.
    public static func normalizedRows(_ x: Tensor) -> Tensor {
        precondition(x.rank == 2, "CLIPModel.normalizedRows: needs [N, D], got \(x.shape)")
        let n = x.shape[0], d = x.shape[1]
        var out = x.scalars
        for i in 0..<n {
            var s = 0.0
            for j in 0..<d { let v = Double(out[i * d + j]); s += v * v }
            let norm = s.squareRoot()
            if norm > 0 { for j in 0..<d { out[i * d + j] = Float(Double(out[i * d + j]) / norm) } }
        }
        return Tensor(shape: [n, d], scalars: out)
    }

    /// Cosine similarity of every row of `a` `[N, D]` with the single row `b` `[1, D]` (or `[D]`), in Double.
    public static func cosineSimilarities(_ a: Tensor, _ b: Tensor) -> [Float] {
        precondition(a.rank == 2 && b.count == a.shape[1], "CLIPModel.cosineSimilarities: \(a.shape) vs \(b.shape)")
        let d = a.shape[1]
        var bb = 0.0
        for v in b.scalars { bb += Double(v) * Double(v) }
        return (0..<a.shape[0]).map { i in
            var ab = 0.0, aa = 0.0
            for j in 0..<d {
                let x = Double(a.scalars[i * d + j])
                ab += x * Double(b.scalars[j]); aa += x * x
            }
            let denom = (aa * bb).squareRoot()
            return denom > 0 ? Float(ab / denom) : 0
        }
    }
}
