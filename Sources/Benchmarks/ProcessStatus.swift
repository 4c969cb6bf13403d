import Foundation

/// The kB figures of a Linux `/proc/<pid>/status` file (VmHWM = peak resident set, VmRSS, RssAnon = resident
/// private memory, RssFile = resident mapped file pages, …). Lines without a "kB" value are skipped.
public struct ProcessStatus: Sendable, Equatable {
    public var kilobytes: [String: Int]

    public init(text: String) {
        var out: [String: Int] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let value = parts[1].trimmingCharacters(in: .whitespaces)
            if value.hasSuffix(" kB"), let v = Int(value.dropLast(3).trimmingCharacters(in: .whitespaces)) {
                out[String(parts[0])] = v
            }
        }
        kilobytes = out
    }

    /// This process's status now; empty where /proc is not mounted.
    public static func current() -> ProcessStatus {
        ProcessStatus(text: (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? "")
    }

    /// Resets this process's VmHWM to its current resident set (Linux ≥ 4.0: "5" written to /proc/self/clear_refs),
    /// so a later `peakResidentKB` is the peak since now. False where that is not possible.
    @discardableResult
    public static func resetPeak() -> Bool {
        guard let handle = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return false }
        defer { try? handle.close() }
        return (try? handle.write(contentsOf: Data("5".utf8))) != nil
    }

    public var peakResidentKB: Int { kilobytes["VmHWM"] ?? 0 }
    public var residentKB: Int { kilobytes["VmRSS"] ?? 0 }
    public var residentAnonymousKB: Int { kilobytes["RssAnon"] ?? 0 }
    public var residentFileKB: Int { kilobytes["RssFile"] ?? 0 }
}
