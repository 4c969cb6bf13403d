import Foundation

/// CLIP's text normalisation and pre-tokenisation, as transformers 5.24's `CLIPTokenizer` sets up its
/// `tokenizers` pipeline:
///   normalizer     NFC -> Replace(/\s+/, " ") -> Lowercase (per character: full lowercase mapping, no
///                  final-sigma rule)
///   pre-tokenizer  Split(/<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|
///                  [^\s\p{L}\p{N}]+/, removed, invert) -> ByteLevel (whose GPT-2 regex never splits CLIP's
///                  pieces further, and add_prefix_space is false)
/// `\s` is Unicode White_Space, `\p{L}` general categories L*, `\p{N}` N*, in the Unicode version of the regex
/// engine (Oniguruma) inside tokenizers 0.23: 16.0. Swift 6.3 knows Unicode 17.0, so characters new in 17.0
/// count as unassigned ("other"), as they do for tokenizers.
enum CLIPTextPipeline {
    /// Unicode version of the `tokenizers` regex engine (checked over every code point by the tests).
    static let regexUnicodeMajorVersion = 16

    enum CharClass: UInt8 { case letter, number, space, other }

    private static let asciiClass: [CharClass] = (0..<128).map { v in
        if (0x09...0x0D).contains(v) || v == 0x20 { return .space }
        if (0x41...0x5A).contains(v) || (0x61...0x7A).contains(v) { return .letter }
        if (0x30...0x39).contains(v) { return .number }
        return .other
    }

    @inline(__always) static func charClass(_ s: Unicode.Scalar) -> CharClass {
        if s.value < 128 { return asciiClass[Int(s.value)] }
        if s.properties.isWhitespace { return .space }
        if let age = s.properties.age, age.major > regexUnicodeMajorVersion { return .other }
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
        case .decimalNumber, .letterNumber, .otherNumber: return .number
        default: return .other
        }
    }

    /// NFC, every run of whitespace to one space, lowercase. `bytes` is valid UTF-8.
    static func normalize(_ bytes: ArraySlice<UInt8>) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(bytes.count)
        var inSpace = false
        if bytes.allSatisfy({ $0 < 0x80 }) {
            for b in bytes {
                if b == 0x20 || (0x09...0x0D).contains(b) {
                    if !inSpace { out.append(" ") }
                    inSpace = true
                    continue
                }
                inSpace = false
                out.append(Unicode.Scalar((0x41...0x5A).contains(b) ? b + 32 : b))
            }
            return out
        }
        let composed = String(decoding: bytes, as: UTF8.self).precomposedStringWithCanonicalMapping
        for s in composed.unicodeScalars {
            if s.properties.isWhitespace {
                if !inSpace { out.append(" ") }
                inSpace = true
                continue
            }
            inSpace = false
            if s.value < 0x80 {
                out.append((0x41...0x5A).contains(s.value) ? Unicode.Scalar(s.value + 32)! : s)
            } else {
                let lower = s.properties.lowercaseMapping
                if lower.unicodeScalars.count == 1 && lower.unicodeScalars.first == s {
                    out.append(s)
                } else {
                    out.append(contentsOf: lower.unicodeScalars)
                }
            }
        }
        return out
    }

    private static let startLiteral = Array("<|startoftext|>".unicodeScalars)
    private static let endLiteral = Array("<|endoftext|>".unicodeScalars)

    /// Splits normalised text into CLIP's pieces and calls `body` with each piece's UTF-8 bytes.
    /// The ByteLevel pre-tokenizer's GPT-2 regex then leaves every piece whole except the literal
    /// "<|startoftext|>" / "<|endoftext|>" alternatives (text that was not an added token, e.g. "<|ENDOFTEXT|>"
    /// in SD 1.x files), which it splits into "<|", the word, "|>".
    static func preTokenize(_ s: ArraySlice<Unicode.Scalar>, _ body: ([UInt8]) -> Void) {
        var i = s.startIndex
        let end = s.endIndex
        var piece: [UInt8] = []
        piece.reserveCapacity(64)

        func emit(_ range: Range<Int>) {
            piece.removeAll(keepingCapacity: true)
            for k in range { appendUTF8(s[k], to: &piece) }
            body(piece)
        }
        func hasPrefix(_ literal: [Unicode.Scalar], at k: Int) -> Bool {
            guard end - k >= literal.count else { return false }
            for (j, c) in literal.enumerated() where s[k + j] != c { return false }
            return true
        }

        while i < end {
            let c = s[i]
            if c == "<", let literal = [startLiteral, endLiteral].first(where: { hasPrefix($0, at: i) }) {
                let n = literal.count
                emit(i..<(i + 2))
                emit((i + 2)..<(i + n - 2))
                emit((i + n - 2)..<(i + n))
                i += n
                continue
            }
            if c == "'" && i + 1 < end {
                // 's 't 're 've 'm 'll 'd, in the regex's alternation order (no two share a prefix).
                let c1 = s[i + 1]
                let c2: Unicode.Scalar? = i + 2 < end ? s[i + 2] : nil
                var length = 0
                switch c1 {
                case "s", "t", "m", "d": length = 2
                case "r", "v": if c2 == "e" { length = 3 }
                case "l": if c2 == "l" { length = 3 }
                default: break
                }
                if length > 0 { emit(i..<(i + length)); i += length; continue }
            }
            switch charClass(c) {
            case .space:
                i += 1
            case .number:
                emit(i..<(i + 1))
                i += 1
            case .letter:
                var j = i + 1
                while j < end && charClass(s[j]) == .letter { j += 1 }
                emit(i..<j)
                i = j
            case .other:
                var j = i + 1
                while j < end && charClass(s[j]) == .other { j += 1 }
                emit(i..<j)
                i = j
            }
        }
    }

    @inline(__always) static func appendUTF8(_ s: Unicode.Scalar, to out: inout [UInt8]) {
        let v = s.value
        switch v {
        case 0..<0x80:
            out.append(UInt8(v))
        case 0x80..<0x800:
            out.append(UInt8(0xC0 | (v >> 6)))
            out.append(UInt8(0x80 | (v & 0x3F)))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | (v >> 12)))
            out.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (v & 0x3F)))
        default:
            out.append(UInt8(0xF0 | (v >> 18)))
            out.append(UInt8(0x80 | ((v >> 12) & 0x3F)))
            out.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (v & 0x3F)))
        }
    }

    /// Python's `str.isspace` (used by `str.strip` in transformers' CLIP decode): White_Space plus U+001C...U+001F.
    static func isPythonSpace(_ s: Unicode.Scalar) -> Bool {
        s.properties.isWhitespace || (0x1C...0x1F).contains(s.value)
    }
}

