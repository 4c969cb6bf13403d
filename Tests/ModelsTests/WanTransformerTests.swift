import Foundation
import ModelIO
@testable import Models
import TensorCore
import Testing

/// Fixtures made by tools/fixtures/make_wan_transformer_fixtures.py from diffusers 0.42.1.
enum WanTransformerFixtures {
    static func url(_ name: String) -> URL {
        Bundle.module.url(forResource: "Fixtures/wan-transformer/" + name, withExtension: nil)!
    }

    static func io(_ name: String) throws -> SafetensorsFile {
        try SafetensorsFile(url: url(name + ".io.safetensors"))
    }

    /// The committed WanPipeline fixture's transformer (bf16, sharded).
    static var pipelineTransformer: URL {
        Bundle.module.url(forResource: "Fixtures/wan/pipeline-tiny/transformer", withExtension: nil)!
    }

    struct Inputs {
        var hidden: Tensor, context: Tensor
        var timestep: [Float]
    }

    static func inputs(_ name: String) throws -> Inputs {
        let io = try io(name)
        return Inputs(hidden: try io.tensor(named: "hidden_states"), context: try io.tensor(named: "encoder_hidden_states"),
                      timestep: try io.tensor(named: "timestep").scalars)
    }

    /// The model of an io file (`tiny-padded` runs the `tiny` model).
    static func model(_ name: String) throws -> WanTransformer3DModel {
        if name == "tiny-padded" { return try model("tiny") }
        return name == "pipeline-tiny" ? try WanTransformer3DModel(directory: pipelineTransformer)
            : try WanTransformer3DModel(directory: url(name), variant: name == "bf16" ? "bf16" : nil)
    }
}

extension WanTransformer3DModel {
    func callAsFunction(_ i: WanTransformerFixtures.Inputs, cancellation: CancellationCheck = .never) throws(WanTransformerError) -> Tensor {
        try self(hiddenStates: i.hidden, timestep: i.timestep, encoderHiddenStates: i.context, cancellation: cancellation)
    }
}

@Suite struct WanTransformerTests {
    /// Max |error| / max |reference| ≤ 1e-5 for every case: the bf16 references ran in float32 on the
    /// bf16-rounded weights, i.e. on exactly the values widened from the stored bf16, so what remains is float32
    /// summation order. Every case has zero-padded text rows; `tiny-padded` (48 tokens, 6 and 20 of them the
    /// prompt) has runs long enough to be collapsed (`WanTextKeys`), the shorter row with filler keys.
    @Test(arguments: ["tiny", "tiny-padded", "bf16", "pipeline-tiny"])
    func transformerMatchesDiffusers(name: String) throws {
        let model = try WanTransformerFixtures.model(name)
        let out = try model(try WanTransformerFixtures.inputs(name))
        let expected = try WanTransformerFixtures.io(name).tensor(named: "output")
        #expect(out.shape == expected.shape)
        let err = SDFixtures.relativeError(out, expected)
        #expect(err <= 1e-5, "\(name): relative error \(err)")
    }

