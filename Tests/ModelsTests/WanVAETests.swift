import Foundation
import ModelIO
@testable import Models
import TensorCore
import Testing

/// Fixtures made by tools/fixtures/make_wan_vae_fixtures.py from diffusers 0.42.1.
enum WanVAEFixtures {
    static func url(_ name: String) -> URL {
        Bundle.module.url(forResource: "Fixtures/wan-vae/" + name, withExtension: nil)!
    }

    static func io(_ name: String) throws -> SafetensorsFile {
        try SafetensorsFile(url: url(name + ".io.safetensors"))
    }

    static func relativeError(_ a: Tensor, _ b: Tensor) -> Float {
        guard a.shape == b.shape else { return .infinity }
        return a.maxAbsDifference(b) / max(b.scalars.map { abs($0) }.max() ?? 0, 1e-30)
    }

    static func config(_ json: String) throws -> AutoencoderKLWanConfig {
        try AutoencoderKLWanConfig(ConfigFile(parsing: json, displayName: "vae/config.json"))
    }
}

@Suite struct WanVAETests {
    /// tiny: the pipeline fixture's config, f32 weights. wide: 4 levels of differing widths, z_dim 4, time
    /// downsampling in the first two stages, bf16 weights, batch 2.
    @Test(arguments: ["tiny", "wide"])
    func decodeAndEncodeMatchDiffusers(name: String) throws {
        let vae = try AutoencoderKLWan(directory: WanVAEFixtures.url(name))
        let io = try WanVAEFixtures.io(name)
        let latents = try io.tensor(named: "latents")

        let decoded = try vae.decode(latents)
        let expected = try io.tensor(named: "decoded")
        #expect(decoded.shape == expected.shape)
        let decodeError = WanVAEFixtures.relativeError(decoded, expected)
        #expect(decodeError <= 1e-4, "\(name) decode: relative error \(decodeError)")

        let first = try vae.decode(NN.frames(latents, 0..<1))
        let firstError = WanVAEFixtures.relativeError(first, try io.tensor(named: "decode_first"))
        #expect(firstError <= 1e-4, "\(name) decode of one latent frame: relative error \(firstError)")

        let posterior = try vae.encodePosterior(try io.tensor(named: "video"))
        let meanError = WanVAEFixtures.relativeError(posterior.mean, try io.tensor(named: "mean"))
        let logvarError = WanVAEFixtures.relativeError(posterior.logvar, try io.tensor(named: "logvar"))
        #expect(meanError <= 1e-4, "\(name) encode mean: relative error \(meanError)")
        #expect(logvarError <= 1e-4, "\(name) encode logvar: relative error \(logvarError)")
        #expect(try vae.encode(try io.tensor(named: "video")) == posterior.mean)
        print("wan-vae \(name): decode \(decodeError), first frame \(firstError), mean \(meanError), logvar \(logvarError)")
    }

    @Test func bf16WeightsStayStored() throws {
        let vae = try AutoencoderKLWan(directory: WanVAEFixtures.url("wide"))
        #expect(vae.decoder.convIn.weight.format == .bf16)
        #expect(vae.decoder.upBlocks[1].upsampler?.timeConv?.weight.format == .bf16)
        #expect(vae.encoder.midBlock.attention.toQKV.weight.format == .bf16)
        #expect(vae.config.zDim == 4 && vae.config.latentsStd == [1.5, 0.5, 2.0, 1.0])
    }

    @Test func attentionBlockMatchesDiffusers() throws {
        let io = try WanVAEFixtures.io("attention-block")
        let block = try WanAttentionBlock(WeightStore(io), channels: 8)
        let y = block(try io.tensor(named: "input"))
        let error = WanVAEFixtures.relativeError(y, try io.tensor(named: "output"))
        #expect(error <= 1e-5, "attention block: relative error \(error)")
    }

    /// The VAE of the tiny Wan pipeline fixture loads strictly (every key used) with its published-layout config.
    @Test func pipelineFixtureVAELoads() throws {
        let url = Bundle.module.url(forResource: "Fixtures/wan/pipeline-tiny/vae", withExtension: nil)!
        let vae = try AutoencoderKLWan(directory: url)
        #expect(vae.config.zDim == 16 && vae.config.spatialScaleFactor == 8 && vae.config.temporalScaleFactor == 4)
        #expect(vae.config.latentsMean.count == 16 && vae.config.latentsStd.first == 2.8184)
        let video = try vae.decode(Tensor(zeros: [1, 16, 2, 1, 2]))
        #expect(video.shape == [1, 3, 5, 8, 16])
    }

