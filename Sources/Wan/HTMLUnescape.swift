/// Resolves HTML character references exactly as Python's `html.unescape` does (HTML5 rules): named references from
/// the WHATWG table (the longest known prefix of a name without its `;`, as browsers do for legacy names), decimal
/// and hexadecimal numeric references with HTML5's replacements for the Windows-1252 range, surrogates and values
/// above U+10FFFF as U+FFFD, and non-characters / control code points removed. Anything that is not a reference
/// stays as written.
public struct HTMLUnescape: Sendable {
    /// Name (with `;` where it has one) → replacement.
    let named: [String: String]
    /// The longest name in the table, in scalars.
    let longestName: Int

    public init() {
        var table: [String: String] = [:]
        var longest = 0
        for line in Self.namedReferenceLines.split(separator: "\n") {
            let parts = line.split(separator: "\t")
            guard parts.count == 2 else { continue }
            let value = String(String.UnicodeScalarView(parts[1].split(separator: " ").compactMap { UInt32($0, radix: 16).flatMap(Unicode.Scalar.init) }))
            table[String(parts[0])] = value
            longest = max(longest, parts[0].unicodeScalars.count)
        }
        named = table
        longestName = longest
    }

    public func callAsFunction(_ text: String) -> String {
        let s = Array(text.unicodeScalars)
        guard s.contains("&") else { return text }
        var out = String.UnicodeScalarView()
        var i = 0
        while i < s.count {
            guard s[i] == "&", let (replacement, end) = reference(in: s, at: i + 1) else {
                out.append(s[i]); i += 1; continue
            }
            out.append(contentsOf: replacement.unicodeScalars)
            i = end
        }
        return String(out)
    }

    /// The replacement of the reference whose text starts at `start` (just after `&`) and the index after it, or
    /// nil when no reference starts there (the `&` is then literal).
    func reference(in s: [Unicode.Scalar], at start: Int) -> (String, Int)? {
        guard start < s.count else { return nil }
        if s[start] == "#" {
            var j = start + 1
            let hex = j < s.count && (s[j] == "x" || s[j] == "X")
            if hex { j += 1 }
            let digitsStart = j
            var value: UInt64 = 0
            while j < s.count, let d = Self.digit(s[j], hex: hex) {
                value = min(value * (hex ? 16 : 10) + UInt64(d), 0x1_0000_0000)  // saturates above U+10FFFF
                j += 1
            }
            guard j > digitsStart else { return nil }
            if j < s.count, s[j] == ";" { j += 1 }
            return (Self.numeric(value), j)
        }
        // A name: up to 32 scalars that are not tab, newline, form feed, space, <, &, # or ;, then an optional ;.
        var j = start
        while j < s.count, j - start < 32, !Self.nameTerminators.contains(s[j]) { j += 1 }
        guard j > start else { return nil }
        if j < s.count, s[j] == ";" { j += 1 }
        let candidate = String(String.UnicodeScalarView(s[start..<j]))
        if let value = named[candidate] { return (value, j) }
        // The longest prefix (at least two scalars) that is a name; the rest of the candidate stays as written.
        var length = min(j - start - 1, longestName)
        while length >= 2 {
            if let value = named[String(String.UnicodeScalarView(s[start..<(start + length)]))] {
                return (value, start + length)
            }
            length -= 1
        }
        return nil
    }

    static let nameTerminators: Set<Unicode.Scalar> = ["\t", "\n", "\u{0C}", " ", "<", "&", "#", ";"]

    static func digit(_ c: Unicode.Scalar, hex: Bool) -> UInt32? {
        switch c.value {
        case 0x30...0x39: c.value - 0x30
        case 0x61...0x66 where hex: c.value - 0x61 + 10
        case 0x41...0x46 where hex: c.value - 0x41 + 10
        default: nil
        }
    }

    /// HTML5's treatment of a numeric reference's value.
    static func numeric(_ value: UInt64) -> String {
        if let windows = windows1252[value] { return String(windows) }
        if (0xD800...0xDFFF).contains(value) || value > 0x10FFFF { return "\u{FFFD}" }
        let v = UInt32(value)
        if removed(v) { return "" }
        return Unicode.Scalar(v).map { String($0) } ?? "\u{FFFD}"
    }

    /// Code points a numeric reference may not produce (controls, non-characters): they are dropped.
    static func removed(_ v: UInt32) -> Bool {
        (0x1...0x8).contains(v) || v == 0xB || (0xE...0x1F).contains(v) || (0x7F...0x9F).contains(v)
            || (0xFDD0...0xFDEF).contains(v) || (v & 0xFFFE) == 0xFFFE
    }

    /// HTML5's replacements for references to 0x00, CR and the C1 range (read as Windows-1252).
    static let windows1252: [UInt64: Character] = [
        0x00: "\u{FFFD}", 0x0D: "\r", 0x80: "\u{20AC}", 0x81: "\u{81}", 0x82: "\u{201A}", 0x83: "\u{0192}",
        0x84: "\u{201E}", 0x85: "\u{2026}", 0x86: "\u{2020}", 0x87: "\u{2021}", 0x88: "\u{02C6}", 0x89: "\u{2030}",
        0x8A: "\u{0160}", 0x8B: "\u{2039}", 0x8C: "\u{0152}", 0x8D: "\u{8D}", 0x8E: "\u{017D}", 0x8F: "\u{8F}",
        0x90: "\u{90}", 0x91: "\u{2018}", 0x92: "\u{2019}", 0x93: "\u{201C}", 0x94: "\u{201D}", 0x95: "\u{2022}",
        0x96: "\u{2013}", 0x97: "\u{2014}", 0x98: "\u{02DC}", 0x99: "\u{2122}", 0x9A: "\u{0161}", 0x9B: "\u{203A}",
        0x9C: "\u{0153}", 0x9D: "\u{9D}", 0x9E: "\u{017E}", 0x9F: "\u{0178}",
    ]
}
