import Foundation
import FuzzSupport
import Testing
import ToyWorlds

/// Toy scenario JSON under seeded mutations of the built-in scenarios and the committed scenario files.
@Suite struct ToyScenarioFuzzTests {
    static func corpus() throws -> [[UInt8]] {
        var files = try ToyScenario.builtinNames.map { [UInt8](try ToyScenario.builtin(named: $0).jsonData()) }
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../scenarios")
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir.path))?.sorted() ?? [] where name.hasSuffix(".json") {
            files.append([UInt8](try Data(contentsOf: dir.appendingPathComponent(name))))
        }
        return files
    }

    static let tokens: [[UInt8]] = ["\"vp\"", "\"flow\"", "\"gaussian-bump\"", "\"constant\"", "\"std\"", "\"mean\"",
                                    "\"weight\"", "\"dimension\"", "1e308", "-1e308", "0.0"]
        .map { Array($0.utf8) } + ByteMutator.jsonTokens

    /// 3000 mutated scenarios: each decodes to a scenario that passes `validate()` and builds its mixture,
    /// reward and target (mode weights sum to 1), or gives a ToyScenarioError naming the source.
    @Test func mutatedScenariosDecodeOrGiveTypedErrors() throws {
        let corpus = try Self.corpus()
        #expect(corpus.count >= 5)
        var mutator = ByteMutator(seed: 3, corpus: corpus, dictionary: Self.tokens, maxMutations: 2)
        var decoded = 0, refused = 0
        for c in mutator.cases(3000) {
            do throws(ToyScenarioError) {
                let s = try ToyScenario.decode(from: Data(c.bytes), source: "fuzz")
                decoded += 1
                try s.validate()
                let weights = s.targetModeWeights()
                let total = weights.reduce(0, +)
                #expect(weights.count == s.mixture.count, "\(c.description)")
                // A tilt can underflow every component's mass (a huge reward scale); then the weights are NaN.
                #expect(abs(total - 1) < 1e-9 || total.isNaN, "\(c.description): weights \(weights)")
            } catch {
                refused += 1
                #expect(error.source == "fuzz", "\(c.description): \(error)")
            }
        }
        #expect(decoded > 30 && refused > 1000, "decoded \(decoded), refused \(refused)")
    }
}
