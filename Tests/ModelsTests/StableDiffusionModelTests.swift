import Foundation
import ModelIO
import Models
import TensorCore
import Testing

/// Fixtures made by tools/fixtures/make_sd_fixtures.py from diffusers / transformers.
enum SDFixtures {
    static func url(_ name: String) -> URL {
        Bundle.module.url(forResource: "Fixtures/sd/" + name, withExtension: nil)!
    }

    /// The inputs and reference outputs of a case.
    static func io(_ name: String) throws -> SafetensorsFile {
        try SafetensorsFile(url: url(name + ".io.safetensors"))
    }

    /// Max |a − b| relative to the reference's max |b|, the error measure of the parity tests.
    static func relativeError(_ a: Tensor, _ b: Tensor) -> Float {
        precondition(a.shape == b.shape, "shapes \(a.shape) and \(b.shape) differ")
        let scale = max(b.scalars.map(abs).max() ?? 0, 1e-12)
        return a.maxAbsDifference(b) / scale
    }
}

@Suite struct StableDiffusionModelTests {
    @Test(arguments: ["sd1", "sd2", "heads"])
    func unetMatchesDiffusers(name: String) throws {
        let unet = try UNet2DConditionModel(directory: SDFixtures.url("unet-\(name)"))
        let io = try SDFixtures.io("unet-\(name)")
        let out = try unet(try io.tensor(named: "sample"), timesteps: try io.tensor(named: "timestep").scalars,
                       context: try io.tensor(named: "encoder_hidden_states"))
        let err = SDFixtures.relativeError(out, try io.tensor(named: "output"))
        #expect(err < 1e-4, "unet-\(name): relative error \(err)")
    }

    @Test(arguments: ["small", "three"])
    func vaeMatchesDiffusers(name: String) throws {
        let vae = try AutoencoderKL(directory: SDFixtures.url("vae-\(name)"))
        let io = try SDFixtures.io("vae-\(name)")
        let (mean, std) = vae.encode(try io.tensor(named: "image"))
        #expect(SDFixtures.relativeError(mean, try io.tensor(named: "latent_mean")) < 1e-4)
        #expect(SDFixtures.relativeError(std, try io.tensor(named: "latent_std")) < 1e-4)
        let decoded = vae.decode(try io.tensor(named: "latents"))
        let err = SDFixtures.relativeError(decoded, try io.tensor(named: "decoded"))
        #expect(err < 1e-4, "vae-\(name) decode: relative error \(err)")
    }

    @Test(arguments: ["quickgelu", "gelu"])
    func clipTextMatchesTransformers(name: String) throws {
        let model = try CLIPTextModel(directory: SDFixtures.url("text-\(name)"))
        let io = try SDFixtures.io("text-\(name)")
        let idsTensor = try io.tensor(named: "input_ids")
        let ids = (0..<idsTensor.shape[0]).map { idsTensor.row($0).scalars.map { Int($0) } }
        let (hidden, pooled) = try model(ids)
        #expect(SDFixtures.relativeError(hidden, try io.tensor(named: "last_hidden_state")) < 1e-4)
        #expect(SDFixtures.relativeError(pooled, try io.tensor(named: "pooler_output")) < 1e-4)
    }

    @Test func configErrorsNameTheKey() throws {
        let bad = try ConfigFile(parsing: #"{"down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"], "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"], "block_out_channels": [32, 64, 64]}"#,
                                 displayName: "unet/config.json")
        #expect(throws: ModelConfigError("unet/config.json", "block_out_channels has 3 entries, down_block_types has 2")) {
            try UNet2DConditionConfig(bad)
        }
        // A missing key takes diffusers' default (as diffusers does), and the error says so.
        let noDown = try ConfigFile(parsing: #"{"up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"], "block_out_channels": [32, 64]}"#,
                                    displayName: "unet/config.json")
        #expect(throws: ModelConfigError("unet/config.json", #"block_out_channels has 2 entries, down_block_types has 4 (down_block_types is not in the file, so the default ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"] is used)"#)) {
            try UNet2DConditionConfig(noDown)
        }
        let noUp = try ConfigFile(parsing: #"{"down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"], "block_out_channels": [32, 64]}"#,
                                  displayName: "unet/config.json")
        #expect(throws: ModelConfigError("unet/config.json", #"up_block_types has 4 entries, down_block_types has 2 (up_block_types is not in the file, so the default ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"] is used)"#)) {
            try UNet2DConditionConfig(noUp)
        }
        let vaeNoDown = try ConfigFile(parsing: #"{"block_out_channels": [8, 16], "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D"]}"#,
                                       displayName: "vae/config.json")
        #expect(throws: ModelConfigError("vae/config.json", #"down_block_types must be 2 × DownEncoderBlock2D (one per block_out_channels entry), got ["DownEncoderBlock2D"] (down_block_types is not in the file, so the default ["DownEncoderBlock2D"] is used)"#)) {
            try AutoencoderKLConfig(vaeNoDown)
        }
        let heads = try ConfigFile(parsing: #"{"down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"], "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"], "block_out_channels": [32, 64], "attention_head_dim": [2, 4, 8], "norm_num_groups": 8}"#,
                                   displayName: "unet/config.json")
        #expect(throws: ModelIOError.invalidConfigValue(path: "unet/config.json", key: "attention_head_dim", reason: "must be an integer or a list of 2 integers (one per block), got [2, 4, 8]")) {
            try UNet2DConditionConfig(heads)
        }
        let addition = try ConfigFile(parsing: #"{"addition_embed_type": "text_time"}"#, displayName: "unet/config.json")
        #expect(throws: ModelConfigError.self) { try UNet2DConditionConfig(addition) }
    }

    @Test func missingWeightIsNamed() throws {
        let config = try UNet2DConditionConfig(ConfigFile.load(SDFixtures.url("unet-sd1/config.json")))
        let empty = WeightStore(InMemoryWeights([:], displayName: "unet/diffusion_pytorch_model.safetensors"))
        do {
            _ = try UNet2DConditionModel(config: config, weights: empty)
            Issue.record("loading from an empty store succeeded")
        } catch {
            #expect("\(error)".contains("time_embedding.linear_1.weight"), "\(error)")
        }
    }
}
