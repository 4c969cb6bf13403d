/// A parsed JSON document: the one JSON reader of the package. Everything read from a file or a child
/// process goes through it — `config.json`, `scheduler_config.json`, `model_index.json`,
/// `*.safetensors.index.json`, safetensors headers, tokenizer files, preprocessor configs, toy scenarios and the
/// benchmarks' Python replies. (Writers use Foundation's `JSONSerialization`.)
///
/// Matches RFC 8259 plus the non-standard literals Python's `json` module writes for non-finite floats
/// (`NaN`, `Infinity`, `-Infinity`), which diffusers configs occasionally contain. Rules where readers differ:
/// - Text must be UTF-8; invalid UTF-8 inside a string is an error (as in Python's `json` on bytes and in
///   serde_json, which reads tokenizer.json and safetensors headers for the reference libraries), never
///   silently replaced.
/// - A leading UTF-8 byte-order mark is an error that says so (Python's `json.loads` on text and serde_json both
///   reject it).
/// - `\uXXXX` escapes of a surrogate pair are combined into one scalar; a lone surrogate is an error. serde_json
///   rejects it too; Python's `json` keeps it, but a Swift `String` cannot hold one, and replacing it would
///   silently change a vocabulary entry.
/// - Numbers written without a fraction or exponent that fit in `Int` (64-bit) are kept exactly as `.int`
///   (including `-0`, which is `0` as in Python); all others are `.double`, correctly rounded (`1e400` is
///   infinity, as in Python). Integers beyond 64 bits become the nearest double (Python keeps them exact).
/// - Objects keep their key order; a repeated key keeps its first position and its last value (as Python's
///   dict does).
/// - Nesting is limited to 512 levels (an error, not a stack overflow; Python's own limit is about 1000,
///   serde_json's 128).
public enum JSONValue: Sendable, Equatable, CustomStringConvertible {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// Parses a complete JSON text (UTF-8). Throws `JSONParseError` with the byte offset of the problem.
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(JSONParseError) -> JSONValue {
        var parser = JSONParser(bytes: bytes)
        return try parser.parseDocument()
    }

    /// Parses a complete JSON text (UTF-8). Throws `JSONParseError`.
    public static func parse<Bytes: Sequence<UInt8>>(_ bytes: Bytes) throws -> JSONValue {
        try Array(bytes).withUnsafeBytes { try parse($0) }
    }

    public var objectValue: JSONObject? { if case .object(let o) = self { o } else { nil } }
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { a } else { nil } }
    public var stringValue: String? { if case .string(let s) = self { s } else { nil } }
    public var boolValue: Bool? { if case .bool(let b) = self { b } else { nil } }
    public var isNull: Bool { self == .null }

    /// An integer: `.int`, or a `.double` with an integral value below 2⁵³ in magnitude (`1000.0`, as Python
    /// configs sometimes write integers). Booleans are never numbers.
    public var intValue: Int? {
        switch self {
        case .int(let i): return i
        case .double(let d) where d.rounded() == d && abs(d) < 0x1p53: return Int(d)
        default: return nil
        }
    }

    /// A number (`.int` or `.double`) as a Double.
    public var doubleValue: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }

    /// The value of `key` when this is an object that has it; nil otherwise.
    public subscript(key: String) -> JSONValue? { objectValue?[key] }

    /// Compact JSON-like rendering, for error messages (long values are shortened by the caller).
    public var description: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d):
            if d.isNaN { return "NaN" }
            if d.isInfinite { return d < 0 ? "-Infinity" : "Infinity" }
            return String(d)
        case .string(let s): return quoted(s)
        case .array(let a): return "[" + a.map(\.description).joined(separator: ", ") + "]"
        case .object(let o): return "{" + o.keys.map { quoted($0) + ": " + o[$0]!.description }.joined(separator: ", ") + "}"
        }
    }

    /// The JSON type name used in error messages ("an integer", "a list", ...).
    public var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .int: "an integer"
        case .double: "a number"
        case .string: "a string"
        case .array: "a list"
        case .object: "an object"
        }
    }
}

/// A JSON object with its keys in document order.
public struct JSONObject: Sendable, Equatable {
    /// The members in document order (a repeated key keeps its first position and its last value).
    public private(set) var members: [(key: String, value: JSONValue)] = []
    private var index: [String: Int] = [:]

    public init() {}

    public init(_ pairs: [(String, JSONValue)]) {
        members.reserveCapacity(pairs.count)
        index.reserveCapacity(pairs.count)
        for (k, v) in pairs { self[k] = v }
    }

    public var keys: [String] { members.map(\.key) }

    public subscript(key: String) -> JSONValue? {
        get { index[key].map { members[$0].value } }
        set {
            if let newValue {
                if let k = index.updateValue(members.count, forKey: key) {
                    index[key] = k
                    members[k].value = newValue
                } else {
                    members.append((key, newValue))
                }
            } else if let k = index.removeValue(forKey: key) {
                members.remove(at: k)
                for (m, member) in members[k...].enumerated() { index[member.key] = k + m }
            }
        }
    }

