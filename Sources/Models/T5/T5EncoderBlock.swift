import ModelIO
import TensorCore

/// transformers' `T5Block` / `UMT5Block` of an encoder (keys relative to `encoder.block.N.`):
/// `layer.0` = `T5LayerSelfAttention` — `layer_norm` (T5LayerNorm: RMS, no bias), `SelfAttention.{q,k,v,o}` (no biases,
/// `heads · d_kv` wide) and, where the layer has one, `SelfAttention.relative_attention_bias`; scores are q·kᵀ with
/// no 1/√d scaling, plus the position bias and the padding mask; `h + o(attention)`.
/// `layer.1` = `T5LayerFF` — `layer_norm`, then `DenseReluDense`: `wo(act(wi_0(x)) · wi_1(x))` when gated
/// (`T5DenseGatedActDense`), `wo(act(wi(x)))` otherwise (`T5DenseActDense`); `h + wo(…)`. No dropout (inference).
/// Linear weights stay in their stored precision; the norm scales and the bias table are widened to float32.
public struct T5EncoderBlock: Sendable {
    let attentionNorm: Tensor
    let q: Linear, k: Linear, v: Linear, o: Linear
    /// This layer's own relative-position bias (T5: block 0 only; UMT5: every block).
    public let relativeBias: T5RelativePositionBias?
    let feedForwardNorm: Tensor
    let input: FeedForwardInput
    let wo: Linear
    let config: T5EncoderConfig

    public init(_ s: WeightStore, config c: T5EncoderConfig, hasRelativeBias: Bool) throws {
        let d = c.dModel, inner = c.innerDimension
        attentionNorm = try s.take("layer.0.layer_norm.weight", shape: [d])
        q = try Linear(s, "layer.0.SelfAttention.q", in: d, out: inner, bias: false)
        k = try Linear(s, "layer.0.SelfAttention.k", in: d, out: inner, bias: false)
        v = try Linear(s, "layer.0.SelfAttention.v", in: d, out: inner, bias: false)
        o = try Linear(s, "layer.0.SelfAttention.o", in: inner, out: d, bias: false)
        relativeBias = hasRelativeBias
            ? try T5RelativePositionBias(s, "layer.0.SelfAttention.relative_attention_bias", buckets: c.relativeAttentionBuckets,
                                         heads: c.heads, maxDistance: c.relativeAttentionMaxDistance)
            : nil
        feedForwardNorm = try s.take("layer.1.layer_norm.weight", shape: [d])
        input = c.gatedActivation
            ? .gated(wi0: try Linear(s, "layer.1.DenseReluDense.wi_0", in: d, out: c.dFF, bias: false),
                     wi1: try Linear(s, "layer.1.DenseReluDense.wi_1", in: d, out: c.dFF, bias: false))
            : .plain(wi: try Linear(s, "layer.1.DenseReluDense.wi", in: d, out: c.dFF, bias: false))
        wo = try Linear(s, "layer.1.DenseReluDense.wo", in: c.dFF, out: d, bias: false)
        config = c
    }

    /// `h` `[B, L, d_model]`; `bias` the additive attention term `[B, heads, L, L]` (position bias + padding mask).
    func callAsFunction(_ h: Tensor, bias: Tensor) -> Tensor {
        let eps = config.layerNormEpsilon
        let n = NN.rmsNorm(h, weight: attentionNorm, eps: eps)
        let attended = NN.attention(query: q(n), key: k(n), value: v(n), heads: config.heads, mask: bias, scale: 1)
        let h1 = o(attended, residual: h)
        let m = NN.rmsNorm(h1, weight: feedForwardNorm, eps: eps)
        let hidden = switch input {
        case .gated(let wi0, let wi1): config.activation(wi0(m)) * wi1(m)
        case .plain(let wi): config.activation(wi(m))
        }
        return wo(hidden, residual: h1)
    }
}

/// The feed-forward's input projection(s).
enum FeedForwardInput: Sendable {
    case gated(wi0: Linear, wi1: Linear)
    case plain(wi: Linear)
}
