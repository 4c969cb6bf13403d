import Foundation
import RandomStreams
import Sampling
import TensorCore

/// Particle filtering over the denoising chain, i.e. Feynman–Kac steering (Singhal et al. 2025).
///
/// N particles follow the stochastic sampler. At resampling steps the x0-predictions are scored and the
/// particles are reweighted by a potential G and resampled (multinomial or systematic), either at every
/// such step or only when the effective sample size falls below N/2. Potentials, with r_t the reward of
/// the current x0-prediction, λ the strength and the running quantity carried along each particle's path:
/// - `max`:        G = exp(λ·max(r_t, r_max)), carrying r_max = max over the path;
/// - `difference`: G = exp(λ·(r_t − r_prev)), carrying r_prev = the previous step's reward;
/// - `sum`:        G = exp(λ·(r_t + Σ r)), carrying Σ r over the path;
/// - `immediate`:  G = exp(λ·r_t).
/// Weights are normalised in log space. The final particles are denoised, scored, and the best wins.
public struct ParticleFilter: SearchStrategy {
    public static let methodName = "particle"

    public enum Potential: String, CaseIterable, Sendable { case max, difference, sum, immediate }
    public enum Resampling: String, CaseIterable, Sendable { case multinomial, systematic }

    /// Number of particles; `nil` = ⌊budget / T⌋.
    public var particles: Int?
    public var potential: Potential
    public var lambda: Float
    public var resampling: Resampling
    /// Resample every `interval` steps from `startStep` up to `endStep` (state indices); `nil` end = T − 1.
    public var interval: Int
    public var startStep: Int
    public var endStep: Int?
    /// Resample only when the effective sample size drops below N/2.
    public var adaptive: Bool

    public init(particles: Int? = nil, potential: Potential = .max, lambda: Float = 10, resampling: Resampling = .multinomial,
                interval: Int = 5, startStep: Int = 0, endStep: Int? = nil, adaptive: Bool = false) {
        self.particles = particles; self.potential = potential; self.lambda = lambda; self.resampling = resampling
        self.interval = interval; self.startStep = startStep; self.endStep = endStep; self.adaptive = adaptive
    }

    public func resolvedParticles(stepCount: Int, budget: Int) -> Int { particles ?? budget / stepCount }

    public func validate(stepCount: Int, budget: Int) throws(SearchConfigurationError) {
        let n = resolvedParticles(stepCount: stepCount, budget: budget)
        if n < 1 { throw SearchConfigurationError("particles: \(n) must be at least 1") }
        if n * stepCount > budget {
            throw SearchConfigurationError("particles: \(n) particles over \(stepCount) steps cost \(n * stepCount) NFE, over the budget of \(budget); use --particles \(budget / stepCount) or raise --budget")
        }
        if interval < 1 { throw SearchConfigurationError("resample interval: \(interval) must be at least 1") }
        let end = endStep ?? (stepCount - 1)
        if startStep < 0 || startStep >= stepCount {
            throw SearchConfigurationError("resample start: \(startStep) is outside 0..<\(stepCount)")
        }
        if end < startStep || end >= stepCount {
            throw SearchConfigurationError("resample end: \(end) must be in \(startStep)..<\(stepCount)")
        }
        if !lambda.isFinite || lambda < 0 { throw SearchConfigurationError("lambda: \(lambda) must be a finite number ≥ 0") }
    }

    /// Step indices at which x0-predictions are scored and particles may be resampled.
    public func resamplingSteps(stepCount: Int) -> Set<Int> {
        let end = endStep ?? (stepCount - 1)
        return Set(stride(from: startStep, through: end, by: interval))
    }