    public var count: Int { members.count }

    public static func == (a: JSONObject, b: JSONObject) -> Bool {
        a.members.count == b.members.count && zip(a.members, b.members).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }
}

/// A JSON syntax error: what was wrong and at which byte offset of the text.
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public let offset: Int
    public let message: String
    public var description: String { "\(message) at byte \(offset)" }
}

func quoted(_ s: String) -> String {
    var out = "\""
    for ch in s.unicodeScalars {
        switch ch {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case "\r": out += "\\r"
        default:
            if ch.value < 0x20 { out += "\\u" + paddedHex4(ch.value) } else { out.unicodeScalars.append(ch) }
        }
    }
    return out + "\""
}

private func paddedHex4(_ v: UInt32) -> String {
    let hex = String(v, radix: 16)
    return String(repeating: "0", count: Swift.max(0, 4 - hex.count)) + hex
}

private struct JSONParser {
    let bytes: UnsafeRawBufferPointer
    var i = 0
    var depth = 0

    init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    func fail(_ message: String, at offset: Int? = nil) -> JSONParseError {
        JSONParseError(offset: offset ?? i, message: message)
    }

    mutating func skipWhitespace() {
        while i < bytes.count {
            let c = bytes[i]
            if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { i += 1 } else { break }
        }
    }

    mutating func parseDocument() throws(JSONParseError) -> JSONValue {
        if bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF {
            throw fail("the text starts with a UTF-8 byte-order mark (Python's json and serde_json reject it too); save it without one")
        }
        skipWhitespace()
        let v = try parseValue()
        skipWhitespace()
        if i != bytes.count { throw fail("unexpected text after the JSON value") }
        return v
    }

