import Foundation
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

extension KeyedDecodingContainer {
    /// The value under `key`, or `fallback` when the key is missing or null (diffusers' default).
    func value<T: Decodable>(_ key: Key, or fallback: T) throws -> T {
        try decodeIfPresent(T.self, forKey: key) ?? fallback
    }

    /// Throws when `key` holds something other than `allowed` (missing or null is fine): for diffusers
    /// options these schedulers do not implement.
    func require<T: Decodable & Equatable>(_ key: Key, toBe allowed: T, _ what: String) throws {
        if let v = try decodeIfPresent(T.self, forKey: key), v != allowed {
            throw DecodingError.dataCorruptedError(forKey: key, in: self,
                                                   debugDescription: "unsupported: \(what) (got \(v))")
        }
    }

    /// Throws when `key` holds a non-null value.
    func requireNull(_ key: Key, _ what: String) throws {
        if contains(key), try !decodeNil(forKey: key) {
            throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "unsupported: \(what)")
        }
    }
}

/// Decoding of diffusers' `scheduler_config.json` text: a JSON5-tolerant decoder, because diffusers writes
/// `-Infinity` for some defaults (e.g. DPM-Solver's `lambda_min_clipped`).
public protocol DiffusersSchedulerConfig: Codable, Sendable {}

extension DiffusersSchedulerConfig {
    /// Decodes a `scheduler_config.json` document; unknown keys are ignored, missing keys take diffusers'
    /// defaults, options these schedulers do not implement throw.
    public init(json: Data) throws {
        let decoder = JSONDecoder()
        decoder.allowsJSON5 = true
        self = try decoder.decode(Self.self, from: json)
    }

    public init(json: String) throws { try self.init(json: Data(json.utf8)) }
}
