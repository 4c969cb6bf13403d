import Foundation

/// A one-line status of long work on standard error ("step 3/20", "prompt 3/12  41 s") for the commands whose
/// progress is a count (a search's is `ProgressPrinter`'s).
///
/// On a terminal the line is rewritten in place; in a log or a pipe each update is its own line, at most one a
/// second, and `end()` writes the last one if it was held back, so a log never runs updates together; quiet
/// prints nothing. Thread-safe.
final class StatusLine: @unchecked Sendable {
    private let style: ProgressPrinter.Style
    private let lock = NSLock()
    private var lastLog = Date.distantPast
    private var held: String?
    private var shown = false

    init(quiet: Bool, isTerminal: Bool = isatty(STDERR_FILENO) != 0) {
        style = quiet ? .silent : (isTerminal ? .terminal : .log)
    }

    func show(_ text: String) {
        lock.lock(); defer { lock.unlock() }
        switch style {
        case .terminal:
            write("\r\u{1B}[K" + text); shown = true
        case .log:
            let t = Date()
            if t.timeIntervalSince(lastLog) >= 1 { write(text + "\n"); lastLog = t; held = nil } else { held = text }
        case .silent: break
        }
    }

    /// Ends the status: a newline after the terminal's line, or the log's last update if it was held back.
    func end() {
        lock.lock(); defer { lock.unlock() }
        if shown { write("\n") }
        if let held { write(held + "\n") }
        shown = false; held = nil
    }

    private func write(_ s: String) { FileHandle.standardError.write(Data(s.utf8)) }
}