    public func run(_ engine: inout SearchEngine) -> SearchResult {
        let t = engine.stepCount
        let n = resolvedParticles(stepCount: t, budget: engine.budget.limit)
        let steps = resamplingSteps(stepCount: t)
        engine.settings = ["particles": "\(n)", "potential": potential.rawValue, "lambda": "\(lambda)",
                           "resampling": resampling.rawValue, "interval": "\(interval)", "start": "\(startStep)",
                           "end": "\(endStep ?? (t - 1))", "adaptive": "\(adaptive)"]
        // Particle slots keep their noise streams; a resampled particle takes a copy of another's state.
        let slots = (0..<n).map { NoiseIdentity(generation: 0, individual: $0) }
        var lineages = (0..<n).map { _ in SearchEngine.Lineage(id: engine.makeID(), generation: 0, origin: "initial") }
        var x = engine.initialStates(slots)
        var carried = [Float](repeating: -.infinity, count: n)
        var first = true
        do throws(SearchStop) {
            for i in 0..<t {
                let out = try engine.step(x, at: i, noiseRows: slots)
                x = out.states
                guard steps.contains(i), n > 1 else { continue }
                // Score the x0-prediction made at step i and resample by the potential.
                let r = try engine.scoreEstimates(out.predictedOriginal)
                let (logG, next) = potentialTerms(r, carried: carried, first: first)
                first = false
                let w = normalisedWeights(logG)
                let ess = 1 / w.reduce(0) { $0 + $1 * $1 }
                if adaptive && ess >= Double(n) / 2 { carried = next; continue }
                var stream = engine.choiceStream(generation: 0, step: i)
                let picks = resample(w, count: n, stream: &stream)
                x = x.gatherRows(picks)
                carried = picks.map { next[$0] }
                lineages = picks.map { SearchEngine.Lineage(id: lineages[$0].id, generation: 0, parent: lineages[$0].parent, origin: lineages[$0].origin) }
            }
            let final = lineages.map { SearchEngine.Lineage(id: engine.makeID(), generation: 0, parent: $0.id, origin: "particle") }
            let scored = try engine.scoreFinal(x, lineage: final)
            return engine.finish(method: Self.methodName, population: scored)
        } catch {
            return engine.finish(method: Self.methodName, population: [], stop: error)
        }
    }

    /// Log-potentials for the current rewards and the per-particle quantity to carry forward.
    func potentialTerms(_ r: [Float], carried: [Float], first: Bool) -> (logG: [Double], carried: [Float]) {
        let lam = Double(lambda)
        switch potential {
        case .immediate:
            return (r.map { lam * Double($0) }, r)
        case .max:
            let m = zip(r, carried).map { Swift.max($0, $1) }
            return (m.map { lam * Double($0) }, m)
        case .sum:
            let s = zip(r, carried).map { first ? $0 : $0 + $1 }
            return (s.map { lam * Double($0) }, s)
        case .difference:
            let d = zip(r, carried).map { first ? Double($0) : Double($0) - Double($1) }
            return (d.map { lam * $0 }, r)
        }
    }

    /// Normalised weights from log-weights; -inf and NaN get weight 0, all-invalid falls back to uniform.
    func normalisedWeights(_ logW: [Double]) -> [Double] {
        let valid = logW.map { $0.isFinite ? $0 : -Double.infinity }
        let top = valid.max() ?? -.infinity
        if !top.isFinite { return [Double](repeating: 1 / Double(logW.count), count: logW.count) }
        let w = valid.map { Foundation.exp($0 - top) }
        let total = w.reduce(0, +)
        return w.map { $0 / total }
    }

    /// Indices of the resampled particles.
    func resample(_ w: [Double], count n: Int, stream: inout PhiloxStream) -> [Int] {
        var cumulative = [Double](repeating: 0, count: w.count)
        var acc = 0.0
        for (i, v) in w.enumerated() { acc += v; cumulative[i] = acc }
        cumulative[w.count - 1] = 1
        func find(_ u: Double) -> Int {
            var lo = 0, hi = w.count - 1
            while lo < hi { let mid = (lo + hi) / 2; if cumulative[mid] < u { lo = mid + 1 } else { hi = mid } }
            return lo
        }
        switch resampling {
        case .multinomial:
            return (0..<n).map { _ in find(stream.nextUniform()) }
        case .systematic:
            let u0 = stream.nextUniform() / Double(n)
            return (0..<n).map { find(u0 + Double($0) / Double(n)) }
        }
    }
}
