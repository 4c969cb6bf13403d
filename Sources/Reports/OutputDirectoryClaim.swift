import Foundation

/// One run's claim on an output directory. Creating it takes the lock file `.evosearch.lock` (created exclusively,
/// holding the owner's process id), so a second run into the same directory at the same time is refused with one
/// line naming the other process; a lock left by a process that no longer exists (killed, crashed) is taken over.
/// It then removes an earlier run's `result.json` at once, so a run that dies before it finishes never leaves a
/// result.json describing other files (`SearchOutput` writes result.json last). `release()` (or deinit) removes
/// the lock.
public final class OutputDirectoryClaim {
    public static let lockName = ".evosearch.lock"
    public let directory: URL
    /// False until the lock is taken, so a refused claim (whose deinit still runs) never removes another run's lock.
    private var held = false

    public init(_ directory: URL) throws(ReportError) {
        self.directory = directory
        let fm = FileManager.default
        do { try fm.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
            throw ReportError("cannot create \(directory.path): \(error.localizedDescription)")
        }
        let lock = directory.appendingPathComponent(Self.lockName).path
        for _ in 0..<2 {
            let fd = open(lock, O_WRONLY | O_CREAT | O_EXCL, 0o644)
            if fd >= 0 {
                let text = "\(getpid())\n"
                _ = text.withCString { write(fd, $0, strlen($0)) }
                close(fd)
                held = true
                try? fm.removeItem(at: directory.appendingPathComponent("result.json"))
                return
            }
            guard errno == EEXIST else {
                throw ReportError("cannot create \(lock): \(String(cString: strerror(errno))); choose a writable output directory")
            }
            let owner = (try? String(contentsOfFile: lock, encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            if let owner, kill(owner, 0) == 0 || errno == EPERM {
                throw ReportError("\(directory.path) is in use by another run (process \(owner)); wait for it or choose another output directory")
            }
            try? fm.removeItem(atPath: lock)   // stale: its process is gone (or the file is unreadable)
        }
        throw ReportError("cannot take \(lock): another run keeps creating it; choose another output directory")
    }

    public func release() {
        guard held else { return }
        held = false
        try? FileManager.default.removeItem(at: directory.appendingPathComponent(Self.lockName))
    }

    deinit { release() }
}
