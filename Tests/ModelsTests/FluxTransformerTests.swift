import Foundation
import ModelIO
@testable import Models
import TensorCore
import Testing

/// Fixtures made by tools/fixtures/make_flux_fixtures.py from diffusers 0.42.1.
enum FluxFixtures {
    static func url(_ name: String) -> URL {
        Bundle.module.url(forResource: "Fixtures/flux/" + name, withExtension: nil)!
    }

    static func io(_ name: String) throws -> SafetensorsFile {
        try SafetensorsFile(url: url(name + ".io.safetensors"))
    }

    /// The forward's inputs of a case, as the fixture stores them.
    struct Inputs {
        var hidden, context, pooled, txtIds, imgIds: Tensor
        var timestep: [Float]
        var guidance: [Float]?
    }

    static func inputs(_ name: String) throws -> Inputs {
        let io = try io("transformer-\(name)")
        return Inputs(hidden: try io.tensor(named: "hidden_states"), context: try io.tensor(named: "encoder_hidden_states"),
                      pooled: try io.tensor(named: "pooled_projections"), txtIds: try io.tensor(named: "txt_ids"),
                      imgIds: try io.tensor(named: "img_ids"), timestep: try io.tensor(named: "timestep").scalars,
                      guidance: io.contains("guidance") ? try io.tensor(named: "guidance").scalars : nil)
    }
}

extension FluxTransformer2DModel {
    func callAsFunction(_ i: FluxFixtures.Inputs) throws -> Tensor {
        try self(i.hidden, encoderHiddenStates: i.context, pooledProjections: i.pooled, timestep: i.timestep,
                 guidance: i.guidance, txtIds: i.txtIds, imgIds: i.imgIds)
    }
}

@Suite struct FluxTransformerTests {
    /// Max |error| / max |reference| ≤ 1e-5 for both cases: the bf16 case needs no looser
    /// bound, since its reference forward ran in float32 on the bf16-rounded weights, i.e. on exactly the values
    /// widened from the stored bf16. What remains is float32 summation order.
    @Test(arguments: ["guidance", "bf16"])
    func transformerMatchesDiffusers(name: String) throws {
        let model = try FluxTransformer2DModel(directory: FluxFixtures.url("transformer-\(name)"))
        let out = try model(try FluxFixtures.inputs(name))
        let expected = try FluxFixtures.io("transformer-\(name)").tensor(named: "output")
        #expect(out.shape == expected.shape)
        let err = SDFixtures.relativeError(out, expected)
        #expect(err <= 1e-5, "transformer-\(name): relative error \(err)")
    }

    @Test func bf16WeightsStayStored() throws {
        let model = try FluxTransformer2DModel(directory: FluxFixtures.url("transformer-bf16"))
        #expect(model.config.patchSize == 2 && model.config.outputFeatures == 32 && !model.config.guidanceEmbeds)
        for linear in [model.xEmbedder, model.singleTransformerBlocks[2].projOut, model.transformerBlocks[1].attn.added!.addQProj] {
            guard case .stored(let w) = linear.weight else { Issue.record("a bf16 weight was widened at load"); continue }
            #expect(w.format == .bf16)
        }
        let f32 = try FluxTransformer2DModel(directory: FluxFixtures.url("transformer-guidance"))
        guard case .transposed = f32.xEmbedder.weight else { Issue.record("an f32 weight was not transposed"); return }
    }

    @Test func guidanceMisuseIsAnError() throws {
        let dev = try FluxTransformer2DModel(directory: FluxFixtures.url("transformer-guidance"))
        var inputs = try FluxFixtures.inputs("guidance")
        inputs.guidance = nil
        #expect(throws: FluxTransformerError.guidanceRequired) { try dev(inputs) }
        inputs.guidance = [3.5]
        #expect(throws: FluxTransformerError.shape(argument: "guidance", expected: "[2]", got: [1])) { try dev(inputs) }

        let schnell = try FluxTransformer2DModel(directory: FluxFixtures.url("transformer-bf16"))
        var plain = try FluxFixtures.inputs("bf16")
        plain.guidance = [3.5, 3.5]
        #expect(throws: FluxTransformerError.guidanceNotEmbedded) { try schnell(plain) }
        #expect("\(FluxTransformerError.guidanceNotEmbedded)".contains("guidance_embeds false"))
    }

