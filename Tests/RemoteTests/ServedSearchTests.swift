import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Remote
import Rewards
import Sampling
import Search
import StableDiffusion
import TensorCore
import Testing

/// Reference servers for the suite, started once and concurrently on first use (model start-up takes seconds):
/// `a` and `b` serve for the whole suite; `victim` is killed by the crash test.
final class SuiteServers: Sendable {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let pipelineDirectory = repository.appendingPathComponent("models/shapes-sd-small")
    static let missing = LoopbackModelServer.missingPackages()
    static let started: Result<SuiteServers, any Error> = Result { try SuiteServers() }

    let a: LoopbackModelServer, b: LoopbackModelServer, victim: LoopbackModelServer

    private init() throws {
        let script = Self.repository.appendingPathComponent("tools/serve/serve.py").path
        let slots = ServerSlots()
        DispatchQueue.concurrentPerform(iterations: 3) { i in
            slots.set(i, Result { try LoopbackModelServer(pipeline: Self.pipelineDirectory, model: "shapes-sd-small", script: script) })
        }
        let servers = try slots.all(3)
        (a, b, victim) = (servers[0], servers[1], servers[2])
    }

    static func get() throws -> SuiteServers { try started.get() }
}

private final class ServerSlots: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [Int: Result<LoopbackModelServer, any Error>] = [:]
    func set(_ i: Int, _ r: Result<LoopbackModelServer, any Error>) { lock.withLock { items[i] = r } }
    func all(_ n: Int) throws -> [LoopbackModelServer] { try lock.withLock { try (0..<n).map { try items[$0]!.get() } } }
}

/// The embedded shapes-sd-small searched through MLServer-served UNets (tools/serve) against the same search with
/// our local UNet. The served network is diffusers' UNet2DConditionModel in PyTorch, so outputs differ from ours
/// by float rounding (~1e-5 per call); over the steps of a trajectory that stays well under `stateTolerance`,
/// while the lineage (who was selected and mutated from whom) and the best sample must be identical.
@Suite(.serialized, .enabled(if: SuiteServers.missing == nil,
                             "python3 cannot import mlserver, torch and diffusers (pip install -r tools/requirements.txt)"))
struct ServedSearchTests {
    static let request = GenerationRequest(prompt: "a red circle to the left of a blue square", guidance: 4, steps: 6, scheduler: "ddim", eta: 1)
    static let budget = 48
    /// Largest |Δ| allowed between a local and a served search's final latents (latents are O(1)).
    static let stateTolerance: Float = 2e-3
    static let rewardTolerance: Float = 1e-3

    static let pipeline = Result { try StableDiffusionPipeline(directory: SuiteServers.pipelineDirectory) }
    static let localResult = Result { try search(pipeline.get().makeTrajectory(request)) }

    static func search(_ trajectory: any Trajectory, options: SearchOptions = SearchOptions(seed: 11, maxBatch: 8)) throws -> SearchResult {
        try EvoSearch().search(trajectory, reward: ImageStatisticReward(.brightness), budget: budget, options: options)
    }

    static func served(_ endpoints: [InferenceEndpoint], policy: RemotePolicy = RemotePolicy()) throws -> (any Trajectory, RemoteNetwork) {
        let r = try RemotePipeline.trajectory(pipeline.get(), request: request, endpoints: endpoints, policy: policy)
        return (r.trajectory, r.network)
    }

    /// Same samples in the same order with the same lineage; rewards and states within tolerance.
    static func expectMatches(_ got: SearchResult, _ want: SearchResult, prefix count: Int? = nil) {
        let n = count ?? want.history.count
        #expect(got.history.count == n)
        for (g, w) in zip(got.history, want.history.prefix(n)) {
            #expect(g.id == w.id && g.parent == w.parent && g.origin == w.origin && g.generation == w.generation && g.nfe == w.nfe)
            #expect(abs(g.reward - w.reward) <= rewardTolerance, "sample \(g.id): reward \(g.reward) vs \(w.reward)")
            let d = zip(g.state, w.state).map { abs($0 - $1) }.max() ?? .infinity
            #expect(d <= stateTolerance, "sample \(g.id): final latent differs by \(d)")
        }
        if count == nil {
            #expect(got.best.id == want.best.id && abs(got.best.reward - want.best.reward) <= rewardTolerance)
            #expect(got.nfe == want.nfe && got.error == nil)
        }
    }

