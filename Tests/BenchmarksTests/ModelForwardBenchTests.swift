import Foundation
import ModelIO
import Models
import TensorCore
import Testing
@testable import Benchmarks

@Suite struct ModelForwardBenchTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = repository.appendingPathComponent("Tests/ModelsTests/Fixtures/sd").path

    /// Without the PyTorch side, a fixture case times ours only and checks our output against the diffusers output
    /// stored with the fixture.
    @Test func timesAFixtureCaseWithoutPyTorch() throws {
        let harness = ModelForwardBench(runs: 3, largeRuns: 1, cacheDir: "/nonexistent-cache", fixtures: Self.fixtures)
        let c = try #require(ModelBenchCase.all.first { $0.name == "unet-sd1" })
        let row = try #require(try harness.measure(c, torch: nil))
        #expect(row.ourTimes.count == 3)
        #expect(row.ourTimes.allSatisfy { $0 > 0 })
        #expect(row.torchTimes.isEmpty && row.torch == nil)
        #expect(row.widenedTimes.isEmpty)   // f32 fixture: nothing to widen
        let parity = try #require(row.parity)
        #expect(parity < 1e-4)
        #expect(row.input.hasPrefix("2×4×"))
    }

    @Test func aCaseWithNothingCachedIsSkipped() throws {
        let harness = ModelForwardBench(runs: 1, largeRuns: 1, cacheDir: "/nonexistent-cache", fixtures: Self.fixtures)
        let c = try #require(ModelBenchCase.all.first { $0.name == "sd21-unet" })
        #expect(try harness.measure(c, torch: nil) == nil)
    }

    /// The f32 reference of the f16-weight comparison computes what the stored-precision model computes.
    @Test func widenedWeightsGiveTheSameUNet() throws {
        let dir = Self.repository.appendingPathComponent("models/shapes-sd-small/unet")
        let checkpoint = try SafetensorsCheckpoint(directory: dir, baseName: "diffusion_pytorch_model")
        let key = try #require(checkpoint.names.first { $0.hasSuffix("conv_in.weight") })
        #expect(try checkpoint.storedTensor(named: key).format == .f16)
        #expect(try WidenedWeights(checkpoint).storedTensor(named: key).format == .f32)

        let config = try UNet2DConditionConfig(ConfigFile.load(dir.appendingPathComponent("config.json")))
        let stored = try UNet2DConditionModel(config: config, weights: WeightStore(checkpoint))
        let widened = try UNet2DConditionModel(config: config, weights: WeightStore(WidenedWeights(checkpoint)))
        let side = config.sampleSize ?? 8
        let sample = Tensor(shape: [2, config.inChannels, side, side], scalars: (0..<(2 * config.inChannels * side * side)).map { Float(sin(Double($0))) })
        let contextDim = config.crossAttentionDim[0]
        let context = Tensor(shape: [2, 8, contextDim], scalars: (0..<(16 * contextDim)).map { Float(cos(Double($0) * 0.7)) })
        let a = try stored(sample, timesteps: [500, 20], context: context)
        let b = try widened(sample, timesteps: [500, 20], context: context)
        let scale = b.scalars.map(abs).max() ?? 1
        #expect(a.maxAbsDifference(b) / scale < 1e-5)
    }
}
