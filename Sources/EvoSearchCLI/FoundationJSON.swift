import Foundation
import ModelIO

/// Reads one JSON object — a child process's reply line, a cached info file — with ModelIO's `JSONValue` (the
/// package's one JSON reader) and returns it as Foundation values shaped like `JSONSerialization`'s output
/// (numbers as `NSNumber`, so `as? Double` / `as? Int` behave the same; `null` as `NSNull`), for the benchmark
/// code that consumes such dictionaries. Throws `JSONParseError`, or `CLIError` when the text is not an object.
func readJSONObject(_ bytes: some Sequence<UInt8>) throws -> [String: Any] {
    guard let object = foundationValue(try JSONValue.parse(bytes)) as? [String: Any] else {
        throw CLIError("expected a JSON object")
    }
    return object
}

private func foundationValue(_ value: JSONValue) -> Any {
    switch value {
    case .null: return NSNull()
    case .bool(let b): return b
    case .int(let i): return NSNumber(value: i)
    case .double(let d): return NSNumber(value: d)
    case .string(let s): return s
    case .array(let a): return a.map(foundationValue)
    case .object(let o):
        var out: [String: Any] = [:]
        for (key, v) in o.members { out[key] = foundationValue(v) }
        return out
    }
}
