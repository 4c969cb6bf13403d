/// SentencePiece's `precompiled_charsmap`: the normalisation rules a SentencePiece model (or a tokenizer.json
/// "Precompiled" normalizer) carries, read as the `tokenizers` library's `spm_precompiled` crate reads them.
///
/// Layout: a little-endian u32 `n` (the trie's size in bytes), then `n / 4` little-endian u32 units of a
/// darts-clone double-array trie over UTF-8 byte strings, then a blob of NUL-terminated replacement strings; a
/// trie value is the byte offset of its replacement in the blob.
///
/// `replacement(for:)` returns the replacement of the *shortest* key that is a prefix of the bytes (the first hit
/// of a common-prefix search, as the crate's `transform` does), even when that key is shorter than the bytes
/// asked about; a NUL byte ends the search.
public struct PrecompiledCharsMap: Sendable {
    private let units: [UInt32]
    private let blob: [UInt8]

    /// Why a charsmap could not be read.
    public enum FormatError: Error, Equatable, CustomStringConvertible {
        case truncated(size: Int, trieBytes: Int)
        case trieSizeNotMultipleOfFour(Int)
        case emptyTrie

        public var description: String {
            switch self {
            case .truncated(let size, let trie):
                "precompiled_charsmap of \(size) bytes is shorter than its header and \(trie)-byte trie"
            case .trieSizeNotMultipleOfFour(let n): "precompiled_charsmap: trie size \(n) is not a multiple of 4"
            case .emptyTrie: "precompiled_charsmap: the trie is empty"
            }
        }
    }

    public init(_ bytes: [UInt8]) throws(FormatError) {
        guard bytes.count >= 4 else { throw .truncated(size: bytes.count, trieBytes: 0) }
        let trieBytes = Int(Self.u32(bytes, 0))
        guard trieBytes % 4 == 0 else { throw .trieSizeNotMultipleOfFour(trieBytes) }
        guard bytes.count >= 4 + trieBytes else { throw .truncated(size: bytes.count, trieBytes: trieBytes) }
        guard trieBytes > 0 else { throw .emptyTrie }
        units = (0..<(trieBytes / 4)).map { Self.u32(bytes, 4 + 4 * $0) }
        blob = Array(bytes[(4 + trieBytes)...])
    }

    /// The replacement of the shortest key that prefixes `key` (see the type's comment), or nil.
    public func replacement(for key: some Collection<UInt8>) -> [UInt8]? {
        guard let offset = firstPrefixValue(key) else { return nil }
        guard offset <= blob.count else { return nil }
        var end = offset
        while end < blob.count && blob[end] != 0 { end += 1 }
        return Array(blob[offset..<end])
    }

    /// darts-clone's common-prefix search, stopped at its first result.
    private func firstPrefixValue(_ key: some Collection<UInt8>) -> Int? {
        var node = Int(Self.offset(units[0]))
        for c in key {
            if c == 0 { return nil }
            node ^= Int(c)
            guard node < units.count else { return nil }
            let unit = units[node]
            if Self.label(unit) != UInt32(c) { return nil }
            node ^= Int(Self.offset(unit))
            if Self.hasLeaf(unit) {
                guard node < units.count else { return nil }
                return Int(Self.value(units[node]))
            }
        }
        return nil
    }

    private static func hasLeaf(_ u: UInt32) -> Bool { (u >> 8) & 1 == 1 }
    private static func value(_ u: UInt32) -> UInt32 { u & ((1 << 31) - 1) }
    private static func label(_ u: UInt32) -> UInt32 { u & ((1 << 31) | 0xFF) }
    private static func offset(_ u: UInt32) -> UInt32 { (u >> 10) << ((u & (1 << 9)) >> 6) }

    private static func u32(_ b: [UInt8], _ i: Int) -> UInt32 {
        UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24
    }
}
