import Foundation
import Testing
import Models
import Rewards
import TensorCore
import ToyWorlds

/// The example from the product spec, verbatim.
let specExample = """
{"name": "two-bumps", "dimension": 2, "path": "vp", "steps": 50,
 "mixture": [{"weight": 0.5, "mean": [-2, 0], "std": 0.3}, {"weight": 0.5, "mean": [2, 0], "std": [0.3, 0.5]}],
 "reward": {"kind": "gaussian-bump", "center": [2, 1], "width": 0.5, "scale": 1.0}}
"""

/// The spec example with `edit` applied to its JSON object, re-serialised.
func editedExample(_ edit: (inout [String: Any]) -> Void) -> Data {
    var object = try! JSONSerialization.jsonObject(with: Data(specExample.utf8)) as! [String: Any]
    edit(&object)
    return try! JSONSerialization.data(withJSONObject: object)
}

/// The one-line error description decoding `data` produces, or nil if it decodes.
func decodeError(_ data: Data, source: String? = nil) -> String? {
    do { _ = try ToyScenario.decode(from: data, source: source); return nil } catch { return error.description }
}

func reward(_ object: inout [String: Any], _ key: String, _ value: Any?) {
    var r = object["reward"] as! [String: Any]
    r[key] = value
    object["reward"] = r
}

func component(_ object: inout [String: Any], _ k: Int, _ key: String, _ value: Any?) {
    var list = object["mixture"] as! [[String: Any]]
    list[k][key] = value
    object["mixture"] = list
}

