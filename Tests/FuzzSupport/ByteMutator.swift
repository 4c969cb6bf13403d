/// SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", 2014): a small seeded
/// generator, so every fuzz case can be reproduced from its seed and index.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// One kind of change `ByteMutator` makes to a file.
public enum Mutation: Sendable, Hashable, CustomStringConvertible {
    /// Flips bit `bit` of the byte at `at`.
    case bitFlip(at: Int, bit: Int)
    /// Overwrites the byte at `at` with `value` (often a boundary value: 0, 0x7F, 0x80, 0xFF).
    case setByte(at: Int, value: UInt8)
    /// Inserts `count` random bytes at `at`.
    case insertRandom(at: Int, count: Int)
    /// Inserts a dictionary token (a piece of the format: a JSON keyword, a chunk type, a big number) at `at`.
    case insertToken(at: Int, token: Int)
    /// Overwrites bytes from `at` with a dictionary token.
    case overwriteToken(at: Int, token: Int)
    /// Removes `count` bytes starting at `at`.
    case delete(at: Int, count: Int)
    /// Keeps the first `length` bytes.
    case truncate(length: Int)
    /// Repeats the `count` bytes from `at` right after themselves.
    case duplicate(at: Int, count: Int)
    /// Replaces everything from `at` with the tail of corpus file `file` from `from`.
    case splice(at: Int, file: Int, from: Int)

    public var description: String {
        switch self {
        case let .bitFlip(at, bit): "bitFlip(\(at), bit \(bit))"
        case let .setByte(at, value): "setByte(\(at), 0x\(String(value, radix: 16)))"
        case let .insertRandom(at, count): "insertRandom(\(at), \(count))"
        case let .insertToken(at, token): "insertToken(\(at), #\(token))"
        case let .overwriteToken(at, token): "overwriteToken(\(at), #\(token))"
        case let .delete(at, count): "delete(\(at), \(count))"
        case let .truncate(length): "truncate(\(length))"
        case let .duplicate(at, count): "duplicate(\(at), \(count))"
        case let .splice(at, file, from): "splice(\(at), file \(file) from \(from))"
        }
    }
}

/// A mutated file and how it was made, for a failure message that reproduces it.
public struct FuzzCase: Sendable {
    /// Index of the case in its run (same seed + index = same bytes).
    public let index: Int
    /// Which corpus file was mutated.
    public let source: Int
    public let mutations: [Mutation]
    public let bytes: [UInt8]

    public var description: String { "case \(index) (corpus file \(source): \(mutations.map(\.description).joined(separator: ", ")))" }
}

/// Seeded random mutations of valid files, in the manner of libFuzzer's default mutators: bit flips, boundary
/// bytes, random and dictionary insertions, deletions, truncation, duplication and splicing with another corpus
/// file. Each case stacks 1 to `maxMutations` changes on one corpus file. Deterministic for a given seed.
public struct ByteMutator: Sendable {
    public let corpus: [[UInt8]]
    /// Pieces of the format to insert ("IHDR", `"shape"`, `{`, a big-endian 0xFFFFFFFF, ...).
    public let dictionary: [[UInt8]]
    public let maxMutations: Int
    private var rng: SplitMix64
    private var produced = 0

    public init(seed: UInt64, corpus: [[UInt8]], dictionary: [[UInt8]] = [], maxMutations: Int = 4) {
        precondition(!corpus.isEmpty, "ByteMutator: empty corpus")
        self.corpus = corpus
        self.dictionary = dictionary
        self.maxMutations = maxMutations
        rng = SplitMix64(seed: seed)
    }

    /// The next case.
    public mutating func next() -> FuzzCase {
        let source = Int.random(in: 0..<corpus.count, using: &rng)
        var bytes = corpus[source]
        var applied: [Mutation] = []
        for _ in 0..<Int.random(in: 1...maxMutations, using: &rng) {
            let m = pick(for: bytes)
            apply(m, to: &bytes)
            applied.append(m)
        }
        defer { produced += 1 }
        return FuzzCase(index: produced, source: source, mutations: applied, bytes: bytes)
    }