    @Test func badInputShapesAreNamed() throws {
        let model = try FluxTransformer2DModel(directory: FluxFixtures.url("transformer-guidance"))
        let good = try FluxFixtures.inputs("guidance")
        var i = good
        i.hidden = Tensor(zeros: [2, 24, 15])
        #expect(throws: FluxTransformerError.shape(argument: "hidden_states", expected: "[B, image tokens, 16]", got: [2, 24, 15])) { try model(i) }
        i = good
        i.context = Tensor(zeros: [1, 5, 24])
        #expect(throws: FluxTransformerError.shape(argument: "encoder_hidden_states", expected: "[2, text tokens, 24]", got: [1, 5, 24])) { try model(i) }
        i = good
        i.pooled = Tensor(zeros: [2, 11])
        #expect(throws: FluxTransformerError.shape(argument: "pooled_projections", expected: "[2, 12]", got: [2, 11])) { try model(i) }
        i = good
        i.timestep = [0.5]
        #expect(throws: FluxTransformerError.shape(argument: "timestep", expected: "[2]", got: [1])) { try model(i) }
        i = good
        i.txtIds = Tensor(zeros: [4, 3])
        #expect(throws: FluxTransformerError.shape(argument: "txt_ids", expected: "[5, 3]", got: [4, 3])) { try model(i) }
        i = good
        i.imgIds = Tensor(zeros: [1, 24, 3])
        #expect(throws: FluxTransformerError.shape(argument: "img_ids", expected: "[24, 3]", got: [1, 24, 3])) { try model(i) }
    }

    /// Each batch row is computed on its own: a batch of one gives the same row as the batch of two.
    @Test func rowsAreIndependent() throws {
        let model = try FluxTransformer2DModel(directory: FluxFixtures.url("transformer-guidance"))
        let both = try FluxFixtures.inputs("guidance")
        let full = try model(both)
        var one = both
        one.hidden = both.hidden.row(1).reshaped([1] + both.hidden.shape.dropFirst())
        one.context = both.context.row(1).reshaped([1] + both.context.shape.dropFirst())
        one.pooled = both.pooled.row(1).reshaped([1, both.pooled.shape[1]])
        one.timestep = [both.timestep[1]]
        one.guidance = [both.guidance![1]]
        let single = try model(one)
        #expect(single.row(0).maxAbsDifference(full.row(1)) <= 1e-5)
    }

    private static let base = #"{"_class_name": "FluxTransformer2DModel", "_diffusers_version": "0.42.1", "attention_head_dim": 16, "num_attention_heads": 2, "axes_dims_rope": [4, 6, 6]"#

    private static func config(_ extra: String) throws -> FluxTransformerConfig {
        try FluxTransformerConfig(ConfigFile(parsing: base + extra + "}", displayName: "transformer/config.json"))
    }

    @Test func configDecodesWithDiffusersDefaults() throws {
        let c = try Self.config("")
        #expect(c.inChannels == 64 && c.outChannels == 64 && c.patchSize == 1 && c.numLayers == 19 && c.numSingleLayers == 38)
        #expect(c.jointAttentionDim == 4096 && c.pooledProjectionDim == 768 && !c.guidanceEmbeds && c.innerDim == 32)
        let dev = try FluxTransformerConfig(ConfigFile(parsing: #"{"guidance_embeds": true, "out_channels": null}"#, displayName: "transformer/config.json"))
        #expect(dev.attentionHeadDim == 128 && dev.numAttentionHeads == 24 && dev.axesDimsRope == [16, 56, 56])
        #expect(dev.guidanceEmbeds && dev.outChannels == 64 && dev.innerDim == 3072)
    }

    @Test func configErrorsNameTheKey() throws {
        #expect(throws: ModelConfigError("transformer/config.json", "unknown option \"use_rope_v2\" (FluxTransformer2DModel takes \(FluxTransformerConfig.keys.joined(separator: ", ")))")) {
            try Self.config(#", "use_rope_v2": true"#)
        }
        #expect(throws: ModelConfigError("transformer/config.json", "axes_dims_rope [4, 6, 8] sums to 18; it must sum to attention_head_dim 16")) {
            try Self.config(#", "axes_dims_rope": [4, 6, 8]"#)
        }
        #expect(throws: ModelConfigError("transformer/config.json", "axes_dims_rope [5, 5, 6] must be positive even sizes (one per position axis)")) {
            try Self.config(#", "axes_dims_rope": [5, 5, 6]"#)
        }
        #expect(throws: ModelConfigError("transformer/config.json", "num_attention_heads is 0; it must be at least 1")) {
            try Self.config(#", "num_attention_heads": 0"#)
        }
        let sd3 = try ConfigFile(parsing: #"{"_class_name": "SD3Transformer2DModel"}"#, displayName: "transformer/config.json")
        #expect(throws: ModelConfigError("transformer/config.json", "_class_name is \"SD3Transformer2DModel\"; expected FluxTransformer2DModel")) {
            try FluxTransformerConfig(sd3)
        }
        #expect(throws: ModelIOError.invalidConfigValue(path: "transformer/config.json", key: "guidance_embeds", reason: "must be true or false, got \"yes\"")) {
            try Self.config(#", "guidance_embeds": "yes""#)
        }
    }

    @Test func missingAndUnusedWeightsAreNamed() throws {
        let dir = FluxFixtures.url("transformer-guidance")
        let config = try FluxTransformerConfig(ConfigFile.load(dir.appendingPathComponent("config.json")))
        let file = try SafetensorsFile(url: dir.appendingPathComponent("diffusion_pytorch_model.safetensors"))
        var tensors = [String: Tensor]()
        for name in file.names { tensors[name] = try file.tensor(named: name) }
        let missing = "transformer_blocks.1.attn.norm_added_k.weight"
        var without = tensors
        without[missing] = nil
        do {
            _ = try FluxTransformer2DModel(config: config, weights: WeightStore(InMemoryWeights(without, displayName: "transformer/diffusion_pytorch_model.safetensors")))
            Issue.record("loading without \(missing) succeeded")
        } catch let ModelIOError.missingWeight(_, key, _) {
            #expect(key == missing)
        }
        // A checkpoint with more blocks than the config (or extra modules) leaves keys unused.
        var extra = tensors
        extra["single_transformer_blocks.2.proj_out.bias"] = Tensor(zeros: [32])
        let store = WeightStore(InMemoryWeights(extra, displayName: "transformer/diffusion_pytorch_model.safetensors"))
        _ = try FluxTransformer2DModel(config: config, weights: store)
        #expect(throws: ModelIOError.unusedWeights(path: "transformer/diffusion_pytorch_model.safetensors",
                                                   keys: ["single_transformer_blocks.2.proj_out.bias"])) { try store.finish() }
        // A weight of the wrong shape names the key and both shapes.
        var wrong = tensors
        wrong["single_transformer_blocks.0.proj_mlp.weight"] = Tensor(zeros: [128, 31])
        #expect(throws: ModelIOError.shapeMismatch(path: "transformer/diffusion_pytorch_model.safetensors",
                                                   key: "single_transformer_blocks.0.proj_mlp.weight", stored: [128, 31], expected: [128, 32])) {
            try FluxTransformer2DModel(config: config, weights: WeightStore(InMemoryWeights(wrong, displayName: "transformer/diffusion_pytorch_model.safetensors")))
        }
    }
}

