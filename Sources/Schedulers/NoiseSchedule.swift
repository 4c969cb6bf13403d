import Foundation
import TensorCore

/// How the training betas are laid out (diffusers' `beta_schedule`). diffusers' `sigmoid` and `laplace`
/// schedules are not supported.
public enum BetaSchedule: String, Codable, Sendable, CaseIterable {
    case linear
    case scaledLinear = "scaled_linear"
    case squaredcosCapV2 = "squaredcos_cap_v2"
}

/// How inference timesteps are picked from the training grid (diffusers' `timestep_spacing`).
public enum TimestepSpacing: String, Codable, Sendable, CaseIterable {
    case leading, trailing, linspace
}

/// What the model predicts (diffusers' `prediction_type`). `flowPrediction` is the velocity `v = ε − x₀`
/// of rectified-flow models; the other three are the variance-preserving parameterisations.
public enum PredictionType: String, Codable, Sendable, CaseIterable {
    case epsilon
    case vPrediction = "v_prediction"
    case sample
    case flowPrediction = "flow_prediction"
}

/// The training-time variance-preserving noise schedule: `betas`, `alphas = 1 − betas` and their running
/// product `alphasCumprod` (ᾱ), as diffusers' DDPM/DDIM/Euler/DPM-Solver constructors build them.
///
/// Matches diffusers bit for bit on x86-64 CPU torch (checked by the fixtures): `linear` is torch's float32
/// `linspace` (which evaluates `start + step·i` / `end − step·(n−1−i)` with a fused multiply-add),
/// `scaled_linear` squares a float32 `linspace` of the square roots (taken in double), `squaredcos_cap_v2`
/// is the cosine ᾱ schedule evaluated in double with betas capped at 0.999, and the cumulative product is
/// accumulated in double and rounded per entry, as torch's CPU `cumprod` does. Not supported:
/// `rescale_betas_zero_snr`, the `sigmoid`/`laplace` schedules.
public struct DiffusionNoiseSchedule: Sendable, Equatable {
    /// Number of training timesteps (diffusers' `num_train_timesteps`).
    public let trainTimesteps: Int
    public let betas: [Float]
    public let alphas: [Float]
    /// ᾱ_t for t = 0..<trainTimesteps: the signal fraction of the noised sample at training timestep t.
    public let alphasCumprod: [Float]

    /// A schedule from the config values. Float arguments are widened to double through their shortest
    /// decimal form (so `0.00085` means the decimal 0.00085, exactly as Python passes it to torch).
    public init(trainTimesteps: Int = 1000, betaStart: Float = 0.0001, betaEnd: Float = 0.02,
                betaSchedule: BetaSchedule = .linear) {
        self.init(trainTimesteps: trainTimesteps, betaStartDecimal: Double(String(betaStart)) ?? Double(betaStart),
                  betaEndDecimal: Double(String(betaEnd)) ?? Double(betaEnd), betaSchedule: betaSchedule)
    }

    /// A schedule from config values given as doubles (as a decoded `scheduler_config.json` holds them).
    public init(trainTimesteps: Int, betaStartDecimal betaStart: Double, betaEndDecimal betaEnd: Double,
                betaSchedule: BetaSchedule) {
        precondition(trainTimesteps >= 1, "DiffusionNoiseSchedule: trainTimesteps must be positive")
        let betas: [Float]
        switch betaSchedule {
        case .linear:
            betas = NumericCompat.torchLinspaceFloat32(betaStart, betaEnd, trainTimesteps)
        case .scaledLinear:
            betas = NumericCompat.torchLinspaceFloat32(betaStart.squareRoot(), betaEnd.squareRoot(), trainTimesteps)
                .map { $0 * $0 }
        case .squaredcosCapV2:
            betas = DiffusionNoiseSchedule.cosineBetas(trainTimesteps, maxBeta: 0.999)
        }
        self.init(betas: betas)
    }

    /// A schedule from explicit betas (diffusers' `trained_betas`).
    public init(trainedBetas: [Float]) {
        precondition(!trainedBetas.isEmpty, "DiffusionNoiseSchedule: empty trained betas")
        self.init(betas: trainedBetas)
    }

    private init(betas: [Float]) {
        trainTimesteps = betas.count
        self.betas = betas
        let alphas = betas.map { 1 - $0 }
        self.alphas = alphas
        var product = 1.0
        var cumprod = [Float]()
        cumprod.reserveCapacity(alphas.count)
        for a in alphas {
            product *= Double(a)
            cumprod.append(Float(product))
        }
        alphasCumprod = cumprod
    }

