import Foundation
import ModelIO
import Models
import Rewards
import TensorCore

/// A scenario that could not be loaded or is invalid. The description is one line:
/// `<source>: <field> <problem>`, e.g. `scenario "x": mixture[1].mean has 3 entries, dimension is 2` or
/// `scenario file foo.json: path must be "vp" or "flow", got "ode"`.
public struct ToyScenarioError: Error, Equatable, CustomStringConvertible, Sendable {
    /// Where the scenario came from: `scenario "<name>"`, `scenario file <path>` or `scenario JSON`.
    public var source: String
    /// The offending field as a JSON path (`mixture[1].std`, `reward.kind`), or "" for the whole document.
    public var field: String
    /// What is wrong and, where possible, what to write instead.
    public var problem: String

    public init(source: String, field: String, problem: String) {
        self.source = source
        self.field = field
        self.problem = problem
    }

    public var description: String { field.isEmpty ? "\(source): \(problem)" : "\(source): \(field) \(problem)" }
}

/// An analytic toy world: a Gaussian-mixture "data distribution" in dimension d, the path it is sampled on
/// (VP diffusion or rectified flow, with the exact denoiser), a step count, a `ToyReward` and the target
/// temperature α of the tilted target p*(x) ∝ p(x)·exp(r(x)/α).
///
/// JSON form (what `load(path:)` reads and `Encodable` writes):
///
///     {"name": "…", "dimension": 2, "path": "vp", "steps": 50, "alpha": 0.1,
///      "mixture": [{"weight": 0.5, "mean": [-2, 0], "std": 0.3}, {"weight": 0.5, "mean": [2, 0], "std": [0.3, 0.5]}],
///      "reward": {"kind": "gaussian-bump", "center": [2, 1], "width": 0.5, "scale": 1.0}}
///
/// - `path`: "vp" or "flow". `steps` ≥ 1 is the number of sampler steps the world is meant to be run with.
/// - `std`: one number (isotropic) or one per axis. Weights > 0 are normalised by `makeMixture()`.
/// - `reward.kind`: "gaussian-bump" {center, width, scale (default 1, must be ≥ 0)}, "linear" {direction},
///   "negative-squared-distance" {center}, "constant" {value}.
/// - `alpha` (optional, default 0.1 = `defaultAlpha`): only used to define the tilted target for mode-coverage
///   measures and plots; it does not change sampling or the reward. 0.1 suits rewards of order 1 (a bump of
///   height 1 then multiplies the target density by up to e¹⁰).
/// Unknown fields are rejected (they are usually typos). Every error is a `ToyScenarioError`.
public struct ToyScenario: Sendable, Equatable {
    /// The noising path of the world.
    public enum Path: String, Sendable, Equatable, CaseIterable {
        case vp, flow
    }

    /// One mixture component as written in the scenario (weights not yet normalised).
    public struct Component: Sendable, Equatable {
        public var weight: Double
        public var mean: [Double]
        public var std: GaussianMixture.Std

        public init(weight: Double, mean: [Double], std: GaussianMixture.Std) {
            self.weight = weight
            self.mean = mean
            self.std = std
        }
    }

    /// The reward as written in the scenario.
    public enum RewardSpec: Sendable, Equatable {
        case gaussianBump(center: [Double], width: Double, scale: Double)
        case linear(direction: [Double])
        case negativeSquaredDistance(center: [Double])
        case constant(value: Double)

        /// The JSON `kind` strings, in this order.
        public static let knownKinds = ["gaussian-bump", "linear", "negative-squared-distance", "constant"]

        public var kind: String {
            switch self {
            case .gaussianBump: return "gaussian-bump"
            case .linear: return "linear"
            case .negativeSquaredDistance: return "negative-squared-distance"
            case .constant: return "constant"
            }
        }
    }

    /// The target temperature used when a scenario does not give `alpha`.
    public static let defaultAlpha = 0.1

