import Foundation
import Reports
import Rewards
import Sampling
import Search
import TensorCore
import Testing
#if canImport(FoundationXML)
import FoundationXML
#endif

/// States are the images themselves (`[3, H, W]`); the "model" costs one NFE per row and returns zeros.
struct ImageStateTrajectory: Trajectory {
    var height = 8, width = 8
    var stepCount: Int { 1 }
    var stateShape: [Int] { [3, height, width] }
    var sampleShape: [Int] { stateShape }
    var passesPerNFE: Int { 1 }
    var isStochastic: Bool { false }
    func initialState(noise: Tensor) -> Tensor { noise }
    func evaluate(_ states: Tensor, at index: Int, cancellation: CancellationCheck) -> Tensor { Tensor(shape: states.shape, scalars: [Float](repeating: 0, count: states.scalars.count)) }
    func advance(_ states: Tensor, modelOutput: Tensor, at index: Int, noise: Tensor?) -> TrajectoryStep {
        TrajectoryStep(states: states, predictedOriginal: states)
    }
    func noiseStd(stepIndex: Int) -> Float { 0 }
    func renoise(_ states: Tensor, from: Int, to: Int, noise: Tensor) -> Tensor { states }
    func decode(_ states: Tensor) -> Tensor { states }
}

/// Reward = mean of the red channel (so a sample's reward is whatever level the script painted it with).
struct RedReward: Reward {
    let name = "red"
    func scores(_ samples: Tensor) throws -> [Float] {
        let plane = samples.shape[2] * samples.shape[3]
        return (0..<samples.rows).map { i in
            let row = samples.row(i).scalars
            return row[0..<plane].reduce(0, +) / Float(plane)
        }
    }
}

/// A strategy that scores a fixed script of generations: each individual names its parent (an index into all
/// individuals so far, in order) and its reward level. Ids are assigned in script order from 0.
struct ScriptedStrategy: SearchStrategy {
    static let methodName = "scripted"
    struct Individual: Sendable { var parent: Int?; var origin: String; var level: Float }
    var generations: [[Individual]]
    var interruptAfter: Int? = nil
    var height = 8, width = 8

    func validate(stepCount: Int, budget: Int) throws(SearchConfigurationError) {}

    func run(_ engine: inout SearchEngine) -> SearchResult {
        engine.settings = ["script_generations": "\(generations.count)", "note": "a <scripted> & \"quoted\" run"]
        var last: [ScoredSample] = []
        for (g, individuals) in generations.enumerated() {
            if let stop = interruptAfter, g >= stop {
                return engine.finish(method: Self.methodName, population: last, stop: .cancelled)
            }
            var lineages: [SearchEngine.Lineage] = []
            var images: [Tensor] = []
            for (k, ind) in individuals.enumerated() {
                lineages.append(SearchEngine.Lineage(id: engine.makeID(), generation: g, parent: ind.parent, origin: ind.origin))
                images.append(Self.image(level: ind.level, seed: g * 31 + k, height: height, width: width))
            }
            let states = Tensor.stack(images)
            do {
                _ = try engine.evaluate(states, at: 0)
                last = try engine.scoreFinal(states, lineage: lineages)
            } catch {
                return engine.finish(method: Self.methodName, population: last, stop: error)
            }
        }
        return engine.finish(method: Self.methodName, population: last)
    }

    /// Red = `level` everywhere; green and blue a pattern that differs per individual.
    static func image(level: Float, seed: Int, height: Int, width: Int) -> Tensor {
        let plane = height * width
        var s = [Float](repeating: level, count: 3 * plane)
        for i in 0..<plane {
            s[plane + i] = Float((i * 7 + seed * 13) % 17) / 16
            s[2 * plane + i] = Float((i / width + seed) % 5) / 4
        }
        return Tensor(shape: [3, height, width], scalars: s)
    }
}

