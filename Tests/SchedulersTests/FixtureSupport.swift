import Foundation
import Testing
import ModelIO
import TensorCore
@testable import Schedulers

// Loading of the diffusers reference fixtures written by tools/fixtures/make_scheduler_fixtures.py.

enum Fixtures {
    static func data(_ name: String) throws -> Data {
        guard let url = Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Fixtures") else {
            throw FixtureError.missing(name)
        }
        return try Data(contentsOf: url)
    }

    /// diffusers writes `-Infinity` for some config defaults, hence JSON5.
    static func load<T: Decodable>(_ type: T.Type, _ name: String) throws -> T {
        let decoder = JSONDecoder()
        decoder.allowsJSON5 = true
        return try decoder.decode(T.self, from: data(name))
    }
}

enum FixtureError: Error { case missing(String) }

/// A diffusers config object inside a fixture file, read by the package's own path
/// (`init(config: ConfigFile)`, as for a scheduler_config.json) rather than by a Codable conformance.
struct FixtureConfig<Config: DiffusersSchedulerConfig>: Decodable {
    let value: Config

    init(from decoder: any Decoder) throws {
        let json = try FixtureJSON(from: decoder).value
        value = try Config(config: ConfigFile(json: json, displayName: "fixture config"))
    }
}

/// Any JSON value decoded by the fixture loader, as ModelIO's `JSONValue` (object key order is not kept).
private struct FixtureJSON: Decodable {
    let value: JSONValue

    init(from decoder: any Decoder) throws {
        if let o = try? decoder.container(keyedBy: AnyKey.self) {
            value = .object(JSONObject(try o.allKeys.map { ($0.stringValue, try o.decode(FixtureJSON.self, forKey: $0).value) }))
        } else if var a = try? decoder.unkeyedContainer() {
            var items: [JSONValue] = []
            while !a.isAtEnd { items.append(try a.decode(FixtureJSON.self).value) }
            value = .array(items)
        } else {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() { value = .null }
            else if let b = try? c.decode(Bool.self) { value = .bool(b) }
            else if let i = try? c.decode(Int.self) { value = .int(i) }
            else if let d = try? c.decode(Double.self) { value = .double(d) }
            else { value = .string(try c.decode(String.self)) }
        }
    }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}

struct StepRecord: Decodable {
    let sample: [Float]
    let modelInput: [Float]
    let modelOutput: [Float]
    let prevSample: [Float]
    let predOriginalSample: [Float]
    let noise: [Float]?
    let std: Float?

    enum CodingKeys: String, CodingKey {
        case sample, noise, std
        case modelInput = "model_input", modelOutput = "model_output"
        case prevSample = "prev_sample", predOriginalSample = "pred_original_sample"
    }
}

struct AddNoiseRecord: Decodable {
    let timestep: Float
    let original: [Float]
    let noise: [Float]
    let output: [Float]
}

/// One traced configuration; `Config` is decoded straight from the diffusers `to_json_string()` object.
struct TraceCase<Config: DiffusersSchedulerConfig>: Decodable {
    let name: String
    private let fixtureConfig: FixtureConfig<Config>
    var config: Config { fixtureConfig.value }
    let numInferenceSteps: Int
    let eta: Float?
    let timesteps: [Float]
    let sigmas: [Float]?
    let initNoiseSigma: Float
    let finalAlphaCumprod: Float?
    let targetAlphaCumprod: [Float]?
    let initialSample: [Float]
    let steps: [StepRecord]
    let deterministicSteps: [StepRecord]?
    let addNoise: [AddNoiseRecord]

    enum CodingKeys: String, CodingKey {
        case name, eta, timesteps, sigmas, steps
        case fixtureConfig = "config"
        case numInferenceSteps = "num_inference_steps", initNoiseSigma = "init_noise_sigma"
        case finalAlphaCumprod = "final_alpha_cumprod", targetAlphaCumprod = "target_alpha_cumprod"
        case initialSample = "initial_sample", deterministicSteps = "deterministic_steps", addNoise = "add_noise"
    }
}

struct TraceFile<Config: DiffusersSchedulerConfig>: Decodable {
    let cases: [TraceCase<Config>]
}

let fixtureShape = [2, 3]

func tensor(_ v: [Float]) -> Tensor { Tensor(shape: fixtureShape, scalars: v) }

