import Models

/// The name, datatype and shape of one tensor a served network takes or returns, as the Open Inference Protocol's
/// model metadata states them (-1 = any size).
public struct TensorSignature: Sendable, Equatable, CustomStringConvertible {
    public var name: String
    public var datatype: String
    public var shape: [Int]

    public init(_ name: String, _ datatype: String, _ shape: [Int]) {
        self.name = name; self.datatype = datatype; self.shape = shape
    }

    public var description: String { "\(name) \(datatype) [\(shape.map(String.init).joined(separator: ", "))]" }
}

/// What a pipeline sends to its network and reads back. `check` compares it with a server's model metadata
/// before any request is sent, so a wrong model is one line at start-up rather than a failed step.
public struct NetworkSignature: Sendable, Equatable {
    public var inputs: [TensorSignature]
    public var outputs: [TensorSignature]
    /// Where the expectation comes from, for messages ("unet/config.json").
    public var source: String

    public init(inputs: [TensorSignature], outputs: [TensorSignature], source: String) {
        self.inputs = inputs; self.outputs = outputs; self.source = source
    }

    /// diffusers' UNet2DConditionModel as tools/serve serves it: `sample` [N, in_channels, H, W], `timestep` [N],
    /// `encoder_hidden_states` [N, L, cross_attention_dim] in; `out_sample` [N, out_channels, H, W] out; all FP32.
    public static func unet(_ config: UNet2DConditionConfig) -> NetworkSignature {
        NetworkSignature(
            inputs: [TensorSignature("sample", "FP32", [-1, config.inChannels, -1, -1]),
                     TensorSignature("timestep", "FP32", [-1]),
                     TensorSignature("encoder_hidden_states", "FP32", [-1, -1, config.crossAttentionDim.first ?? -1])],
            outputs: [TensorSignature("out_sample", "FP32", [-1, config.outChannels, -1, -1])],
            source: "unet/config.json")
    }

    /// diffusers' FluxTransformer2DModel as tools/serve serves it: `hidden_states` [N, S, in_channels] (packed latent
    /// tokens), `encoder_hidden_states` [N, L, joint_attention_dim], `pooled_projections` [N, pooled_projection_dim],
    /// `timestep` [N] (the scheduler's timestep / 1000), `guidance` [N] for guidance-distilled checkpoints only,
    /// `txt_ids` [L, 3] and `img_ids` [S, 3] (not batched) in; `out_sample` [N, S, patch² · out_channels] out; all FP32.
    public static func fluxTransformer(_ config: FluxTransformerConfig) -> NetworkSignature {
        var inputs = [TensorSignature("hidden_states", "FP32", [-1, -1, config.inChannels]),
                      TensorSignature("encoder_hidden_states", "FP32", [-1, -1, config.jointAttentionDim]),
                      TensorSignature("pooled_projections", "FP32", [-1, config.pooledProjectionDim]),
                      TensorSignature("timestep", "FP32", [-1])]
        if config.guidanceEmbeds { inputs.append(TensorSignature("guidance", "FP32", [-1])) }
        inputs += [TensorSignature("txt_ids", "FP32", [-1, 3]), TensorSignature("img_ids", "FP32", [-1, 3])]
        return NetworkSignature(inputs: inputs, outputs: [TensorSignature("out_sample", "FP32", [-1, -1, config.outputFeatures])],
                                source: "transformer/config.json")
    }

    /// diffusers' WanTransformer3DModel as tools/serve serves it: `hidden_states` [N, in_channels, F, H, W] (video
    /// latents), `timestep` [N] (the scheduler's, 0…1000), `encoder_hidden_states` [N, L, text_dim] in;
    /// `out_sample` [N, out_channels, F, H, W] out; all FP32.
    public static func wanTransformer(_ config: WanTransformerConfig) -> NetworkSignature {
        NetworkSignature(
            inputs: [TensorSignature("hidden_states", "FP32", [-1, config.inChannels, -1, -1, -1]),
                     TensorSignature("timestep", "FP32", [-1]),
                     TensorSignature("encoder_hidden_states", "FP32", [-1, -1, config.textDim])],
            outputs: [TensorSignature("out_sample", "FP32", [-1, config.outChannels, -1, -1, -1])],
            source: "transformer/config.json")
    }

    /// An image pipeline's VAE decoder as tools/serve serves it (`--component decoder`): `latents` [N, C, h, w] (a
    /// trajectory's final states) in, `images` [N, 3, H, W] in [0, 1] out, both FP32.
    public static func vaeDecoder(latentChannels: Int) -> NetworkSignature {
        NetworkSignature(inputs: [TensorSignature("latents", "FP32", [-1, latentChannels, -1, -1])],
                         outputs: [TensorSignature("images", "FP32", [-1, 3, -1, -1])],
                         source: "vae/config.json")
    }

    /// A reward model as tools/serve's reward runtime serves it: `images` [N, 3, H, W] (decoded samples in [0, 1]) in,
    /// `scores` [N] out, both FP32; the prompt travels as the request's string parameter `prompt`.
    public static let reward = NetworkSignature(
        inputs: [TensorSignature("images", "FP32", [-1, 3, -1, -1])],
        outputs: [TensorSignature("scores", "FP32", [-1])],
        source: "the served reward's tensors (images [N, 3, H, W] → scores [N])")

    /// Throws a one-line `.metadataMismatch` naming the first difference between `served` and this signature.
    public func check(served inputs: [TensorSignature], outputs served: [TensorSignature], endpoint: String) throws(RemoteModelError) {
        func fail(_ text: String) -> RemoteModelError {
            RemoteModelError(endpoint, .metadataMismatch, "the model's metadata does not match \(source): \(text)")
        }
        for want in self.inputs {
            guard let got = inputs.first(where: { $0.name == want.name }) else {
                throw fail("it has no input \(want.name) (its inputs: \(inputs.map(\.name).joined(separator: ", ")))")
            }
            if let problem = Self.difference(want: want, got: got) { throw fail("input \(problem)") }
        }
        if let extra = inputs.first(where: { i in !self.inputs.contains { $0.name == i.name } }) {
            throw fail("it also takes input \(extra.name), which this pipeline does not send")
        }
        for want in outputs {
            guard let got = served.first(where: { $0.name == want.name }) else {
                throw fail("it has no output \(want.name) (its outputs: \(served.map(\.name).joined(separator: ", ")))")
            }
            if let problem = Self.difference(want: want, got: got) { throw fail("output \(problem)") }
        }
    }

    /// How `got` differs from `want` (nil when it fits): same datatype and rank; a fixed size must be the same
    /// fixed size; a size this side varies must be variable on the server too.
    static func difference(want: TensorSignature, got: TensorSignature) -> String? {
        if got.datatype != want.datatype { return "\(want.name) is \(got.datatype), expected \(want.datatype)" }
        let fits = got.shape.count == want.shape.count && zip(want.shape, got.shape).allSatisfy { w, g in w == g || (w >= 0 && g == -1) }
        return fits ? nil : "\(want.name) has shape \(TensorSignature(got.name, got.datatype, got.shape).shapeText), expected \(want.shapeText) (-1 = any size)"
    }
}

extension TensorSignature {
    var shapeText: String { "[\(shape.map(String.init).joined(separator: ", "))]" }
}
