import Foundation
import Rewards
import Sampling
import Search
import ToyWorlds

/// The toy-world benchmark (`evosearch bench toy`): contenders × budgets × seeds on the exact Gaussian-mixture
/// worlds, one search per seed, run one after another so that the measured model and reward times are not shared
/// with other searches of the benchmark (a model call may still split its batch over the worker threads).
///
/// A cell is one (world, contender, budget). Every cell uses the seeds `firstSeed`, `firstSeed + 1`, … so two
/// cells of the same world are paired seed by seed (`ToyBenchmarkReport` compares them on their common
/// seeds). A contender that refuses a budget (its validation throws) is skipped for that cell and the reason
/// kept; a search that fails throws `ToyBenchmarkError`.
public struct ToyBenchmark {
    /// A strategy with the name the tables show.
    public struct Contender: Sendable {
        public var name: String
        public var strategy: any SearchStrategy
        public init(name: String, strategy: any SearchStrategy) { self.name = name; self.strategy = strategy }
        /// The method with its default (budget-derived) settings, named as on the command line.
        public static func method(_ m: SearchMethod) -> Contender { Contender(name: m.rawValue, strategy: m.defaultStrategy) }
    }

    /// How many seeds a cell gets.
    public enum SeedCount: Sendable, Equatable, CustomStringConvertible {
        /// Exactly this many.
        case fixed(Int)
        /// Seeds in blocks of `block` until the standard error of the cell's mean best reward is at most
        /// `standardError`, with at least `minimum` and at most `maximum` seeds. The stopping rule looks only at
        /// the spread, not at the mean; cells that stop at `maximum` above the target are flagged in the report.
        case untilStandardError(Double, minimum: Int, maximum: Int, block: Int)

        /// Standard error ≤ 0.02, 200 to 10 000 seeds in blocks of 100.
        public static let standard = SeedCount.untilStandardError(0.02, minimum: 200, maximum: 10_000, block: 100)

        public var description: String {
            switch self {
            case .fixed(let n): "\(n) seeds"
            case .untilStandardError(let se, let lo, let hi, let block):
                "seeds in blocks of \(block) until the standard error of the mean best reward is ≤ \(se) (\(lo)–\(hi) seeds)"
            }
        }

        /// The first setting that cannot work, as a message; nil when all can.
        public var problem: String? {
            switch self {
            case .fixed(let n): n < 1 ? "seeds: \(n) must be at least 1" : nil
            case .untilStandardError(let se, let lo, let hi, let block):
                !(se > 0) ? "target standard error: \(se) must be above 0"
                    : lo < 2 ? "minimum seeds: \(lo) must be at least 2 (a standard error needs two)"
                    : hi < lo ? "maximum seeds: \(hi) is below the minimum \(lo)"
                    : block < 1 ? "seed block: \(block) must be at least 1" : nil
            }
        }
    }

    public struct Settings: Sendable {
        /// Budgets in rollouts (NFE = rollouts × the world's steps).
        public var rollouts: [Int]
        public var seeds: SeedCount
        /// The first seed of every cell (tuning runs use seeds disjoint from the reported ones).
        public var firstSeed: UInt64
        public var maxBatch: Int

        public init(rollouts: [Int], seeds: SeedCount = .standard, firstSeed: UInt64 = 0, maxBatch: Int = 256) {
            self.rollouts = rollouts; self.seeds = seeds; self.firstSeed = firstSeed; self.maxBatch = maxBatch
        }

        /// The first setting that cannot work, as a message naming it; nil when all can.
        public var problem: String? {
            if rollouts.isEmpty || rollouts.contains(where: { $0 < 1 }) { return "rollouts: every budget must be at least 1 rollout" }
            if Set(rollouts).count != rollouts.count { return "rollouts: \(rollouts) lists a budget twice" }
            if maxBatch < 1 { return "max batch: \(maxBatch) must be at least 1" }
            return seeds.problem
        }
    }

    /// One search.
    public struct Run: Sendable, Equatable {
        public var world: String, contender: String, rollouts: Int, seed: UInt64
        /// The best reward found, and the final population's target-mode coverage and mode TV (`ModeCoverage`).
        public var best: Double, coverage: Double, totalVariation: Double
        public var nfe: Int, rewardCalls: Int
        /// Measured inside the search: wall time in model calls (denoiser and decoding), in reward calls, and in all.
        public var modelSeconds: Double, rewardSeconds: Double, wallSeconds: Double

        public init(world: String, contender: String, rollouts: Int, seed: UInt64, best: Double, coverage: Double,
                    totalVariation: Double, nfe: Int, rewardCalls: Int, modelSeconds: Double, rewardSeconds: Double,
                    wallSeconds: Double) {
            self.world = world; self.contender = contender; self.rollouts = rollouts; self.seed = seed; self.best = best
            self.coverage = coverage; self.totalVariation = totalVariation; self.nfe = nfe; self.rewardCalls = rewardCalls
            self.modelSeconds = modelSeconds; self.rewardSeconds = rewardSeconds; self.wallSeconds = wallSeconds
        }

        /// The compute axis: model plus reward time.
        public var computeSeconds: Double { modelSeconds + rewardSeconds }
    }

    /// A cell a contender refused, with its reason.
    public struct Skip: Sendable, Equatable {
        public var world: String, contender: String, rollouts: Int, reason: String
    }