/// Finds added tokens in text, leftmost first and longest among those starting at the same place
/// (tokenizers' aho-corasick LeftmostLongest), over a sequence of code units.
struct AddedTokenMatcher<Unit: Hashable & Sendable>: Sendable {
    private var patterns: [(units: [Unit], id: Int)] = []
    private var firstUnits: Set<Unit> = []

    init(_ patterns: [(units: [Unit], id: Int)]) {
        // Longest first, so the first hit at a position is the longest.
        self.patterns = patterns.filter { !$0.units.isEmpty }.sorted { $0.units.count > $1.units.count }
        firstUnits = Set(self.patterns.map { $0.units[0] })
    }

    var isEmpty: Bool { patterns.isEmpty }

    /// Calls `segment` for text between matches (possibly empty ranges are skipped) and `token` for each match.
    func split<C: RandomAccessCollection>(
        _ text: C, segment: (Range<C.Index>) -> Void, token: (Int) -> Void
    ) where C.Element == Unit, C.Index == Int {
        var start = text.startIndex
        var i = text.startIndex
        let end = text.endIndex
        if !patterns.isEmpty {
            while i < end {
                if firstUnits.contains(text[i]), let (length, id) = match(text, at: i) {
                    if start < i { segment(start..<i) }
                    token(id)
                    i += length
                    start = i
                } else {
                    i += 1
                }
            }
        }
        if start < end { segment(start..<end) }
    }

    private func match<C: RandomAccessCollection>(_ text: C, at i: Int) -> (Int, Int)?
    where C.Element == Unit, C.Index == Int {
        for p in patterns where text.endIndex - i >= p.units.count {
            var ok = true
            for (j, u) in p.units.enumerated() where text[i + j] != u { ok = false; break }
            if ok { return (p.units.count, p.id) }
        }
        return nil
    }
}
