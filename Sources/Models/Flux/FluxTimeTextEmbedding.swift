import ModelIO
import TensorCore

/// diffusers' `TimestepEmbedding(in_channels, time_embed_dim)` with SiLU: `linear_2(silu(linear_1(x)))`.
public struct TimestepEmbedding: Sendable {
    let linear1: Linear, linear2: Linear

    public init(_ s: WeightStore, in cin: Int, dim: Int) throws {
        linear1 = try Linear(s, "linear_1", in: cin, out: dim)
        linear2 = try Linear(s, "linear_2", in: dim, out: dim)
    }

    /// `[N, in]` → `[N, dim]`, plus `residual` when given (added by the last projection).
    func callAsFunction(_ x: Tensor, residual: Tensor? = nil) -> Tensor {
        linear2(NN.silu(linear1(x)), residual: residual)
    }
}

/// diffusers' `PixArtAlphaTextProjection(in_features, hidden_size, act_fn)`: `linear_2(act(linear_1(x)))` with
/// `act_fn` "silu" (FLUX) or "gelu_tanh" (Wan).
public struct PixArtAlphaTextProjection: Sendable {
    public enum Activation: Sendable { case silu, geluTanh }
    let linear1: Linear, linear2: Linear
    let activation: Activation

    public init(_ s: WeightStore, in cin: Int, hidden: Int, activation: Activation = .silu) throws {
        linear1 = try Linear(s, "linear_1", in: cin, out: hidden)
        linear2 = try Linear(s, "linear_2", in: hidden, out: hidden)
        self.activation = activation
    }

    func callAsFunction(_ x: Tensor, residual: Tensor? = nil) -> Tensor {
        let h = linear1(x)
        return linear2(activation == .silu ? NN.silu(h) : NN.gelu(h, approximate: .tanh), residual: residual)
    }
}

/// diffusers' `CombinedTimestepTextProjEmbeddings` and, with a guidance embedder,
/// `CombinedTimestepGuidanceTextProjEmbeddings` (FLUX's `time_text_embed`): sinusoidal projections of 256
/// channels (`Timesteps(256, flip_sin_to_cos=True, downscale_freq_shift=0)`) of the timestep and the guidance,
/// each through its `TimestepEmbedding`, plus the pooled text projection:
/// `temb = (timestep_emb + guidance_emb) + text_emb`.
public struct CombinedTimestepTextProjEmbeddings: Sendable {
    static let projectionChannels = 256
    let timestepEmbedder: TimestepEmbedding
    let guidanceEmbedder: TimestepEmbedding?
    let textEmbedder: PixArtAlphaTextProjection

    public init(_ s: WeightStore, dim: Int, pooledProjectionDim: Int, guidance: Bool) throws {
        timestepEmbedder = try TimestepEmbedding(s.scope("timestep_embedder"), in: Self.projectionChannels, dim: dim)
        guidanceEmbedder = guidance ? try TimestepEmbedding(s.scope("guidance_embedder"), in: Self.projectionChannels, dim: dim) : nil
        textEmbedder = try PixArtAlphaTextProjection(s.scope("text_embedder"), in: pooledProjectionDim, hidden: dim)
    }

    /// `timesteps` and `guidance` as the embedder sees them (FluxTransformer2DModel has multiplied both by
    /// 1000), one per row of `pooled` `[B, pooled_projection_dim]` → `[B, dim]`.
    func callAsFunction(timesteps: [Float], guidance: [Float]?, pooled: Tensor) -> Tensor {
        func project(_ t: [Float]) -> Tensor {
            NN.timestepEmbedding(t, dim: Self.projectionChannels, flipSinToCos: true, downscaleFreqShift: 0)
        }
        var time = timestepEmbedder(project(timesteps))
        if let guidanceEmbedder, let guidance { time = guidanceEmbedder(project(guidance), residual: time) }
        return textEmbedder(pooled, residual: time)
    }
}
