import ModelIO
import TensorCore

/// The activation of a CLIP MLP (transformers' `hidden_act`, open_clip's `act_layer`).
public enum CLIPActivation: String, Sendable, CaseIterable {
    /// x·sigmoid(1.702·x) (OpenAI's CLIP and SD 1.x).
    case quickGELU = "quick_gelu"
    /// Exact erf GELU (open_clip / LAION models, SD 2.x).
    case gelu
    /// tanh-approximated GELU (transformers' `gelu_new` and `gelu_pytorch_tanh`).
    case geluNew = "gelu_new"
    case geluPytorchTanh = "gelu_pytorch_tanh"

    public func callAsFunction(_ x: Tensor) -> Tensor {
        switch self {
        case .quickGELU: return NN.quickGELU(x)
        case .gelu: return NN.gelu(x)
        case .geluNew, .geluPytorchTanh: return NN.gelu(x, approximate: .tanh)
        }
    }

    /// Reads `hidden_act` (default quick_gelu, as transformers' CLIP configs).
    static func read(_ c: ConfigFile) throws -> CLIPActivation {
        let s = try c.string("hidden_act", default: "quick_gelu", oneOf: allCases.map(\.rawValue))
        return CLIPActivation(rawValue: s)!
    }
}

/// transformers' `CLIPEncoderLayer`, shared by the text and the vision tower: pre-norm residual blocks
/// `h + attn(LN1(h))`, then `h + fc2(act(fc1(LN2(h))))`, with separate q/k/v/out projections (all with bias) and
/// multi-head attention scaled by 1/√head_dim. Keys (relative to the layer): `layer_norm1`, `self_attn.{q,k,v,out}_proj`,
/// `layer_norm2`, `mlp.fc1`, `mlp.fc2`. No dropout (inference only).
public struct CLIPEncoderLayer: Sendable {
    let norm1: LayerNorm, q: Linear, k: Linear, v: Linear, out: Linear, norm2: LayerNorm, fc1: Linear, fc2: Linear
    public let heads: Int
    public let activation: CLIPActivation

    public init(_ s: WeightStore, hiddenSize d: Int, intermediateSize: Int, heads: Int, eps: Float,
                activation: CLIPActivation) throws {
        norm1 = try LayerNorm(s, "layer_norm1", channels: d, eps: eps)
        q = try Linear(s, "self_attn.q_proj", in: d, out: d)
        k = try Linear(s, "self_attn.k_proj", in: d, out: d)
        v = try Linear(s, "self_attn.v_proj", in: d, out: d)
        out = try Linear(s, "self_attn.out_proj", in: d, out: d)
        norm2 = try LayerNorm(s, "layer_norm2", channels: d, eps: eps)
        fc1 = try Linear(s, "mlp.fc1", in: d, out: intermediateSize)
        fc2 = try Linear(s, "mlp.fc2", in: intermediateSize, out: d)
        self.heads = heads
        self.activation = activation
    }

    /// `h` `[B, L, D]`; `mask` additive `[L, L]` (the text tower's causal mask) or nil (vision).
    public func callAsFunction(_ h: Tensor, mask: Tensor?) -> Tensor {
        let n = norm1(h)
        let attended = NN.add(h, out(NN.attention(query: q(n), key: k(n), value: v(n), heads: heads, mask: mask)))
        return NN.add(attended, fc2(activation(fc1(norm2(attended)))))
    }
}

/// transformers' `CLIPEncoder`: `count` `CLIPEncoderLayer`s under `layers.N.` of the given (already scoped)
/// store, applied in order.
public struct CLIPEncoder: Sendable {
    public let layers: [CLIPEncoderLayer]

    public init(_ s: WeightStore, count: Int, hiddenSize: Int, intermediateSize: Int, heads: Int, eps: Float,
                activation: CLIPActivation) throws {
        layers = try (0..<count).map {
            try CLIPEncoderLayer(s.scope("layers.\($0)"), hiddenSize: hiddenSize, intermediateSize: intermediateSize,
                                 heads: heads, eps: eps, activation: activation)
        }
    }

    public func callAsFunction(_ h: Tensor, mask: Tensor? = nil) -> Tensor {
        var x = h
        for layer in layers { x = layer(x, mask: mask) }
        return x
    }
}