/// The synthetic model of the fixtures: `float32(0.3·input[k] + 0.1·cos(t/100 + k))` in double.
func syntheticModel(_ input: Tensor, timestep t: Float) -> Tensor {
    var out = [Float](repeating: 0, count: input.count)
    for k in 0..<input.count {
        out[k] = Float(0.3 * Double(input.scalars[k]) + 0.1 * cos(Double(t) / 100 + Double(k)))
    }
    return Tensor(shape: input.shape, scalars: out)
}

/// Largest absolute difference divided by max(1, largest expected magnitude).
func relativeError(_ actual: [Float], _ expected: [Float]) -> Float {
    precondition(actual.count == expected.count, "relativeError: \(actual.count) vs \(expected.count) values")
    var worst: Float = 0, scale: Float = 1
    for (a, e) in zip(actual, expected) {
        worst = max(worst, a.isNaN || e.isNaN ? .infinity : abs(a - e))
        scale = max(scale, abs(e))
    }
    return worst / scale
}

let traceTolerance: Float = 1e-5

/// Checks a scheduler against a recorded trace, twice: step by step from the recorded inputs, and as a
/// full rollout from the initial sample with the Swift model and the recorded noises. `stochastic` chooses
/// whether the recorded noise is passed (else `nil`, the deterministic form).
func checkTrace(_ s: some DenoisingScheduler, _ steps: [StepRecord], stochastic: Bool, initial: [Float],
                label: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(steps.count == s.stepCount, "\(label): step count", sourceLocation: sourceLocation)
    guard steps.count == s.stepCount else { return }
    var worstStep: Float = 0, worstRollout: Float = 0, worstOriginal: Float = 0
    var x = tensor(initial)
    for (i, r) in steps.enumerated() {
        let noise = stochastic ? r.noise.map(tensor) : nil
        // Step by step, from diffusers' own inputs.
        let out = s.step(modelOutput: tensor(r.modelOutput), stepIndex: i, sample: tensor(r.sample), noise: noise)
        worstStep = max(worstStep, relativeError(out.sample.scalars, r.prevSample))
        worstOriginal = max(worstOriginal, relativeError(out.predictedOriginal.scalars, r.predOriginalSample))
        let input = s.scaleModelInput(tensor(r.sample), stepIndex: i)
        #expect(relativeError(input.scalars, r.modelInput) <= traceTolerance,
                "\(label) step \(i): model input", sourceLocation: sourceLocation)
        // Rollout with our own model calls.
        let modelOut = syntheticModel(s.scaleModelInput(x, stepIndex: i), timestep: s.timesteps[i])
        x = s.step(modelOutput: modelOut, stepIndex: i, sample: x, noise: noise).sample
        worstRollout = max(worstRollout, relativeError(x.scalars, r.prevSample))
    }
    #expect(worstStep <= traceTolerance, "\(label): per-step error \(worstStep)", sourceLocation: sourceLocation)
    #expect(worstOriginal <= traceTolerance, "\(label): x0 error \(worstOriginal)", sourceLocation: sourceLocation)
    #expect(worstRollout <= traceTolerance, "\(label): rollout error \(worstRollout)", sourceLocation: sourceLocation)
}

func checkAddNoise(_ records: [AddNoiseRecord], label: String, sourceLocation: SourceLocation = #_sourceLocation,
                   _ f: (Tensor, Tensor, Float) -> Tensor) {
    #expect(!records.isEmpty, "\(label): no add_noise records", sourceLocation: sourceLocation)
    for r in records {
        let y = f(tensor(r.original), tensor(r.noise), r.timestep)
        let err = relativeError(y.scalars, r.output)
        #expect(err <= traceTolerance, "\(label): add_noise at t=\(r.timestep) error \(err)", sourceLocation: sourceLocation)
    }
}

// MARK: A deterministic Gaussian source for statistical checks

struct TestGaussian {
    private var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func nextUInt64() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func uniform() -> Double { (Double(nextUInt64() >> 11) + 0.5) / Double(1 << 53) }

    mutating func normal() -> Float {
        let u1 = uniform(), u2 = uniform()
        return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }

    mutating func normals(_ n: Int) -> [Float] { (0..<n).map { _ in normal() } }
}

func meanAndVariance(_ v: [Float]) -> (mean: Double, variance: Double) {
    let n = Double(v.count)
    let mean = v.reduce(0.0) { $0 + Double($1) } / n
    let variance = v.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / (n - 1)
    return (mean, variance)
}
