import ArgumentParser
import Foundation
import Search
import TensorCore
import ToyWorlds

/// A failure after the arguments parsed: printed as one line, exit status 1.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ message: String) { description = message }
}

/// A built-in scenario name, or a path to a scenario JSON file.
func loadScenario(_ nameOrPath: String) throws -> ToyScenario {
    if ToyScenario.builtinNames.contains(nameOrPath) { return try ToyScenario.builtin(named: nameOrPath) }
    if nameOrPath.hasSuffix(".json") || nameOrPath.contains("/") || FileManager.default.fileExists(atPath: nameOrPath) {
        guard FileManager.default.fileExists(atPath: nameOrPath) else {
            throw CLIError("--scenario: no file at \(nameOrPath); give a scenario JSON file or one of \(ToyScenario.builtinNames.joined(separator: ", "))")
        }
        return try ToyScenario.load(path: nameOrPath)
    }
    throw CLIError("--scenario: unknown scenario \"\(nameOrPath)\"; built-in ones are \(ToyScenario.builtinNames.joined(separator: ", ")), or give a path to a .json file")
}

/// Writes `data` to `path`, creating the parent directory; errors name the path.
func write(_ data: Data, to path: String) throws {
    let url = URL(fileURLWithPath: path)
    do {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: url, options: .atomic)
    } catch {
        throw CLIError("cannot write \(path): \(error.localizedDescription)")
    }
}

/// Checks before any compute that `path`'s directory can be created and written.
func checkWritable(_ path: String, option: String) throws {
    let dir = URL(fileURLWithPath: path).deletingLastPathComponent()
    // A file where a directory should be gives Foundation's opaque error; name it instead.
    var probe = dir
    while probe.path != "/" && !probe.path.isEmpty {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: probe.path, isDirectory: &isDir) {
            if !isDir.boolValue { throw CLIError("\(option): \(probe.path) is a file, not a directory; choose another path") }
            break
        }
        probe.deleteLastPathComponent()
    }
    do { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) } catch {
        throw CLIError("\(option): cannot create directory \(dir.path): \(error.localizedDescription)")
    }
    guard FileManager.default.isWritableFile(atPath: dir.path) else {
        throw CLIError("\(option): directory \(dir.path) is not writable")
    }
}

struct Toy: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Search on an exact Gaussian-mixture world (no model files needed).",
        discussion: """
        The 'model' is exact: the ε (VP path, DDIM η=1) or velocity (rectified flow, stochastic flow sampler) of \
        a Gaussian mixture in closed form, so differences between methods are the methods' own. Built-in \
        scenarios: \(ToyScenario.builtinNames.joined(separator: ", ")); or give a JSON file (see scenarios/).
        """)

    @Option(name: .long, help: "Built-in scenario name or path to a scenario JSON file.")
    var scenario: String = "rare-mode-bump"
    @OptionGroup var method: MethodOptions
    @Option(name: .long, parsing: .unconditional, help: "Compute budget in NFE (one denoiser evaluation of one sample). Default: 16 rollouts.")
    var budget: Int?
    @Option(name: .long, help: "Seed of every random stream of the search.")
    var seed: UInt64 = 0
    @Option(name: .long, help: "Write the result as JSON here.")
    var json: String?
    @Option(name: .long, help: "Write an SVG plot of prior, reward-tilted target and returned samples here (2-D scenarios only).")
    var plot: String?
    @Option(name: .long, help: "Largest batch per model call; the result does not depend on it.")
    var maxBatch: Int = 256
    @Flag(name: .long, help: "No progress output.")
    var quiet = false

    func run() throws {
        let world = try loadScenario(scenario)
        let budget = self.budget ?? 16 * world.steps
        if plot != nil && world.dimension != 2 {
            throw CLIError("--plot: scenario \"\(world.name)\" has dimension \(world.dimension); plots need a 2-D scenario")
        }
        if maxBatch < 1 { throw CLIError("--max-batch: \(maxBatch) must be at least 1") }
        if let json { try checkWritable(json, option: "--json") }
        if let plot { try checkWritable(plot, option: "--plot") }
        let strategy = try method.strategy(stepCount: world.steps, budget: budget)
        let trajectory = try world.makeTrajectory()
        let printer = ProgressPrinter(quiet: quiet)
        let interrupt = InterruptFlag()
        let options = SearchOptions(seed: seed, maxBatch: maxBatch, progress: { printer.report($0) },
                                    isCancelled: { interrupt.isRaised })
        let result: SearchResult
        do { result = try strategy.search(trajectory, reward: world.makeReward(), budget: budget, options: options) } catch {
            throw CLIError(error.description)
        }
        printer.finish()
        let coverage = world.modeCoverage(samples: populationTensor(result))
        print("\(result.method) on \(world.name): best reward \(format(result.best.reward)) after \(result.nfe)/\(budget) NFE, \(result.rewardCalls) reward calls, \(String(format: "%.2f", result.wallSeconds)) s")
        print("final population: \(result.population.count) samples, target-mode coverage \(String(format: "%.2f", coverage.coverage)), TV to target modes \(String(format: "%.3f", coverage.totalVariation))")
        for w in result.warnings { print("warning: \(w)") }
        if let json {
            let extra: [String: Any] = ["scenario": world.name, "seed": seed, "steps": world.steps,
                                        "mode_coverage": ["coverage": coverage.coverage, "total_variation": coverage.totalVariation,
                                                          "target_weights": coverage.targetWeights, "sample_fractions": coverage.sampleFractions]]
            try write(try result.jsonData(extra: extra), to: json)
            print("wrote \(json)")
        }
        if let plot {
            let svg = renderToyPlotSVG(scenario: world, samples: populationTensor(result), best: result.best.state,
                                       title: "\(result.method) · \(world.name) · \(result.nfe) NFE · best \(format(result.best.reward))")
            try write(Data(svg.utf8), to: plot)
            print("wrote \(plot)")
        }
        if result.interrupted { throw ExitCode(interrupt.exitStatus ?? 130) }
    }
}

/// The final population's samples as `[N, d]` (empty population: `[0, d]`).
func populationTensor(_ r: SearchResult) -> Tensor {
    let d = r.best.state.count
    return Tensor(shape: [r.population.count, d], scalars: r.population.flatMap(\.state))
}

func format(_ r: Float) -> String { r.isFinite ? String(format: "%.4f", r) : "n/a" }