    /// ᾱ(t) = cos²(((t + 0.008)/1.008)·π/2) discretised into betas, evaluated in double like Python's `math`.
    static func cosineBetas(_ n: Int, maxBeta: Double) -> [Float] {
        func alphaBar(_ t: Double) -> Double {
            let c = cos((t + 0.008) / 1.008 * Double.pi / 2)
            return c * c
        }
        return (0..<n).map { i in
            let t1 = Double(i) / Double(n)
            let t2 = Double(i + 1) / Double(n)
            return Float(Swift.min(1 - alphaBar(t2) / alphaBar(t1), maxBeta))
        }
    }
}

/// Re-implementations of the numpy/torch grid helpers diffusers' `set_timesteps` relies on, with the same
/// evaluation order so that grids agree exactly.
enum NumericCompat {
    /// torch.linspace(start, end, steps, dtype=float32) on CPU: the first half counted up from `start`, the
    /// second half counted down from `end`, each value one fused multiply-add.
    static func torchLinspaceFloat32(_ start: Double, _ end: Double, _ steps: Int) -> [Float] {
        let s = Float(start), e = Float(end)
        if steps <= 1 { return steps == 1 ? [s] : [] }
        let step = (e - s) / Float(steps - 1)
        let half = steps / 2
        return (0..<steps).map { i in
            i < half ? s.addingProduct(step, Float(i)) : e.addingProduct(-step, Float(steps - 1 - i))
        }
    }

    /// numpy.linspace(start, stop, num) in double (endpoint included).
    static func numpyLinspace(_ start: Double, _ stop: Double, _ num: Int) -> [Double] {
        if num <= 0 { return [] }
        if num == 1 { return [start] }
        let step = (stop - start) / Double(num - 1)
        var y = (0..<num).map { Double($0) * step + start }
        y[num - 1] = stop
        return y
    }

    /// numpy.arange(start, stop, step) for doubles: length ceil((stop − start)/step), values start + i·δ with
    /// δ = (start + step) − start as numpy's fill computes it.
    static func numpyArange(_ start: Double, _ stop: Double, _ step: Double) -> [Double] {
        let length = Int((((stop - start) / step)).rounded(.up))
        if length <= 0 { return [] }
        if length == 1 { return [start] }
        let delta = (start + step) - start
        return (0..<length).map { $0 == 0 ? start : start + Double($0) * delta }
    }

    /// numpy.round: round half to even.
    @inline(__always)
    static func roundHalfEven(_ x: Double) -> Double { x.rounded(.toNearestOrEven) }

    /// numpy.interp(x, arange(count), fp) in double, for x inside [0, count − 1] (clamped outside).
    static func interpOnIntegerGrid(_ x: Double, _ fp: [Float]) -> Double {
        let last = fp.count - 1
        if x >= Double(last) { return Double(fp[last]) }
        if x <= 0 { return Double(fp[0]) }
        let j = Int(x.rounded(.down))
        if Double(j) == x { return Double(fp[j]) }
        let slope = (Double(fp[j + 1]) - Double(fp[j])) / 1.0
        return slope * (x - Double(j)) + Double(fp[j])
    }

    /// The integer timestep grid of diffusers' DDPM/DDIM `set_timesteps(n)`.
    static func integerGrid(spacing: TimestepSpacing, trainTimesteps n: Int, steps: Int, offset: Int) -> [Int] {
        switch spacing {
        case .linspace:
            return numpyLinspace(0, Double(n - 1), steps).map { Int(roundHalfEven($0)) }.reversed()
        case .leading:
            let ratio = n / steps
            return (0..<steps).reversed().map { $0 * ratio + offset }
        case .trailing:
            let ratio = Double(n) / Double(steps)
            return numpyArange(Double(n), 0, -ratio).map { Int(roundHalfEven($0)) - 1 }
        }
    }

    /// The float timestep grid of diffusers' EulerDiscreteScheduler `set_timesteps(n)`.
    static func floatGrid(spacing: TimestepSpacing, trainTimesteps n: Int, steps: Int, offset: Int) -> [Float] {
        switch spacing {
        case .linspace:
            return numpyLinspace(0, Double(n - 1), steps).map { Float($0) }.reversed()
        case .leading:
            let ratio = n / steps
            return (0..<steps).reversed().map { Float($0 * ratio) + Float(offset) }
        case .trailing:
            let ratio = Double(n) / Double(steps)
            return numpyArange(Double(n), 0, -ratio).map { Float(roundHalfEven($0)) - 1 }
        }
    }
}
