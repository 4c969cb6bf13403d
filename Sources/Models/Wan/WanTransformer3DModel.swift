import Foundation
import ModelIO
import TensorCore

/// diffusers' `WanTransformer3DModel` as Wan 2.1 text-to-video uses it (T2V 1.3B / 14B and same-shaped models),
/// loaded strictly from a diffusers `transformer/` directory (config.json + diffusion_pytorch_model[.variant]
/// .safetensors, sharded or not). Weights stay in their stored precision (f16 / bf16 mapped, widened inside the
/// products); activations are float32.
///
/// Forward: the patch embedding (a Conv3d with stride = kernel = `patch_size`, done as a layout move and one
/// product); `condition_embedder`: sinusoidal timestep of `freq_dim` channels (flip_sin_to_cos, shift 0) →
/// `time_embedder` (linear, SiLU, linear) = `temb`, `time_proj(silu(temb))` = the blocks' six modulation
/// vectors, `text_embedder` (linear, gelu-tanh, linear) on the text states; `num_layers` `WanTransformerBlock`s
/// with 3-D rotary embeddings (`WanRotaryPosEmbed`); `norm_out` (layer norm without affine) modulated by
/// `scale_shift_table + temb`, `proj_out`, unpatchify. Every projection is one product over all `B·L` rows.
/// A run of identical trailing text states (WanPipeline's zero padding to 512) is embedded and attended as one
/// key weighted by its length (`WanTextKeys`: the same result, without the padding's share of the work).
///
/// Limits: text-to-video only (no image embedder / added key-value projections: the config refuses them); one
/// timestep per batch row (not Wan 2.2 TI2V's per-token timesteps); no attention mask (WanPipeline passes none,
/// it zero-pads the text states instead).
public struct WanTransformer3DModel: Sendable {
    public let config: WanTransformerConfig
    /// `patch_embedding.weight` `[D, C, pt, ph, pw]` viewed as `[D, C·pt·ph·pw]`.
    let patchWeight: StoredTensor
    let patchBias: Tensor
    let timeEmbedder: TimestepEmbedding
    let timeProj: Linear
    let textEmbedder: PixArtAlphaTextProjection
    let blocks: [WanTransformerBlock]
    /// `scale_shift_table` `[1, 2, D]` as `[2·D]` (shift, scale).
    let scaleShiftTable: Tensor
    let projOut: Linear

    /// Loads `directory` (config.json + diffusion_pytorch_model[.variant].safetensors, or its sharded form).
    public init(directory: URL, variant: String? = nil) throws {
        let config = try WanTransformerConfig(ConfigFile.load(directory.appendingPathComponent("config.json")))
        let store = try WeightStore(directory: directory, baseName: "diffusion_pytorch_model", variant: variant)
        try self.init(config: config, weights: store)
        try store.finish()
    }

    public init(config c: WanTransformerConfig, weights s: WeightStore) throws {
        config = c
        let d = c.innerDim
        let p = c.patchSize
        patchWeight = try s.takeStored("patch_embedding.weight", shape: [d, c.inChannels, p[0], p[1], p[2]])
            .reshaped([d, c.patchFeatures])
        patchBias = try s.take("patch_embedding.bias", shape: [d])
        let e = s.scope("condition_embedder")
        timeEmbedder = try TimestepEmbedding(e.scope("time_embedder"), in: c.freqDim, dim: d)
        timeProj = try Linear(e, "time_proj", in: d, out: 6 * d)
        textEmbedder = try PixArtAlphaTextProjection(e.scope("text_embedder"), in: c.textDim, hidden: d, activation: .geluTanh)
        blocks = try (0..<c.numLayers).map { try WanTransformerBlock(s.scope("blocks.\($0)"), config: c) }
        scaleShiftTable = try s.take("scale_shift_table", shape: [1, 2, d]).reshaped([2 * d])
        projOut = try Linear(s, "proj_out", in: d, out: c.outputFeatures)
    }

    /// The flow velocity for latents.
    /// - `hiddenStates` `[B, in_channels, F, H, W]` (F, H, W multiples of `patch_size`)
    /// - `timestep` `[B]` as WanPipeline passes it (the scheduler's timestep, 0…1000)
    /// - `encoderHiddenStates` `[B, L, text_dim]` (UMT5 states, zero-padded by the pipeline)
    /// Returns `[B, out_channels, F, H, W]`. Inputs that do not fit the model throw `WanTransformerError`;
    /// `cancellation` is polled before every block and inside the attentions (`.cancelled` when it asks to stop).
    public func callAsFunction(hiddenStates: Tensor, timestep: [Float], encoderHiddenStates: Tensor,
                               cancellation: CancellationCheck = .never) throws(WanTransformerError) -> Tensor {
        let c = config, p = c.patchSize
        guard hiddenStates.rank == 5, hiddenStates.shape[0] >= 1, hiddenStates.shape[1] == c.inChannels else {
            throw .shape(argument: "hidden_states", expected: "[B, \(c.inChannels), frames, height, width]", got: hiddenStates.shape)
        }
        let b = hiddenStates.shape[0]
        var grid = [Int]()
        for (i, axis) in ["frames", "height", "width"].enumerated() {
            let size = hiddenStates.shape[2 + i]
            guard size >= p[i], size % p[i] == 0 else { throw .notDivisible(axis: axis, size: size, patch: p[i]) }
            guard size / p[i] <= c.ropeMaxSeqLen else {
                throw .tooManyPositions(axis: axis, count: size / p[i], max: c.ropeMaxSeqLen)
            }
            grid.append(size / p[i])
        }
        guard timestep.count == b else { throw .shape(argument: "timestep", expected: "[\(b)]", got: [timestep.count]) }
        guard encoderHiddenStates.rank == 3, encoderHiddenStates.shape[0] == b, encoderHiddenStates.shape[1] >= 1,
              encoderHiddenStates.shape[2] == c.textDim else {
            throw .shape(argument: "encoder_hidden_states", expected: "[\(b), text tokens, \(c.textDim)]", got: encoderHiddenStates.shape)
        }

        let rotary = WanRotaryPosEmbed(frames: grid[0], height: grid[1], width: grid[2], axesDims: c.ropeAxesDims)
        var x = NN.linear(WanTokenOps.patchify(hiddenStates, patch: p), weight: patchWeight, bias: patchBias)
        let sinusoid = NN.timestepEmbedding(timestep, dim: c.freqDim, flipSinToCos: true, downscaleFreqShift: 0)
        let temb = timeEmbedder(sinusoid)
        let timestepProjection = timeProj(NN.silu(temb))
        // The pipeline's zero padding collapsed to one key per row (exact; see WanTextKeys).
        let text = WanTextKeys.collapse(encoderHiddenStates, queries: x.shape[1])
        let context = textEmbedder(text.states)

        for block in blocks {
            if cancellation.isCancelled { throw .cancelled }
            x = block(x, context: context, contextMask: text.mask, timestepProjection: timestepProjection, rotary: rotary,
                      cancellation: cancellation)
        }
        if cancellation.isCancelled { throw .cancelled }
        // shift, scale = scale_shift_table + temb (the same temb added to both rows of the table).
        let emb = WanTokenOps.addingTable(scaleShiftTable, to: NN.concatChannels(temb, temb))
        let normed = FluxTokenOps.modulate(NN.layerNorm(x, weight: nil, bias: nil, eps: c.eps), emb: emb, scaleChunk: 1, shiftChunk: 0)
        return WanTokenOps.unpatchify(projOut(normed), batch: b, grid: (grid[0], grid[1], grid[2]), patch: p,
                                      channels: c.outChannels)
    }
}
