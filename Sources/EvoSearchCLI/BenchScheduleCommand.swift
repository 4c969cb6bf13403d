import ArgumentParser
import Benchmarks
import Foundation
import Search
import ToyWorlds

/// `evosearch bench schedules`: parses the flags, runs `ScheduleTuning` and prints its tables.
struct BenchSchedules: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedules",
        abstract: "Tunes EvoSearch's budget-derived schedule on the toy worlds: candidate rules against a baseline, paired.",
        discussion: """
        For every built-in scenario (constant reward included) and budget, EvoSearch with the schedule each candidate \
        derivation rule gives against the schedule the baseline rule gives, over the same seeds (from --first-seed; \
        the default 100000 keeps tuning seeds disjoint from those bench toy reports). Differences candidate − baseline \
        with 95% percentile-bootstrap intervals; a win or loss only when the interval excludes zero. A candidate that \
        derives the baseline's own schedule is reported as identical without running. --candidates grid: minimum \
        population 1–4 × elites max(1, ⌊p/8⌋), ⌊p/8⌋ or none × fallback E = [0] or Best-of-N (≈ 5 minutes on one \
        core with the defaults); \
        --candidates standard: the current default only. --baseline former (the rule before tuning: populations ≥ 4, \
        elites max(1, ⌊p/8⌋)) or standard.
        """)

    @Option(name: .long, help: "Seeds per schedule.")
    var seeds: Int = 1000
    @Option(name: .long, help: "First seed.")
    var firstSeed: UInt64 = 100_000
    @Option(name: .long, help: "Budgets in rollouts, comma-separated (default 4,5,6,8,10,12,16,24,32,48,64).")
    var rollouts: IntList = IntList([4, 5, 6, 8, 10, 12, 16, 24, 32, 48, 64])
    @Option(name: .long, help: "Scenarios, comma-separated (default: every built-in one).")
    var scenarios: String?
    @Option(name: .long, help: "grid or standard.")
    var candidates: String = "grid"
    @Option(name: .long, help: "former or standard.")
    var baseline: String = "former"
    @Option(name: .long, help: "Bootstrap resamples per interval.")
    var bootstrapResamples: Int = 2000
    @Option(name: .long, help: "Seed of the bootstrap resampling.")
    var bootstrapSeed: UInt64 = 0
    @Flag(name: .long, help: "No progress output.")
    var quiet = false

    func run() throws {
        let rules: [EvolutionSchedule.Derivation]
        switch candidates {
        case "grid": rules = ScheduleTuning.grid
        case "standard": rules = [.standard]
        default: throw CLIError("--candidates: unknown \"\(candidates)\"; use grid or standard")
        }
        let base: EvolutionSchedule.Derivation
        switch baseline {
        case "former": base = ScheduleTuning.formerStandard
        case "standard": base = .standard
        default: throw CLIError("--baseline: unknown \"\(baseline)\"; use former or standard")
        }
        if bootstrapResamples < 1 { throw CLIError("--bootstrap-resamples: \(bootstrapResamples) must be at least 1") }
        let worlds = try scenarios.map { try $0.split(separator: ",").map { try loadScenario(String($0)) } }
            ?? ToyScenario.builtinNames.map { try ToyScenario.builtin(named: $0) }
        let quiet = self.quiet
        let tuning = ScheduleTuning(worlds: worlds, baseline: base, candidates: rules, rollouts: rollouts.values, seeds: seeds,
                                    firstSeed: firstSeed, bootstrap: Bootstrap(resamples: bootstrapResamples, seed: bootstrapSeed)) { line in
            if !quiet { FileHandle.standardError.write(Data("bench schedules: \(line)\n".utf8)) }
        }
        let start = Date()
        let rows: [ScheduleTuning.Row]
        do { rows = try tuning.run() } catch { throw CLIError("bench schedules: \(error)") }
        print("`\(commandLine())`: \(String(format: "%.0f", Date().timeIntervalSince(start))) s\n")
        print(tuning.markdown(rows))
    }
}