@Suite struct ToyScenarioTests {
    @Test func decodesTheSpecExample() throws {
        let s = try ToyScenario.decode(from: Data(specExample.utf8))
        #expect(s.name == "two-bumps" && s.dimension == 2 && s.path == .vp && s.steps == 50)
        #expect(s.alpha == ToyScenario.defaultAlpha)
        #expect(s.mixture == [.init(weight: 0.5, mean: [-2, 0], std: .isotropic(0.3)),
                              .init(weight: 0.5, mean: [2, 0], std: .diagonal([0.3, 0.5]))])
        #expect(s.reward == .gaussianBump(center: [2, 1], width: 0.5, scale: 1))
        #expect(s.makeReward().name == "gaussian-bump")
        #expect(s.makeMixture().weights == [0.5, 0.5])
        // Scale defaults to 1.
        let noScale = try ToyScenario.decode(from: editedExample { reward(&$0, "scale", nil) })
        #expect(noScale.reward == .gaussianBump(center: [2, 1], width: 0.5, scale: 1))
    }

    @Test(arguments: ToyScenario.builtinNames)
    func builtinsRoundTripThroughJSON(name: String) throws {
        let s = try ToyScenario.builtin(named: name)
        let back = try ToyScenario.decode(from: s.jsonData())
        #expect(back == s)
    }

    @Test func everyRewardKindRoundTrips() throws {
        let kinds: [ToyScenario.RewardSpec] = [.linear(direction: [1, -0.5]), .negativeSquaredDistance(center: [0.25, 1]),
                                               .constant(value: 2), .gaussianBump(center: [0, 0], width: 2, scale: 0.5)]
        for kind in kinds {
            let s = try ToyScenario(name: "k", dimension: 2, path: .flow, steps: 3,
                                    mixture: [.init(weight: 1, mean: [0, 0], std: .isotropic(1))], reward: kind, alpha: 0.7)
            #expect(try ToyScenario.decode(from: s.jsonData()) == s)
            #expect(s.makeReward().name == kind.kind)
        }
    }

    @Test func validationErrorsNameTheFieldAndTheFix() {
        let cases: [(Data, String)] = [
            (editedExample { component(&$0, 1, "mean", [2, 0, 1]) },
             "scenario \"two-bumps\": mixture[1].mean has 3 entries, dimension is 2"),
            (editedExample { $0["path"] = "ode" },
             "scenario \"two-bumps\": path must be \"vp\" or \"flow\", got \"ode\""),
            (editedExample { reward(&$0, "kind", "banana") },
             "scenario \"two-bumps\": reward.kind is \"banana\"; known kinds: \"gaussian-bump\", \"linear\", \"negative-squared-distance\", \"constant\""),
            (editedExample { $0["steps"] = 0 },
             "scenario \"two-bumps\": steps must be ≥ 1, got 0"),
            (editedExample { $0["dimension"] = 0 },
             "scenario \"two-bumps\": dimension must be ≥ 1, got 0"),
            (editedExample { $0["mixture"] = [Any]() },
             "scenario \"two-bumps\": mixture is empty; give at least one component"),
            (editedExample { component(&$0, 0, "weight", -1) },
             "scenario \"two-bumps\": mixture[0].weight must be a finite number > 0, got -1.0"),
            (editedExample { component(&$0, 0, "std", 0) },
             "scenario \"two-bumps\": mixture[0].std must be a finite number > 0, got 0.0"),
            (editedExample { component(&$0, 1, "std", [0.3]) },
             "scenario \"two-bumps\": mixture[1].std has 1 entries, dimension is 2 (or give one number for an isotropic std)"),
            (editedExample { component(&$0, 1, "std", [0.3, -1]) },
             "scenario \"two-bumps\": mixture[1].std[1] must be a finite number > 0, got -1.0"),
            (editedExample { component(&$0, 1, "std", "wide") },
             "scenario \"two-bumps\": mixture[1].std must be a number or an array of numbers"),
            (editedExample { component(&$0, 0, "std", nil) },
             "scenario \"two-bumps\": mixture[0].std is missing"),
            (editedExample { reward(&$0, "width", 0) },
             "scenario \"two-bumps\": reward.width must be a finite number > 0, got 0.0"),
            (editedExample { reward(&$0, "scale", -1) },
             "scenario \"two-bumps\": reward.scale must be a finite number ≥ 0, got -1.0"),
            (editedExample { reward(&$0, "center", [1]) },
             "scenario \"two-bumps\": reward.center has 1 entries, dimension is 2"),
            (editedExample { reward(&$0, "center", nil) },
             "scenario \"two-bumps\": reward.center is missing"),
            (editedExample { reward(&$0, "widht", 1) },
             "scenario \"two-bumps\": reward.widht is not a known field; known: kind, center, width, scale"),
            (editedExample { $0["reward"] = ["kind": "linear", "direction": [1, 2, 3]] },
             "scenario \"two-bumps\": reward.direction has 3 entries, dimension is 2"),
            (editedExample { $0["alpha"] = 0 },
             "scenario \"two-bumps\": alpha must be a finite number > 0, got 0.0"),
            (editedExample { $0["temperature"] = 1 },
             "scenario \"two-bumps\": temperature is not a known field; known: name, dimension, path, steps, alpha, mixture, reward"),
            (editedExample { $0["reward"] = nil },
             "scenario \"two-bumps\": reward is missing"),
            (editedExample { $0["name"] = nil },
             "scenario JSON: name is missing"),
            (editedExample { $0["name"] = "" },
             "scenario \"\": name is empty; give the scenario a name"),
        ]
        for (data, expected) in cases {
            #expect(decodeError(data) == expected)
        }
    }

    @Test func decodingErrorsSayWhere() throws {
        // Wrong type deep inside: the path names the field.
        #expect(decodeError(editedExample { component(&$0, 1, "weight", "heavy") })
                == "scenario \"two-bumps\": mixture[1].weight must be a number, got a string")
        #expect(decodeError(editedExample { component(&$0, 0, "mean", [1, "x"]) })
                == "scenario \"two-bumps\": mixture[0].mean[1] must be a number, got a string")
        #expect(decodeError(editedExample { $0["steps"] = 2.5 }) == "scenario \"two-bumps\": steps must be a whole number, got 2.5")
        #expect(decodeError(editedExample { $0["dimension"] = "two" })
                == "scenario \"two-bumps\": dimension must be a number, got a string")
        #expect(decodeError(editedExample { $0["reward"] = [1] }) == "scenario \"two-bumps\": reward must be an object, got a list")
        #expect(decodeError(Data("[1]".utf8)) == "scenario JSON: must be a JSON object, got a list")
        // Broken JSON syntax: one line naming the source and the byte.
        let broken = decodeError(Data("{\"name\": \"x\", \"dimension\": 2,,}".utf8), source: "scenario file broken.json")
        #expect(broken == "scenario file broken.json: is not valid JSON: expected a string key at byte 29")
    }

    @Test func loadNamesTheFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("toy-scenario-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let bad = dir.appendingPathComponent("foo.json")
        try editedExample { $0["path"] = "ode" }.write(to: bad)
        #expect(throws: ToyScenarioError(source: "scenario file \(bad.path)", field: "path",
                                         problem: "must be \"vp\" or \"flow\", got \"ode\"")) {
            try ToyScenario.load(path: bad.path)
        }
        let good = dir.appendingPathComponent("good.json")
        try Data(specExample.utf8).write(to: good)
        #expect(try ToyScenario.load(path: good.path).name == "two-bumps")
        let missing = dir.appendingPathComponent("nope.json").path
        do { _ = try ToyScenario.load(path: missing); Issue.record("loading a missing file should throw") } catch {
            #expect(error.description.hasPrefix("scenario file \(missing): cannot be read"))
        }
    }

    @Test func builtinLookupAndDenoiserConstruction() throws {
        #expect(throws: ToyScenarioError(source: "scenario \"nope\"", field: "",
                                         problem: "is not a built-in scenario; built-ins: \(ToyScenario.builtinNames.joined(separator: ", "))")) {
            try ToyScenario.builtin(named: "nope")
        }
        let vp = try ToyScenario.builtin(named: "rare-mode-bump")
        #expect(throws: ToyScenarioError.self) { try vp.makeDenoiser(alphasCumprod: nil) }
        let den = try vp.makeDenoiser(alphasCumprod: GaussianMixtureDenoiser.linearBetaAlphasCumprod())
        #expect(den.predict(Tensor(zeros: [3, 2]), timestep: 500).shape == [3, 2])
        let flow = try ToyScenario.builtin(named: "twin-rare-modes-flow")
        #expect(try flow.makeDenoiser(alphasCumprod: nil).path == .flow(trainTimesteps: 1000))
        for name in ToyScenario.builtinNames {
            let s = try ToyScenario.builtin(named: name)
            #expect(s.name == name)
            #expect(s.makeMixture().dimension == s.dimension)
        }
    }

    @Test func exampleFilesInTheRepositoryLoad() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scenarios")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".json") }.sorted()
        #expect(files.count >= 2)
        for file in files {
            let s = try ToyScenario.load(path: dir.appendingPathComponent(file).path)
            #expect(file == "\(s.name).json", "file \(file) holds scenario \(s.name)")
            if ToyScenario.builtinNames.contains(s.name) {
                #expect(s == (try ToyScenario.builtin(named: s.name)), "\(file) differs from the built-in")
            }
        }
    }
}