    /// What a cell gave: its runs, or the reason the contender refused the budget.
    public enum CellOutcome: Sendable {
        case runs([Run])
        case skipped(Skip)
    }

    public struct Result: Sendable {
        public var runs: [Run]
        public var skipped: [Skip]
        /// Wall time of the whole benchmark.
        public var seconds: Double
    }

    public var worlds: [ToyScenario]
    public var contenders: [Contender]
    public var settings: Settings
    /// Called before each block of seeds with a description of the cell.
    public var progress: (String) -> Void

    public init(worlds: [ToyScenario], contenders: [Contender], settings: Settings, progress: @escaping (String) -> Void = { _ in }) {
        self.worlds = worlds; self.contenders = contenders; self.settings = settings; self.progress = progress
    }

    /// The built-in worlds whose reward is not constant (a constant reward makes every method equal).
    public static func defaultWorlds() -> [ToyScenario] {
        ToyScenario.builtinNames.compactMap { try? ToyScenario.builtin(named: $0) }.filter { world in
            if case .constant = world.reward { return false }
            return true
        }
    }

    /// Every cell: worlds × budgets × contenders.
    public func run() throws(ToyBenchmarkError) -> Result {
        if let problem = settings.problem { throw ToyBenchmarkError(problem) }
        let start = Clock.wallSeconds()
        var runs: [Run] = [], skipped: [Skip] = []
        for world in worlds {
            let bench = try WorldBench(world: world, maxBatch: settings.maxBatch)
            for r in settings.rollouts {
                for c in contenders {
                    switch try bench.cell(c, rollouts: r, seeds: settings.seeds, firstSeed: settings.firstSeed, progress: progress) {
                    case .runs(let cellRuns): runs += cellRuns
                    case .skipped(let skip): skipped.append(skip)
                    }
                }
            }
        }
        return Result(runs: runs, skipped: skipped, seconds: Clock.wallSeconds() - start)
    }

    /// One world's trajectory, reward and target, built once for all of its cells.
    public struct WorldBench {
        public let world: ToyScenario
        let trajectory: DenoisingTrajectory
        let reward: any ToyReward
        let target: TiltedTarget
        let maxBatch: Int

        public init(world: ToyScenario, maxBatch: Int = 256) throws(ToyBenchmarkError) {
            self.world = world
            do { trajectory = try world.makeTrajectory() } catch { throw ToyBenchmarkError("\(error)") }
            reward = world.makeReward()
            target = world.makeTarget()
            self.maxBatch = maxBatch
        }

        /// One search.
        public func run(_ c: Contender, rollouts: Int, seed: UInt64) throws(ToyBenchmarkError) -> Run {
            let budget = rollouts * world.steps
            let result: SearchResult
            do {
                result = try c.strategy.search(trajectory, reward: reward, budget: budget, options: SearchOptions(seed: seed, maxBatch: maxBatch))
            } catch {
                throw ToyBenchmarkError("\(world.name) · \(c.name) · \(rollouts) rollouts: \(error)")
            }
            if let e = result.error {
                throw ToyBenchmarkError("\(world.name) · \(c.name) · \(rollouts) rollouts · seed \(seed): the search failed: \(e)")
            }
            let cov = target.modeCoverage(samples: result.states(of: result.population))
            return Run(world: world.name, contender: c.name, rollouts: rollouts, seed: seed, best: Double(result.best.reward),
                       coverage: cov.coverage, totalVariation: cov.totalVariation, nfe: result.nfe, rewardCalls: result.rewardCalls,
                       modelSeconds: result.modelSeconds, rewardSeconds: result.rewardSeconds, wallSeconds: result.wallSeconds)
        }

        /// Every seed of one cell, or the reason the contender refused the budget.
        public func cell(_ c: Contender, rollouts: Int, seeds: SeedCount, firstSeed: UInt64,
                         progress: (String) -> Void = { _ in }) throws(ToyBenchmarkError) -> CellOutcome {
            do {
                try requireAtLeastOneRollout(stepCount: world.steps, budget: rollouts * world.steps)
                try c.strategy.validate(stepCount: world.steps, budget: rollouts * world.steps)
            } catch {
                return .skipped(Skip(world: world.name, contender: c.name, rollouts: rollouts, reason: error.message))
            }
            // One untimed search first, so that first-use costs (page faults, lazily built tables) stay out of the cell.
            _ = try run(c, rollouts: rollouts, seed: firstSeed)
            var runs: [Run] = []
            func extend(to n: Int) throws(ToyBenchmarkError) {
                progress("\(world.name) · \(c.name) · \(rollouts) rollouts · seeds \(runs.count)..<\(n)")
                while runs.count < n { runs.append(try run(c, rollouts: rollouts, seed: firstSeed + UInt64(runs.count))) }
            }
            switch seeds {
            case .fixed(let n):
                try extend(to: n)
            case .untilStandardError(let target, let minimum, let maximum, let block):
                try extend(to: minimum)
                while runs.count < maximum && Statistics.standardError(runs.map(\.best)) > target {
                    try extend(to: min(maximum, runs.count + block))
                }
            }
            return .runs(runs)
        }
    }
}

/// A toy benchmark that cannot run: a setting that cannot work, a world that cannot be built or a failed search.
public struct ToyBenchmarkError: Error, CustomStringConvertible, Equatable, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
