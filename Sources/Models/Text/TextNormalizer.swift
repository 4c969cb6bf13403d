import Foundation

/// Text on its way through a `tokenizers` pipeline: Unicode scalars, each with the index of the input scalar it
/// came from (its alignment), and `originStart`, the input index where this piece begins (tokenizers'
/// `offsets_original().0`, which Metaspace's `prepend_scheme: "first"` tests against 0).
struct NormalizedText: Sendable, Equatable {
    var scalars: [Unicode.Scalar]
    var origins: [Int]
    var originStart: Int

    init(_ scalars: [Unicode.Scalar], origins: [Int], originStart: Int) {
        self.scalars = scalars
        self.origins = origins
        self.originStart = originStart
    }

    init(_ text: some Sequence<Unicode.Scalar>) {
        scalars = Array(text)
        origins = Array(0..<scalars.count)
        originStart = 0
    }

    var isEmpty: Bool { scalars.isEmpty }

    var string: String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        return String(view)
    }

    /// A piece of this text; its `originStart` is the alignment of its first scalar (tokenizers' `slice`).
    func slice(_ range: Range<Int>) -> NormalizedText {
        NormalizedText(Array(scalars[range]), origins: Array(origins[range]),
                       originStart: range.isEmpty ? originStart : origins[range.lowerBound])
    }

    /// Replaces `ranges` (sorted, disjoint) by `content`, whose scalars are aligned as tokenizers' `replace` aligns
    /// them: to the last scalar of the match (to the one before an empty match; the piece's start at offset 0).
    func replacing(_ ranges: [Range<Int>], with content: [Unicode.Scalar]) -> NormalizedText {
        var s: [Unicode.Scalar] = [], o: [Int] = []
        s.reserveCapacity(scalars.count)
        o.reserveCapacity(scalars.count)
        var next = 0
        for r in ranges {
            s += scalars[next..<r.lowerBound]
            o += origins[next..<r.lowerBound]
            let origin = r.upperBound >= 1 ? origins[r.upperBound - 1] : originStart
            s += content
            o += repeatElement(origin, count: content.count)
            next = r.upperBound
        }
        s += scalars[next...]
        o += origins[next...]
        return NormalizedText(s, origins: o, originStart: originStart)
    }
}

/// The normalizers of a tokenizer.json that T5 / UMT5 files use, applied as the `tokenizers` library applies them:
/// - `precompiled`: SentencePiece's charsmap (see `PrecompiledCharsMap`), per extended grapheme cluster: a cluster
///   of fewer than 6 UTF-8 bytes is looked up whole, and if the map has no rule for it each of its scalars is
///   looked up alone (a rule for a prefix of what was looked up replaces all of it, as in `spm_precompiled`);
/// - `replace`: every non-overlapping occurrence of a literal string or a regular expression (ICU's engine through
///   `NSRegularExpression`; tokenizers uses Oniguruma — the same for the patterns converters write, such as
///   `" {2,}"` and `"\A +| +\z"`);
/// - `strip`: leading / trailing White_Space;
/// - `sequence`: each in order.
/// Grapheme clusters are Swift's, which may differ from the `unicode-segmentation` crate's on the newest
/// Unicode additions.
public enum TextNormalizer: Sendable {
    case precompiled(PrecompiledCharsMap)
    case replace(ReplacePattern, content: String)
    case strip(left: Bool, right: Bool)
    case sequence([TextNormalizer])

    /// What `replace` looks for.
    public enum ReplacePattern: Sendable {
        case string(String)
        case regex(SendableRegex)
    }

    func apply(_ text: NormalizedText) -> NormalizedText {
        switch self {
        case .precompiled(let map): return Self.precompiled(text, map)
        case .replace(.string(let pattern), let content):
            return text.replacing(Self.occurrences(of: Array(pattern.unicodeScalars), in: text.scalars),
                                  with: Array(content.unicodeScalars))
        case .replace(.regex(let regex), let content):
            return text.replacing(regex.matches(in: text.scalars), with: Array(content.unicodeScalars))
        case .strip(let left, let right):
            var lo = 0, hi = text.scalars.count
            if left { while lo < hi && text.scalars[lo].properties.isWhitespace { lo += 1 } }
            if right { while hi > lo && text.scalars[hi - 1].properties.isWhitespace { hi -= 1 } }
            return NormalizedText(Array(text.scalars[lo..<hi]), origins: Array(text.origins[lo..<hi]),
                                  originStart: text.originStart)
        case .sequence(let steps):
            return steps.reduce(text) { $1.apply($0) }
        }
    }

