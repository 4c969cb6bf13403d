import Foundation

/// Turns the first SIGINT (Ctrl-C) or SIGTERM into a flag the search polls before every model call, so it stops
/// at the next batch chunk and the command still writes what was found. A second signal within 0.2 s of the
/// first counts as the same one (some tools send two); a later one exits at once with 128 + the signal number.
final class InterruptFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var first: (signal: Int32, at: Double)?
    private var sources: [DispatchSourceSignal] = []
    private let action: String

    /// Signals closer together than this are one interruption.
    static let coalescingSeconds = 0.2

    /// `action`: what the command does on the first signal, for the line it prints.
    init(action: String = "finishing with the best found so far") {
        self.action = action
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler { [weak self] in self?.raise(sig) }
            s.resume()
            sources.append(s)
        }
    }

    private func raise(_ sig: Int32) {
        let now = ProcessInfo.processInfo.systemUptime
        lock.lock()
        let earlier = first
        if earlier == nil { first = (sig, now) }
        lock.unlock()
        guard let earlier else {
            let name = sig == SIGTERM ? "SIGTERM" : "Ctrl-C"
            FileHandle.standardError.write(Data("\ninterrupted (\(name)): \(action) (again to quit now)\n".utf8))
            return
        }
        if now - earlier.at > Self.coalescingSeconds { exit(128 + sig) }
    }

    var isRaised: Bool { lock.lock(); defer { lock.unlock() }; return first != nil }

    /// 130 after SIGINT, 143 after SIGTERM (the shell's convention), nil when no signal came.
    var exitStatus: Int32? { lock.lock(); defer { lock.unlock() }; return first.map { 128 + $0.signal } }
}

/// The lines a resumable bench (`bench shapes`, `bench claims`) prints about its journals: on opening one that holds
/// work, and after an interruption (each journal's path with its count of finished searches).
enum JournalLines {
    static func resuming(_ url: URL, recorded: Int) -> String {
        "resuming from \(url.path): \(recorded) finished searches recorded\n"
    }

    static func stopped(_ journals: [(url: URL, recorded: Int)]) -> String {
        "stopped: " + journals.map { "\($0.recorded) finished searches in \($0.url.path)" }.joined(separator: ", ")
            + "; run the same command again to resume\n"
    }
}
