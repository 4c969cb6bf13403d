import Foundation
import RandomStreams
import Rewards
import Sampling
import Search
import TensorCore
import Testing
import ToyWorlds

/// Every method with its budget-derived defaults.
let allStrategies: [any SearchStrategy] = [
    EvoSearch(), BestOfN(), ParticleFilter(), ParticleFilter(potential: .difference, resampling: .systematic, adaptive: true),
    ParticleFilter(potential: .sum, interval: 3), ParticleFilter(potential: .immediate, startStep: 10, endStep: 30),
    BeamSearch(), ZeroOrderSearch(), SearchOverPaths(),
]

func world(_ name: String) throws -> (ToyScenario, DenoisingTrajectory) {
    let w = try ToyScenario.builtin(named: name)
    return (w, try w.makeTrajectory())
}

/// A reward that returns NaN for samples in the left half-plane and x₀ elsewhere.
struct HalfNaNReward: Reward {
    let name = "half-nan"
    func scores(_ samples: Tensor) -> [Float] {
        (0..<samples.rows).map { i in let x = samples.row(i).scalars[0]; return x < 0 ? .nan : x }
    }
}

@Suite struct BudgetTests {
    @Test(arguments: ["rare-mode-bump", "twin-rare-modes-flow"])
    func noMethodExceedsItsBudget(scenario: String) throws {
        let (w, trajectory) = try world(scenario)
        for budget in [50, 99, 200, 333, 800, 1234] {
            for strategy in allStrategies {
                do {
                    let r = try strategy.search(trajectory, reward: w.makeReward(), budget: budget, options: SearchOptions(seed: 3))
                    #expect(r.nfe <= budget, "\(type(of: strategy).methodName) spent \(r.nfe) of \(budget)")
                    #expect(r.forwardPasses == r.nfe)
                    #expect(r.rewardCalls >= r.history.count)
                    #expect(!r.history.isEmpty, "\(type(of: strategy).methodName) at \(budget) scored nothing")
                    #expect(r.warnings.isEmpty, "\(type(of: strategy).methodName) at \(budget): \(r.warnings)")
                } catch {
                    // Only methods that genuinely cannot run on tiny budgets may refuse, and only with a message.
                    #expect(budget < 200, "\(type(of: strategy).methodName) refused budget \(budget): \(error)")
                }
            }
        }
    }

    @Test func paperScheduleCostsExactlyBestOfHundred() throws {
        let schedule = EvolutionSchedule(evolutionSteps: [0, 20, 30, 40], populations: [42, 26, 26, 26, 30], elites: 2)
        #expect(schedule.nfe(stepCount: 50) == 5000)
        let (w, trajectory) = try world("rare-mode-bump")
        let r = try EvoSearch(schedule: schedule).search(trajectory, reward: w.makeReward(), budget: 5000, options: SearchOptions(seed: 1))
        #expect(r.nfe == 5000)
        #expect(r.history.count == 42 + 26 + 26 + 26 + 30)
        #expect(r.population.count == 30)
        #expect(r.rewardCalls == r.history.count)
    }

    @Test func derivedSchedulesFitTheirBudgetsAndValidate() throws {
        for t in [10, 50] {
            for rollouts in 1...70 {
                let budget = rollouts * t + rollouts % 7
                let s = EvolutionSchedule.derived(budget: budget, stepCount: t)
                try s.validate(stepCount: t, budget: budget)
                // It spends most of the budget: less than one extra rollout is left over.
                #expect(budget - s.nfe(stepCount: t) < t || rollouts < 2, "\(s) leaves \(budget - s.nfe(stepCount: t)) of \(budget)")
            }
        }
    }

    @Test func budgetBelowOneRolloutIsRefusedForEveryMethod() throws {
        let (w, trajectory) = try world("rare-mode-bump")
        for strategy in allStrategies {
            #expect(throws: SearchConfigurationError.self) {
                try strategy.search(trajectory, reward: w.makeReward(), budget: 49)
            }
        }
    }
}

