import Foundation
import ModelIO
import TensorCore
import Testing
@testable import Benchmarks

/// The `flux-blocks` case of `bench models`, exercised on the tiny guidance-embedding transformer fixture
/// (Tests/ModelsTests/Fixtures/flux, made by tools/fixtures/make_flux_fixtures.py from diffusers) instead of the
/// FLUX.1-width random model the tools script builds.
@Suite struct FluxBenchCaseTests {
    static let fixtures = ModelForwardBenchTests.repository.appendingPathComponent("Tests/ModelsTests/Fixtures/flux").path
    /// The fixture as a bench case: the fixture's inputs file has the input names the tools script writes.
    static let tiny = ModelBenchCase(name: "transformer-guidance", kind: .flux, fixture: true, large: false, target: nil)

    @Test func fluxBlocksIsListedWithItsTarget() throws {
        let c = try #require(ModelBenchCase.all.first { $0.name == "flux-blocks" })
        #expect(c.kind == .flux && c.large && !c.fixture)
        #expect(c.target?.max == 0.9 && c.target?.stretch == nil)
        let at = ModelForwardBench(runs: 1, largeRuns: 1, cacheDir: "/cache", fixtures: Self.fixtures).location(of: c)
        #expect(at.modelDir == "/cache/flux-blocks" && at.inputsFile == "/cache/inputs/flux-blocks.safetensors")
        #expect(at.variant == "bf16")   // the tools script saves the Flux stack in bfloat16
    }

    /// The embedded model's transformer is read where it is committed, without a variant suffix.
    @Test func theEmbeddedFluxModelIsReadFromModels() throws {
        let c = try #require(ModelBenchCase.all.first { $0.name == "shapes-flux-small" })
        #expect(c.kind == .flux && !c.large && c.target?.max == 0.5)
        let at = ModelForwardBench(runs: 1, largeRuns: 1, cacheDir: "/cache", fixtures: Self.fixtures, models: "/repo/models").location(of: c)
        #expect(at.modelDir == "/repo/models/shapes-flux-small/transformer" && at.variant == nil)
        #expect(at.inputsFile == "/cache/inputs/shapes-flux-small.safetensors")
    }

    /// `makeForward` gives diffusers' output stored with the fixture: max |error| / max |reference| ≤ 1e-5, the
    /// bound of the transformer's own parity test.
    @Test func forwardMatchesTheFixtureOutput() throws {
        let io = try SafetensorsFile(url: URL(fileURLWithPath: "\(Self.fixtures)/transformer-guidance.io.safetensors"))
        let forward = try Self.tiny.makeForward(dir: URL(fileURLWithPath: "\(Self.fixtures)/transformer-guidance"), variant: nil, io: io)
        let out = try forward()
        let expected = try io.tensor(named: "output")
        #expect(out.shape == expected.shape)
        let scale = expected.scalars.map(abs).max() ?? 1
        #expect(out.maxAbsDifference(expected) / scale <= 1e-5)
        #expect(Self.tiny.inputDescription(io) == "2×24×16, ctx 5×24")
    }

    /// The harness times the case without the PyTorch side and reports its parity from the stored output.
    @Test func harnessTimesTheFluxCase() throws {
        let harness = ModelForwardBench(runs: 2, largeRuns: 1, cacheDir: "/nonexistent-cache", fixtures: Self.fixtures)
        let row = try #require(try harness.measure(Self.tiny, torch: nil))
        #expect(row.ourTimes.count == 2 && row.ourTimes.allSatisfy { $0 > 0 })
        #expect(row.widenedTimes.isEmpty)   // the f32-weight comparison is for UNets only
        #expect(try #require(row.parity) <= 1e-5)
    }

    @Test func aMissingInputIsNamed() throws {
        let io = try SafetensorsFile(url: URL(fileURLWithPath: "\(Self.fixtures)/packing.io.safetensors"))
        let error = #expect(throws: ModelIOError.self) {
            _ = try Self.tiny.makeForward(dir: URL(fileURLWithPath: "\(Self.fixtures)/transformer-guidance"), variant: nil, io: io)
        }
        #expect("\(error.map { "\($0)" } ?? "")".contains("hidden_states"))
    }
}
