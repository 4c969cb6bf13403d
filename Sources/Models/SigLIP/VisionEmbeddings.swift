import ModelIO
import TensorCore

/// The sizes of a vision transformer tower other than CLIP's (`CLIPVisionConfig`): transformers' `SiglipVisionConfig`
/// and the `vision_config` of an ImageReward directory (BLIP's ViT). Each reader applies its model's defaults for
/// absent keys: `siglip` transformers' (siglip-base-patch16-224: 768 wide, 12 layers and heads, MLP 3072, 224 px,
/// patch 16, gelu_pytorch_tanh, eps 1e-6, with the attention-pooling head), `blip` ImageReward's ViT-L/16 (1024
/// wide, 24 layers, 16 heads, MLP 4096, 224 px, patch 16, exact gelu, eps 1e-6). The image size need not be a
/// multiple of the patch size (so400m: 384 px, patch 14).
public struct VisionTowerConfig: Sendable, Equatable {
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var layers: Int
    public var heads: Int
    public var channels: Int
    public var imageSize: Int
    public var patchSize: Int
    public var activation: CLIPActivation
    public var layerNormEps: Float
    /// SigLIP's `vision_use_head`: the attention-pooling head that gives `pooler_output` (false for BLIP).
    public var useHead: Bool

    /// `vision_config` of a full `SiglipConfig`, or the root of a `SiglipVisionModel` config.
    public static func siglip(_ file: ConfigFile) throws -> VisionTowerConfig {
        let c = try file.optionalObject("vision_config") ?? file
        var config = try VisionTowerConfig(c, hidden: 768, intermediate: 3072, layers: 12, heads: 12, patch: 16,
                                           activation: .geluPytorchTanh)
        config.useHead = try c.bool("vision_use_head", default: true)
        return config
    }

    /// The `vision_config` object of an ImageReward config.json.
    public static func blip(_ c: ConfigFile) throws -> VisionTowerConfig {
        try VisionTowerConfig(c, hidden: 1024, intermediate: 4096, layers: 24, heads: 16, patch: 16, activation: .gelu)
    }

    init(_ c: ConfigFile, hidden: Int, intermediate: Int, layers: Int, heads: Int, patch: Int, activation: CLIPActivation) throws {
        hiddenSize = try c.int("hidden_size", default: hidden)
        intermediateSize = try c.int("intermediate_size", default: intermediate)
        self.layers = try c.int("num_hidden_layers", default: layers)
        self.heads = try c.int("num_attention_heads", default: heads)
        channels = try c.int("num_channels", default: 3)
        imageSize = try c.int("image_size", default: 224)
        patchSize = try c.int("patch_size", default: patch)
        self.activation = CLIPActivation(rawValue: try c.string("hidden_act", default: activation.rawValue,
                                                                oneOf: CLIPActivation.allCases.map(\.rawValue)))!
        layerNormEps = Float(try c.double("layer_norm_eps", default: 1e-6))
        useHead = false
        if hiddenSize < 1 || self.heads < 1 || hiddenSize % self.heads != 0 {
            throw c.invalid("num_attention_heads", "must divide hidden_size \(hiddenSize)")
        }
        if self.layers < 0 { throw c.invalid("num_hidden_layers", "must not be negative") }
        if intermediateSize < 1 { throw c.invalid("intermediate_size", "must be at least 1") }
        if channels < 1 { throw c.invalid("num_channels", "must be at least 1") }
        if patchSize < 1 || imageSize < patchSize { throw c.invalid("patch_size", "must be between 1 and image_size \(imageSize)") }
    }

    /// Patches per side (a remainder smaller than a patch is dropped).
    public var gridSize: Int { imageSize / patchSize }
}

/// The token embedding of a vision transformer, shared by SigLIP (transformers' `SiglipVisionEmbeddings`) and BLIP's
/// ViT (timm's `PatchEmbed` + `cls_token` + `pos_embed`, converted to these keys by tools/convert_imagereward.py):
/// a convolution with kernel = stride = patch size and no padding (a remainder of the image smaller than a patch is
/// ignored, as PyTorch's "valid" convolution does), the patches as tokens in row-major order, an optional learned
/// class token in front, and learned position embeddings added.
///
/// Keys, relative to the store: `patch_embedding.weight` `[D, C, P, P]`, `patch_embedding.bias` `[D]` (if
/// `patchBias`), `class_embedding` `[D]` (if `classToken`), `position_embedding.weight` `[T, D]` with
/// T = (S / P)² (+ 1 with a class token). Limits: square images of exactly the configured size (no position-embedding
/// interpolation).
public struct VisionEmbeddings: Sendable {
    public let hiddenSize: Int
    public let channels: Int
    public let imageSize: Int
    public let patchSize: Int
    let patchWeight: StoredTensor
    let patchBias: Tensor?
    let classEmbedding: Tensor?
    let positionEmbedding: Tensor

    public init(_ s: WeightStore, config c: VisionTowerConfig, classToken: Bool, patchBias: Bool) throws {
        let d = c.hiddenSize, patchSize = c.patchSize
        hiddenSize = d
        channels = c.channels
        imageSize = c.imageSize
        self.patchSize = patchSize
        patchWeight = try s.takeStored("patch_embedding.weight", shape: [d, channels, patchSize, patchSize])
        self.patchBias = patchBias ? try s.take("patch_embedding.bias", shape: [d]) : nil
        classEmbedding = classToken ? try s.take("class_embedding", shape: [d]) : nil
        let grid = imageSize / patchSize
        positionEmbedding = try s.take("position_embedding.weight", shape: [grid * grid + (classToken ? 1 : 0), d])
    }

    /// Patches per side.
    public var gridSize: Int { imageSize / patchSize }
    /// Tokens per image.
    public var tokens: Int { gridSize * gridSize + (classEmbedding == nil ? 0 : 1) }

    /// Tokens `[N, T, D]` of `pixelValues` `[N, C, S, S]` (S = `imageSize`, checked by the caller).
    public func callAsFunction(_ pixelValues: Tensor) -> Tensor {
        let n = pixelValues.shape[0], d = hiddenSize, g = gridSize, t = tokens
        let patches = NN.nchwToTokens(NN.conv2d(pixelValues, weight: patchWeight, bias: patchBias, stride: patchSize, padding: 0))
        let offset = classEmbedding == nil ? 0 : 1
        var x = [Float](repeating: 0, count: n * t * d)
        let pos = positionEmbedding.scalars, p = patches.scalars
        for i in 0..<n {
            let base = i * t * d
            if let cls = classEmbedding?.scalars { for j in 0..<d { x[base + j] = cls[j] + pos[j] } }
            for k in 0..<(g * g) {
                let o = base + (k + offset) * d, src = (i * g * g + k) * d, po = (k + offset) * d
                for j in 0..<d { x[o + j] = p[src + j] + pos[po + j] }
            }
        }
        return Tensor(shape: [n, t, d], scalars: x)
    }
}
