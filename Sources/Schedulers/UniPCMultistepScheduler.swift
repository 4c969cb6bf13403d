import Foundation
import TensorCore

/// What diffusers' `UniPCMultistepScheduler` keeps between steps, as a value: the last x₀ predictions
/// (`model_outputs`, oldest first, at most `solver_order`), the sample before the last predictor (`last_sample`,
/// which the next step's corrector refines), the warm-up count (`lower_order_nums`) and the order of the last
/// predictor (`this_order`, the next corrector's order).
public struct UniPCHistory: Sendable {
    public internal(set) var modelOutputs: [Tensor] = []
    public internal(set) var lastSample: Tensor? = nil
    public internal(set) var lowerOrderCount: Int = 0
    public internal(set) var lastOrder: Int = 0
    /// The step this history is for (nil for a fresh one, which may start at any step, as `set_begin_index`).
    public internal(set) var nextStepIndex: Int? = nil

    /// A fresh history (before the first step taken).
    public init() {}

    /// A history rebuilt from its parts (a search keeps them per individual): `modelOutputs` oldest first, at most
    /// `solver_order` of them; `lastSample` is needed when there is at least one; `lowerOrderCount` equals
    /// `modelOutputs.count` for every history `step` returns.
    public init(modelOutputs: [Tensor], lastSample: Tensor?, lowerOrderCount: Int, lastOrder: Int, nextStepIndex: Int?) {
        self.modelOutputs = modelOutputs
        self.lastSample = lastSample
        self.lowerOrderCount = lowerOrderCount
        self.lastOrder = lastOrder
        self.nextStepIndex = nextStepIndex
    }
}

/// diffusers' `UniPCMultistepScheduler` with flow sigmas and `flow_prediction` (Wan 2.1) after
/// `set_timesteps(numInferenceSteps)`: the UniP predictor (B(h) bh1 or bh2, orders 1–3, warm-up from order 1,
/// `lower_order_final`) and the UniC corrector (skipped at the first step and after the steps in
/// `disable_corrector`), in float32 operation by operation as torch computes them on CPU.
///
/// Grid: σ = `linspace(1, 1/N, n + 1)` without its last point, shifted `k·σ/(1 + (k − 1)·σ)` by `flow_shift`
/// in double, the first σ lowered by 1e-6 when within 1e-6 of 1; timesteps `σ·N` truncated to integers (diffusers
/// keeps them as int64); sigmas in float32 with a final 0 (or the last σ for `final_sigmas_type: sigma_min`).
///
/// The value holds no state: `step` takes the history and returns the next one. With α = 1 − σ, the model's
/// velocity v gives x̂₀ = x − σ·v (`predictedOriginal`). Limits: flow sigmas only (no VP schedules, no
/// thresholding, no `solver_p`); `timesteps` are not used to find the step, `stepIndex` is.
public struct UniPCMultistepScheduler: Sendable {
    public let config: UniPCMultistepConfig
    /// One per step plus the final sigma (0 with `final_sigmas_type: zero`).
    public let sigmas: [Float]
    /// What the model is given at each step (diffusers' `scheduler.timesteps`, integers).
    public let timesteps: [Float]

    public var stepCount: Int { timesteps.count }

    public init(config: UniPCMultistepConfig, numInferenceSteps: Int) throws(SchedulerConfigError) {
        let n = config.numTrainTimesteps
        guard n >= 1 else { throw SchedulerConfigError("num_train_timesteps \(n) must be at least 1") }
        guard numInferenceSteps >= 1 else { throw SchedulerConfigError("\(numInferenceSteps) steps: at least 1 is needed") }
        guard numInferenceSteps <= n else {
            throw SchedulerConfigError("\(numInferenceSteps) steps exceed num_train_timesteps \(n); use at most \(n)")
        }
        guard (1...3).contains(config.solverOrder) else {
            throw SchedulerConfigError("solver_order \(config.solverOrder) must be 1, 2 or 3")
        }
        guard config.flowShift.isFinite && config.flowShift > 0 else {
            throw SchedulerConfigError("flow_shift \(config.flowShift) must be a finite number > 0")
        }
        if let p = config.combinationProblem { throw SchedulerConfigError("\(p.key) \(p.reason)") }
        self.config = config
        let k = config.flowShift
        var s = NumericCompat.numpyLinspace(1, 1 / Double(n), numInferenceSteps + 1).dropLast().map { k * $0 / (1 + (k - 1) * $0) }
        if abs(s[0] - 1) < 1e-6 { s[0] -= 1e-6 }
        timesteps = s.map { Float(($0 * Double(n)).rounded(.towardZero)) }
        sigmas = (s + [config.finalSigmasType == .zero ? 0 : s[s.count - 1]]).map { Float($0) }
    }

