import Foundation
import RandomStreams
import Rewards
import Sampling
import TensorCore

/// Why a search stopped before its plan finished.
public enum SearchStop: Error, Sendable, Equatable, CustomStringConvertible {
    /// The next batch would exceed the NFE budget.
    case budgetExhausted
    /// The caller asked to stop (e.g. Ctrl-C).
    case cancelled
    /// A model, decoder or reward call threw; the message names which and why.
    case failed(String)

    public var description: String {
        switch self {
        case .budgetExhausted: "the NFE budget is exhausted"
        case .cancelled: "interrupted"
        case .failed(let message): message
        }
    }
}

/// Progress reported after every scoring of clean samples.
public struct SearchProgress: Sendable {
    public var nfe: Int
    public var budget: Int
    public var generation: Int
    public var bestReward: Float
    public var elapsedSeconds: Double
}

/// Options shared by every strategy.
public struct SearchOptions: Sendable {
    /// Seed of every random stream of the search.
    public var seed: UInt64
    /// Largest number of rows sent to the denoiser or reward in one call; results do not depend on it.
    public var maxBatch: Int
    /// Called after each scoring of clean samples.
    public var progress: (@Sendable (SearchProgress) -> Void)?
    /// Polled before every model and reward call (every chunk of `maxBatch` rows); returning true stops the
    /// search, keeping what was found.
    public var isCancelled: (@Sendable () -> Bool)?
    /// Called after every chunk of denoiser evaluations with the NFE spent so far and the budget.
    public var spent: (@Sendable (_ nfe: Int, _ budget: Int) -> Void)?

    public init(seed: UInt64 = 0, maxBatch: Int = 256, progress: (@Sendable (SearchProgress) -> Void)? = nil,
                isCancelled: (@Sendable () -> Bool)? = nil, spent: (@Sendable (Int, Int) -> Void)? = nil) {
        self.seed = seed; self.maxBatch = max(1, maxBatch); self.progress = progress; self.isCancelled = isCancelled
        self.spent = spent
    }
}

/// How a row of a batch draws its noise: the (generation, individual) part of its `NoiseKey`s.
public struct NoiseIdentity: Sendable, Hashable {
    public var generation: Int
    public var individual: Int
    public init(generation: Int, individual: Int) { self.generation = generation; self.individual = individual }
}

/// The machinery every strategy shares: budget-checked batched model calls, per-individual noise,
/// rollouts, scoring with NaN handling, and the record of every clean sample scored.
///
/// A strategy drives one `SearchEngine` and calls `finish` to build its `SearchResult`. Every model call
/// goes through `evaluate`, so the budget can never be exceeded: a call that would exceed it throws
/// `SearchStop.budgetExhausted` before spending anything.
public struct SearchEngine {
    public let trajectory: any Trajectory
    public let reward: any Reward
    public let options: SearchOptions
    public private(set) var budget: Budget
    public private(set) var history: [ScoredSample] = []
    public private(set) var curve: [CurvePoint] = []
    public private(set) var warnings: [String] = []
    public var settings: [String: String] = [:]
    private var nextID = 0
    private var nanCount = 0
    private var nonFiniteSamples = 0
    private let started = Date()
    /// Wall time inside the model (denoiser evaluations and decoding) and inside the reward, for the overhead
    /// figure (everything else a search does: noise, selection, bookkeeping).
    private var modelSeconds = 0.0
    private var rewardSeconds = 0.0

    private static func clock() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
    private static func seconds(since t0: UInt64) -> Double { Double(clock() - t0) * 1e-9 }

    /// Decodes states in chunks of `maxBatch` (a failure becomes `SearchStop.failed`).
    private mutating func decode(_ states: Tensor) throws(SearchStop) -> Tensor {
        var parts: [Tensor] = []
        for range in chunks(states.rows) {
            if options.isCancelled?() == true { throw .cancelled }
            let t0 = Self.clock()
            defer { modelSeconds += Self.seconds(since: t0) }
            let part = range.count == states.rows ? states : states.gatherRows(Array(range))
            do { parts.append(try trajectory.decode(part)) } catch { throw .failed("decoding samples: \(error)") }
        }
        return parts.count == 1 ? parts[0] : Tensor.concatenate(parts)
    }

    /// Row ranges of at most `maxBatch` rows covering `0..<n`.
    private func chunks(_ n: Int) -> [Range<Int>] {
        stride(from: 0, to: n, by: options.maxBatch).map { $0..<min(n, $0 + options.maxBatch) }
    }

    public init(trajectory: any Trajectory, reward: any Reward, budget: Int, options: SearchOptions) {
        self.trajectory = trajectory
        self.reward = reward
        self.budget = Budget(limit: budget)
        self.options = options
    }

