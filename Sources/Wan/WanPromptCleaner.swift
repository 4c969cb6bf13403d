/// WanPipeline's `prompt_clean` before tokenising: HTML references resolved twice (`html.unescape` of
/// `html.unescape`), then every run of Unicode white space (the `regex` module's `\s`) made one space, and the ends
/// stripped of what Python's `str.strip` strips. Limit: diffusers first runs `ftfy.fix_text` when the optional ftfy
/// package is installed (mojibake repair, quote and width normalisation); that step is not reproduced, so prompts
/// are taken as the Unicode they are.
public struct WanPromptCleaner: Sendable {
    let unescape = HTMLUnescape()

    public init() {}

    public func callAsFunction(_ prompt: String) -> String {
        let basic = Self.strip(unescape(unescape(prompt)), Self.isPythonSpace)
        var out = String.UnicodeScalarView()
        var inRun = false
        for c in basic.unicodeScalars {
            if c.properties.isWhitespace {
                if !inRun { out.append(" ") }
                inRun = true
            } else {
                out.append(c); inRun = false
            }
        }
        return Self.strip(String(out), Self.isPythonSpace)
    }

    /// Python's `str.isspace`: Unicode White_Space plus the information separators U+001C…U+001F.
    static func isPythonSpace(_ c: Unicode.Scalar) -> Bool {
        c.properties.isWhitespace || (0x1C...0x1F).contains(c.value)
    }

    static func strip(_ s: String, _ drop: (Unicode.Scalar) -> Bool) -> String {
        let scalars = Array(s.unicodeScalars)
        guard let first = scalars.firstIndex(where: { !drop($0) }), let last = scalars.lastIndex(where: { !drop($0) }) else { return "" }
        return String(String.UnicodeScalarView(scalars[first...last]))
    }
}