    /// A long run of identical trailing rows becomes one key with log(run) on its score; filler keys of rows that
    /// kept fewer are −∞; short runs (< max(2, L/8)), rows without a run and batches that would keep more than
    /// L − L/8 rows are left alone.
    @Test func paddingIsCollapsedToOneWeightedKey() throws {
        // [2, 16, 2]: row 0 = 3 prompt rows + 13 zero rows; row 1 = 10 distinct rows + 6 zero rows.
        var s = [Float](repeating: 0, count: 2 * 16 * 2)
        for j in 0..<3 { s[j * 2] = Float(j + 1); s[j * 2 + 1] = -1 }
        for j in 0..<10 { s[(16 + j) * 2] = Float(j + 1) }
        let keys = WanTextKeys.collapse(Tensor(shape: [2, 16, 2], scalars: s), queries: 3)
        #expect(keys.states.shape == [2, 11, 2])   // row 1 keeps 11 rows, row 0 4 and 7 fillers
        #expect(Array(keys.states.scalars[0..<8]) == Array(s[0..<8]) && Array(keys.states.scalars[22..<44]) == Array(s[32..<54]))
        let mask = try #require(keys.mask)
        #expect(mask.shape == [2, 3, 11])
        let row0 = Array(mask.scalars[0..<11]), row1 = Array(mask.scalars[33..<44])
        #expect(row0[0..<3] == [0, 0, 0] && abs(row0[3] - Float(Foundation.log(13.0))) < 1e-6)
        #expect(row0[4...].allSatisfy { $0 == -.infinity })
        #expect(row1[0..<10].allSatisfy { $0 == 0 } && abs(row1[10] - Float(Foundation.log(6.0))) < 1e-6)
        #expect(Array(mask.scalars[11..<22]) == row0)   // the same for every query
        // A row of 15 distinct rows + 1 zero row next to row 0: the batch would keep all 16 rows.
        var full = s
        for j in 10..<15 { full[(16 + j) * 2] = Float(j + 1) }
        #expect(WanTextKeys.collapse(Tensor(shape: [2, 16, 2], scalars: full), queries: 3).mask == nil)

        let long = Tensor(shape: [1, 16, 2], scalars: Array(s[0..<32]))
        let one = WanTextKeys.collapse(long, queries: 2)
        #expect(one.states.shape == [1, 4, 2] && one.states.scalars == Array(s[0..<8]))
        let distinct = Tensor(shape: [1, 16, 2], scalars: (0..<32).map(Float.init))
        #expect(WanTextKeys.collapse(distinct, queries: 2).mask == nil)
        #expect(WanTextKeys.collapse(Tensor(shape: [1, 16, 2], scalars: Array(full[32..<64])), queries: 2).mask == nil)
    }

    @Test func configsAreReadAsStored() throws {
        let bf16 = try WanTransformerFixtures.model("bf16").config
        #expect(bf16.patchSize == [2, 2, 2] && bf16.heads == 3 && bf16.headDim == 16 && bf16.innerDim == 48)
        #expect(bf16.inChannels == 8 && bf16.outChannels == 6 && bf16.textDim == 20 && bf16.freqDim == 24 && bf16.ffnDim == 40)
        #expect(bf16.numLayers == 3 && !bf16.crossAttnNorm && bf16.eps == 1e-5 && bf16.ropeMaxSeqLen == 16 && bf16.imageDim == nil)
        #expect(bf16.ropeAxesDims == [8, 4, 4] && bf16.patchFeatures == 64 && bf16.outputFeatures == 48)
        let pipe = try WanTransformerFixtures.model("pipeline-tiny").config
        #expect(pipe.patchSize == [1, 2, 2] && pipe.heads == 2 && pipe.headDim == 12 && pipe.crossAttnNorm && pipe.ropeAxesDims == [4, 4, 4])
    }

    @Test func bf16WeightsStayStored() throws {
        for name in ["bf16", "pipeline-tiny"] {
            let model = try WanTransformerFixtures.model(name)
            #expect(model.patchWeight.format == .bf16)
            for linear in [model.projOut, model.blocks[1].attn1.toQ, model.blocks[0].attn2.toV, model.blocks[1].ffn.proj, model.timeProj] {
                guard case .stored(let w) = linear.weight else { Issue.record("\(name): a bf16 weight was widened at load"); continue }
                #expect(w.format == .bf16)
            }
        }
        let f32 = try WanTransformerFixtures.model("tiny")
        guard case .transposed = f32.projOut.weight else { Issue.record("an f32 weight was not transposed"); return }
    }

    /// Each batch row is computed on its own: a batch of one gives the same row as the batch of two.
    @Test func rowsAreIndependent() throws {
        let model = try WanTransformerFixtures.model("bf16")
        let both = try WanTransformerFixtures.inputs("bf16")
        let full = try model(both)
        var one = both
        one.hidden = both.hidden.row(1).reshaped([1] + both.hidden.shape.dropFirst())
        one.context = both.context.row(1).reshaped([1] + both.context.shape.dropFirst())
        one.timestep = [both.timestep[1]]
        let single = try model(one)
        #expect(single.row(0).maxAbsDifference(full.row(1)) <= 1e-5)
    }