    /// `count` cases.
    public mutating func cases(_ count: Int) -> [FuzzCase] { (0..<count).map { _ in next() } }

    private mutating func position(_ bytes: [UInt8], end: Bool = false) -> Int {
        Int.random(in: 0...(bytes.count - (end || bytes.isEmpty ? 0 : 1)), using: &rng)
    }

    private mutating func pick(for bytes: [UInt8]) -> Mutation {
        let n = bytes.count
        while true {
            switch Int.random(in: 0..<10, using: &rng) {
            case 0 where n > 0: return .bitFlip(at: position(bytes), bit: Int.random(in: 0..<8, using: &rng))
            case 1 where n > 0:
                let boundary: [UInt8] = [0, 1, 0x7F, 0x80, 0xFF, UInt8.random(in: 0...255, using: &rng)]
                return .setByte(at: position(bytes), value: boundary.randomElement(using: &rng)!)
            case 2: return .insertRandom(at: position(bytes, end: true), count: Int.random(in: 1...8, using: &rng))
            case 3 where !dictionary.isEmpty:
                return .insertToken(at: position(bytes, end: true), token: Int.random(in: 0..<dictionary.count, using: &rng))
            case 4 where !dictionary.isEmpty && n > 0:
                return .overwriteToken(at: position(bytes), token: Int.random(in: 0..<dictionary.count, using: &rng))
            case 5 where n > 0:
                let at = position(bytes)
                return .delete(at: at, count: Int.random(in: 1...Swift.min(16, n - at), using: &rng))
            case 6 where n > 0: return .truncate(length: position(bytes))
            case 7 where n > 0:
                let at = position(bytes)
                return .duplicate(at: at, count: Int.random(in: 1...Swift.min(32, n - at), using: &rng))
            case 8:
                let file = Int.random(in: 0..<corpus.count, using: &rng)
                return .splice(at: position(bytes, end: true), file: file, from: position(corpus[file], end: true))
            case 9 where n > 0: return .bitFlip(at: position(bytes), bit: Int.random(in: 0..<8, using: &rng))
            default: continue
            }
        }
    }

    private mutating func apply(_ m: Mutation, to bytes: inout [UInt8]) {
        switch m {
        case let .bitFlip(at, bit): bytes[at] ^= 1 << UInt8(bit)
        case let .setByte(at, value): bytes[at] = value
        case let .insertRandom(at, count):
            bytes.insert(contentsOf: (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }, at: at)
        case let .insertToken(at, token): bytes.insert(contentsOf: dictionary[token], at: at)
        case let .overwriteToken(at, token):
            let t = dictionary[token]
            let end = Swift.min(bytes.count, at + t.count)
            bytes.replaceSubrange(at..<end, with: t[0..<(end - at)])
        case let .delete(at, count): bytes.removeSubrange(at..<(at + count))
        case let .truncate(length): bytes.removeSubrange(length...)
        case let .duplicate(at, count): bytes.insert(contentsOf: Array(bytes[at..<(at + count)]), at: at + count)
        case let .splice(at, file, from): bytes.replaceSubrange(at..., with: corpus[file][from...])
        }
    }
}

extension ByteMutator {
    /// Dictionary tokens for JSON texts: structural characters, keywords, boundary numbers, escapes and bytes
    /// that are not UTF-8.
    public static let jsonTokens: [[UInt8]] = [
        "{", "}", "[", "]", "\"", ",", ":", "null", "true", "false", "-1", "0", "1e400", "1.5", "-0",
        "9223372036854775807", "9223372036854775808", "4294967296", "\"\"", "[]", "{}", "\\u0000", "\\ud800", "\\\"",
        "NaN", "Infinity", "\u{FEFF}", "é", "\u{10FFFF}",
    ].map { Array($0.utf8) } + [[0xFF], [0xC3], [0xED, 0xA0, 0x80], [0x00]]
}
