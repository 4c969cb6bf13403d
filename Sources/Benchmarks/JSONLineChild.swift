import Foundation
import ModelIO

/// A child process that speaks one JSON object per line on stdin and stdout — the PyTorch reference servers of
/// tools/bench (`torch_models.py`, `torch_clip.py`, `torch_rewards.py` with `--serve`). Its stderr lines are kept
/// (the last one usually says why it failed) and those starting with `echoPrefix` are copied to our stderr.
/// `executable` without a slash is looked up on PATH. Not for concurrent use.
public final class JSONLineChild: @unchecked Sendable {
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
        public init(_ description: String) { self.description = description }
    }

    private let process = Process()
    private let input = Pipe(), output = Pipe()
    private var buffer = Data()
    private let stderrLines = LockedLines()
    private let name: String

    public init(executable: String, arguments: [String], echoPrefix: String? = nil) throws {
        name = ([executable] + arguments.prefix(1)).joined(separator: " ")
        Self.configure(process, executable: executable, arguments: arguments)
        process.standardInput = input
        process.standardOutput = output
        let err = Pipe()
        process.standardError = err
        let lines = stderrLines
        err.fileHandleForReading.readabilityHandler = { h in
            let data = h.availableData
            if data.isEmpty { h.readabilityHandler = nil; return }   // end of file: the child has exited
            for line in String(decoding: data, as: UTF8.self).split(separator: "\n") where !line.isEmpty {
                lines.append(String(line))
                if let echoPrefix, line.hasPrefix(echoPrefix) { FileHandle.standardError.write(Data("\(line)\n".utf8)) }
            }
        }
        do { try process.run() } catch { throw Failure("cannot start \(executable): \(error.localizedDescription)") }
    }

    /// The child's stderr lines so far.
    public var stderrTail: [String] { stderrLines.items }

    public func send(_ message: [String: Any]) throws {
        var data = try JSONSerialization.data(withJSONObject: message, options: [.sortedKeys])
        data.append(0x0A)
        do { try input.fileHandleForWriting.write(contentsOf: data) } catch { throw exited() }
    }

    /// The next line that parses as a JSON object (other output, e.g. a library's banner, is skipped). Throws when
    /// the child has exited, with its exit status and last stderr line.
    public func nextMessage() throws -> JSONValue {
        while true {
            if let nl = buffer.firstIndex(of: 0x0A) {
                let line = buffer[buffer.startIndex..<nl]
                buffer.removeSubrange(buffer.startIndex...nl)
                if let value = try? JSONValue.parse(line), value.objectValue != nil { return value }
                continue
            }
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { throw exited() }
            buffer.append(chunk)
        }
    }

    /// The next message, which must have `"type": type`; a message of another type (an `error` with its
    /// `message`) throws.
    public func read(expecting type: String) throws -> JSONValue {
        let m = try nextMessage()
        if m["type"]?.stringValue == type { return m }
        throw Failure("\(name): \(m["message"]?.stringValue ?? "expected a \(type) message, got \(m["type"]?.stringValue ?? "one without a type")")")
    }

    /// Sends a command and returns the reply; a reply with `"type": "error"` throws its message.
    public func request(_ command: [String: Any]) throws -> JSONValue {
        try send(command)
        let reply = try nextMessage()
        if reply["type"]?.stringValue == "error" { throw Failure("\(name): \(reply["message"]?.stringValue ?? "error")") }
        return reply
    }

    /// Asks the child to quit (`{"cmd": "quit"}`), closes its stdin and waits for it.
    public func stop() {
        if process.isRunning {
            try? send(["cmd": "quit"])
            try? input.fileHandleForWriting.close()
            process.waitUntilExit()
        }
    }

    private func exited() -> Failure {
        process.waitUntilExit()
        Thread.sleep(forTimeInterval: 0.1)   // let the stderr handler take the last lines
        let reason = stderrLines.items.last.map { ": \($0.trimmingCharacters(in: .whitespaces))" } ?? ""
        return Failure("\(name) exited (status \(process.terminationStatus)\(reason))")
    }

    /// `executable` itself when it is a path, else looked up on PATH through /usr/bin/env.
    private static func configure(_ p: Process, executable: String, arguments: [String]) {
        p.executableURL = URL(fileURLWithPath: executable.contains("/") ? executable : "/usr/bin/env")
        p.arguments = (executable.contains("/") ? [] : [executable]) + arguments
    }

    /// Runs `executable` to completion and returns its last stdout line as a JSON object, or nil when it fails.
    public static func runOnce(executable: String, arguments: [String]) -> JSONValue? {
        let p = Process()
        configure(p, executable: executable, arguments: arguments)
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return nil }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0, let last = String(decoding: data, as: UTF8.self).split(separator: "\n").last,
              let value = try? JSONValue.parse(Array(last.utf8)), value.objectValue != nil else { return nil }
        return value
    }
}

/// A list of lines appended from several threads (a child's stderr reader, concurrent benchmark jobs).
public final class LockedLines: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [String] = []
    public init() {}
    public func append(_ s: String) { lock.lock(); storage.append(s); lock.unlock() }
    public var items: [String] { lock.lock(); defer { lock.unlock() }; return storage }
}
