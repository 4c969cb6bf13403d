import Foundation

/// The GPT-2 / CLIP byte-level alphabet: every byte is written as one printable character. Printable bytes
/// ('!'...'~', '¡'...'¬', '®'...'ÿ') stand for themselves; the other 68 bytes map, in byte order, to U+0100,
/// U+0101, ... This is also the order of the first 256 CLIP vocabulary entries.
enum ByteLevelAlphabet {
    static let characters: [Character] = {
        var table = [Character](repeating: " ", count: 256)
        var extra: UInt32 = 0
        for b in 0..<256 {
            let printable = (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
            if printable {
                table[b] = Character(Unicode.Scalar(UInt8(b)))
            } else {
                table[b] = Character(Unicode.Scalar(256 + extra)!)
                extra += 1
            }
        }
        return table
    }()

    /// Scalar value -> byte, for decoding.
    static let byteForScalar: [UInt32: UInt8] = {
        var map: [UInt32: UInt8] = [:]
        for (b, c) in characters.enumerated() { map[c.unicodeScalars.first!.value] = UInt8(b) }
        return map
    }()

    static func string(_ bytes: some Sequence<UInt8>) -> String {
        var s = ""
        for b in bytes { s.append(characters[Int(b)]) }
        return s
    }
}

/// Byte-level BPE with CLIP's end-of-word suffix, as the `tokenizers` BPE model runs it (`continuing_subword_prefix`
/// "", `end_of_word_suffix` "</w>", no dropout, `fuse_unk` false): a word's bytes become symbols (the last one with
/// "</w>"; a symbol missing from the vocabulary becomes the unknown token), then merges are applied in rank order,
/// leftmost first, exactly like tokenizers' priority-queue merge loop. Results are cached per word.
final class ByteLevelBPE: @unchecked Sendable {
    static let endOfWordSuffix = "</w>"

    let tokenToID: [String: Int]
    /// id -> token for ids in the vocabulary ("" where the vocabulary has a gap).
    let idToToken: [String]
    let unkID: Int?
    /// Vocabulary id of each byte's character, and of character + "</w>"; -1 when absent.
    private let byteID: [Int32]
    private let byteEndID: [Int32]
    /// (left id << 32 | right id) -> (rank << 32 | merged id).
    private let merges: [UInt64: UInt64]

    private let lock = NSLock()
    private var cache: [[UInt8]: [Int32]] = [:]
    private static let cacheCapacity = 10_000

    var mergeCount: Int { merges.count }

    /// `merges` are (left, right) token pairs in rank order. Throws `BPEBuildError` naming the merge index.
    init(vocab: [String: Int], merges mergePairs: [(Substring, Substring)], unkToken: String?) throws(BPEBuildError) {
        tokenToID = vocab
        let maxID = vocab.values.max() ?? -1
        var inverse = [String](repeating: "", count: maxID + 1)
        for (token, id) in vocab where id >= 0 { inverse[id] = token }
        idToToken = inverse
        unkID = unkToken.flatMap { vocab[$0] }

        var byteID = [Int32](repeating: -1, count: 256)
        var byteEndID = [Int32](repeating: -1, count: 256)
        for b in 0..<256 {
            let c = String(ByteLevelAlphabet.characters[b])
            if let id = vocab[c] { byteID[b] = Int32(id) }
            if let id = vocab[c + Self.endOfWordSuffix] { byteEndID[b] = Int32(id) }
        }
        self.byteID = byteID
        self.byteEndID = byteEndID

        var table: [UInt64: UInt64] = [:]
        table.reserveCapacity(mergePairs.count)
        for (rank, (a, b)) in mergePairs.enumerated() {
            guard let left = vocab[String(a)] else { throw BPEBuildError(index: rank, token: String(a)) }
            guard let right = vocab[String(b)] else { throw BPEBuildError(index: rank, token: String(b)) }
            let joined = String(a) + String(b)
            guard let merged = vocab[joined] else { throw BPEBuildError(index: rank, token: joined) }
            // Later duplicates replace earlier ones, as in tokenizers' merge map.
            table[UInt64(UInt32(left)) << 32 | UInt64(UInt32(right))] = UInt64(rank) << 32 | UInt64(UInt32(merged))
        }
        merges = table
    }