    public var name: String
    public var dimension: Int
    public var path: Path
    public var steps: Int
    public var mixture: [Component]
    public var reward: RewardSpec
    public var alpha: Double

    /// A validated scenario; throws the first problem found (see `validate()`).
    public init(name: String, dimension: Int, path: Path, steps: Int, mixture: [Component], reward: RewardSpec,
                alpha: Double = ToyScenario.defaultAlpha) throws(ToyScenarioError) {
        self.name = name
        self.dimension = dimension
        self.path = path
        self.steps = steps
        self.mixture = mixture
        self.reward = reward
        self.alpha = alpha
        try validate()
    }

    /// Checks every field: name non-empty; dimension ≥ 1; steps ≥ 1; at least one component, each with a
    /// finite weight > 0, a finite mean of `dimension` entries and finite std(s) > 0 (one, or `dimension`);
    /// reward vectors of `dimension` finite entries, bump width > 0 and scale ≥ 0, constant finite;
    /// alpha finite and > 0.
    public func validate() throws(ToyScenarioError) {
        let source = "scenario \"\(name)\""
        func fail(_ field: String, _ problem: String) -> ToyScenarioError {
            ToyScenarioError(source: source, field: field, problem: problem)
        }
        func checkVector(_ v: [Double], _ field: String) throws(ToyScenarioError) {
            guard v.count == dimension else { throw fail(field, "has \(v.count) entries, dimension is \(dimension)") }
            if let j = v.firstIndex(where: { !$0.isFinite }) { throw fail("\(field)[\(j)]", "must be a finite number, got \(v[j])") }
        }
        guard !name.isEmpty else { throw fail("name", "is empty; give the scenario a name") }
        guard dimension >= 1 else { throw fail("dimension", "must be ≥ 1, got \(dimension)") }
        guard steps >= 1 else { throw fail("steps", "must be ≥ 1, got \(steps)") }
        guard !mixture.isEmpty else { throw fail("mixture", "is empty; give at least one component") }
        for (k, c) in mixture.enumerated() {
            let at = "mixture[\(k)]"
            guard c.weight.isFinite && c.weight > 0 else { throw fail("\(at).weight", "must be a finite number > 0, got \(c.weight)") }
            try checkVector(c.mean, "\(at).mean")
            switch c.std {
            case .isotropic(let s):
                guard s.isFinite && s > 0 else { throw fail("\(at).std", "must be a finite number > 0, got \(s)") }
            case .diagonal(let s):
                guard s.count == dimension else {
                    throw fail("\(at).std", "has \(s.count) entries, dimension is \(dimension) (or give one number for an isotropic std)")
                }
                if let j = s.firstIndex(where: { !($0.isFinite && $0 > 0) }) {
                    throw fail("\(at).std[\(j)]", "must be a finite number > 0, got \(s[j])")
                }
            }
        }
        switch reward {
        case .gaussianBump(let center, let width, let scale):
            try checkVector(center, "reward.center")
            guard width.isFinite && width > 0 else { throw fail("reward.width", "must be a finite number > 0, got \(width)") }
            guard scale.isFinite && scale >= 0 else { throw fail("reward.scale", "must be a finite number ≥ 0, got \(scale)") }
        case .linear(let direction):
            try checkVector(direction, "reward.direction")
        case .negativeSquaredDistance(let center):
            try checkVector(center, "reward.center")
        case .constant(let value):
            guard value.isFinite else { throw fail("reward.value", "must be a finite number, got \(value)") }
        }
        guard alpha.isFinite && alpha > 0 else { throw fail("alpha", "must be a finite number > 0, got \(alpha)") }
    }

    // MARK: Building the world

    /// The data distribution (weights normalised).
    public func makeMixture() -> GaussianMixture {
        do {
            return try GaussianMixture(dimension: dimension,
                                       components: mixture.map { .init(weight: $0.weight, mean: $0.mean, std: $0.std) })
        } catch {
            preconditionFailure("ToyScenario \"\(name)\" passed validation but its mixture did not: \(error)")
        }
    }