    @Test func badInputsAreNamed() throws {
        let model = try WanTransformerFixtures.model("bf16")   // patch (2, 2, 2), 8 channels, text_dim 20, rope 16
        let good = try WanTransformerFixtures.inputs("bf16")   // [2, 8, 4, 6, 4], text [2, 9, 20]
        var i = good
        i.hidden = Tensor(zeros: [2, 8, 4, 6])
        #expect(throws: WanTransformerError.shape(argument: "hidden_states", expected: "[B, 8, frames, height, width]", got: [2, 8, 4, 6])) { try model(i) }
        i.hidden = Tensor(zeros: [2, 7, 4, 6, 4])
        #expect(throws: WanTransformerError.shape(argument: "hidden_states", expected: "[B, 8, frames, height, width]", got: [2, 7, 4, 6, 4])) { try model(i) }
        i.hidden = Tensor(zeros: [2, 8, 3, 6, 4])
        #expect(throws: WanTransformerError.notDivisible(axis: "frames", size: 3, patch: 2)) { try model(i) }
        i.hidden = Tensor(zeros: [2, 8, 4, 6, 5])
        #expect(throws: WanTransformerError.notDivisible(axis: "width", size: 5, patch: 2)) { try model(i) }
        #expect("\(WanTransformerError.notDivisible(axis: "width", size: 5, patch: 2))" == "latent width 5 is not a positive multiple of the patch size 2; use 4 or 6")
        i.hidden = Tensor(zeros: [2, 8, 4, 34, 4])
        #expect(throws: WanTransformerError.tooManyPositions(axis: "height", count: 17, max: 16)) { try model(i) }
        i = good
        i.timestep = [500]
        #expect(throws: WanTransformerError.shape(argument: "timestep", expected: "[2]", got: [1])) { try model(i) }
        i = good
        i.context = Tensor(zeros: [1, 9, 20])
        #expect(throws: WanTransformerError.shape(argument: "encoder_hidden_states", expected: "[2, text tokens, 20]", got: [1, 9, 20])) { try model(i) }
        i.context = Tensor(zeros: [2, 9, 32])
        #expect(throws: WanTransformerError.shape(argument: "encoder_hidden_states", expected: "[2, text tokens, 20]", got: [2, 9, 32])) { try model(i) }
    }

    @Test func stopsAtEveryPoll() throws {
        let model = try WanTransformerFixtures.model("tiny")
        let i = try WanTransformerFixtures.inputs("tiny")
        let full = PollCounter(stopAfter: .max)
        #expect(try model(i, cancellation: full.check).maxAbsDifference(try model(i)) == 0)
        #expect(full.count > model.config.numLayers)
        for k in 0..<full.count {
            let stop = PollCounter(stopAfter: k)
            #expect(throws: WanTransformerError.cancelled, "stop after \(k) polls") { try model(i, cancellation: stop.check) }
        }
    }

    /// Wan2.1-T2V-1.3B-Diffusers' transformer/config.json.
    static let published = #"{"_class_name": "WanTransformer3DModel", "_diffusers_version": "0.33.0.dev0", "added_kv_proj_dim": null, "attention_head_dim": 128, "cross_attn_norm": true, "eps": 1e-06, "ffn_dim": 8960, "freq_dim": 256, "image_dim": null, "in_channels": 16, "num_attention_heads": 12, "num_layers": 30, "out_channels": 16, "patch_size": [1, 2, 2], "qk_norm": "rms_norm_across_heads", "rope_max_seq_len": 1024, "text_dim": 4096"#

    private static func config(_ extra: String, base: String = published) throws -> WanTransformerConfig {
        try WanTransformerConfig(ConfigFile(parsing: base + extra + "}", displayName: "transformer/config.json"))
    }

    @Test func configDecodesThePublishedAndDefaults() throws {
        let c = try Self.config("")
        #expect(c.heads == 12 && c.headDim == 128 && c.innerDim == 1536 && c.ffnDim == 8960 && c.numLayers == 30)
        #expect(c.ropeAxesDims == [44, 42, 42] && c.patchFeatures == 64 && c.outputFeatures == 64 && c.eps == 1e-6)
        let defaults = try Self.config("", base: "{")   // diffusers' defaults: the 14B's sizes
        #expect(defaults.heads == 40 && defaults.headDim == 128 && defaults.ffnDim == 13824 && defaults.numLayers == 40)
        #expect(defaults.inChannels == 16 && defaults.outChannels == 16 && defaults.textDim == 4096 && defaults.freqDim == 256)
        #expect(defaults.patchSize == [1, 2, 2] && defaults.crossAttnNorm && defaults.qkNorm == "rms_norm_across_heads")
        #expect(defaults.ropeMaxSeqLen == 1024 && defaults.imageDim == nil)
        // `out_channels or in_channels`
        #expect(try Self.config(#""in_channels": 36, "out_channels": null"#, base: "{").outChannels == 36)
    }

