import Foundation
import ModelIO
import TensorCore

/// The `text_config` of an ImageReward directory: BLIP's `med_config.json` (a transformers `BertConfig` plus
/// `encoder_width`), with defaults of the config ImageReward ships (BERT-base: 768 wide, 12 layers and heads, MLP
/// 3072, 512 positions, vocabulary 30524 = bert-base-uncased + [DEC] + [ENC], eps 1e-12, exact gelu), except
/// `encoder_width`, which defaults to the vision tower's width.
public struct BLIPTextConfig: Sendable, Equatable {
    public var vocabSize: Int
    public var hiddenSize: Int
    public var layers: Int
    public var heads: Int
    public var intermediateSize: Int
    public var maxPositions: Int
    public var layerNormEps: Float
    public var activation: CLIPActivation
    /// Width of the image tokens the cross-attention reads.
    public var encoderWidth: Int

    public init(_ c: ConfigFile, defaultEncoderWidth: Int) throws {
        vocabSize = try c.int("vocab_size", default: 30524)
        hiddenSize = try c.int("hidden_size", default: 768)
        layers = try c.int("num_hidden_layers", default: 12)
        heads = try c.int("num_attention_heads", default: 12)
        intermediateSize = try c.int("intermediate_size", default: 3072)
        maxPositions = try c.int("max_position_embeddings", default: 512)
        layerNormEps = Float(try c.double("layer_norm_eps", default: 1e-12))
        activation = CLIPActivation(rawValue: try c.string("hidden_act", default: CLIPActivation.gelu.rawValue,
                                                           oneOf: CLIPActivation.allCases.map(\.rawValue)))!
        encoderWidth = try c.int("encoder_width", default: defaultEncoderWidth)
        if !(try c.bool("add_cross_attention", default: true)) {
            throw c.invalid("add_cross_attention", "must be true (ImageReward's text encoder cross-attends to the image)")
        }
        _ = try c.string("position_embedding_type", default: "absolute", oneOf: ["absolute"])
        if hiddenSize < 1 || heads < 1 || hiddenSize % heads != 0 {
            throw c.invalid("num_attention_heads", "must divide hidden_size \(hiddenSize)")
        }
        if layers < 0 { throw c.invalid("num_hidden_layers", "must not be negative") }
        if vocabSize < 1 { throw c.invalid("vocab_size", "must be at least 1") }
        if maxPositions < 2 { throw c.invalid("max_position_embeddings", "must be at least 2") }
        if intermediateSize < 1 { throw c.invalid("intermediate_size", "must be at least 1") }
        if encoderWidth < 1 { throw c.invalid("encoder_width", "must be at least 1") }
    }
}

/// One `BertLayer` of BLIP's med.py in "multimodal" mode (post-norm): self-attention, `LayerNorm(dense(·) + h)`;
/// cross-attention of the text queries to the image tokens (keys and values projected from `encoder_width`),
/// `LayerNorm(dense(·) + ·)`; then `LayerNorm(dense(act(dense(·))) + ·)`.
/// Keys: `attention.self.{query,key,value}`, `attention.output.{dense,LayerNorm}`, `crossattention.self.{query,key,
/// value}`, `crossattention.output.{dense,LayerNorm}`, `intermediate.dense`, `output.{dense,LayerNorm}`.
struct BLIPTextLayer: Sendable {
    struct Attention: Sendable {
        let query: Linear, key: Linear, value: Linear, dense: Linear, norm: LayerNorm
        init(_ s: WeightStore, hidden: Int, keyWidth: Int, eps: Float) throws {
            query = try Linear(s, "self.query", in: hidden, out: hidden)
            key = try Linear(s, "self.key", in: keyWidth, out: hidden)
            value = try Linear(s, "self.value", in: keyWidth, out: hidden)
            dense = try Linear(s, "output.dense", in: hidden, out: hidden)
            norm = try LayerNorm(s, "output.LayerNorm", channels: hidden, eps: eps)
        }
        /// `LayerNorm(dense(attention(h → context)) + h)`.
        func callAsFunction(_ h: Tensor, context: Tensor, heads: Int) -> Tensor {
            norm(NN.add(dense(NN.attention(query: query(h), key: key(context), value: value(context), heads: heads)), h))
        }
    }

    let selfAttention: Attention, crossAttention: Attention
    let intermediate: Linear, output: Linear, outputNorm: LayerNorm
    let heads: Int
    let activation: CLIPActivation