    /// The reward as a `ToyReward` (a `Reward` with a closed-form tilted mass).
    public func makeReward() -> any ToyReward {
        switch reward {
        case .gaussianBump(let center, let width, let scale): return GaussianBumpReward(center: center, width: width, scale: scale)
        case .linear(let direction): return LinearReward(direction: direction)
        case .negativeSquaredDistance(let center): return NegativeSquaredDistanceReward(center: center)
        case .constant(let value): return ConstantReward(value: value)
        }
    }

    /// The exact denoiser for this world. A "vp" world needs the sampler's ᾱ table (diffusers'
    /// `alphas_cumprod`, indexed by training timestep); a "flow" world ignores it and uses σ = t/1000.
    public func makeDenoiser(alphasCumprod: [Float]?) throws(ToyScenarioError) -> GaussianMixtureDenoiser {
        switch path {
        case .vp:
            guard let table = alphasCumprod, !table.isEmpty else {
                throw ToyScenarioError(source: "scenario \"\(name)\"", field: "",
                                       problem: "is a vp world: pass the scheduler's alphas_cumprod table to makeDenoiser")
            }
            return GaussianMixtureDenoiser(mixture: makeMixture(), path: .vp(alphasCumprod: table))
        case .flow:
            return GaussianMixtureDenoiser(mixture: makeMixture(), path: .flow(trainTimesteps: 1000))
        }
    }

    /// The reward-tilted target at this scenario's α (or the α given).
    public func makeTarget(alpha: Double? = nil) -> TiltedTarget {
        TiltedTarget(mixture: makeMixture(), reward: makeReward(), alpha: alpha ?? self.alpha)
    }

    /// The target's mass per prior component, πₖ (sums to 1). See `TiltedTarget`.
    public func targetModeWeights(alpha: Double? = nil) -> [Double] { makeTarget(alpha: alpha).modeWeights }

    /// Mode assignments, target-mode coverage and total-variation distance of `samples` ([N, dimension]).
    public func modeCoverage(samples: Tensor, alpha: Double? = nil) -> ModeCoverage {
        makeTarget(alpha: alpha).modeCoverage(samples: samples)
    }

    // MARK: Loading

    /// Decodes and validates a scenario from JSON (read by ModelIO's `JSONValue`). `source` names it in errors
    /// (e.g. `scenario file x.json`); by default errors say `scenario "<name>"` (or `scenario JSON` before the
    /// name is known).
    public static func decode(from data: Data, source: String? = nil) throws(ToyScenarioError) -> ToyScenario {
        let json: JSONValue
        do { json = try data.withUnsafeBytes { try JSONValue.parse($0) } } catch {
            throw ToyScenarioError(source: source ?? "scenario JSON", field: "", problem: "is not valid JSON: \(error)")
        }
        do {
            return try parse(json)
        } catch {
            var e = error
            if let source { e.source = source }
            throw e
        }
    }

    /// Reads and validates a scenario file; errors name it as `scenario file <path>`.
    public static func load(path: String) throws(ToyScenarioError) -> ToyScenario {
        let source = "scenario file \(path)"
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ToyScenarioError(source: source, field: "", problem: "cannot be read (\(error.localizedDescription)); check the path")
        }
        return try decode(from: data, source: source)
    }

    /// Pretty-printed JSON with sorted keys (decodes back to an equal scenario).
    public func jsonData() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do { return try encoder.encode(self) } catch { preconditionFailure("ToyScenario encoding failed: \(error)") }
    }
}

// MARK: - JSON

/// A coding key for any string (the encoder writes the scenario's own field names).
struct AnyCodingKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(_ s: String) { stringValue = s; intValue = nil }
    init?(stringValue: String) { self.stringValue = stringValue; intValue = nil }
    init?(intValue: Int) { stringValue = "Index \(intValue)"; self.intValue = intValue }
}

/// One JSON object of a scenario document, whose errors name fields by their JSON path (`mixture[1].std`).
private struct ScenarioFields {
    let object: JSONObject
    let at: String
    let source: String