    @Test func configErrorsNameTheKey() throws {
        func expectError(_ extra: String, _ message: String) {
            #expect(throws: ModelConfigError("transformer/config.json", message), "\(extra)") { try Self.config(extra) }
        }
        expectError(#", "window_size": [-1, -1]"#,
                    "unknown option \"window_size\" (WanTransformer3DModel takes \(WanTransformerConfig.keys.joined(separator: ", ")))")
        expectError(#", "image_dim": 1280"#,
                    "image_dim is 1280: image-to-video (Wan 2.1 I2V) is not supported; use a text-to-video checkpoint (image_dim null)")
        expectError(#", "added_kv_proj_dim": 5120"#, "added_kv_proj_dim is 5120: image-to-video (Wan 2.1 I2V) is not supported; it must be null")
        expectError(#", "pos_embed_seq_len": 514"#, "pos_embed_seq_len is 514: image-to-video (Wan 2.1 I2V) is not supported; it must be null")
        expectError(#", "qk_norm": "layer_norm""#, "qk_norm is \"layer_norm\"; only \"rms_norm_across_heads\" is supported (Wan 2.1's)")
        expectError(#", "qk_norm": null"#, "qk_norm is null; only \"rms_norm_across_heads\" is supported (Wan 2.1's)")
        expectError(#", "patch_size": [2, 2]"#, "patch_size [2, 2] must be three positive sizes (frames, height, width)")
        expectError(#", "num_attention_heads": 0"#, "num_attention_heads is 0; it must be at least 1")
        expectError(#", "attention_head_dim": 13"#, "attention_head_dim is 13; rotary embeddings need an even head size")
        let flux = try ConfigFile(parsing: #"{"_class_name": "FluxTransformer2DModel"}"#, displayName: "transformer/config.json")
        #expect(throws: ModelConfigError("transformer/config.json", "_class_name is \"FluxTransformer2DModel\"; expected WanTransformer3DModel")) {
            try WanTransformerConfig(flux)
        }
        #expect(throws: ModelIOError.invalidConfigValue(path: "transformer/config.json", key: "cross_attn_norm", reason: "must be true or false, got \"yes\"")) {
            try Self.config(#", "cross_attn_norm": "yes""#)
        }
    }

    @Test func missingAndUnusedWeightsAreNamed() throws {
        let dir = WanTransformerFixtures.url("tiny")
        let config = try WanTransformerConfig(ConfigFile.load(dir.appendingPathComponent("config.json")))
        let file = try SafetensorsFile(url: dir.appendingPathComponent("diffusion_pytorch_model.safetensors"))
        var tensors = [String: Tensor]()
        for name in file.names { tensors[name] = try file.tensor(named: name) }
        let name = "transformer/diffusion_pytorch_model.safetensors"
        let missing = "blocks.1.attn2.norm_k.weight"
        var without = tensors
        without[missing] = nil
        do {
            _ = try WanTransformer3DModel(config: config, weights: WeightStore(InMemoryWeights(without, displayName: name)))
            Issue.record("loading without \(missing) succeeded")
        } catch let ModelIOError.missingWeight(_, key, _) {
            #expect(key == missing)
        }
        var extra = tensors
        extra["blocks.2.scale_shift_table"] = Tensor(zeros: [1, 6, 24])
        let store = WeightStore(InMemoryWeights(extra, displayName: name))
        _ = try WanTransformer3DModel(config: config, weights: store)
        #expect(throws: ModelIOError.unusedWeights(path: name, keys: ["blocks.2.scale_shift_table"])) { try store.finish() }
        var wrong = tensors
        wrong["patch_embedding.weight"] = Tensor(zeros: [24, 4, 2, 2, 2])
        #expect(throws: ModelIOError.shapeMismatch(path: name, key: "patch_embedding.weight", stored: [24, 4, 2, 2, 2], expected: [24, 4, 1, 2, 2])) {
            try WanTransformer3DModel(config: config, weights: WeightStore(InMemoryWeights(wrong, displayName: name)))
        }
    }
}