    /// Forward-noises a sample at index `from` to the noisier index `to` along the flow sigmas (as the flow
    /// schedulers' `renoise`); a history does not carry over to the renoised sample.
    public func renoise(_ sample: Tensor, from: Int, to: Int, noise: Tensor) -> Tensor {
        checkRenoiseIndices(from, to, stepCount)
        return flowRenoise(sample, sigmaFrom: sigmas[from], sigmaTo: sigmas[to], noise: noise)
    }

    /// The history before the first step taken (at step 0, or at any later step as `set_begin_index` allows).
    public func initialHistory() -> UniPCHistory { UniPCHistory() }

    /// diffusers' `step` at `stepIndex`: converts the velocity to x̂₀, corrects `sample` with UniC (unless this is
    /// the first step of the history or the previous step is in `disable_corrector`), then predicts the sample
    /// at `sigmas[stepIndex + 1]` with UniP. `history` must be `initialHistory()` or the one returned by the
    /// previous step.
    public func step(modelOutput: Tensor, stepIndex i: Int, sample: Tensor, history: UniPCHistory)
        -> (output: SchedulerStepOutput, history: UniPCHistory) {
        checkStepIndex(i, stepCount)
        precondition(history.nextStepIndex == nil || history.nextStepIndex == i,
                     "UniPC: history is for step \(history.nextStepIndex ?? -1), not step \(i)")
        let sigma = sigmas[i]
        let x0 = elementwise(sample, modelOutput) { (x, v) in x - sigma * v }

        var x = sample
        if i > 0, !config.disableCorrector.contains(i - 1), let last = history.lastSample {
            x = correct(x0, last: last, stepIndex: i, history: history)
        }
        var outputs = history.modelOutputs + [x0]
        if outputs.count > config.solverOrder { outputs.removeFirst(outputs.count - config.solverOrder) }
        var order = config.lowerOrderFinal ? min(config.solverOrder, stepCount - i) : config.solverOrder
        order = min(order, history.lowerOrderCount + 1)

        let next = predict(x, outputs: outputs, stepIndex: i, order: order)
        let newHistory = UniPCHistory(modelOutputs: outputs, lastSample: x,
                                      lowerOrderCount: min(history.lowerOrderCount + 1, config.solverOrder),
                                      lastOrder: order, nextStepIndex: i + 1)
        return (SchedulerStepOutput(sample: next, predictedOriginal: x0), newHistory)
    }

    // MARK: UniP and UniC

    /// λ = log α − log σ in float32.
    private func lambda(_ j: Int) -> Float {
        let s = sigmas[j]
        return log(1 - s) - log(s)
    }

    /// The coefficients of one update from level `s0` to `t` with older levels `older` (the levels of the
    /// older x̂₀ in the history, newest first): the ratios r_k, the B(h) vector b of `order` entries and the
    /// three scalars of `x_t = (σ_t/σ_s0)·x − α_t·(e^{−h} − 1)·m₀ − α_t·B(h)·Σ`.
    private func coefficients(t: Int, s0: Int, older: [Int], order: Int)
        -> (a: Float, c: Float, d: Float, rks: [Float], b: [Float]) {
        let sigmaT = sigmas[t], sigmaS0 = sigmas[s0], alphaT = 1 - sigmaT
        let lambdaS0 = lambda(s0)
        let h = lambda(t) - lambdaS0
        let rks = older.map { (lambda($0) - lambdaS0) / h }
        let hh = -h
        let hPhi1 = expm1(hh)
        var hPhiK = hPhi1 / hh - 1
        var factorial = 1
        let bh: Float = config.solverType == .bh1 ? hh : expm1(hh)
        var b: [Float] = []
        for j in 1...order {
            b.append(hPhiK * Float(factorial) / bh)
            factorial *= j + 1
            hPhiK = hPhiK / hh - Float(1 / Double(factorial))
        }
        return (sigmaT / sigmaS0, alphaT * hPhi1, alphaT * bh, rks, b)
    }

    /// The Vandermonde rows `R[j][k] = r_k^j` (with r = 1 last) solved against b, in double.
    private static func rhos(_ rks: [Float], _ b: [Float], size: Int) -> [Float] {
        let r = (rks + [1]).prefix(size).map(Double.init)
        let m = (0..<size).map { j in r.map { pow($0, Double(j)) } }
        return solveLinear(m, b.prefix(size).map(Double.init)).map { Float($0) }
    }