    func path(_ key: String) -> String { at.isEmpty ? key : "\(at).\(key)" }

    func fail(_ key: String, _ problem: String) -> ToyScenarioError {
        ToyScenarioError(source: source, field: path(key), problem: problem)
    }

    /// Throws for any key outside `allowed`, naming it and the allowed ones.
    func rejectUnknownKeys(_ allowed: [String]) throws(ToyScenarioError) {
        for key in object.keys where !allowed.contains(key) {
            throw fail(key, "is not a known field; known: \(allowed.joined(separator: ", "))")
        }
    }

    /// The value of `key`; absent or null counts as missing.
    func optional(_ key: String) -> JSONValue? {
        guard let v = object[key], !v.isNull else { return nil }
        return v
    }

    func required(_ key: String, hint: String = "") throws(ToyScenarioError) -> JSONValue {
        guard let v = optional(key) else { throw fail(key, "is missing\(hint)") }
        return v
    }

    func number(_ key: String) throws(ToyScenarioError) -> Double {
        let v = try required(key)
        guard let d = v.doubleValue else { throw fail(key, "must be a number, got \(v.kindName)") }
        return d
    }

    func optionalNumber(_ key: String) throws(ToyScenarioError) -> Double? {
        guard optional(key) != nil else { return nil }
        return try number(key)
    }

    func wholeNumber(_ key: String) throws(ToyScenarioError) -> Int {
        let d = try number(key)
        guard d == d.rounded(), abs(d) < 1e15 else { throw fail(key, "must be a whole number, got \(d)") }
        return Int(d)
    }

    func string(_ key: String, hint: String = "") throws(ToyScenarioError) -> String {
        let v = try required(key, hint: hint)
        guard let s = v.stringValue else { throw fail(key, "must be a string, got \(v.kindName)") }
        return s
    }

    func numbers(_ key: String) throws(ToyScenarioError) -> [Double] {
        let v = try required(key)
        guard let list = v.arrayValue else { throw fail(key, "must be an array of numbers, got \(v.kindName)") }
        var out: [Double] = []
        for (i, item) in list.enumerated() {
            guard let d = item.doubleValue else { throw fail("\(key)[\(i)]", "must be a number, got \(item.kindName)") }
            out.append(d)
        }
        return out
    }

    func object(_ key: String, at nested: String) throws(ToyScenarioError) -> ScenarioFields {
        let v = try required(key)
        guard let o = v.objectValue else { throw fail(key, "must be an object, got \(v.kindName)") }
        return ScenarioFields(object: o, at: nested, source: source)
    }
}