    @Test func configDecodesWithDiffusersDefaults() throws {
        let c = try WanVAEFixtures.config("{\"_class_name\": \"AutoencoderKLWan\"}")
        #expect(c.baseDim == 96 && c.decoderBaseDim == 96 && c.zDim == 16 && c.dimMult == [1, 2, 4, 4])
        #expect(c.numResBlocks == 2 && c.temperalDownsample == [false, true, true] && c.attnScales.isEmpty)
        #expect(c.spatialScaleFactor == 8 && c.temporalScaleFactor == 4 && c.inChannels == 3 && c.outChannels == 3)
        #expect(c.latentsMean.count == 16 && c.latentsStd.count == 16 && c.latentsMean[0] == -0.7571)
        let d = try WanVAEFixtures.config("{\"decoder_base_dim\": 64, \"patch_size\": null, \"is_residual\": false}")
        #expect(d.decoderBaseDim == 64 && d.baseDim == 96)
    }

    @Test(arguments: [
        ("{\"is_residual\": true}", "is_residual"),
        ("{\"patch_size\": 2}", "patch_size"),
        ("{\"attn_scales\": [0.5]}", "attn_scales"),
        ("{\"temperal_downsample\": [false, true]}", "temperal_downsample"),
        ("{\"temperal_downsample\": [true, true, true]}", "temperal_downsample"),
        ("{\"temperal_downsample\": [0, 1, 1]}", "temperal_downsample"),
        ("{\"latents_mean\": [0.0]}", "latents_mean"),
        ("{\"scale_factor_spatial\": 16}", "scale_factor_spatial"),
        ("{\"dim_mult\": []}", "dim_mult"),
        ("{\"base_dim\": 0}", "base_dim"),
        ("{\"shift_factor\": 1.0}", "shift_factor"),
        ("{\"_class_name\": \"AutoencoderKL\"}", "AutoencoderKLWan"),
    ])
    func configErrorsNameTheKey(json: String, key: String) {
        do {
            _ = try WanVAEFixtures.config(json)
            Issue.record("\(json) was accepted")
        } catch {
            #expect("\(error)".contains(key), "\(json): \(error)")
            #expect("\(error)".contains("vae/config.json"), "\(json): \(error)")
        }
    }

    @Test func badShapesAreErrors() throws {
        let vae = try AutoencoderKLWan(directory: WanVAEFixtures.url("tiny"))
        #expect(throws: WanVAEError.shape(argument: "latents", expected: "[N, 16, F′ ≥ 1, H′, W′]", got: [1, 4, 1, 2, 2])) {
            try vae.decode(Tensor(zeros: [1, 4, 1, 2, 2]))
        }
        #expect(throws: WanVAEError.self) { try vae.decode(Tensor(zeros: [16, 1, 2, 2])) }
        #expect(throws: WanVAEError.frameCount(10)) { try vae.encode(Tensor(zeros: [1, 3, 10, 8, 8])) }
        #expect("\(WanVAEError.frameCount(10))".contains("drop the last 1 frame(s) or pad to 13"))
        #expect(throws: WanVAEError.self) { try vae.encode(Tensor(zeros: [1, 3, 5, 12, 8])) }
        #expect(throws: WanVAEError.self) { try vae.encode(Tensor(zeros: [1, 4, 5, 8, 8])) }
    }

    @Test func cancellationStopsBetweenBlocks() throws {
        let vae = try AutoencoderKLWan(directory: WanVAEFixtures.url("tiny"))
        final class Counter: @unchecked Sendable { var polls = 0 }
        let counter = Counter()
        let afterFive = CancellationCheck { counter.polls += 1; return counter.polls > 5 }
        #expect(throws: WanVAEError.cancelled) { try vae.decode(Tensor(zeros: [1, 16, 3, 2, 2]), cancellation: afterFive) }
        #expect(counter.polls < 10)   // stopped right away: a whole decode polls far more often
        counter.polls = 0
        #expect(throws: WanVAEError.cancelled) { try vae.encode(Tensor(zeros: [1, 3, 9, 16, 16]), cancellation: afterFive) }
    }

    /// The estimate grows with the latent area and is dominated, at full size, by the cache and the last level.
    @Test func decodeWorkingBytesScales() throws {
        let c = try WanVAEFixtures.config("{}")
        let small = c.decodeWorkingBytes(latentHeight: 30, latentWidth: 52)
        let large = c.decodeWorkingBytes(latentHeight: 60, latentWidth: 104)
        print("wan-vae decodeWorkingBytes: 240x416 \(small), 480x832 \(large)")
        #expect(small > 500 << 20 && small < 8 << 30)
        #expect(Double(large) / Double(small) > 3.5 && Double(large) / Double(small) < 4.5)
    }
}