    public var stepCount: Int { trajectory.stepCount }
    public var seed: UInt64 { options.seed }
    public var bestReward: Float { curve.last?.bestReward ?? -.infinity }

    /// A fresh id for a new individual.
    public mutating func makeID() -> Int { defer { nextID += 1 }; return nextID }

    // MARK: Noise

    /// Standard normals for each row, from the row's own stream: `[rows.count] + stateShape`, zero on the history
    /// a multistep sampler carries (`Trajectory.sampleStateShape`), so mixing noise into a state leaves it alone.
    public func noise(_ purpose: NoisePurpose, _ rows: [NoiseIdentity], step: Int) -> Tensor {
        let shape = trajectory.stateShape
        let n = trajectory.sampleStateShape.reduce(1, *), carried = trajectory.carriedScalarCount
        var out = [Float]()
        out.reserveCapacity((n + carried) * rows.count)
        for r in rows {
            out += NoiseKey(seed: seed, purpose: purpose, generation: r.generation, individual: r.individual, step: step).gaussians(n)
            if carried > 0 { out += repeatElement(0, count: carried) }
        }
        return Tensor(shape: [rows.count] + shape, scalars: out)
    }

    /// A stream for discrete choices (tournaments, resampling) at one generation and step.
    public func choiceStream(generation: Int, step: Int = 0) -> PhiloxStream {
        PhiloxStream(NoiseKey(seed: seed, purpose: .selection, generation: generation, individual: 0, step: step))
    }

    /// Initial states for the given rows (initial-noise streams).
    public func initialStates(_ rows: [NoiseIdentity]) -> Tensor {
        trajectory.initialState(noise: noise(.initialNoise, rows, step: 0))
    }

    // MARK: Model calls

    /// Model outputs for `states` at `index`, in chunks of `maxBatch`; spends one NFE per row whose output
    /// arrived. Cancellation is checked before every chunk and, through the trajectory, between the blocks of
    /// the model inside one call; a model error becomes `SearchStop.failed` (`.cancelled` when a stop was asked).
    public mutating func evaluate(_ states: Tensor, at index: Int) throws(SearchStop) -> Tensor {
        let n = states.rows
        guard budget.canAfford(n) else { throw .budgetExhausted }
        let cancellation = options.isCancelled.map(CancellationCheck.init) ?? .never
        var parts: [Tensor] = []
        for range in chunks(n) {
            if cancellation.isCancelled { throw .cancelled }
            let part = range.count == n ? states : states.gatherRows(Array(range))
            let out: Tensor
            do {
                let t0 = Self.clock()
                defer { modelSeconds += Self.seconds(since: t0) }
                out = try trajectory.evaluate(part, at: index, cancellation: cancellation)
            } catch {
                if cancellation.isCancelled { throw .cancelled }
                throw .failed("model evaluation at step \(index): \(error)")
            }
            budget.spend(nfe: range.count, passesPerNFE: trajectory.passesPerNFE)
            options.spent?(budget.nfe, budget.limit)
            parts.append(out)
        }
        return parts.count == 1 ? parts[0] : Tensor.concatenate(parts)
    }

    /// One full step (evaluate + advance) from `index`. With `noiseRows` the stochastic form is used, each
    /// row drawing from its own step-noise stream; without, the deterministic form.
    public mutating func step(_ states: Tensor, at index: Int, noiseRows: [NoiseIdentity]?) throws(SearchStop) -> TrajectoryStep {
        let output = try evaluate(states, at: index)
        let eps = noiseRows.map { noise(.stepNoise, $0, step: index) }
        return trajectory.advance(states, modelOutput: output, at: index, noise: eps)
    }

    /// Steps `states` from index `from` to `to`, returning the final states and the states seen at each
    /// index in `keep` (from < k ≤ to). Stochastic when `noiseRows` is given.
    public mutating func rollout(_ states: Tensor, from: Int, to: Int, noiseRows: [NoiseIdentity]?,
                                 keep: Set<Int> = []) throws(SearchStop) -> (states: Tensor, kept: [Int: Tensor]) {
        var x = states
        var kept: [Int: Tensor] = [:]
        if keep.contains(from) { kept[from] = x }
        var i = from
        while i < to {
            x = try step(x, at: i, noiseRows: noiseRows).states
            i += 1
            if keep.contains(i) { kept[i] = x }
        }
        return (x, kept)
    }

    // MARK: Rewards