/// Three generations; the winner is id 10 (level 0.95), child of 6 (0.7), child of 1 (0.5, initial).
/// Generation 2 also holds a child whose parent (id 99) was never scored.
func syntheticResult(interruptAfter: Int? = nil) throws -> SearchResult {
    typealias I = ScriptedStrategy.Individual
    let script = ScriptedStrategy(generations: [
        [I(parent: nil, origin: "initial", level: 0.2), I(parent: nil, origin: "initial", level: 0.5),
         I(parent: nil, origin: "initial", level: 0.3), I(parent: nil, origin: "initial", level: 0.1)],
        [I(parent: 1, origin: "elite", level: 0.5), I(parent: 2, origin: "mutation", level: 0.35),
         I(parent: 1, origin: "mutation", level: 0.7), I(parent: 0, origin: "mutation", level: 0.15)],
        [I(parent: 6, origin: "elite", level: 0.7), I(parent: 4, origin: "mutation", level: 0.6),
         I(parent: 6, origin: "mutation", level: 0.95), I(parent: 99, origin: "resampled", level: 0.4)],
    ], interruptAfter: interruptAfter)
    return try script.search(ImageStateTrajectory(), reward: RedReward(), budget: 1000)
}

/// Checks `text` parses as XML; returns the parser's error, if any.
func xmlError(_ text: String) -> String? {
    let parser = XMLParser(data: Data(text.utf8))
    if parser.parse() { return nil }
    return "\(parser.parserError.map { "\($0)" } ?? "unknown error") at line \(parser.lineNumber), column \(parser.columnNumber)"
}

/// Every `src="…"` attribute value in `html`.
func imageSources(_ html: String) -> [String] {
    var out: [String] = []
    var rest = Substring(html)
    while let r = rest.range(of: "src=\"") {
        let after = rest[r.upperBound...]
        guard let end = after.firstIndex(of: "\"") else { break }
        out.append(String(after[..<end]))
        rest = after[end...]
    }
    return out
}

func temporaryDirectory(_ name: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("evosearch-reports-\(name)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Why the browser check could not run; thrown, so the test fails with this message.
struct ChromiumError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// Runs Debian's Chromium headless. Installs nothing: when it is missing, the test fails and says so.
enum Chromium {
    static func executable() -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") + ["/usr/bin"] {
            for name in ["chromium", "chromium-browser"] {
                let candidate = "\(dir)/\(name)"
                if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            }
        }
        return nil
    }

    struct Run { var status: Int32; var dom: String; var log: String }

    /// Loads `page` and returns the serialised DOM and Chromium's log (console messages appear as `…:CONSOLE…`
    /// lines). `virtualTime` lets scripts run after the load event before the DOM is dumped.
    static func dumpDOM(_ page: URL, virtualTime: Int? = nil) throws -> Run {
        guard let exe = executable() else {
            throw ChromiumError("chromium is not installed (not on PATH); run scripts/setup.sh to install it")
        }
        let work = try temporaryDirectory("chromium")
        defer { try? FileManager.default.removeItem(at: work) }
        let out = work.appendingPathComponent("dom.html"), err = work.appendingPathComponent("log.txt")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: exe)
        var args = ["--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", "--disable-extensions",
                    "--user-data-dir=\(work.appendingPathComponent("profile").path)",
                    "--enable-logging=stderr", "--v=0", "--dump-dom"]
        if let virtualTime { args.append("--virtual-time-budget=\(virtualTime)") }
        args.append(page.absoluteString)
        process.arguments = args
        process.environment = ProcessInfo.processInfo.environment.merging(["HOME": work.path]) { _, new in new }
        let outHandle = try FileHandle(forWritingTo: out), errHandle = try FileHandle(forWritingTo: err)
        process.standardOutput = outHandle
        process.standardError = errHandle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // A guard against a hung browser, not a timing assertion.
        let deadline = DispatchTime.now() + .seconds(180)
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async { process.waitUntilExit(); done.signal() }
        if done.wait(timeout: deadline) == .timedOut {
            process.terminate()
            throw ChromiumError("chromium did not finish loading \(page.path) within 180 s")
        }
        try outHandle.close(); try errHandle.close()
        return Run(status: process.terminationStatus,
                   dom: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
                   log: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }

    /// Console messages and uncaught errors in a Chromium log.
    static func consoleProblems(_ log: String) -> [String] {
        log.split(separator: "\n").map(String.init).filter { $0.contains(":CONSOLE") || $0.contains("Uncaught") }
    }
}
