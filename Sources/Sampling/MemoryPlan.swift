import Foundation

/// A pipeline's memory needs for one request, in bytes — estimates from the model configs (no allocation), meant
/// to be an upper bound of the measured peak within about a factor of two, so that a plan that cannot fit is
/// refused before any of it is spent.
public struct MemoryEstimate: Sendable, Equatable {
    /// The model files a plan reads (memory-mapped: resident once read, counted whole).
    public var weights: Int
    /// Peak working memory of one batch row in a denoiser call (a guidance pair counts as its two passes).
    public var perModelRow: Int
    /// Peak working memory of decoding one state into a sample.
    public var perDecodedRow: Int
    /// One state (latent) and one decoded sample (float32).
    public var state: Int
    public var sample: Int

    public init(weights: Int, perModelRow: Int, perDecodedRow: Int, state: Int, sample: Int) {
        self.weights = weights; self.perModelRow = perModelRow; self.perDecodedRow = perDecodedRow
        self.state = state; self.sample = sample
    }

    /// Total size of the `.safetensors` files under each of `directories`.
    public static func weightFiles(in directories: [URL]) -> Int {
        let fm = FileManager.default
        var total = 0
        for dir in directories {
            for name in (try? fm.contentsOfDirectory(atPath: dir.path)) ?? [] where name.hasSuffix(".safetensors") {
                total += ((try? fm.attributesOfItem(atPath: dir.appendingPathComponent(name).path))?[.size] as? Int) ?? 0
            }
        }
        return total
    }
}

/// What a search or a generation needs, term by term, and the check against what the machine has. Each term names
/// the flag that changes it, so a refusal says what to do.
public struct MemoryPlan: Sendable, Equatable {
    public struct Term: Sendable, Equatable {
        public var name: String
        /// The command-line flag that changes this term.
        public var flag: String
        public var bytes: Int
    }
    public var terms: [Term]

    public var total: Int { terms.reduce(0) { $0.addingReportingOverflow($1.bytes).overflow ? Int.max : $0 + $1.bytes } }

    /// A search: model calls of `maxBatch` rows, decoding in batches of `decodeBatch`, and what the result keeps.
    /// Every scored sample costs at least one NFE, so at most `budget` samples are kept: each its state in the
    /// history, a state in the working population and a 128-pixel thumbnail in the report (an upper bound —
    /// most methods score far fewer).
    public static func search(_ e: MemoryEstimate, budget: Int, maxBatch: Int, decodeBatch: Int) -> MemoryPlan {
        let thumbnail = 3 * 128 * 128 * 4
        let perSample = 2 * e.state + thumbnail
        let (kept, overflow) = Swift.max(0, budget).multipliedReportingOverflow(by: perSample)
        return MemoryPlan(terms: [
            Term(name: "model weights", flag: "--model", bytes: e.weights),
            Term(name: "model calls", flag: "--max-batch", bytes: multiply(maxBatch, e.perModelRow + 3 * e.state)),
            Term(name: "decoding", flag: "--max-batch", bytes: multiply(decodeBatch, e.perDecodedRow + e.sample)),
            Term(name: "scored samples", flag: "--budget", bytes: overflow ? Int.max : kept),
        ])
    }

    /// One generation: one model row, one decode, one sample.
    public static func generation(_ e: MemoryEstimate) -> MemoryPlan {
        MemoryPlan(terms: [
            Term(name: "model weights", flag: "--model", bytes: e.weights),
            Term(name: "model calls", flag: "--width/--height", bytes: e.perModelRow + 3 * e.state),
            Term(name: "decoding", flag: "--width/--height", bytes: e.perDecodedRow + e.sample),
        ])
    }

    private static func multiply(_ a: Int, _ b: Int) -> Int {
        let (r, o) = Swift.max(0, a).multipliedReportingOverflow(by: b)
        return o ? Int.max : r
    }

    /// Throws when the plan needs more than `limit` bytes, naming the largest term's flag.
    public func check(limit: Int, limitSource: String) throws(MemoryPlanError) {
        guard total > limit, let largest = terms.max(by: { $0.bytes < $1.bytes }) else { return }
        throw MemoryPlanError("the plan needs ≈ \(Self.format(total)) of memory, more than the \(Self.format(limit)) \(limitSource) "
            + "(largest part: \(largest.name), \(Self.format(largest.bytes))); lower \(largest.flag), or raise the limit with --max-memory")
    }

    /// "1.5 GiB", "320 MiB", "2.0 TiB".
    public static func format(_ bytes: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var v = Double(bytes), u = 0
        while v >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
        return u == 0 ? "\(bytes) B" : String(format: v < 10 ? "%.1f %@" : "%.0f %@", v, units[u])
    }

    /// Bytes from "24G", "512M", "1.5GiB", "2048" (bytes); nil for anything else. Powers of 1024.
    public static func parseSize(_ text: String) -> Int? {
        let t = text.trimmingCharacters(in: .whitespaces).uppercased()
        let suffixes: [(String, Double)] = [("TIB", 0x1p40), ("GIB", 0x1p30), ("MIB", 0x1p20), ("KIB", 0x1p10),
                                            ("TB", 0x1p40), ("GB", 0x1p30), ("MB", 0x1p20), ("KB", 0x1p10),
                                            ("T", 0x1p40), ("G", 0x1p30), ("M", 0x1p20), ("K", 0x1p10), ("B", 1)]
        var number = Substring(t), scale = 1.0
        for (s, f) in suffixes where t.hasSuffix(s) { number = t.dropLast(s.count); scale = f; break }
        guard let v = Double(number.trimmingCharacters(in: .whitespaces)), v.isFinite, v > 0, v * scale < 0x1p62 else { return nil }
        return Int(v * scale)
    }

    /// MemAvailable of /proc/meminfo (what the kernel can give without swapping), nil where it is not readable.
    public static func availableBytes() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let parts = line.split(separator: " ")
            if parts.count >= 2, let kb = Int(parts[1]) { return kb * 1024 }
        }
        return nil
    }
}

/// A plan that does not fit in memory; the message names the flag to change.
public struct MemoryPlanError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