    mutating func parseValue() throws(JSONParseError) -> JSONValue {
        guard i < bytes.count else { throw fail("unexpected end of JSON") }
        switch bytes[i] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "N"): try literal("NaN"); return .double(.nan)
        case UInt8(ascii: "I"): try literal("Infinity"); return .double(.infinity)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw fail("unexpected character \(printable(bytes[i]))")
        }
    }

    func printable(_ c: UInt8) -> String {
        (0x21..<0x7F).contains(c) ? "'\(Character(UnicodeScalar(c)))'" : "byte 0x" + String(c, radix: 16)
    }

    mutating func literal(_ word: StaticString) throws(JSONParseError) {
        let start = i
        let n = word.utf8CodeUnitCount
        guard i + n <= bytes.count else { throw fail("invalid literal", at: start) }
        let p = word.utf8Start
        for k in 0..<n where bytes[i + k] != p[k] { throw fail("invalid literal", at: start) }
        i += n
    }

    mutating func enter() throws(JSONParseError) {
        depth += 1
        if depth > 512 { throw fail("JSON nested too deeply") }
    }

    mutating func parseObject() throws(JSONParseError) -> JSONValue {
        try enter()
        i += 1
        var pairs: [(String, JSONValue)] = []
        skipWhitespace()
        if i < bytes.count && bytes[i] == UInt8(ascii: "}") { i += 1; depth -= 1; return .object(JSONObject()) }
        while true {
            skipWhitespace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
            let key = try parseString()
            skipWhitespace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw fail("expected ':' after key") }
            i += 1
            skipWhitespace()
            pairs.append((key, try parseValue()))
            skipWhitespace()
            guard i < bytes.count else { throw fail("unterminated object") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            if bytes[i] == UInt8(ascii: "}") { i += 1; break }
            throw fail("expected ',' or '}' in object")
        }
        depth -= 1
        return .object(JSONObject(pairs))
    }

    mutating func parseArray() throws(JSONParseError) -> JSONValue {
        try enter()
        i += 1
        var items: [JSONValue] = []
        skipWhitespace()
        if i < bytes.count && bytes[i] == UInt8(ascii: "]") { i += 1; depth -= 1; return .array(items) }
        while true {
            skipWhitespace()
            items.append(try parseValue())
            skipWhitespace()
            guard i < bytes.count else { throw fail("unterminated list") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            if bytes[i] == UInt8(ascii: "]") { i += 1; break }
            throw fail("expected ',' or ']' in list")
        }
        depth -= 1
        return .array(items)
    }

    mutating func parseString() throws(JSONParseError) -> String {
        let start = i
        i += 1
        // Fast path: no escapes.
        var j = i
        while j < bytes.count {
            let c = bytes[j]
            if c == UInt8(ascii: "\"") {
                guard let s = String(validating: UnsafeRawBufferPointer(rebasing: bytes[i..<j]), as: UTF8.self) else {
                    throw invalidUTF8(from: i, to: j)
                }
                i = j + 1
                return s
            }
            if c == UInt8(ascii: "\\") || c < 0x20 { break }
            j += 1
        }
        var out = [UInt8]()
        out.append(contentsOf: bytes[i..<j])
        i = j
        while true {
            guard i < bytes.count else { throw fail("unterminated string", at: start) }
            let c = bytes[i]
            if c == UInt8(ascii: "\"") { i += 1; break }
            if c < 0x20 { throw fail("control character in string") }
            if c != UInt8(ascii: "\\") { out.append(c); i += 1; continue }
            i += 1
            guard i < bytes.count else { throw fail("unterminated string", at: start) }
            let e = bytes[i]
            i += 1
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
                var scalar = try hex4()
                if (0xD800..<0xDC00).contains(scalar) {
                    // A high surrogate must be followed by an escaped low surrogate.
                    if i + 1 < bytes.count && bytes[i] == UInt8(ascii: "\\") && bytes[i + 1] == UInt8(ascii: "u") {
                        i += 2
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else {
                            throw fail("lone surrogate \\u\(String(scalar, radix: 16, uppercase: true)) (a Swift string cannot hold one)")
                        }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else {
                        throw fail("lone surrogate \\u\(String(scalar, radix: 16, uppercase: true)) (a Swift string cannot hold one)")
                    }
                } else if (0xDC00..<0xE000).contains(scalar) {
                    throw fail("lone surrogate \\u\(String(scalar, radix: 16, uppercase: true)) (a Swift string cannot hold one)")
                }
                guard let u = Unicode.Scalar(scalar) else { throw fail("invalid \\u escape") }
                out.append(contentsOf: Array(String(Character(u)).utf8))
            default:
                throw fail("invalid escape '\\\(Character(UnicodeScalar(e)))'")
            }
        }
        guard let s = String(validating: out, as: UTF8.self) else { throw invalidUTF8(from: start + 1, to: i - 1) }
        return s
    }

    /// The error for a string between byte offsets `from` and `to` that is not valid UTF-8, at its first bad byte.
    func invalidUTF8(from: Int, to: Int) -> JSONParseError {
        var k = from
        while k < to {
            let len = utf8SequenceLength(at: k, end: to)
            if len == 0 { break }
            k += len
        }
        return fail("invalid UTF-8 in a string (byte 0x\(String(bytes[k], radix: 16)))", at: k)
    }

    /// The length of the valid UTF-8 sequence starting at `k` (before `end`), or 0 when it is invalid.
    func utf8SequenceLength(at k: Int, end: Int) -> Int {
        let b0 = bytes[k]
        if b0 < 0x80 { return 1 }
        let n: Int
        var lo: UInt8 = 0x80, hi: UInt8 = 0xBF
        switch b0 {
        case 0xC2...0xDF: n = 2
        case 0xE0: n = 3; lo = 0xA0
        case 0xE1...0xEC, 0xEE, 0xEF: n = 3
        case 0xED: n = 3; hi = 0x9F
        case 0xF0: n = 4; lo = 0x90
        case 0xF1...0xF3: n = 4
        case 0xF4: n = 4; hi = 0x8F
        default: return 0
        }
        guard k + n <= end else { return 0 }
        for m in 1..<n {
            let b = bytes[k + m]
            if m == 1 ? !(lo...hi).contains(b) : !(0x80...0xBF).contains(b) { return 0 }
        }
        return n
    }

    mutating func hex4() throws(JSONParseError) -> UInt32 {
        guard i + 4 <= bytes.count else { throw fail("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[i]
            let d: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw fail("invalid hex digit in \\u escape")
            }
            v = v * 16 + d
            i += 1
        }
        return v
    }

    mutating func parseNumber() throws(JSONParseError) -> JSONValue {
        let start = i
        if bytes[i] == UInt8(ascii: "-") {
            i += 1
            if i < bytes.count && bytes[i] == UInt8(ascii: "I") { try literal("Infinity"); return .double(-.infinity) }
        }
        func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
        guard i < bytes.count, isDigit(bytes[i]) else { throw fail("invalid number", at: start) }
        let digitsStart = i
        var magnitude = 0  // the integer part while it has at most 18 digits (cannot overflow)
        if bytes[i] == UInt8(ascii: "0") {
            i += 1
            if i < bytes.count && isDigit(bytes[i]) { throw fail("leading zero in number", at: start) }
        } else {
            while i < bytes.count && isDigit(bytes[i]) {
                if i - digitsStart < 18 { magnitude = magnitude * 10 + Int(bytes[i] &- 0x30) }
                i += 1
            }
        }
        let shortInteger = i - digitsStart <= 18
        var integral = true
        if i < bytes.count && bytes[i] == UInt8(ascii: ".") {
            integral = false
            i += 1
            guard i < bytes.count, isDigit(bytes[i]) else { throw fail("invalid number", at: start) }
            while i < bytes.count && isDigit(bytes[i]) { i += 1 }
        }
        if i < bytes.count && (bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E")) {
            integral = false
            i += 1
            if i < bytes.count && (bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-")) { i += 1 }
            guard i < bytes.count, isDigit(bytes[i]) else { throw fail("invalid number", at: start) }
            while i < bytes.count && isDigit(bytes[i]) { i += 1 }
        }
        if integral && shortInteger { return .int(bytes[start] == UInt8(ascii: "-") ? -magnitude : magnitude) }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
        if integral, let v = Int(text) { return .int(v) }
        guard let d = Double(text) else { throw fail("invalid number", at: start) }
        return .double(d)
    }
}