@Suite struct ValidationTests {
    func message(_ s: EvolutionSchedule, t: Int = 50, budget: Int = 100_000) -> String? {
        do { try s.validate(stepCount: t, budget: budget); return nil } catch { return error.message }
    }

    @Test func invalidSchedulesNameTheFieldAndTheFix() {
        #expect(message(EvolutionSchedule(evolutionSteps: [0, 20, 20], populations: [4, 4, 4, 4], elites: 1))?.contains("not strictly increasing") == true)
        #expect(message(EvolutionSchedule(evolutionSteps: [0, 50], populations: [4, 4, 4], elites: 1))?.contains("outside 0..<50") == true)
        #expect(message(EvolutionSchedule(evolutionSteps: [-1], populations: [4, 4], elites: 1))?.contains("outside") == true)
        #expect(message(EvolutionSchedule(evolutionSteps: [0, 20], populations: [4, 4], elites: 1))?.contains("needs 3") == true)
        #expect(message(EvolutionSchedule(evolutionSteps: [0], populations: [4, 4], elites: 4))?.contains("elites") == true)
        #expect(message(EvolutionSchedule(evolutionSteps: [0], populations: [4, 0], elites: 0))?.contains("at least 1") == true)
        #expect(message(EvolutionSchedule(evolutionSteps: [0], populations: [40, 40], elites: 1), budget: 1000)?.contains("over the budget") == true)
        #expect(message(EvolutionSchedule(evolutionSteps: [0, 20], populations: [4, 4, 4], elites: 1)) == nil)
    }

    @Test func otherMethodsRejectImpossibleSettings() {
        #expect(throws: SearchConfigurationError.self) { try BestOfN(samples: 3).validate(stepCount: 50, budget: 100) }
        #expect(throws: SearchConfigurationError.self) { try ParticleFilter(interval: 0).validate(stepCount: 50, budget: 500) }
        #expect(throws: SearchConfigurationError.self) { try ParticleFilter(startStep: 40, endStep: 10).validate(stepCount: 50, budget: 500) }
        #expect(throws: SearchConfigurationError.self) { try BeamSearch(beams: 8, candidates: 8, lookahead: 3).validate(stepCount: 50, budget: 500) }
        #expect(throws: SearchConfigurationError.self) { try ZeroOrderSearch(cosine: 1).validate(stepCount: 50, budget: 500) }
        #expect(throws: SearchConfigurationError.self) { try SearchOverPaths(forward: 5, backward: 5).validate(stepCount: 50, budget: 5000) }
        #expect(throws: SearchConfigurationError.self) { try EvoSearch(tournamentFraction: 0).validate(stepCount: 50, budget: 500) }
    }
}

@Suite struct ReproducibilityTests {
    @Test(arguments: ["rare-mode-bump", "d64-bump-flow"])
    func sameSeedSameResultWhateverTheBatchSize(scenario: String) throws {
        let (w, trajectory) = try world(scenario)
        for strategy in allStrategies {
            let runs = try [1, 7, 256].map {
                try strategy.search(trajectory, reward: w.makeReward(), budget: 700, options: SearchOptions(seed: 11, maxBatch: $0))
            }
            for r in runs.dropFirst() {
                #expect(r.history == runs[0].history, "\(type(of: strategy).methodName): history differs by batch size")
                #expect(r.best == runs[0].best)
                #expect(r.curve == runs[0].curve)
            }
            let other = try strategy.search(trajectory, reward: w.makeReward(), budget: 700, options: SearchOptions(seed: 12))
            #expect(other.history.map(\.state) != runs[0].history.map(\.state), "\(type(of: strategy).methodName): seed has no effect")
        }
    }
}

