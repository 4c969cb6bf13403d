import Foundation

/// Text helpers shared by the HTML and SVG writers: escaping and number formatting.
///
/// Every string that reaches markup goes through `escape`, so prompts and settings may contain any characters.
public enum Markup {
    /// `text` with `& < > " '` replaced by entities; safe in element content and in quoted attributes (HTML, SVG
    /// and XML alike).
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for c in text.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default:
                // Control characters other than tab and newline are not allowed in XML 1.0; drop them.
                if c.value < 0x20 && c != "\t" && c != "\n" { continue }
                out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// A reward in at most 4 significant digits ("0.5123", "-12.35", "1.235e+04"); "-inf", "inf" or "nan" for
    /// non-finite values. The same text is drawn on contact sheets and written in reports.
    public static func reward(_ r: Float) -> String {
        if r.isNaN { return "nan" }
        if r.isInfinite { return r < 0 ? "-inf" : "inf" }
        return String(format: "%.4g", Double(r))
    }

    /// A coordinate for SVG: at most 2 decimals, no trailing zeros, no exponent.
    static func coordinate(_ v: Double) -> String {
        let s = String(format: "%.2f", v)
        var t = Substring(s)
        if t.contains(".") {
            while t.hasSuffix("0") { t = t.dropLast() }
            if t.hasSuffix(".") { t = t.dropLast() }
        }
        return t == "-0" ? "0" : String(t)
    }
}