    @Test func oneServerGivesTheLocalResult() throws {
        let servers = try SuiteServers.get()
        let (trajectory, network) = try Self.served([servers.a.endpoint])
        let got = try Self.search(trajectory)
        Self.expectMatches(got, try Self.localResult.get())
        let stats = network.statistics[0]
        #expect(stats.rows == 2 * got.nfe && !stats.down && stats.failedAttempts == 0)   // guided: two UNet rows per NFE
    }

    @Test func twoServersSplitTheBatchAndGiveTheLocalResult() throws {
        let servers = try SuiteServers.get()
        let (trajectory, network) = try Self.served([servers.a.endpoint, servers.b.endpoint])
        let got = try Self.search(trajectory)
        Self.expectMatches(got, try Self.localResult.get())
        let stats = network.statistics
        #expect(stats.allSatisfy { $0.rows > 0 } && stats.map(\.rows).reduce(0, +) == 2 * got.nfe)
    }

    /// A server that stops answering mid-search (SIGSTOP): its share times out, is retried, then moves to the other
    /// server; the search finishes with the local result.
    @Test func aHungServerFailsOverToTheOther() throws {
        let servers = try SuiteServers.get()
        defer { servers.b.send(SIGCONT) }
        let policy = RemotePolicy(requestTimeout: 3, attemptsPerEndpoint: 2, backoff: 0.05)
        let (trajectory, network) = try Self.served([servers.b.endpoint, servers.a.endpoint], policy: policy)
        let hung = servers.b
        let got = try Self.search(trajectory, options: SearchOptions(seed: 11, maxBatch: 8, spent: { nfe, _ in
            if nfe >= 16 { hung.send(SIGSTOP) }
        }))
        Self.expectMatches(got, try Self.localResult.get())
        let stats = network.statistics
        #expect(stats[0].down && stats[0].failedAttempts == 2 && !stats[1].down)
    }

    /// The only server is killed after the first samples were scored: the search stops with what it found (equal to
    /// the local search's first samples) and an error naming the endpoint; no NFE is counted for lost calls.
    @Test func aKilledServerEndsTheSearchWithPartialResults() throws {
        let servers = try SuiteServers.get()
        let victim = servers.victim
        let policy = RemotePolicy(requestTimeout: 5, attemptsPerEndpoint: 2, backoff: 0.05)
        let (trajectory, _) = try Self.served([victim.endpoint], policy: policy)
        let got = try Self.search(trajectory, options: SearchOptions(seed: 11, maxBatch: 8, progress: { _ in victim.send(SIGKILL) }))
        let error = try #require(got.error)
        #expect(error.contains("\(victim.endpoint): no endpoint could serve") && error.contains("(2 attempts): ModelInfer: the server is not reachable"), "\(error)")
        #expect(!error.contains("\n"))
        #expect(!got.history.isEmpty && got.nfe < Self.budget && got.interrupted)   // a failed search is also interrupted
        Self.expectMatches(got, try Self.localResult.get(), prefix: got.history.count)
    }

