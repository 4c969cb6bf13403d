import Foundation
import ModelIO
import TensorCore
import Testing
@testable import Benchmarks

/// The `wan-blocks` case of `bench models`, exercised on the tiny Wan transformer fixture
/// (Tests/ModelsTests/Fixtures/wan-transformer, made by tools/fixtures/make_wan_transformer_fixtures.py from
/// diffusers) instead of the 1.3B-width random model the tools script builds.
@Suite struct WanBenchCaseTests {
    static let fixtures = ModelForwardBenchTests.repository.appendingPathComponent("Tests/ModelsTests/Fixtures/wan-transformer").path
    /// The fixture as a bench case: its inputs file has the input names the tools script writes.
    static let tiny = ModelBenchCase(name: "tiny", kind: .wan, fixture: true, large: false, target: nil)

    @Test func wanBlocksIsListedWithItsTarget() throws {
        let c = try #require(ModelBenchCase.all.first { $0.name == "wan-blocks" })
        #expect(c.kind == .wan && c.large && !c.fixture)
        #expect(c.target?.max == 0.9 && c.target?.stretch == nil)
        let at = ModelForwardBench(runs: 1, largeRuns: 1, cacheDir: "/cache", fixtures: Self.fixtures).location(of: c)
        #expect(at.modelDir == "/cache/wan-blocks" && at.inputsFile == "/cache/inputs/wan-blocks.safetensors")
        #expect(at.variant == "bf16")   // the tools script saves the Wan blocks in bfloat16
    }

    /// `makeForward` gives diffusers' output stored with the fixture: max |error| / max |reference| ≤ 1e-5, the
    /// bound of the transformer's own parity test.
    @Test func forwardMatchesTheFixtureOutput() throws {
        let io = try SafetensorsFile(url: URL(fileURLWithPath: "\(Self.fixtures)/tiny.io.safetensors"))
        let forward = try Self.tiny.makeForward(dir: URL(fileURLWithPath: "\(Self.fixtures)/tiny"), variant: nil, io: io)
        let out = try forward()
        let expected = try io.tensor(named: "output")
        #expect(out.shape == expected.shape)
        let scale = expected.scalars.map(abs).max() ?? 1
        #expect(out.maxAbsDifference(expected) / scale <= 1e-5)
        #expect(Self.tiny.inputDescription(io) == "1×4×3×4×6, ctx 7×16")
    }

    /// The harness times the case without the PyTorch side and reports its parity from the stored output.
    @Test func harnessTimesTheWanCase() throws {
        let harness = ModelForwardBench(runs: 2, largeRuns: 1, cacheDir: "/nonexistent-cache", fixtures: Self.fixtures)
        let row = try #require(try harness.measure(Self.tiny, torch: nil))
        #expect(row.ourTimes.count == 2 && row.ourTimes.allSatisfy { $0 > 0 })
        #expect(row.widenedTimes.isEmpty)
        #expect((row.ourPeakKB ?? 0) > 0 && row.torchPeakKB == nil)   // our peak RSS, none from an absent PyTorch side
        #expect(try #require(row.parity) <= 1e-5)
    }

    @Test func aMissingInputIsNamed() throws {
        let other = ModelForwardBenchTests.repository.appendingPathComponent("Tests/ModelsTests/Fixtures/flux/packing.io.safetensors")
        let io = try SafetensorsFile(url: other)
        let error = #expect(throws: ModelIOError.self) {
            _ = try Self.tiny.makeForward(dir: URL(fileURLWithPath: "\(Self.fixtures)/tiny"), variant: nil, io: io)
        }
        #expect("\(error.map { "\($0)" } ?? "")".contains("hidden_states"))
    }
}
