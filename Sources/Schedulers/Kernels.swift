import Foundation
import ModelIO
import TensorCore

// Elementwise loops shared by the schedulers. The per-element bodies are closures, but the helpers are
// always inlined, so in optimised builds each call site becomes one plain loop over the buffers.

@inline(__always)
func elementwise(_ x: Tensor, _ f: (Float) -> Float) -> Tensor {
    let n = x.count
    let out = [Float](unsafeUninitializedCapacity: n) { buffer, initialized in
        x.scalars.withUnsafeBufferPointer { xb in
            for i in 0..<n { buffer[i] = f(xb[i]) }
        }
        initialized = n
    }
    return Tensor(shape: x.shape, scalars: out)
}

@inline(__always)
func elementwise(_ x: Tensor, _ y: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
    precondition(x.shape == y.shape, "scheduler: shapes \(x.shape) and \(y.shape) differ")
    let n = x.count
    let out = [Float](unsafeUninitializedCapacity: n) { buffer, initialized in
        x.scalars.withUnsafeBufferPointer { xb in
            y.scalars.withUnsafeBufferPointer { yb in
                for i in 0..<n { buffer[i] = f(xb[i], yb[i]) }
            }
        }
        initialized = n
    }
    return Tensor(shape: x.shape, scalars: out)
}

@inline(__always)
func elementwise(_ x: Tensor, _ y: Tensor, _ z: Tensor, _ f: (Float, Float, Float) -> Float) -> Tensor {
    precondition(x.shape == y.shape && x.shape == z.shape,
                 "scheduler: shapes \(x.shape), \(y.shape) and \(z.shape) differ")
    let n = x.count
    let out = [Float](unsafeUninitializedCapacity: n) { buffer, initialized in
        x.scalars.withUnsafeBufferPointer { xb in
            y.scalars.withUnsafeBufferPointer { yb in
                z.scalars.withUnsafeBufferPointer { zb in
                    for i in 0..<n { buffer[i] = f(xb[i], yb[i], zb[i]) }
                }
            }
        }
        initialized = n
    }
    return Tensor(shape: x.shape, scalars: out)
}

/// Index of `timestep` in `grid` the way diffusers' `index_for_timestep` picks it: the second match when
/// the value occurs more than once, the only match otherwise, nil when absent.
func diffusersIndex(of timestep: Float, in grid: [Float]) -> Int? {
    var first: Int?
    for (i, t) in grid.enumerated() where t == timestep {
        if first == nil { first = i } else { return i }
    }
    return first
}

/// Variance-preserving forward process between two levels: keeps `sqrt(ᾱ_to/ᾱ_from)` of the sample and
/// adds the rest as fresh noise.
func vpRenoise(_ sample: Tensor, alphaFrom: Float, alphaTo: Float, noise: Tensor) -> Tensor {
    let ratio = alphaTo / alphaFrom
    let keep = ratio.squareRoot()
    let add = Swift.max(0, 1 - ratio).squareRoot()
    return sample.scaled(keep, plus: add, times: noise)
}

/// Rectified-flow forward process between two levels σ_from ≤ σ_to of `x_σ = (1 − σ)·x₀ + σ·ε`.
func flowRenoise(_ sample: Tensor, sigmaFrom: Float, sigmaTo: Float, noise: Tensor) -> Tensor {
    let keep = (1 - sigmaTo) / (1 - sigmaFrom)
    let add = Swift.max(0, sigmaTo * sigmaTo - keep * keep * sigmaFrom * sigmaFrom).squareRoot()
    return sample.scaled(keep, plus: add, times: noise)
}

func checkRenoiseIndices(_ from: Int, _ to: Int, _ stepCount: Int) {
    precondition(from >= 0 && from <= stepCount && to >= 0 && to <= from,
                 "renoise: need 0 ≤ to ≤ from ≤ \(stepCount), got from \(from) to \(to)")
}

func checkStepIndex(_ i: Int, _ stepCount: Int) {
    precondition(i >= 0 && i < stepCount, "scheduler: step index \(i) out of 0..<\(stepCount)")
}

// MARK: Config decoding

/// A diffusers scheduler configuration, read from `scheduler_config.json` through ModelIO's `ConfigFile` (the
/// package's one JSON reader, which also takes the `-Infinity` diffusers writes for some defaults, e.g.
/// DPM-Solver's `lambda_min_clipped`). `Encodable` writes the keys back (for tests and generated configs).
public protocol DiffusersSchedulerConfig: Encodable, Sendable {
    /// Reads the config: unknown keys are ignored, missing or null keys take diffusers' defaults, and options
    /// these schedulers do not implement throw `ModelIOError.invalidConfigValue` naming the file and the key.
    init(config: ConfigFile) throws
}

extension DiffusersSchedulerConfig {
    /// Parses and reads a `scheduler_config.json` document; `displayName` names it in errors.
    public init(json: Data, displayName: String = "scheduler/scheduler_config.json") throws {
        try self.init(config: ConfigFile(parsing: json, displayName: displayName))
    }

    public init(json: String, displayName: String = "scheduler/scheduler_config.json") throws {
        try self.init(json: Data(json.utf8), displayName: displayName)
    }
}

extension ConfigFile {
    /// A string option with a fixed set of values (`beta_schedule`, `prediction_type`, …); the error lists them.
    func choice<E: RawRepresentable & CaseIterable>(_ key: String, default d: E) throws -> E where E.RawValue == String {
        let s = try string(key, default: d.rawValue, oneOf: E.allCases.map(\.rawValue))
        guard let e = E(rawValue: s) else { throw invalid(key, "must be one of \(E.allCases.map(\.rawValue))") }
        return e
    }

    /// Throws unless the boolean `key` is absent, null or `supported`: for diffusers options not implemented here.
    func requireBool(_ key: String, _ supported: Bool, else what: String) throws {
        if let v = try optionalBool(key), v != supported {
            throw invalid(key, "must be \(supported) (not implemented: \(what))")
        }
    }

    /// Throws unless the string `key` is absent, null or `supported`.
    func requireString(_ key: String, _ supported: String, else what: String) throws {
        if let v = try optionalString(key), v != supported {
            throw invalid(key, "must be \"\(supported)\" (not implemented: \(what))")
        }
    }

    /// Throws when `key` holds a non-null value.
    func requireNull(_ key: String, else what: String) throws {
        if has(key) { throw invalid(key, "must be null (not implemented: \(what))") }
    }
}
