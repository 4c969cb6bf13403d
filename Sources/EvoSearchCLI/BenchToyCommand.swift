import ArgumentParser
import Benchmarks
import Foundation
import Search
import ToyWorlds

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks: search methods compared at equal compute.",
        subcommands: [BenchToy.self, BenchSchedules.self, BenchModels.self, BenchThroughput.self, BenchShapes.self, BenchRemote.self, BenchClaims.self])
}

/// `evosearch bench toy`: parses the flags, runs `ToyBenchmark` and prints `ToyBenchmarkReport`.
struct BenchToy: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "toy",
        abstract: "Every method at budgets of 4–64 rollouts on the built-in toy worlds, with intervals and both compute axes.",
        discussion: """
        For each scenario, method and budget (rollouts × the world's steps NFE; methods with their budget-derived \
        defaults), searches with seeds --first-seed, --first-seed + 1, …: by default in blocks of 100 until the \
        standard error of the mean best reward is ≤ --target-se (200 to --max-seeds seeds per cell); --seeds N fixes \
        the count. Searches run one at a time (pin the process to one CPU, e.g. taskset -c 1, for steadier times). Per cell: mean best reward ± standard error, NFE, \
        total compute (measured model + reward time per search), the search's other wall time, reward calls, and the \
        final population's target-mode coverage and mode TV. Then --reference (EvoSearch) against every other method \
        as paired differences over common seeds with 95% percentile-bootstrap intervals (--bootstrap-resamples, \
        --bootstrap-seed), at equal NFE and at equal total compute (the method's mean best reward interpolated in log \
        compute at the reference's mean compute; nothing extrapolated). A difference counts as a win or a loss only \
        when its interval excludes zero. With the defaults about 160 000 searches, ≈ 10 minutes on one core (most of \
        it the d64-linear-vp cells, whose reward spread needs up to 10 000 seeds); --quick (20 seeds, budgets 4 and \
        16, 500 resamples) about a second.
        """)

    @Flag(name: .long, help: "Small run for checks: 20 seeds, budgets 4,16, 500 bootstrap resamples.")
    var quick = false
    @Option(name: .long, help: "Seeds per cell (default: until the standard error reaches --target-se).")
    var seeds: Int?
    @Option(name: .long, help: "Target standard error of a cell's mean best reward.")
    var targetSe: Double = 0.02
    @Option(name: .long, help: "Most seeds a cell may take to reach --target-se.")
    var maxSeeds: Int = 10_000
    @Option(name: .long, help: "First seed of every cell.")
    var firstSeed: UInt64 = 0
    @Option(name: .long, help: "Budgets in full rollouts (NFE = rollouts × steps), comma-separated (default 4,8,16,32,64; quick 4,16).")
    var rollouts: IntList?
    @Option(name: .long, help: "Scenarios, comma-separated (default: the built-in ones with a non-constant reward).")
    var scenarios: String?
    @Option(name: .long, help: "Methods, comma-separated (default: all).")
    var methods: String?
    @Option(name: .long, help: "The method every other one is compared with.")
    var reference: String = SearchMethod.evosearch.rawValue
    @Option(name: .long, help: "Bootstrap resamples per interval (default 2000; quick 500).")
    var bootstrapResamples: Int?
    @Option(name: .long, help: "Seed of the bootstrap resampling.")
    var bootstrapSeed: UInt64 = 0
    @Option(name: .long, help: "Also write every run as CSV here.")
    var csv: String?
    @Flag(name: .long, help: "No progress output.")
    var quiet = false

    func run() throws {
        if seeds == nil && !quick && maxSeeds < 2 { throw CLIError("--max-seeds: \(maxSeeds) must be at least 2 (a standard error needs two seeds)") }
        let seedCount: ToyBenchmark.SeedCount = quick ? .fixed(seeds ?? 20)
            : seeds.map { .fixed($0) } ?? .untilStandardError(targetSe, minimum: min(200, maxSeeds), maximum: maxSeeds, block: 100)
        let settings = ToyBenchmark.Settings(rollouts: rollouts?.values ?? (quick ? [4, 16] : [4, 8, 16, 32, 64]),
                                             seeds: seedCount, firstSeed: firstSeed)
        if let problem = settings.problem { throw CLIError("bench toy: \(problem)") }
        let resamples = bootstrapResamples ?? (quick ? 500 : 2000)
        if resamples < 1 { throw CLIError("--bootstrap-resamples: \(resamples) must be at least 1") }
        let worlds = try scenarios.map { try $0.split(separator: ",").map { try loadScenario(String($0)) } } ?? ToyBenchmark.defaultWorlds()
        let methodNames = try parseMethods(methods)
        guard let ref = SearchMethod(name: reference), methodNames.contains(ref) else {
            throw CLIError("--reference: \"\(reference)\" must be one of the benchmarked methods (\(methodNames.map(\.rawValue).joined(separator: ", ")))")
        }
        if let csv { try checkWritable(csv, option: "--csv") }

        let quiet = self.quiet
        let bench = ToyBenchmark(worlds: worlds, contenders: methodNames.map(ToyBenchmark.Contender.method), settings: settings) { line in
            if !quiet { FileHandle.standardError.write(Data("bench toy: \(line)\n".utf8)) }
        }
        let result: ToyBenchmark.Result
        do { result = try bench.run() } catch { throw CLIError("bench toy: \(error)") }
        let target: Double? = if case .untilStandardError(let se, _, _, _) = seedCount { se } else { nil }
        let report = ToyBenchmarkReport(result: result, worlds: worlds, contenders: methodNames.map(\.rawValue),
                                        rollouts: settings.rollouts, reference: ref.rawValue,
                                        bootstrap: Bootstrap(resamples: resamples, seed: bootstrapSeed), targetStandardError: target)
        print("`\(commandLine())`: \(seedCount), seeds from \(firstSeed); \(result.runs.count) searches in \(String(format: "%.0f", result.seconds)) s")
        print(report.markdown)
        if let csv {
            try write(Data(report.runsCSV.utf8), to: csv)
            print("wrote \(csv)")
        }
    }
}

/// The command line as typed, with the program name shortened to `evosearch`.
func commandLine() -> String {
    (["evosearch"] + CommandLine.arguments.dropFirst()).joined(separator: " ")
}
