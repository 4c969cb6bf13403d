import ArgumentParser
import Benchmarks
import Foundation
import Search
import TensorCore
import ToyWorlds

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks: search methods compared at equal compute.",
        subcommands: [BenchToy.self, BenchModels.self, BenchShapes.self, BenchRemote.self])
}

/// Every method at several budgets over several seeds on the exact Gaussian-mixture worlds.
struct BenchToy: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "toy",
        abstract: "Every method at budgets of 4, 16 and 64 rollouts over 8 seeds on the built-in toy worlds.",
        discussion: """
        For each scenario, method and budget: mean ± sd over seeds of the best reward, the fraction of the reward-tilted \
        target's modes (weight ≥ 5%) that the final population reaches, and the total-variation distance between the \
        population's mode histogram and the target's mode weights, and the mean number of reward calls (look-ahead and \
        resampling scores count; the budget limits NFE only). The last column compares EvoSearch with the row's \
        method: the ratio of mean best rewards when both are positive, else their difference. Methods run with their \
        default settings derived from the budget.
        """)

    @Option(name: .long, help: "Seeds per configuration.")
    var seeds: Int = 8
    @Option(name: .long, help: "Budgets in full rollouts (NFE = rollouts × steps), comma-separated.")
    var rollouts: IntList = IntList([4, 16, 64])
    @Option(name: .long, help: "Scenarios, comma-separated (default: the built-in ones with a non-constant reward).")
    var scenarios: String?
    @Option(name: .long, help: "Methods, comma-separated (default: all).")
    var methods: String?
    @Option(name: .long, help: "Also write every run as CSV here.")
    var csv: String?

    struct Run: Sendable {
        var scenario: String, method: String, rollouts: Int, seed: Int
        var best: Double, coverage: Double, tv: Double, nfe: Int, rewardCalls: Int, seconds: Double
    }

    func run() throws {
        if seeds < 1 { throw CLIError("--seeds: \(seeds) must be at least 1") }
        if rollouts.values.contains(where: { $0 < 1 }) { throw CLIError("--rollouts: every budget must be at least 1 rollout") }
        let worlds = try (scenarios?.split(separator: ",").map(String.init) ?? defaultScenarios()).map(loadScenario)
        let methodNames = try parseMethods(methods)
        if let csv { try checkWritable(csv, option: "--csv") }

        var all: [Run] = []
        for world in worlds {
            let trajectory = try world.makeTrajectory()
            let reward = world.makeReward()
            var jobList: [(SearchMethod, Int, Int)] = []
            for r in rollouts.values { for m in methodNames { for s in 0..<seeds { jobList.append((m, r, s)) } } }
            let jobs = jobList
            let results = UnsafeMutableBufferPointer<Run?>.allocate(capacity: jobs.count)
            results.initialize(repeating: nil)
            defer { results.deallocate() }
            nonisolated(unsafe) let out = results
            let failures = LockedLines()
            DispatchQueue.concurrentPerform(iterations: jobs.count) { j in
                let (m, r, s) = jobs[j]
                let budget = r * world.steps
                do {
                    let result = try m.defaultStrategy.search(trajectory, reward: reward, budget: budget, options: SearchOptions(seed: UInt64(s)))
                    let cov = world.modeCoverage(samples: populationTensor(result))
                    out[j] = Run(scenario: world.name, method: m.rawValue, rollouts: r, seed: s, best: Double(result.best.reward),
                                 coverage: cov.coverage, tv: cov.totalVariation, nfe: result.nfe,
                                 rewardCalls: result.rewardCalls, seconds: result.wallSeconds)
                } catch {
                    failures.append("\(world.name) \(m.rawValue) \(r) rollouts seed \(s): \(error)")
                }
            }
            for line in failures.items { FileHandle.standardError.write(Data("bench: skipped \(line)\n".utf8)) }
            let runs = results.compactMap { $0 }
            all += runs
            printTable(world: world, runs: runs, methods: methodNames.map(\.rawValue))
        }
        if let csv {
            var text = "scenario,method,rollouts,seed,best_reward,mode_coverage,mode_tv,nfe,reward_calls,seconds\n"
            for r in all {
                text += "\(r.scenario),\(r.method),\(r.rollouts),\(r.seed),\(r.best),\(r.coverage),\(r.tv),\(r.nfe),\(r.rewardCalls),\(r.seconds)\n"
            }
            try write(Data(text.utf8), to: csv)
        }
    }

    func defaultScenarios() throws -> [String] {
        try ToyScenario.builtinNames.filter { name in
            if case .constant = try ToyScenario.builtin(named: name).reward { return false }
            return true
        }
    }

    func printTable(world: ToyScenario, runs: [Run], methods: [String]) {
        print("\n### \(world.name) (d = \(world.dimension), \(world.path.rawValue), \(world.steps) steps, \(seeds) seeds)\n")
        print("| method | rollouts | best reward (mean ± sd) | mode coverage | mode TV | reward calls | EvoSearch vs method |")
        print("|---|---|---|---|---|---|---|")
        for r in rollouts.values {
            let evo = runs.filter { $0.method == SearchMethod.evosearch.rawValue && $0.rollouts == r }.map(\.best)
            for m in methods {
                let rows = runs.filter { $0.method == m && $0.rollouts == r }
                if rows.isEmpty { continue }
                let (mean, sd) = Statistics.meanAndStandardDeviation(rows.map(\.best))
                let cov = Statistics.meanAndStandardDeviation(rows.map(\.coverage)).0
                let tv = Statistics.meanAndStandardDeviation(rows.map(\.tv)).0
                let calls = Statistics.meanAndStandardDeviation(rows.map { Double($0.rewardCalls) }).0
                var compare = "—"
                if m != SearchMethod.evosearch.rawValue && !evo.isEmpty {
                    let e = Statistics.meanAndStandardDeviation(evo).0
                    compare = (e > 0 && mean > 0) ? String(format: "×%.2f", e / mean) : String(format: "%+.3f", e - mean)
                }
                print(String(format: "| %@ | %d | %.4f ± %.4f | %.2f | %.3f | %.0f | %@ |", m, r, mean, sd, cov, tv, calls, compare))
            }
        }
    }
}