    /// Rewards of decoded samples (counted as reward calls, per chunk scored). A NaN reward, and any sample
    /// holding NaN or infinity, scores `-infinity` (ranked worst) and is reported in the warnings. A reward
    /// that throws or answers with the wrong count becomes `SearchStop.failed`.
    public mutating func rewards(ofDecoded decoded: Tensor) throws(SearchStop) -> [Float] {
        var out: [Float] = []
        let n = decoded.rows
        for range in chunks(n) {
            if options.isCancelled?() == true { throw .cancelled }
            let chunk = range.count == n ? decoded : decoded.gatherRows(Array(range))
            let s: [Float]
            do {
                let t0 = Self.clock()
                defer { rewardSeconds += Self.seconds(since: t0) }
                s = try reward.scores(chunk)
            } catch { throw .failed("\(error)") }
            guard s.count == range.count else {
                throw .failed("reward \(reward.name) returned \(s.count) scores for \(range.count) samples")
            }
            budget.countRewardCalls(range.count)
            out += s
        }
        let rowSize = decoded.rowSize
        for i in out.indices {
            if !decoded.scalars[(i * rowSize)..<((i + 1) * rowSize)].allSatisfy(\.isFinite) {
                out[i] = -.infinity
                nonFiniteSamples += 1
            } else if out[i].isNaN {
                out[i] = -.infinity
                nanCount += 1
            }
        }
        return out
    }

    /// Scores look-ahead estimates (x0 predictions): counted reward calls, not recorded as results.
    public mutating func scoreEstimates(_ predictedOriginal: Tensor) throws(SearchStop) -> [Float] {
        try rewards(ofDecoded: try decode(predictedOriginal))
    }

    /// What is known about a clean sample before it is scored.
    public struct Lineage: Sendable {
        public var id: Int
        public var generation: Int
        public var parent: Int?
        public var origin: String
        public init(id: Int, generation: Int, parent: Int? = nil, origin: String) {
            self.id = id; self.generation = generation; self.parent = parent; self.origin = origin
        }
    }

    /// Decodes and scores fully denoised states, records each in the history and the curve, reports
    /// progress, and returns the scored samples in row order.
    /// The history keeps each sample's final state, not its decoded pixels.
    @discardableResult
    public mutating func scoreFinal(_ states: Tensor, lineage: [Lineage]) throws(SearchStop) -> [ScoredSample] {
        precondition(lineage.count == states.rows, "scoreFinal: \(lineage.count) lineages for \(states.rows) rows")
        let r = try rewards(ofDecoded: try decode(states))
        var best = bestReward
        var out: [ScoredSample] = []
        for (i, l) in lineage.enumerated() {
            let s = ScoredSample(id: l.id, generation: l.generation, parent: l.parent, origin: l.origin,
                                 reward: r[i], nfe: budget.nfe, state: states.row(i).scalars)
            out.append(s)
            history.append(s)
            best = max(best, r[i])
        }
        curve.append(CurvePoint(nfe: budget.nfe, bestReward: best))
        options.progress?(SearchProgress(nfe: budget.nfe, budget: budget.limit, generation: lineage.map(\.generation).max() ?? 0,
                                         bestReward: best, elapsedSeconds: Date().timeIntervalSince(started)))
        return out
    }

    // MARK: Result

    public mutating func warn(_ message: String) { warnings.append(message) }

    /// Builds the result. `stop` is the reason the strategy ended early, if any.
    public func finish(method: String, population: [ScoredSample], stop: SearchStop? = nil) -> SearchResult {
        var warnings = self.warnings
        if nanCount > 0 {
            warnings.append("reward \(reward.name) returned NaN for \(nanCount) sample(s); they were ranked worst")
        }
        if nonFiniteSamples > 0 {
            warnings.append("\(nonFiniteSamples) decoded sample(s) held NaN or infinite values; they were ranked worst")
        }
        if stop == .cancelled { warnings.append("search interrupted at \(budget.nfe) of \(budget.limit) NFE; result is the best found so far") }
        var error: String? = nil
        if case .failed(let message)? = stop {
            error = message
            warnings.append("search stopped at \(budget.nfe) of \(budget.limit) NFE by an error (\(message)); result is the best found so far")
        }
        if stop == .budgetExhausted { warnings.append("budget of \(budget.limit) NFE ran out before the strategy's plan finished") }
        var bestIndex = 0
        for (i, s) in history.enumerated() where s.reward > history[bestIndex].reward { bestIndex = i }
        let best = history.isEmpty
            ? ScoredSample(id: -1, generation: 0, parent: nil, origin: "none", reward: -.infinity, nfe: 0, state: [])
            : history[bestIndex]
        if history.isEmpty { warnings.append("no sample was completed within the budget") }
        return SearchResult(method: method, budget: budget.limit, nfe: budget.nfe, forwardPasses: budget.forwardPasses,
                            rewardCalls: budget.rewardCalls, wallSeconds: Date().timeIntervalSince(started),
                            best: best, population: population, history: history, curve: curve,
                            warnings: warnings, settings: settings, interrupted: stop == .cancelled || error != nil,
                            error: error, stateShape: trajectory.stateShape, sampleShape: trajectory.sampleShape,
                            modelSeconds: modelSeconds, rewardSeconds: rewardSeconds)
    }
}