    init(_ s: WeightStore, config c: BLIPTextConfig) throws {
        selfAttention = try Attention(s.scope("attention"), hidden: c.hiddenSize, keyWidth: c.hiddenSize, eps: c.layerNormEps)
        crossAttention = try Attention(s.scope("crossattention"), hidden: c.hiddenSize, keyWidth: c.encoderWidth, eps: c.layerNormEps)
        intermediate = try Linear(s, "intermediate.dense", in: c.hiddenSize, out: c.intermediateSize)
        output = try Linear(s, "output.dense", in: c.intermediateSize, out: c.hiddenSize)
        outputNorm = try LayerNorm(s, "output.LayerNorm", channels: c.hiddenSize, eps: c.layerNormEps)
        heads = c.heads
        activation = c.activation
    }

    func callAsFunction(_ h: Tensor, image: Tensor) -> Tensor {
        let a = crossAttention(selfAttention(h, context: h, heads: heads), context: image, heads: heads)
        return outputNorm(NN.add(output(activation(intermediate(a))), a))
    }
}

/// BLIP's text encoder as ImageReward runs it: med.py's `BertModel` (no pooler) in "multimodal" mode — word and
/// absolute position embeddings (no token-type embeddings) with a LayerNorm, then `BertLayer`s that cross-attend to
/// the image tokens — giving `last_hidden_state`.
///
/// Keys, relative to the store (unchanged from the checkpoint): `embeddings.word_embeddings.weight`,
/// `embeddings.position_embeddings.weight`, `embeddings.LayerNorm.*`, `encoder.layer.N.*` (see `BLIPTextLayer`); the
/// `embeddings.position_ids` buffer is ignored.
///
/// Padding: ImageReward pads the prompt to 35 tokens and masks the padding with −10000 added to the attention scores,
/// which makes those keys' softmax weights exactly 0 in float32; running the unpadded ids therefore gives the same
/// states for the real tokens, and that is what `callAsFunction` takes. No dropout (inference).
public struct BLIPTextEncoder: Sendable {
    public let config: BLIPTextConfig
    /// In their stored precision; rows are widened on lookup.
    let wordEmbeddings: StoredTensor
    let positionEmbeddings: StoredTensor
    let embeddingNorm: LayerNorm
    let layers: [BLIPTextLayer]

    public init(config c: BLIPTextConfig, weights s: WeightStore) throws {
        config = c
        s.ignore("embeddings.position_ids")
        wordEmbeddings = try s.takeStored("embeddings.word_embeddings.weight", shape: [c.vocabSize, c.hiddenSize])
        positionEmbeddings = try s.takeStored("embeddings.position_embeddings.weight", shape: [c.maxPositions, c.hiddenSize])
        embeddingNorm = try LayerNorm(s, "embeddings.LayerNorm", channels: c.hiddenSize, eps: c.layerNormEps)
        layers = try (0..<c.layers).map { try BLIPTextLayer(s.scope("encoder.layer.\($0)"), config: c) }
    }

    /// `last_hidden_state` `[N, L, H]` of one token sequence `ids` (no padding; L ≤ max_position_embeddings) read
    /// together with each of the N images' tokens `image` `[N, T, encoder_width]`.
    public func callAsFunction(_ ids: [Int], image: Tensor) throws(CLIPInputError) -> Tensor {
        let c = config, h = c.hiddenSize
        guard !ids.isEmpty, ids.count <= c.maxPositions else {
            throw CLIPInputError("BLIP text: \(ids.count) tokens, the text encoder takes 1…\(c.maxPositions)")
        }
        if let bad = ids.first(where: { $0 < 0 || $0 >= c.vocabSize }) {
            throw CLIPInputError("BLIP text: token id \(bad) is outside the vocabulary of \(c.vocabSize)")
        }
        guard image.rank == 3, image.shape[2] == c.encoderWidth else {
            throw CLIPInputError("BLIP text: expected image tokens [N, T, \(c.encoderWidth)], got \(image.shape)")
        }
        let n = image.shape[0], l = ids.count
        if n == 0 { return Tensor(zeros: [0, l, h]) }
        let e = wordEmbeddings.rows(ids) + positionEmbeddings.rows(Array(0..<l))
        let one = embeddingNorm(e.reshaped([1, l, h])).scalars
        var x = Tensor(shape: [n, l, h], scalars: Array([[Float]](repeating: one, count: n).joined()))
        for layer in layers { x = layer(x, image: image) }
        return x
    }
}
