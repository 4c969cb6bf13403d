import Foundation
import ModelIO

/// A reference server (tools/serve/serve.py: MLServer hosting a pipeline's denoiser network or a reward model) started as a child
/// process on 127.0.0.1 with free ports, for tests and `evosearch bench remote`. `init` returns once the model
/// answers a metadata request; the server's log goes to a temporary file whose tail is in every start-up error.
/// The process is stopped (SIGTERM, then SIGKILL) by `stop` or when the value is released, and exits by itself
/// when this process ends (its standard input closes).
public final class LoopbackModelServer: @unchecked Sendable {
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
        public init(_ description: String) { self.description = description }
    }

    public let endpoint: InferenceEndpoint
    public let logFile: URL
    private let process: Process
    /// The server's standard input: it exits when this closes, so it cannot outlive this process.
    private let lifeline = Pipe()

    /// nil when `python` can import what the server needs (mlserver, torch, diffusers, transformers), else the import error.
    public static func missingPackages(python: String = "python3") -> String? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [python, "-c", "import mlserver, torch, diffusers, transformers"]
        let err = Pipe()
        p.standardOutput = FileHandle.nullDevice
        p.standardError = err
        do { try p.run() } catch { return "cannot run \(python): \(error.localizedDescription)" }
        let data = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        if p.terminationStatus == 0 { return nil }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? "\(python) exited with \(p.terminationStatus)"
    }

    /// What a server hosts: a pipeline directory's denoiser network or VAE decoder, or a CLIP directory as a reward of `kind`
    /// (`clip`, `clipscore`, `pickscore`).
    public enum Hosted: Sendable {
        case pipeline(URL)
        /// The pipeline directory's VAE decoder.
        case decoder(URL)
        case reward(URL, kind: String)

        var arguments: [String] {
            switch self {
            case .pipeline(let url): return ["--pipeline", url.path]
            case .decoder(let url): return ["--pipeline", url.path, "--component", "decoder"]
            case .reward(let url, let kind): return ["--reward", url.path, "--reward-kind", kind]
            }
        }
    }

    /// Serves `pipeline`'s denoiser network as `model`.
    public convenience init(pipeline: URL, model: String, python: String = "python3", script: String = "tools/serve/serve.py",
                            startTimeout: Double = 300) throws {
        try self.init(hosting: .pipeline(pipeline), model: model, python: python, script: script, startTimeout: startTimeout)
    }

    public init(hosting hosted: Hosted, model: String, python: String = "python3", script: String = "tools/serve/serve.py",
                startTimeout: Double = 300) throws {
        logFile = FileManager.default.temporaryDirectory.appendingPathComponent("evosearch-serve-\(getpid())-\(UUID().uuidString.prefix(8)).log")
        _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        let log = try FileHandle(forWritingTo: logFile)
        let out = Pipe()
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python, script] + hosted.arguments + ["--name", model, "--grpc-port", "0", "--http-port", "0",
                                                                 "--exit-with-parent"]
        var environment = ProcessInfo.processInfo.environment
        environment["EVOSEARCH_SERVE_THREADS"] = environment["EVOSEARCH_SERVE_THREADS"] ?? "1"
        process.environment = environment
        process.standardInput = lifeline
        process.standardOutput = out
        process.standardError = log
        do { try process.run() } catch { throw Failure("cannot start \(python) \(script): \(error.localizedDescription)") }
        try? log.close()

        // The first stdout line names the ports; then the model loads.
        var line = Data()
        while !line.contains(0x0A) {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        let reply = line.split(separator: 0x0A).first.flatMap { try? JSONValue.parse(Array($0)) }
        guard let port = reply?["grpc_port"]?.intValue else {
            process.waitUntilExit()
            throw Failure("\(script) did not name its port (exit status \(process.terminationStatus))\(Self.tail(logFile))")
        }
        endpoint = InferenceEndpoint(host: "127.0.0.1", port: port, model: model)
        try waitUntilReady(timeout: startTimeout, script: script)
    }

    deinit { stop() }

    public var processIdentifier: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }

    /// Sends `signal` (SIGKILL to simulate a crash, SIGSTOP / SIGCONT for a server that stops answering).
    public func send(_ signal: Int32) { if process.isRunning { kill(process.processIdentifier, signal) } }

    public func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGCONT)
        process.terminate()
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
    }

    private func waitUntilReady(timeout: Double, script: String) throws {
        let thread = ClientThread(name: "evosearch-serve-probe")
        defer { thread.stop() }
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if !process.isRunning {
                throw Failure("\(script) exited with status \(process.terminationStatus) before serving\(Self.tail(logFile))")
            }
            // A new client per probe: one that failed to connect would wait out its reconnection backoff.
            let client = try InferenceClient(endpoint, thread: thread)
            let answered = (try? thread.run(cancellation: .never) { _ = try await client.metadata(timeout: 2) }) != nil
            client.close()
            if answered { return }
            if Date() > deadline {
                stop()
                throw Failure("\(script) did not serve \(endpoint) within \(Int(timeout)) s\(Self.tail(logFile))")
            }
            Thread.sleep(forTimeInterval: 0.5)
        }
    }

    /// The log's last lines, for errors.
    static func tail(_ url: URL) -> String {
        let text = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
        let lines = text.split(separator: "\n").suffix(5)
        return lines.isEmpty ? "" : "; its log (\(url.path)) ends: " + lines.joined(separator: " | ")
    }
}