    /// The replaced text of one string (for matching added tokens marked `normalized`).
    func apply(to string: String) -> String { apply(NormalizedText(string.unicodeScalars)).string }

    /// The charsmap applied per grapheme cluster, with tokenizers' alignment bookkeeping: the replacement's
    /// scalars are listed with a change of 0 (replacing one input scalar), 1 (inserted) or −n (also consuming n
    /// more), then input scalars are consumed in order — so a removal at the very start shifts the alignment of
    /// what follows, as it does there.
    private static func precompiled(_ text: NormalizedText, _ map: PrecompiledCharsMap) -> NormalizedText {
        var changes: [(scalar: Unicode.Scalar, change: Int)] = []
        changes.reserveCapacity(text.scalars.count)
        func replace(_ oldCount: Int, _ new: [UInt8]) {
            let scalars = Array(String(decoding: new, as: UTF8.self).unicodeScalars)
            let diff = scalars.count - oldCount
            changes += scalars.map { ($0, 0) }
            if diff > 0 {
                for k in (changes.count - diff)..<changes.count { changes[k].change = 1 }
            } else if diff < 0, !changes.isEmpty {
                changes[changes.count - 1].change += diff
            }
        }
        for cluster in text.string {
            let utf8 = Array(cluster.utf8)
            if utf8.count < 6, let r = map.replacement(for: utf8) {
                replace(cluster.unicodeScalars.count, r)
                continue
            }
            for scalar in cluster.unicodeScalars {
                if let r = map.replacement(for: Array(String(scalar).utf8)) {
                    replace(1, r)
                } else {
                    changes.append((scalar, 0))
                }
            }
        }
        var origins: [Int] = []
        origins.reserveCapacity(changes.count)
        let n = text.origins.count
        var consumed = 0
        for (_, change) in changes {
            if change > 0 {
                origins.append(consumed >= 1 ? text.origins[Swift.min(consumed, n) - 1] : text.originStart)
            } else {
                origins.append(n == 0 ? text.originStart : text.origins[Swift.min(consumed, n - 1)])
                consumed += 1 - change
            }
        }
        return NormalizedText(changes.map(\.scalar), origins: origins, originStart: text.originStart)
    }

    /// Non-overlapping occurrences of `pattern` (non-empty), left to right.
    static func occurrences(of pattern: [Unicode.Scalar], in scalars: [Unicode.Scalar]) -> [Range<Int>] {
        guard !pattern.isEmpty, scalars.count >= pattern.count else { return [] }
        var out: [Range<Int>] = []
        var i = 0
        while i + pattern.count <= scalars.count {
            if scalars[i] == pattern[0] && scalars[i..<(i + pattern.count)].elementsEqual(pattern) {
                out.append(i..<(i + pattern.count))
                i += pattern.count
            } else {
                i += 1
            }
        }
        return out
    }
}

/// A compiled regular expression that can be shared between threads (matching does not mutate it).
public final class SendableRegex: @unchecked Sendable {
    public let pattern: String
    private let regex: NSRegularExpression

    public init(_ pattern: String) throws {
        self.pattern = pattern
        regex = try NSRegularExpression(pattern: pattern)
    }

    /// Matches in `scalars` as scalar index ranges.
    func matches(in scalars: [Unicode.Scalar]) -> [Range<Int>] {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        let string = String(view)
        // UTF-16 offset → scalar index (boundaries only).
        var scalarAt = [Int](repeating: 0, count: string.utf16.count + 1)
        var u = 0
        for (i, s) in scalars.enumerated() {
            scalarAt[u] = i
            u += s.utf16.count
        }
        scalarAt[u] = scalars.count
        let found = regex.matches(in: string, range: NSRange(location: 0, length: u))
        return found.compactMap { m in
            let r = m.range
            guard r.location != NSNotFound else { return nil }
            return scalarAt[r.location]..<scalarAt[r.location + r.length]
        }
    }
}