@Suite struct EvoSearchTests {
    @Test func initialNoiseMutationKeepsStandardNormal() throws {
        // Mutate N(0, I) draws repeatedly (each step: √(1−β²)x + βε); the result must stay N(0, I),
        // with no correlation between coordinates.
        let (_, trajectory) = try world("d64-bump-flow")
        let evo = EvoSearch(initialMutationRate: 0.6)
        let n = 4000
        var x = NoiseKey(seed: 5, purpose: .initialNoise).gaussianTensor(shape: [n, 64])
        for round in 0..<6 {
            let eps = NoiseKey(seed: 5, purpose: .mutation, generation: round).gaussianTensor(shape: [n, 64])
            x = evo.mutate(x, at: 0, noise: eps, trajectory: trajectory)
        }
        let v: [Double] = x.scalars.map(Double.init)
        let count = Double(v.count)
        let mean: Double = v.reduce(0, +) / count
        var m2 = 0.0, m4 = 0.0
        for value in v { let c = value - mean; m2 += c * c; m4 += c * c * c * c }
        let variance = m2 / count
        let kurt = m4 / count / (variance * variance)
        var cross = 0.0
        for i in 0..<n { cross += Double(x.scalars[i * 64]) * Double(x.scalars[i * 64 + 1]) }
        cross /= Double(n)
        // n·d = 256 000 values: s.e. of the mean 0.002, variance 0.0028, kurtosis 0.01; of the cross term 0.016.
        #expect(abs(mean) < 0.01)
        #expect(abs(variance - 1) < 0.015)
        #expect(abs(kurt - 3) < 0.06)
        #expect(abs(cross) < 0.07)
        // A wrong rule (x + βε) would inflate the variance by 6·β² = 2.16: the test can tell.
    }

    @Test func intermediateMutationUsesTheSamplersStepStd() throws {
        let (_, trajectory) = try world("rare-mode-bump")
        let x = Tensor(shape: [1, 2], scalars: [1, 2])
        let eps = Tensor(shape: [1, 2], scalars: [1, -1])
        let sigma = trajectory.noiseStd(stepIndex: 19)
        #expect(sigma > 0)
        let y = EvoSearch().mutate(x, at: 20, noise: eps, trajectory: trajectory)
        #expect(abs(y.scalars[0] - (1 + sigma)) < 1e-6 && abs(y.scalars[1] - (2 - sigma)) < 1e-6)
    }