/// FluxPipeline's `_pack_latents`, `_unpack_latents` and `_prepare_latent_image_ids`.
@Suite struct FluxLatentTests {
    /// (latent shape, image height, image width) of the packing fixture's cases.
    static let cases: [([Int], Int, Int)] = [([2, 4, 8, 12], 64, 96), ([1, 16, 4, 2], 32, 16)]

    @Test func packingMatchesDiffusers() throws {
        let io = try FluxFixtures.io("packing")
        for (i, (shape, height, width)) in Self.cases.enumerated() {
            let latents = try io.tensor(named: "pack-\(i)-latents")
            #expect(latents.shape == shape)
            let packed = try FluxLatents.pack(latents)
            #expect(packed == (try io.tensor(named: "pack-\(i)-packed")), "case \(i): packed tokens")
            let size = try FluxLatents.latentSize(imageHeight: height, imageWidth: width)
            #expect(size.height == shape[2] && size.width == shape[3])
            let unpacked = try FluxLatents.unpack(packed, height: size.height, width: size.width)
            #expect(unpacked == (try io.tensor(named: "pack-\(i)-unpacked")) && unpacked == latents, "case \(i): unpacked")
            let ids = FluxLatents.imageIds(packedHeight: shape[2] / 2, packedWidth: shape[3] / 2)
            #expect(ids == (try io.tensor(named: "pack-\(i)-image_ids")), "case \(i): image ids")
            #expect(try FluxLatents.sequenceLength(imageHeight: height, imageWidth: width) == packed.shape[1])
        }
        #expect(FluxLatents.textIds(count: 4) == Tensor(zeros: [4, 3]))
    }

    @Test func sizesThePackingCannotTakeAreErrors() throws {
        #expect(throws: FluxPackingError.imageSize(dimension: "height", value: 1000, factor: 16)) {
            try FluxLatents.latentSize(imageHeight: 1000, imageWidth: 1024)
        }
        #expect("\(FluxPackingError.imageSize(dimension: "height", value: 1000, factor: 16))"
                == "image height 1000 is not a positive multiple of 16 (the VAE's scale factor × 2 for 2×2 latent packing); use 992 or 1008")
        #expect(throws: FluxPackingError.imageSize(dimension: "width", value: 8, factor: 16)) {
            try FluxLatents.latentSize(imageHeight: 512, imageWidth: 8)
        }
        #expect("\(FluxPackingError.imageSize(dimension: "width", value: 8, factor: 16))".hasSuffix("use 16"))
        #expect(throws: FluxPackingError.latentSize(dimension: "width", value: 5)) {
            try FluxLatents.pack(Tensor(zeros: [1, 4, 6, 5]))
        }
        #expect(throws: FluxPackingError.shape(argument: "latents", expected: "[B, C, H, W]", got: [4, 6, 6])) {
            try FluxLatents.pack(Tensor(zeros: [4, 6, 6]))
        }
        #expect(throws: FluxPackingError.shape(argument: "packed latents", expected: "[B, 6, 4·C] for a 4×6 latent", got: [1, 8, 16])) {
            try FluxLatents.unpack(Tensor(zeros: [1, 8, 16]), height: 4, width: 6)
        }
        #expect(throws: FluxPackingError.latentSize(dimension: "height", value: 3)) {
            try FluxLatents.unpack(Tensor(zeros: [1, 6, 16]), height: 3, width: 6)
        }
    }
}
