/// A small JSON reader for tokenizer files (vocab.json, tokenizer.json, tokenizer_config.json,
/// special_tokens_map.json). Self-contained so the tokenizer loads fast: vocab.json (49408 entries) is read
/// by a specialised flat-object path without building a general tree.
enum TokenizerJSON: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([TokenizerJSON])
    /// Keys in document order (duplicates: last wins on lookup, as in Python's json).
    case object([(String, TokenizerJSON)])

    static func == (a: TokenizerJSON, b: TokenizerJSON) -> Bool {
        switch (a, b) {
        case (.null, .null): true
        case let (.bool(x), .bool(y)): x == y
        case let (.number(x), .number(y)): x == y
        case let (.string(x), .string(y)): x == y
        case let (.array(x), .array(y)): x == y
        case let (.object(x), .object(y)): x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }

    subscript(key: String) -> TokenizerJSON? {
        guard case .object(let pairs) = self else { return nil }
        return pairs.last(where: { $0.0 == key })?.1
    }

    var string: String? { if case .string(let s) = self { s } else { nil } }
    var bool: Bool? { if case .bool(let b) = self { b } else { nil } }
    var array: [TokenizerJSON]? { if case .array(let a) = self { a } else { nil } }
    var objectPairs: [(String, TokenizerJSON)]? { if case .object(let o) = self { o } else { nil } }
    var isNull: Bool { if case .null = self { true } else { false } }
    /// An integral number (JSON `3` or `3.0`) that fits an Int.
    var int: Int? {
        guard case .number(let d) = self, d.rounded() == d, abs(d) < 9.0e15 else { return nil }
        return Int(d)
    }

    var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "a list"
        case .object: "an object"
        }
    }

    static func parse(_ bytes: [UInt8]) throws(TokenizerJSONError) -> TokenizerJSON {
        try bytes.withUnsafeBufferPointer { (buffer) throws(TokenizerJSONError) -> TokenizerJSON in
            var parser = JSONByteParser(buffer)
            let value = try parser.parseValue(depth: 0)
            parser.skipWhitespace()
            guard parser.position == buffer.count else { throw parser.error("unexpected data after the JSON value") }
            return value
        }
    }

    /// Parses a flat JSON object whose values are all integers (`{"token": id, ...}`), calling `body` for each
    /// pair in document order. Much faster than building a tree for vocab.json.
    static func parseFlatIntObject(
        _ bytes: [UInt8], _ body: (String, Int) throws(TokenizerJSONError) -> Void
    ) throws(TokenizerJSONError) {
        try bytes.withUnsafeBufferPointer { (buffer) throws(TokenizerJSONError) in
            var parser = JSONByteParser(buffer)
            parser.skipWhitespace()
            try parser.expect(UInt8(ascii: "{"))
            parser.skipWhitespace()
            if parser.peek() == UInt8(ascii: "}") {
                parser.position += 1
            } else {
                while true {
                    parser.skipWhitespace()
                    let key = try parser.parseString()
                    parser.skipWhitespace()
                    try parser.expect(UInt8(ascii: ":"))
                    parser.skipWhitespace()
                    let keyEnd = parser.position
                    let first = parser.peek()
                    guard first == UInt8(ascii: "-") || (0x30...0x39).contains(first) else {
                        throw parser.error("the value of \"\(key)\" is not an integer")
                    }
                    guard case .number(let d) = try parser.parseNumber(), d.rounded() == d, abs(d) < 9.0e15 else {
                        parser.position = keyEnd
                        throw parser.error("the value of \"\(key)\" is not an integer")
                    }
                    try body(key, Int(d))
                    parser.skipWhitespace()
                    let c = parser.peek()
                    parser.position += 1
                    if c == UInt8(ascii: "}") { break }
                    guard c == UInt8(ascii: ",") else {
                        parser.position -= 1
                        throw parser.error("expected ',' or '}'")
                    }
                }
            }
            parser.skipWhitespace()
            guard parser.position == buffer.count else { throw parser.error("unexpected data after the JSON value") }
        }
    }
}

struct TokenizerJSONError: Error, CustomStringConvertible {
    let offset: Int
    let reason: String
    var description: String { "\(reason) at byte \(offset)" }
}