    /// True when every byte (alone and as a word end) has a vocabulary entry, so no unknown token can occur.
    var isByteComplete: Bool { !byteID.contains(-1) && !byteEndID.contains(-1) }

    /// Appends the ids of one pre-tokenised word (its UTF-8 bytes).
    func encodeWord(_ word: [UInt8], into out: inout [Int]) {
        guard !word.isEmpty else { return }
        lock.lock()
        let cached = cache[word]
        lock.unlock()
        if let cached {
            for id in cached { out.append(Int(id)) }
            return
        }
        let ids = merge(word)
        lock.lock()
        if cache.count >= Self.cacheCapacity { cache.removeAll(keepingCapacity: true) }
        cache[word] = ids
        lock.unlock()
        for id in ids { out.append(Int(id)) }
    }

    private func merge(_ word: [UInt8]) -> [Int32] {
        let n = word.count
        var symbol = [Int32]()
        symbol.reserveCapacity(n)
        for (i, b) in word.enumerated() {
            let id = i == n - 1 ? byteEndID[Int(b)] : byteID[Int(b)]
            // Unknown symbols become the unknown token (one per byte: fuse_unk is false). Without an unknown
            // token tokenizers would fail; init refuses such vocabularies, so -1 cannot reach here unless unkID
            // is set.
            symbol.append(id >= 0 ? id : Int32(unkID ?? 0))
        }
        if n == 1 { return symbol }

        var prev = [Int32](repeating: -1, count: n)
        var next = [Int32](repeating: -1, count: n)
        var alive = [Bool](repeating: true, count: n)
        for i in 0..<n {
            prev[i] = Int32(i - 1)
            next[i] = i + 1 < n ? Int32(i + 1) : -1
        }

        // Min-heap of (rank << 32 | position): lowest rank first, then leftmost.
        var heap = MinHeap()
        for i in 0..<(n - 1) {
            if let m = merges[key(symbol[i], symbol[i + 1])] { heap.push((m >> 32) << 32 | UInt64(i)) }
        }
        while let top = heap.pop() {
            let rank = top >> 32
            let pos = Int(top & 0xFFFF_FFFF)
            guard alive[pos], next[pos] >= 0 else { continue }
            let right = Int(next[pos])
            guard let m = merges[key(symbol[pos], symbol[right])], m >> 32 == rank else { continue }
            symbol[pos] = Int32(truncatingIfNeeded: m & 0xFFFF_FFFF)
            alive[right] = false
            next[pos] = next[right]
            if next[right] >= 0 { prev[Int(next[right])] = Int32(pos) }
            if prev[pos] >= 0 {
                let p = Int(prev[pos])
                if let m2 = merges[key(symbol[p], symbol[pos])] { heap.push((m2 >> 32) << 32 | UInt64(p)) }
            }
            if next[pos] >= 0 {
                if let m2 = merges[key(symbol[pos], symbol[Int(next[pos])])] { heap.push((m2 >> 32) << 32 | UInt64(pos)) }
            }
        }
        var result = [Int32]()
        var i = 0
        while i >= 0 && i < n {
            result.append(symbol[i])
            i = Int(next[i])
        }
        return result
    }

    @inline(__always) private func key(_ a: Int32, _ b: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b))
    }
}

struct BPEBuildError: Error {
    /// 0-based index of the merge in rank order.
    let index: Int
    let token: String
}

/// A binary min-heap of UInt64 keys.
private struct MinHeap {
    private var items: [UInt64] = []

    mutating func push(_ x: UInt64) {
        items.append(x)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if items[parent] <= items[i] { break }
            items.swapAt(parent, i)
            i = parent
        }
    }

    mutating func pop() -> UInt64? {
        guard let first = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            let n = items.count
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < n && items[l] < items[m] { m = l }
                if r < n && items[r] < items[m] { m = r }
                if m == i { break }
                items.swapAt(i, m)
                i = m
            }
        }
        return first
    }
}