    /// diffusers' `multistep_uni_p_bh_update` from step `i` (the corrected sample `x`, the x̂₀ history with the
    /// current one last).
    private func predict(_ x: Tensor, outputs: [Tensor], stepIndex i: Int, order: Int) -> Tensor {
        let older = (1..<order).map { i - $0 }
        let co = coefficients(t: i + 1, s0: i, older: older, order: order)
        let rhos: [Float]
        switch order {
        case 1: rhos = []
        case 2: rhos = [0.5]
        default: rhos = Self.rhos(co.rks, co.b, size: order - 1)
        }
        let m0 = outputs[outputs.count - 1]
        let terms = (1..<order).map { k in (rho: rhos[k - 1], r: co.rks[k - 1], m: outputs[outputs.count - 1 - k]) }
        return combine(x, m0: m0, a: co.a, c: co.c, d: co.d, terms: terms, current: nil)
    }

    /// diffusers' `multistep_uni_c_bh_update` at step `i`: refines `last` (the sample the previous predictor
    /// started from) with the new x̂₀ `modelT`, at the order of the previous predictor.
    private func correct(_ modelT: Tensor, last: Tensor, stepIndex i: Int, history: UniPCHistory) -> Tensor {
        let order = history.lastOrder
        let outputs = history.modelOutputs
        let older = (1..<order).map { i - 1 - $0 }
        let co = coefficients(t: i, s0: i - 1, older: older, order: order)
        let rhos = order == 1 ? [0.5] : Self.rhos(co.rks, co.b, size: order)
        let m0 = outputs[outputs.count - 1]
        let terms = (1..<order).map { k in (rho: rhos[k - 1], r: co.rks[k - 1], m: outputs[outputs.count - 1 - k]) }
        return combine(last, m0: m0, a: co.a, c: co.c, d: co.d, terms: terms, current: (rhos[order - 1], modelT))
    }

    /// `(a·x − c·m₀) − d·(Σ_k ρ_k·(m_k − m₀)/r_k [+ ρ_t·(m_t − m₀)])` per element, in torch's operation order.
    private func combine(_ x: Tensor, m0: Tensor, a: Float, c: Float, d: Float,
                         terms: [(rho: Float, r: Float, m: Tensor)], current: (rho: Float, m: Tensor)?) -> Tensor {
        precondition(x.shape == m0.shape, "UniPC: shapes \(x.shape) and \(m0.shape) differ")
        if terms.isEmpty && current == nil {
            return elementwise(x, m0) { (x, m0) in a * x - c * m0 }
        }
        let n = x.count
        let older = terms.map(\.m.scalars), rho = terms.map(\.rho), r = terms.map(\.r)
        let mt = current?.m.scalars ?? [], rhoT = current?.rho ?? 0
        let hasCurrent = current != nil
        let out = [Float](unsafeUninitializedCapacity: n) { buffer, initialized in
            x.scalars.withUnsafeBufferPointer { xb in
                m0.scalars.withUnsafeBufferPointer { mb in
                    for e in 0..<n {
                        let base = a * xb[e] - c * mb[e]
                        var sum: Float = 0
                        for k in 0..<older.count {
                            let v = rho[k] * ((older[k][e] - mb[e]) / r[k])
                            sum = k == 0 ? v : sum + v
                        }
                        if hasCurrent {
                            let v = rhoT * (mt[e] - mb[e])
                            sum = older.isEmpty ? v : sum + v
                        }
                        buffer[e] = base - d * sum
                    }
                }
            }
            initialized = n
        }
        return Tensor(shape: x.shape, scalars: out)
    }
}

/// Gaussian elimination with partial pivoting (the small systems of UniPC's ρ, as `torch.linalg.solve`).
private func solveLinear(_ matrix: [[Double]], _ rhs: [Double]) -> [Double] {
    var m = matrix, y = rhs
    let n = y.count
    for col in 0..<n {
        let p = (col..<n).max { abs(m[$0][col]) < abs(m[$1][col]) } ?? col
        if p != col { m.swapAt(p, col); y.swapAt(p, col) }
        for row in (col + 1)..<n {
            let f = m[row][col] / m[col][col]
            for k in col..<n { m[row][k] -= f * m[col][k] }
            y[row] -= f * y[col]
        }
    }
    var x = [Double](repeating: 0, count: n)
    for row in stride(from: n - 1, through: 0, by: -1) {
        var s = y[row]
        for k in (row + 1)..<n { s -= m[row][k] * x[k] }
        x[row] = s / m[row][row]
    }
    return x
}