    @Test func bestRewardNeverDecreasesAcrossGenerations() throws {
        let (w, trajectory) = try world("rare-mode-bump")
        for seed in 0..<4 as Range<UInt64> {
            let r = try EvoSearch().search(trajectory, reward: w.makeReward(), budget: 3200, options: SearchOptions(seed: seed))
            // The curve is the running maximum of every reward scored so far, one point per generation.
            var running: Float = -.infinity
            var byNFE: [Int: Float] = [:]
            for s in r.history { running = max(running, s.reward); byNFE[s.nfe] = running }
            #expect(r.curve.count == Set(r.history.map(\.generation)).count)
            for (a, b) in zip(r.curve, r.curve.dropFirst()) { #expect(b.bestReward >= a.bestReward && b.nfe > a.nfe) }
            for p in r.curve { #expect(p.bestReward == byNFE[p.nfe]) }
            #expect(r.best.reward == running)
            // The curve recomputed per generation from the history: point k is the best reward of generations
            // 0…k, recorded at the NFE of generation k's last scoring.
            let generations = Set(r.history.map(\.generation)).sorted()
            #expect(generations.count >= 3 && generations == Array(0..<generations.count))
            for (k, g) in generations.enumerated() where k < r.curve.count {
                let bestSoFar = r.history.filter { $0.generation <= g }.map(\.reward).max()
                let lastNFE = r.history.filter { $0.generation == g }.map(\.nfe).max()
                #expect(r.curve[k].bestReward == bestSoFar && r.curve[k].nfe == lastNFE, "seed \(seed), generation \(g)")
            }
            // Lineage: every child names a parent scored before it.
            let ids = Dictionary(uniqueKeysWithValues: r.history.map { ($0.id, $0) })
            for s in r.history where s.generation > 0 {
                let parent = try #require(s.parent.flatMap { ids[$0] })
                #expect(parent.generation < s.generation)
                #expect(s.origin == "elite" || s.origin == "mutation")
            }
        }
    }

    @Test func searchFindsTheRareModeMoreOftenThanOneSample() throws {
        let (w, trajectory) = try world("rare-mode-bump")
        var evo: [Float] = [], single: [Float] = []
        for seed in 0..<8 as Range<UInt64> {
            evo.append(try EvoSearch().search(trajectory, reward: w.makeReward(), budget: 1600, options: SearchOptions(seed: seed)).best.reward)
            single.append(try BestOfN().search(trajectory, reward: w.makeReward(), budget: 50, options: SearchOptions(seed: seed)).best.reward)
        }
        #expect(evo.reduce(0, +) / 8 > 0.5, "EvoSearch mean best \(evo)")
        #expect(single.reduce(0, +) / 8 < 0.3, "single samples \(single)")
    }
}

@Suite struct NaNRewardTests {
    @Test func nanRewardsRankWorstAreCountedAndReported() throws {
        let (_, trajectory) = try world("rare-mode-bump")
        for strategy in allStrategies {
            let r = try strategy.search(trajectory, reward: HalfNaNReward(), budget: 800, options: SearchOptions(seed: 2))
            #expect(r.best.reward.isFinite && r.best.reward >= 0, "\(type(of: strategy).methodName): best \(r.best.reward)")
            let sawNaN = r.history.contains { $0.reward == -.infinity }
            // Whenever a clean sample scored NaN, the result says so.
            if sawNaN { #expect(r.warnings.contains { $0.contains("NaN") }, "\(type(of: strategy).methodName): \(r.warnings)") }
            if strategy is BestOfN || strategy is EvoSearch { #expect(sawNaN, "\(type(of: strategy).methodName) never met the NaN half-plane") }
            #expect(r.rewardCalls >= r.history.count)
            let json = try JSONSerialization.jsonObject(with: r.jsonData(includeHistory: true)) as? [String: Any]
            #expect(json?["reward_calls"] as? Int == r.rewardCalls)
        }
    }
}

/// With a constant reward nothing should bias selection, so returned populations must be distributed as
/// the model's own samples. Compared per mixture component, with standard errors taken across seeds
/// (robust to the within-run correlation that resampling creates).
@Suite struct UnbiasedUnderConstantRewardTests {
    func componentFractions(_ strategy: any SearchStrategy, seeds: Range<UInt64>, budget: Int) throws -> [[Double]] {
        let (w, trajectory) = try world("rare-mode-constant")
        return try seeds.map { seed in
            let r = try strategy.search(trajectory, reward: w.makeReward(), budget: budget, options: SearchOptions(seed: seed))
            let cov = w.modeCoverage(samples: Tensor(shape: [r.population.count, 2], scalars: r.population.flatMap(\.state)))
            return cov.sampleFractions
        }
    }

    func meanAndStandardError(_ rows: [[Double]], component k: Int) -> (Double, Double) {
        let xs = rows.map { $0[k] }
        let (m, sd) = (xs.reduce(0, +) / Double(xs.count), 0.0)
        let v = xs.map { ($0 - m) * ($0 - m) }.reduce(sd, +) / Double(xs.count - 1)
        return (m, (v / Double(xs.count)).squareRoot())
    }

    @Test func populationsMatchTheModelsOwnSamples() throws {
        let weights = try ToyScenario.builtin(named: "rare-mode-constant").mixture.map(\.weight)
        let reference = try componentFractions(BestOfN(), seeds: 100..<140, budget: 64 * 50)
        let candidates: [(String, any SearchStrategy)] = [
            ("particle multinomial", ParticleFilter(interval: 2)),
            ("particle systematic", ParticleFilter(resampling: .systematic, interval: 2)),
            ("evosearch initial noise only", EvoSearch(schedule: EvolutionSchedule(evolutionSteps: [0], populations: [32, 32], elites: 4))),
        ]
        for k in weights.indices {
            let (mRef, seRef) = meanAndStandardError(reference, component: k)
            // Best-of-N is the model: its fractions match the mixture weights.
            #expect(abs(mRef - weights[k]) < 4 * seRef + 0.01, "best-of-n component \(k): \(mRef) vs weight \(weights[k])")
        }
        for (label, strategy) in candidates {
            let rows = try componentFractions(strategy, seeds: 0..<40, budget: 64 * 50)
            for k in weights.indices {
                let (m, se) = meanAndStandardError(rows, component: k)
                let (mRef, seRef) = meanAndStandardError(reference, component: k)
                let bound = 4 * (se * se + seRef * seRef).squareRoot() + 0.01
                #expect(abs(m - mRef) < bound, "\(label) component \(k): \(m) vs model \(mRef) (bound \(bound))")
            }
        }
    }
}

/// A stop flag that tests raise from inside a model call.
final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var raised = false
    var isRaised: Bool { lock.withLock { raised } }
    func raise() { lock.withLock { raised = true } }
}

/// A toy trajectory whose `failAt`-th evaluation (1-based) misbehaves inside the call: it raises `stop` and polls
/// its cancellation check, as Ctrl-C arriving during a long forward, or (without `stop`) throws a model error.
struct InterruptedTrajectory: TrajectoryWrapper {
    struct ModelGone: Error, CustomStringConvertible { var description: String { "server gone" } }
    let base: any Trajectory
    let failAt: Int
    let stop: StopFlag?
    let calls = StopFlagCounter()

    func evaluate(_ states: Tensor, at index: Int, cancellation: CancellationCheck) throws -> Tensor {
        if calls.next() == failAt {
            guard let stop else { throw ModelGone() }
            stop.raise()
            try cancellation.check()
            Issue.record("the engine's cancellation check did not see the raised stop")
        }
        return try base.evaluate(states, at: index, cancellation: cancellation)
    }
}

final class StopFlagCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func next() -> Int { lock.withLock { n += 1; return n } }
    var value: Int {
        get { lock.withLock { n } }
        set { lock.withLock { n = newValue } }
    }
}

@Suite struct StopInsideModelCallTests {
    /// A stop requested while a model call runs ends every method as interrupted (not as an error), with nothing
    /// spent for the call that was cut and everything scored before it kept.
    @Test func aStopInsideACallIsAnInterruption() throws {
        let (w, base) = try world("rare-mode-bump")
        for strategy in allStrategies {
            let stop = StopFlag()
            let trajectory = InterruptedTrajectory(base: base, failAt: 3 * base.stepCount, stop: stop)
            let spentBefore = StopFlagCounter()
            let r = try strategy.search(trajectory, reward: w.makeReward(), budget: 20 * base.stepCount,
                                        options: SearchOptions(seed: 2, maxBatch: 4, isCancelled: { stop.isRaised },
                                                               spent: { nfe, _ in if !stop.isRaised { spentBefore.value = nfe } }))
            let name = type(of: strategy).methodName
            #expect(r.interrupted && r.error == nil, "\(name): interrupted \(r.interrupted), error \(r.error ?? "nil")")
            #expect(r.warnings.contains { $0.hasPrefix("search interrupted at") }, "\(name): \(r.warnings)")
            #expect(r.nfe == spentBefore.value, "\(name): \(r.nfe) NFE counted, \(spentBefore.value) arrived before the stop")
        }
    }

    /// A model error inside a call (no stop asked) ends the search with the error recorded.
    @Test func aModelErrorIsAFailure() throws {
        let (w, base) = try world("rare-mode-bump")
        let trajectory = InterruptedTrajectory(base: base, failAt: 2 * base.stepCount, stop: nil)
        let r = try EvoSearch().search(trajectory, reward: w.makeReward(), budget: 20 * base.stepCount, options: SearchOptions(seed: 2))
        #expect(r.interrupted)
        #expect(r.error?.contains("server gone") == true)
    }
}
