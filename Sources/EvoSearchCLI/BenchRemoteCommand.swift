import ArgumentParser
import Foundation
import Remote
import Rewards
import Sampling
import Search

/// `evosearch bench remote`: the same EvoSearch run with the denoiser network local, on one and on two loopback
/// reference servers (tools/serve/serve.py, MLServer + diffusers), started by this command.
///
/// Per configuration: NFE/s over the whole search; the search's own share of the wall time (outside model and
/// reward calls); and for the served runs, the wire time per NFE — the time the client waited for replies minus the
/// network's own compute time that the server reports (`compute_us`), i.e. serialisation on both sides, MLServer's
/// request handling and loopback transfer. Results must agree (same lineage, best reward within 1e-3).
struct BenchRemote: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remote",
        abstract: "NFE/s of a search with the denoiser local vs on one and two loopback Open Inference Protocol servers.",
        discussion: """
        Starts the reference server (tools/serve/serve.py; needs mlserver, torch and diffusers — tools/requirements.txt) \
        twice on 127.0.0.1, each with one PyTorch thread (EVOSEARCH_SERVE_THREADS), and runs EvoSearch with --budget \
        NFE on --model three times: local UNet, one server, both servers. Prints a markdown table. On a machine with \
        fewer cores than servers + client, two servers share the cores and cannot be faster than one. Run from the \
        repository root.
        """)

    @Option(name: .long, help: "Pipeline directory or embedded model name.")
    var model: String = "shapes-sd-small"
    @Option(name: .long, help: "Python with mlserver, torch and diffusers.")
    var python: String = "python3"
    @Option(name: .long, help: "The reference server script.")
    var script: String = "tools/serve/serve.py"
    @Option(name: .long, parsing: .unconditional, help: "NFE per search.")
    var budget: Int = 160
    @Option(name: .long, help: "Denoising steps.")
    var steps: Int = 10
    @Option(name: .long, help: "Largest batch per model call (NFE; a guided call sends twice as many rows).")
    var maxBatch: Int = 8
    @Option(name: .long, help: "Rounds; each runs the three configurations in turn, so a change in the machine's load hits all alike. The table shows each one's median round.")
    var rounds: Int = 3

    func run() throws {
        guard budget >= steps, steps >= 1, maxBatch >= 1, rounds >= 1 else {
            throw CLIError("--budget must be at least --steps, both positive; --max-batch and --rounds at least 1")
        }
        if let missing = LoopbackModelServer.missingPackages(python: python) {
            throw CLIError("\(python) cannot import mlserver, torch and diffusers (\(missing)); pip install -r tools/requirements.txt")
        }
        let directory = try EmbeddedModels().resolvePipeline(model)
        let pipeline = try loadImagePipeline(directory.path, command: "bench remote")
        let request = GenerationRequest(prompt: SearchCommand.defaultPrompt, guidance: 4, steps: steps, eta: 1)  // the pipeline's stochastic sampler: DDIM, the flow SDE

        FileHandle.standardError.write(Data("starting two servers of \(model)…\n".utf8))
        let name = directory.lastPathComponent
        let started = ServerSlots()
        DispatchQueue.concurrentPerform(iterations: 2) { i in
            started.set(i, Result { try LoopbackModelServer(pipeline: directory, model: name, python: python, script: script) })
        }
        let servers = try started.all()
        defer { servers.forEach { $0.stop() } }

        struct Row { var label: String; var result: SearchResult; var stats: [EndpointStatistics] }
        func search(_ trajectory: any Trajectory) throws -> SearchResult {
            try EvoSearch().search(trajectory, reward: ImageStatisticReward(.brightness), budget: budget, options: SearchOptions(seed: 0, maxBatch: maxBatch))
        }
        let configurations = [("local", [InferenceEndpoint]()), ("1 server", [servers[0].endpoint]), ("2 servers", servers.map(\.endpoint))]
        var runs = [[Row]](repeating: [], count: configurations.count)
        do {
            for _ in 0..<rounds {
                for (c, (label, endpoints)) in configurations.enumerated() {
                    if endpoints.isEmpty {
                        runs[c].append(Row(label: label, result: try search(try pipeline.makeTrajectory(request)), stats: []))
                        continue
                    }
                    let served = try RemotePipeline.trajectory(pipeline, request: request, endpoints: endpoints, policy: RemotePolicy())
                    let result = try search(served.trajectory)
                    if let error = result.error { throw CLIError("\(label): \(error)") }
                    runs[c].append(Row(label: label, result: result, stats: served.network.statistics))
                }
            }
        } catch let error as RemoteModelError { throw CLIError(error.description) }
        let rows = runs.map { $0.sorted { $0.result.wallSeconds < $1.result.wallSeconds }[$0.count / 2] }

        print("| denoiser | NFE | wall s | NFE/s | search overhead | wire ms/NFE | server compute ms/NFE | best reward |")
        print("|---|---|---|---|---|---|---|---|")
        for r in rows {
            let nfe = Double(r.result.nfe)
            let waited = r.stats.map(\.seconds).reduce(0, +), compute = r.stats.map(\.serverSeconds).reduce(0, +)
            let wire = r.stats.isEmpty ? "–" : String(format: "%.2f", 1000 * (waited - compute) / nfe)
            let server = r.stats.isEmpty ? "–" : String(format: "%.2f", 1000 * compute / nfe)
            print(String(format: "| %@ | %d | %.2f | %.1f | %.2f%% | %@ | %@ | %.5f |", r.label, r.result.nfe, r.result.wallSeconds,
                         nfe / max(r.result.wallSeconds, 1e-9), 100 * r.result.overheadFraction, wire, server, r.result.best.reward))
        }
        let reference = rows[0].result
        for r in runs.dropFirst().flatMap({ $0 }) where r.label != rows[0].label {
            let same = r.result.history.map { [$0.id, $0.parent ?? -1] } == reference.history.map { [$0.id, $0.parent ?? -1] }
                && abs(r.result.best.reward - reference.best.reward) <= 1e-3
            if !same { throw CLIError("\(r.label): the search DIFFERS from the local one (lineage or best reward)") }
        }
        for r in rows.dropFirst() {
            print("\(r.label): same lineage and best reward as local in every round; rows per endpoint \(r.stats.map { String($0.rows) }.joined(separator: " / "))")
        }
        print("Median of \(rounds) rounds by wall time, the configurations alternating within each round.")
        print("Wire = time waiting for replies − the server's reported compute; concurrent requests to two servers add up. " +
              "Guided: 2 network rows per NFE.")
    }
}

/// Servers started concurrently, collected in order.
private final class ServerSlots: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [Int: Result<LoopbackModelServer, any Error>] = [:]
    func set(_ i: Int, _ r: Result<LoopbackModelServer, any Error>) { lock.withLock { items[i] = r } }
    func all() throws -> [LoopbackModelServer] {
        try lock.withLock { try items.keys.sorted().map { i in
            do { return try items[i]!.get() } catch { throw CLIError("cannot start the reference server: \(error)") }
        } }
    }
}
