import Foundation
import ModelIO
import TensorCore

/// diffusers' `FluxTransformer2DModel` (FLUX.1 dev / schnell and same-shaped models), loaded strictly from a
/// diffusers `transformer/` directory (config.json + diffusion_pytorch_model[.variant].safetensors, sharded or
/// not). Weights stay in their stored precision (f16 / bf16 mapped, widened inside the products); activations
/// are float32.
///
/// Forward: `x_embedder` and `context_embedder` project the packed image tokens and the text tokens to the
/// model width; `time_text_embed` makes the conditioning vector from the timestep (×1000), the guidance (×1000,
/// guidance-distilled models only) and the pooled text embedding; `num_layers` double-stream blocks, then
/// `num_single_layers` single-stream blocks over `[text, image]`, with 3-axis rotary embeddings from
/// `[txt_ids; img_ids]` (θ = 10000); `norm_out` (AdaLayerNormContinuous) and `proj_out` on the image tokens.
/// Every projection runs as one product over all `B·L` rows of the batch.
///
/// Limits: no ControlNet residuals, IP-Adapter or LoRA; no attention mask (FluxPipeline passes none); ids must
/// be 2-D (the deprecated 3-D form is refused).
public struct FluxTransformer2DModel: Sendable {
    public let config: FluxTransformerConfig
    let xEmbedder: Linear, contextEmbedder: Linear
    let timeTextEmbed: CombinedTimestepTextProjEmbeddings
    let transformerBlocks: [FluxTransformerBlock]
    let singleTransformerBlocks: [FluxSingleTransformerBlock]
    let normOut: AdaLayerNormContinuous
    let projOut: Linear

    /// Loads `directory` (config.json + diffusion_pytorch_model[.variant].safetensors).
    public init(directory: URL, variant: String? = nil) throws {
        let config = try FluxTransformerConfig(ConfigFile.load(directory.appendingPathComponent("config.json")))
        let store = try WeightStore(directory: directory, baseName: "diffusion_pytorch_model", variant: variant)
        try self.init(config: config, weights: store)
        try store.finish()
    }

    public init(config c: FluxTransformerConfig, weights s: WeightStore) throws {
        config = c
        let d = c.innerDim
        xEmbedder = try Linear(s, "x_embedder", in: c.inChannels, out: d)
        contextEmbedder = try Linear(s, "context_embedder", in: c.jointAttentionDim, out: d)
        timeTextEmbed = try CombinedTimestepTextProjEmbeddings(s.scope("time_text_embed"), dim: d,
                                                               pooledProjectionDim: c.pooledProjectionDim,
                                                               guidance: c.guidanceEmbeds)
        transformerBlocks = try (0..<c.numLayers).map {
            try FluxTransformerBlock(s.scope("transformer_blocks.\($0)"), dim: d, heads: c.numAttentionHeads,
                                     headDim: c.attentionHeadDim)
        }
        singleTransformerBlocks = try (0..<c.numSingleLayers).map {
            try FluxSingleTransformerBlock(s.scope("single_transformer_blocks.\($0)"), dim: d,
                                           heads: c.numAttentionHeads, headDim: c.attentionHeadDim)
        }
        normOut = try AdaLayerNormContinuous(s.scope("norm_out"), dim: d, conditioningDim: d)
        projOut = try Linear(s, "proj_out", in: d, out: c.outputFeatures)
    }

    /// The velocity for packed latents.
    /// - `hiddenStates` `[B, Li, in_channels]` (packed latents, `FluxLatents.pack`)
    /// - `encoderHiddenStates` `[B, Lt, joint_attention_dim]` (T5 states)
    /// - `pooledProjections` `[B, pooled_projection_dim]` (CLIP pooled output)
    /// - `timestep` `[B]` as FluxPipeline passes it (σ, i.e. the scheduler's timestep / 1000)
    /// - `guidance` `[B]` (the guidance scale) for models with `guidance_embeds`, else nil
    /// - `txtIds` `[Lt, axes]`, `imgIds` `[Li, axes]` (`FluxLatents.textIds` / `imageIds`)
    /// Returns `[B, Li, patch_size²·out_channels]`. Inputs that do not fit the model throw `FluxTransformerError`;
    /// `cancellation` is polled before every block and inside the attentions (`.cancelled` when it asks to stop).
    public func callAsFunction(_ hiddenStates: Tensor, encoderHiddenStates: Tensor, pooledProjections: Tensor,
                               timestep: [Float], guidance: [Float]?, txtIds: Tensor, imgIds: Tensor,
                               cancellation: CancellationCheck = .never) throws(FluxTransformerError) -> Tensor {
        let c = config
        guard hiddenStates.rank == 3, hiddenStates.shape[0] >= 1, hiddenStates.shape[1] >= 1,
              hiddenStates.shape[2] == c.inChannels else {
            throw .shape(argument: "hidden_states", expected: "[B, image tokens, \(c.inChannels)]", got: hiddenStates.shape)
        }
        let b = hiddenStates.shape[0], li = hiddenStates.shape[1]
        guard encoderHiddenStates.rank == 3, encoderHiddenStates.shape[0] == b, encoderHiddenStates.shape[1] >= 1,
              encoderHiddenStates.shape[2] == c.jointAttentionDim else {
            throw .shape(argument: "encoder_hidden_states", expected: "[\(b), text tokens, \(c.jointAttentionDim)]",
                         got: encoderHiddenStates.shape)
        }
        let lt = encoderHiddenStates.shape[1]
        guard pooledProjections.shape == [b, c.pooledProjectionDim] else {
            throw .shape(argument: "pooled_projections", expected: "[\(b), \(c.pooledProjectionDim)]", got: pooledProjections.shape)
        }
        guard timestep.count == b else { throw .shape(argument: "timestep", expected: "[\(b)]", got: [timestep.count]) }
        switch (guidance, c.guidanceEmbeds) {
        case (.some, false): throw .guidanceNotEmbedded
        case (nil, true): throw .guidanceRequired
        case (.some(let g), true) where g.count != b: throw .shape(argument: "guidance", expected: "[\(b)]", got: [g.count])
        default: break
        }
        let axes = c.axesDimsRope.count
        guard txtIds.shape == [lt, axes] else { throw .shape(argument: "txt_ids", expected: "[\(lt), \(axes)]", got: txtIds.shape) }
        guard imgIds.shape == [li, axes] else { throw .shape(argument: "img_ids", expected: "[\(li), \(axes)]", got: imgIds.shape) }

        var x = xEmbedder(hiddenStates)
        let temb = timeTextEmbed(timesteps: timestep.map { $0 * 1000 }, guidance: guidance?.map { $0 * 1000 },
                                 pooled: pooledProjections)
        let activated = NN.silu(temb)
        var context = contextEmbedder(encoderHiddenStates)
        let rotary = FluxPosEmbed(ids: Tensor.concatenate([txtIds, imgIds]), axesDims: c.axesDimsRope)

        func check() throws(FluxTransformerError) {
            if cancellation.isCancelled { throw .cancelled }
        }
        for block in transformerBlocks {
            try check()
            (context, x) = block(x, context: context, activatedEmbedding: activated, rotary: rotary, cancellation: cancellation)
        }
        if !singleTransformerBlocks.isEmpty {
            var joint = FluxTokenOps.concatSequence(context, x)
            for block in singleTransformerBlocks {
                try check()
                joint = block(joint, activatedEmbedding: activated, rotary: rotary, cancellation: cancellation)
            }
            x = FluxTokenOps.splitSequence(joint, at: lt).1
        }
        try check()
        return projOut(normOut(x, activatedConditioning: activated))
    }
}
