import Foundation
import Sampling
import Search
import TensorCore

/// Progress of a search on standard error, for `toy` and `search` alike.
///
/// - On a terminal: one line rewritten in place (at most 10 times a second): NFE used / budget, generation, best
///   reward so far, NFE per second and the estimated time left (from the average rate so far, against the whole
///   budget — a plan that spends less finishes sooner).
/// - Not a terminal (a log file, a pipe): plain lines, at most one per second, plus one line whenever a
///   generation's samples have been scored (a generation is done) and one at the end.
/// - Quiet: nothing.
///
/// Between scorings the NFE count advances through `spent(nfe:)` (`SearchOptions.spent`, after every model call); the generation and
/// the best reward change only when samples are scored. Thread-safe.
final class ProgressPrinter: @unchecked Sendable {
    enum Style { case terminal, log, silent }

    let style: Style
    private let output: @Sendable (String) -> Void
    private let now: @Sendable () -> Date
    private let lock = NSLock()
    private var started: Date
    private var nfe = 0
    private var budget = 0
    private var generation: Int?
    private var best = -Float.infinity
    private var lastDraw = Date.distantPast
    private var lastLog = Date.distantPast
    private var drewLine = false

    /// `isTerminal` defaults to whether standard error is a terminal; `output` and `now` exist for tests.
    init(quiet: Bool, isTerminal: Bool = isatty(STDERR_FILENO) != 0,
         output: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) },
         now: @escaping @Sendable () -> Date = { Date() }) {
        style = quiet ? .silent : (isTerminal ? .terminal : .log)
        self.output = output
        self.now = now
        started = now()
    }

    /// Restarts the clock (call right before the search, after loading models).
    func start(budget: Int) {
        lock.lock(); defer { lock.unlock() }
        started = now(); self.budget = budget
    }

    /// The search has spent `nfe` of `budget` NFE so far (called after each model call).
    func spent(nfe: Int, budget: Int) {
        if style == .silent { return }
        lock.lock(); defer { lock.unlock() }
        self.nfe = max(self.nfe, nfe); self.budget = budget
        emit(force: false)
    }

    /// Samples were scored (`SearchOptions.progress`). Every strategy scores a generation's (iteration's)
    /// samples together, so the first scoring with a new generation number marks that generation as done.
    func report(_ p: SearchProgress) {
        if style == .silent { return }
        lock.lock(); defer { lock.unlock() }
        let newGeneration = p.generation != generation
        nfe = max(nfe, p.nfe); budget = p.budget; generation = p.generation; best = max(best, p.bestReward)
        if style == .log && newGeneration {
            let t = now()
            lastLog = t
            output("generation \(p.generation) done: " + line(nfe: nfe, generation: nil, best: best, at: t) + "\n")
        } else {
            emit(force: newGeneration)
        }
    }

    /// Ends the display: the final state on its own line. `interrupted` says the last generation did not finish.
    func finish(interrupted: Bool = false) {
        if style == .silent { return }
        lock.lock(); defer { lock.unlock() }
        switch style {
        case .terminal:
            if drewLine || nfe > 0 { output("\r\u{1B}[K" + line(nfe: nfe, generation: generation, best: best, at: now()) + "\n") }
        case .log:
            output((interrupted ? "stopped: " : "finished: ") + line(nfe: nfe, generation: generation, best: best, at: now()) + "\n")
        case .silent: break
        }
        drewLine = false
    }

    // MARK: Formatting (lock held)

    private func emit(force: Bool) {
        let t = now()
        switch style {
        case .terminal:
            guard force || t.timeIntervalSince(lastDraw) >= 0.1 else { return }
            lastDraw = t
            output("\r\u{1B}[K" + line(nfe: nfe, generation: generation, best: best, at: t))
            drewLine = true
        case .log:
            guard t.timeIntervalSince(lastLog) >= 1 else { return }
            lastLog = t
            output(line(nfe: nfe, generation: generation, best: best, at: t) + "\n")
        case .silent: break
        }
    }

    private func line(nfe: Int, generation: Int?, best: Float, at t: Date) -> String {
        let elapsed = max(0, t.timeIntervalSince(started))
        let rate = elapsed > 0 ? Double(nfe) / elapsed : 0
        var parts = ["NFE \(nfe)/\(budget)"]
        if let generation { parts.append("generation \(generation)") }
        parts.append("best \(best.isFinite ? String(format: "%.4f", best) : "–")")
        parts.append(rate > 0 ? String(format: "%.1f NFE/s", rate) : "– NFE/s")
        parts.append(nfe >= budget ? "elapsed \(Self.duration(elapsed))"
                     : "ETA " + (rate > 0 ? Self.duration(Double(budget - nfe) / rate) : "–"))
        return parts.joined(separator: "  ")
    }

    /// "42s", "3m05s", "2h07m".
    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        if s < 60 { return "\(s)s" }
        if s < 3600 { return String(format: "%dm%02ds", s / 60, s % 60) }
        return String(format: "%dh%02dm", s / 3600, (s % 3600) / 60)
    }
}