    /// A stop request (Ctrl-C) while the only server does not answer: the wait ends at the next poll, long before the
    /// deadline, and the search ends interrupted, not failed, with no NFE spent.
    @Test func aStopRequestCutsTheWaitShort() throws {
        let servers = try SuiteServers.get()
        let hung = servers.b
        defer { hung.send(SIGCONT) }
        let (trajectory, _) = try Self.served([hung.endpoint], policy: RemotePolicy(requestTimeout: 60))
        hung.send(SIGSTOP)
        let start = Date()
        let got = try Self.search(trajectory, options: SearchOptions(seed: 11, maxBatch: 8, isCancelled: { Date().timeIntervalSince(start) > 0.5 }))
        #expect(got.interrupted && got.error == nil && got.nfe == 0)
        #expect(Date().timeIntervalSince(start) < 5)
    }

    @Test func aModelTheServerLacksIsOneLine() throws {
        let servers = try SuiteServers.get()
        var endpoint = servers.a.endpoint
        endpoint.model = "no-such-model"
        let e = #expect(throws: RemoteModelError.self) { _ = try Self.served([endpoint]) }
        #expect(e?.kind == .noSuchModel)
        #expect(e?.description.hasPrefix("\(endpoint): the server has no model no-such-model") == true, "\(String(describing: e))")
        #expect(e?.description.contains("\n") == false)
    }

    @Test func aMismatchedModelIsOneLine() throws {
        let servers = try SuiteServers.get()
        var config = try Self.pipeline.get().unet.config
        config.crossAttentionDim = config.crossAttentionDim.map { _ in 768 }
        let e = #expect(throws: RemoteModelError.self) { _ = try RemoteNetwork(endpoints: [servers.a.endpoint], signature: .unet(config)) }
        #expect(e?.description == "\(servers.a.endpoint): the model's metadata does not match unet/config.json: input encoder_hidden_states has shape [-1, -1, 64], expected [-1, -1, 768] (-1 = any size)")
    }
}

/// Endpoints that are not there: errors name the endpoint and come within the metadata deadline.
@Suite struct UnreachableEndpointTests {
    static let signature = NetworkSignature(inputs: [TensorSignature("x", "FP32", [-1])], outputs: [TensorSignature("y", "FP32", [-1])], source: "test")

    @Test func aRefusedConnectionNamesTheEndpoint() throws {
        let port = try ListeningSocket().closedPort()
        let endpoint = InferenceEndpoint(host: "127.0.0.1", port: port, model: "m")
        let e = #expect(throws: RemoteModelError.self) {
            _ = try RemoteNetwork(endpoints: [endpoint], signature: Self.signature, policy: RemotePolicy(metadataTimeout: 5))
        }
        #expect(e?.kind == .unreachable)
        #expect(e?.description.hasPrefix("\(endpoint): ModelMetadata: the server is not reachable") == true, "\(String(describing: e))")
    }

    /// A port that accepts connections but never answers (a listening socket nobody serves).
    @Test func aHostThatDoesNotAnswerTimesOut() throws {
        let socket = try ListeningSocket()
        let endpoint = InferenceEndpoint(host: "127.0.0.1", port: socket.port, model: "m")
        let start = Date()
        let e = #expect(throws: RemoteModelError.self) {
            _ = try RemoteNetwork(endpoints: [endpoint], signature: Self.signature, policy: RemotePolicy(metadataTimeout: 1))
        }
        #expect(e?.kind == .timedOut)
        #expect(e?.description.hasPrefix("\(endpoint): ModelMetadata: no answer before the deadline") == true, "\(String(describing: e))")
        #expect(Date().timeIntervalSince(start) < 10)
        _ = socket
    }
}

/// A TCP socket listening on 127.0.0.1 that never accepts.
final class ListeningSocket {
    struct Failure: Error {}
    let fd: Int32
    let port: Int
    private var open = true

    init() throws {
        let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, Glibc.listen(fd, 16) == 0 else { Glibc.close(fd); throw Failure() }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        self.fd = fd
        port = Int(UInt16(bigEndian: addr.sin_port))
    }

    /// Closes the socket and returns its port, now with nothing listening.
    func closedPort() -> Int { close(); return port }

    func close() { if open { Glibc.close(fd); open = false } }

    deinit { close() }
}
