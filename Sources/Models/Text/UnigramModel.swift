/// A SentencePiece Unigram model as the `tokenizers` library's `Unigram` encodes (the Viterbi path of
/// SentencePiece's optimised encoder):
/// - every vocabulary entry, special and byte pieces included, is a candidate wherever its UTF-8 bytes occur;
/// - a character where no piece of exactly that character starts gets an unknown node scored min(score) − 10;
/// - the best path maximises the sum of scores (Double), ties keeping the candidate found first (shorter pieces,
///   earlier starts);
/// - consecutive unknown characters are fused into one piece; a fused piece that is not in the vocabulary becomes
///   its bytes' `<0xNN>` pieces when `byteFallback` is on and all of them exist, else `unknownID`.
public struct UnigramModel: Sendable {
    public let pieces: [String]
    public let scores: [Double]
    public let unknownID: Int
    public let byteFallback: Bool

    private let ids: [[UInt8]: Int]
    private let trie: ByteTrie
    private let unknownScore: Double
    private let byteIDs: [Int]?

    /// Why a vocabulary cannot make a model.
    public enum BuildError: Error, Equatable, CustomStringConvertible {
        case emptyVocabulary
        case unknownIDOutOfRange(Int, count: Int)
        case emptyPiece(index: Int)

        public var description: String {
            switch self {
            case .emptyVocabulary: "the vocabulary is empty"
            case .unknownIDOutOfRange(let id, let n): "unk_id \(id) is outside the vocabulary of \(n) pieces"
            case .emptyPiece(let i): "piece \(i) is the empty string"
            }
        }
    }

    public init(pieces: [String], scores: [Double], unknownID: Int, byteFallback: Bool) throws(BuildError) {
        precondition(pieces.count == scores.count, "UnigramModel: \(pieces.count) pieces, \(scores.count) scores")
        guard !pieces.isEmpty else { throw .emptyVocabulary }
        guard unknownID >= 0 && unknownID < pieces.count else { throw .unknownIDOutOfRange(unknownID, count: pieces.count) }
        var ids: [[UInt8]: Int] = [:]
        ids.reserveCapacity(pieces.count)
        var trie = ByteTrie()
        for (i, p) in pieces.enumerated() {
            let bytes = Array(p.utf8)
            guard !bytes.isEmpty else { throw .emptyPiece(index: i) }
            ids[bytes] = i  // a later duplicate wins, as in tokenizers' map
        }
        for (bytes, id) in ids { trie.insert(bytes, id: id) }
        self.pieces = pieces
        self.scores = scores
        self.unknownID = unknownID
        self.byteFallback = byteFallback
        self.ids = ids
        self.trie = trie
        unknownScore = (scores.min() ?? 0) - 10
        if byteFallback {
            let hex = Array("0123456789ABCDEF".utf8)
            byteIDs = (0..<256).map { b in ids[Array("<0x".utf8) + [hex[b >> 4], hex[b & 15]] + Array(">".utf8)] ?? -1 }
        } else {
            byteIDs = nil
        }
    }

    public var count: Int { pieces.count }

    /// The id of `piece`, or nil.
    public func id(of piece: String) -> Int? { ids[Array(piece.utf8)] }

    /// The ids of one pre-tokenised piece of text.
    public func encode(_ text: String, into out: inout [Int]) {
        let bytes = Array(text.utf8)
        let n = bytes.count
        guard n > 0 else { return }
        var best = [Double](repeating: 0, count: n + 1)
        var from = [Int](repeating: -1, count: n + 1)
        var piece = [Int](repeating: -1, count: n + 1)
        var start = 0
        while start < n {
            let here = best[start]
            let charLength = Self.utf8Length(bytes[start])
            var hasSingle = false
            trie.prefixes(of: bytes, from: start) { end, id in
                let candidate = scores[id] + here
                if from[end] < 0 || candidate > best[end] {
                    best[end] = candidate
                    from[end] = start
                    piece[end] = id
                }
                if end - start == charLength { hasSingle = true }
            }
            if !hasSingle {
                let end = Swift.min(start + charLength, n)
                let candidate = unknownScore + here
                if from[end] < 0 || candidate > best[end] {
                    best[end] = candidate
                    from[end] = start
                    piece[end] = unknownID
                }
            }
            start += charLength
        }
        // Back-track, fusing runs of unknown pieces.
        var path: [(range: Range<Int>, id: Int)] = []
        var end = n
        while end > 0 {
            let s = from[end]
            if piece[end] == unknownID, let last = path.last, last.id == unknownID, last.range.lowerBound == end {
                path[path.count - 1].range = s..<last.range.upperBound
            } else {
                path.append((s..<end, piece[end]))
            }
            end = s
        }
        for (range, id) in path.reversed() {
            if id != unknownID {
                out.append(id)
                continue
            }
            let slice = Array(bytes[range])
            if let known = ids[slice] {
                out.append(known)
            } else if let table = byteIDs, slice.allSatisfy({ table[Int($0)] >= 0 }) {
                out += slice.map { table[Int($0)] }
            } else {
                out.append(unknownID)
            }
        }
    }

    /// Bytes in the UTF-8 sequence that `lead` starts (1 for a stray continuation byte).
    private static func utf8Length(_ lead: UInt8) -> Int {
        switch lead {
        case 0..<0xC0: 1
        case 0xC0..<0xE0: 2
        case 0xE0..<0xF0: 3
        default: 4
        }
    }
}

/// A byte trie over the vocabulary: children in one hash table keyed by (node, byte).
struct ByteTrie: Sendable {
    private var children: [UInt64: Int32] = [:]
    private var terminal: [Int32] = [-1]

    mutating func insert(_ key: [UInt8], id: Int) {
        var node = 0
        for b in key {
            let k = UInt64(node) << 8 | UInt64(b)
            if let c = children[k] {
                node = Int(c)
            } else {
                terminal.append(-1)
                let c = terminal.count - 1
                children[k] = Int32(c)
                node = c
            }
        }
        terminal[node] = Int32(id)
    }

    /// Calls `body(end, id)` for every key equal to `bytes[start..<end]`, shortest first.
    func prefixes(of bytes: [UInt8], from start: Int, _ body: (Int, Int) -> Void) {
        var node = 0
        var i = start
        while i < bytes.count {
            guard let c = children[UInt64(node) << 8 | UInt64(bytes[i])] else { return }
            node = Int(c)
            i += 1
            if terminal[node] >= 0 { body(i, Int(terminal[node])) }
        }
    }
}