private struct JSONByteParser {
    let bytes: UnsafeBufferPointer<UInt8>
    var position = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
        // Skip a UTF-8 byte order mark.
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { position = 3 }
    }

    func error(_ reason: String) -> TokenizerJSONError { TokenizerJSONError(offset: position, reason: reason) }

    func peek() -> UInt8 { position < bytes.count ? bytes[position] : 0 }

    mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    mutating func expect(_ c: UInt8) throws(TokenizerJSONError) {
        guard peek() == c else { throw error("expected '\(Character(Unicode.Scalar(c)))'") }
        position += 1
    }

    mutating func parseValue(depth: Int) throws(TokenizerJSONError) -> TokenizerJSON {
        guard depth < 512 else { throw error("nesting too deep") }
        skipWhitespace()
        guard position < bytes.count else { throw error("unexpected end of data") }
        switch bytes[position] {
        case UInt8(ascii: "{"):
            position += 1
            var pairs: [(String, TokenizerJSON)] = []
            skipWhitespace()
            if peek() == UInt8(ascii: "}") { position += 1; return .object(pairs) }
            while true {
                skipWhitespace()
                let key = try parseString()
                skipWhitespace()
                try expect(UInt8(ascii: ":"))
                pairs.append((key, try parseValue(depth: depth + 1)))
                skipWhitespace()
                let c = peek()
                if c == UInt8(ascii: ",") { position += 1; continue }
                if c == UInt8(ascii: "}") { position += 1; return .object(pairs) }
                throw error("expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            position += 1
            var items: [TokenizerJSON] = []
            skipWhitespace()
            if peek() == UInt8(ascii: "]") { position += 1; return .array(items) }
            while true {
                items.append(try parseValue(depth: depth + 1))
                skipWhitespace()
                let c = peek()
                if c == UInt8(ascii: ",") { position += 1; continue }
                if c == UInt8(ascii: "]") { position += 1; return .array(items) }
                throw error("expected ',' or ']'")
            }
        case UInt8(ascii: "\""):
            return .string(try parseString())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "N"): try literal("NaN"); return .number(.nan)  // Python's json writes these
        case UInt8(ascii: "I"): try literal("Infinity"); return .number(.infinity)
        default: return try parseNumber()
        }
    }

    mutating func literal(_ word: StaticString) throws(TokenizerJSONError) {
        let n = word.utf8CodeUnitCount
        guard position + n <= bytes.count else { throw error("invalid literal") }
        for i in 0..<n where bytes[position + i] != word.utf8Start[i] { throw error("invalid literal") }
        position += n
    }

    mutating func parseNumber() throws(TokenizerJSONError) -> TokenizerJSON {
        let start = position
        if peek() == UInt8(ascii: "-") {
            position += 1
            if peek() == UInt8(ascii: "I") { try literal("Infinity"); return .number(-.infinity) }
        }
        var integral = true
        var value = 0
        var digits = 0
        while position < bytes.count {
            let c = bytes[position]
            if c >= 0x30 && c <= 0x39 {
                if digits < 18 { value = value * 10 + Int(c - 0x30) }
                digits += 1
            } else if c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E")
                        || c == UInt8(ascii: "+") || c == UInt8(ascii: "-") {
                integral = false
            } else {
                break
            }
            position += 1
        }
        guard digits > 0 else { position = start; throw error("invalid value") }
        if integral && digits <= 18 { return .number(Double(bytes[start] == UInt8(ascii: "-") ? -value : value)) }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
        guard let d = Double(text) else { position = start; throw error("invalid number '\(text)'") }
        return .number(d)
    }

    mutating func parseString() throws(TokenizerJSONError) -> String {
        try expect(UInt8(ascii: "\""))
        let start = position
        // Fast path: no escapes.
        while position < bytes.count {
            let c = bytes[position]
            if c == UInt8(ascii: "\"") {
                let s = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
                position += 1
                return s
            }
            if c == UInt8(ascii: "\\") { break }
            if c < 0x20 { throw error("control character in string") }
            position += 1
        }
        var out = Array(bytes[start..<position])
        while position < bytes.count {
            let c = bytes[position]
            position += 1
            if c == UInt8(ascii: "\"") { return String(decoding: out, as: UTF8.self) }
            if c < 0x20 { position -= 1; throw error("control character in string") }
            if c != UInt8(ascii: "\\") { out.append(c); continue }
            guard position < bytes.count else { break }
            let e = bytes[position]
            position += 1
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var code = try hex4()
                if (0xD800..<0xDC00).contains(code), peek() == UInt8(ascii: "\\"),
                   position + 1 < bytes.count, bytes[position + 1] == UInt8(ascii: "u") {
                    let save = position
                    position += 2
                    let low = try hex4()
                    if (0xDC00..<0xE000).contains(low) {
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    } else {
                        position = save
                    }
                }
                // Lone surrogates become U+FFFD (Python keeps them, but they cannot appear in valid UTF-8 text).
                let scalar = Unicode.Scalar(code) ?? "\u{FFFD}"
                out.append(contentsOf: Array(String(Character(scalar)).utf8))
            default:
                position -= 1
                throw error("invalid escape")
            }
        }
        throw error("unterminated string")
    }

    mutating func hex4() throws(TokenizerJSONError) -> UInt32 {
        guard position + 4 <= bytes.count else { throw error("invalid \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[position]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: throw error("invalid \\u escape")
            }
            v = v << 4 | d
            position += 1
        }
        return v
    }
}