extension ToyScenario: Encodable {
    /// Reads the JSON form and validates it; every problem is a `ToyScenarioError`.
    fileprivate static func parse(_ json: JSONValue) throws(ToyScenarioError) -> ToyScenario {
        guard let root = json.objectValue else {
            throw ToyScenarioError(source: "scenario JSON", field: "", problem: "must be a JSON object, got \(json.kindName)")
        }
        let name = try ScenarioFields(object: root, at: "", source: "scenario JSON").string("name")
        let c = ScenarioFields(object: root, at: "", source: "scenario \"\(name)\"")
        let source = c.source
        try c.rejectUnknownKeys(["name", "dimension", "path", "steps", "alpha", "mixture", "reward"])
        let dimension = try c.wholeNumber("dimension")
        let pathString = try c.string("path", hint: "; use \"vp\" or \"flow\"")
        guard let path = Path(rawValue: pathString) else {
            throw ToyScenarioError(source: source, field: "path", problem: "must be \"vp\" or \"flow\", got \"\(pathString)\"")
        }
        let steps = try c.wholeNumber("steps")
        let alpha = try c.optionalNumber("alpha") ?? ToyScenario.defaultAlpha

        let mixtureValue = try c.required("mixture")
        _ = try c.required("reward")
        guard let list = mixtureValue.arrayValue else { throw c.fail("mixture", "must be an array, got \(mixtureValue.kindName)") }
        var components = [Component]()
        for (index, entry) in list.enumerated() {
            let at = "mixture[\(index)]"
            guard let o = entry.objectValue else {
                throw ToyScenarioError(source: source, field: at, problem: "must be an object, got \(entry.kindName)")
            }
            let item = ScenarioFields(object: o, at: at, source: source)
            try item.rejectUnknownKeys(["weight", "mean", "std"])
            let weight = try item.number("weight")
            let mean = try item.numbers("mean")
            let stdValue = try item.required("std")
            let std: GaussianMixture.Std
            if let s = stdValue.doubleValue {
                std = .isotropic(s)
            } else if let a = stdValue.arrayValue, a.allSatisfy({ $0.doubleValue != nil }) {
                std = .diagonal(a.compactMap(\.doubleValue))
            } else {
                throw item.fail("std", "must be a number or an array of numbers")
            }
            components.append(Component(weight: weight, mean: mean, std: std))
        }

        let r = try c.object("reward", at: "reward")
        let known = RewardSpec.knownKinds.map { "\"\($0)\"" }.joined(separator: ", ")
        let kind = try r.string("kind", hint: "; known kinds: \(known)")
        let reward: RewardSpec
        switch kind {
        case "gaussian-bump":
            try r.rejectUnknownKeys(["kind", "center", "width", "scale"])
            reward = .gaussianBump(center: try r.numbers("center"), width: try r.number("width"),
                                   scale: try r.optionalNumber("scale") ?? 1)
        case "linear":
            try r.rejectUnknownKeys(["kind", "direction"])
            reward = .linear(direction: try r.numbers("direction"))
        case "negative-squared-distance":
            try r.rejectUnknownKeys(["kind", "center"])
            reward = .negativeSquaredDistance(center: try r.numbers("center"))
        case "constant":
            try r.rejectUnknownKeys(["kind", "value"])
            reward = .constant(value: try r.number("value"))
        default:
            throw ToyScenarioError(source: source, field: "reward.kind", problem: "is \"\(kind)\"; known kinds: \(known)")
        }
        return try ToyScenario(name: name, dimension: dimension, path: path, steps: steps, mixture: components, reward: reward, alpha: alpha)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: AnyCodingKey.self)
        try c.encode(name, forKey: AnyCodingKey("name"))
        try c.encode(dimension, forKey: AnyCodingKey("dimension"))
        try c.encode(path.rawValue, forKey: AnyCodingKey("path"))
        try c.encode(steps, forKey: AnyCodingKey("steps"))
        try c.encode(alpha, forKey: AnyCodingKey("alpha"))
        var list = c.nestedUnkeyedContainer(forKey: AnyCodingKey("mixture"))
        for comp in mixture {
            var item = list.nestedContainer(keyedBy: AnyCodingKey.self)
            try item.encode(comp.weight, forKey: AnyCodingKey("weight"))
            try item.encode(comp.mean, forKey: AnyCodingKey("mean"))
            switch comp.std {
            case .isotropic(let s): try item.encode(s, forKey: AnyCodingKey("std"))
            case .diagonal(let s): try item.encode(s, forKey: AnyCodingKey("std"))
            }
        }
        var r = c.nestedContainer(keyedBy: AnyCodingKey.self, forKey: AnyCodingKey("reward"))
        try r.encode(reward.kind, forKey: AnyCodingKey("kind"))
        switch reward {
        case .gaussianBump(let center, let width, let scale):
            try r.encode(center, forKey: AnyCodingKey("center"))
            try r.encode(width, forKey: AnyCodingKey("width"))
            try r.encode(scale, forKey: AnyCodingKey("scale"))
        case .linear(let direction):
            try r.encode(direction, forKey: AnyCodingKey("direction"))
        case .negativeSquaredDistance(let center):
            try r.encode(center, forKey: AnyCodingKey("center"))
        case .constant(let value):
            try r.encode(value, forKey: AnyCodingKey("value"))
        }
    }
}
