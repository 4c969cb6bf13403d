import Foundation

/// A JSON config (`config.json`, `scheduler_config.json`, …) with typed accessors whose errors name the file and
/// the key: `unet/config.json: "block_out_channels" must be a list of integers, got "abc"`.
///
/// Matches diffusers / transformers conventions: a key that is absent or `null` counts as missing, so the
/// `default:` variants return the default and the `optional…` variants return nil (diffusers passes `null`
/// through as `None`, which every nullable diffusers parameter treats like its default). Integers written as
/// integral floats (`1000.0`) are accepted as integers; booleans are never numbers. Keys starting with `_`
/// (`_class_name`, `_diffusers_version`) are ordinary keys. Limits: only the accessors below; no unknown-key
/// checking (configs carry many keys a model may ignore).
public struct ConfigFile: Sendable {
    /// How errors name the file ("unet/config.json").
    public let displayName: String
    /// The object this config reads keys from.
    public let values: JSONObject
    /// Dotted path of this object inside the file, with a trailing dot ("" at the root, "text_config." nested).
    public let keyPath: String

    /// Reads and parses `url`, which must hold a JSON object.
    public static func load(_ url: URL) throws -> ConfigFile {
        try ConfigFile(json: loadJSON(url), displayName: displayPath(url))
    }

    /// A config over an already parsed document, which must be an object.
    public init(json: JSONValue, displayName: String) throws {
        guard case .object(let o) = json else {
            throw ModelIOError.invalidJSON(path: displayName, reason: "expected an object, got \(json.kindName)")
        }
        self.init(values: o, displayName: displayName, keyPath: "")
    }

    /// Parses `text` (for tests and inline configs).
    public init(parsing text: String, displayName: String) throws {
        let json: JSONValue
        do { json = try JSONValue.parse(Array(text.utf8)) } catch {
            throw ModelIOError.invalidJSON(path: displayName, reason: "\(error)")
        }
        try self.init(json: json, displayName: displayName)
    }

    /// Parses `data` (a document read by the caller, e.g. a scheduler config passed around as bytes).
    public init(parsing data: Data, displayName: String) throws {
        let json: JSONValue
        do { json = try data.withUnsafeBytes { try JSONValue.parse($0) } } catch {
            throw ModelIOError.invalidJSON(path: displayName, reason: "\(error)")
        }
        try self.init(json: json, displayName: displayName)
    }

    public init(values: JSONObject, displayName: String, keyPath: String = "") {
        self.values = values
        self.displayName = displayName
        self.keyPath = keyPath
    }

    /// `_class_name` (diffusers) or the first of `architectures` (transformers), if present.
    public var className: String? {
        if case .string(let s)? = values["_class_name"] { return s }
        if case .array(let a)? = values["architectures"], case .string(let s)? = a.first { return s }
        return nil
    }

    /// Whether `key` is present with a non-null value.
    public func has(_ key: String) -> Bool { value(key) != nil }

    /// The raw value of `key`; nil when absent or `null`.
    public func value(_ key: String) -> JSONValue? {
        guard let v = values[key], v != .null else { return nil }
        return v
    }

    public var keys: [String] { values.keys }

    // MARK: Errors

    /// An `.invalidConfigValue` error for `key` ("must be …, got …"), for checks the accessors cannot express.
    public func invalid(_ key: String, _ requirement: String) -> ModelIOError {
        let got = values[key].map { "got " + shortened($0.description) } ?? "got nothing"
        return .invalidConfigValue(path: displayName, key: keyPath + key, reason: "\(requirement), \(got)")
    }

    /// For an error about a value read with a `default:` accessor, so that a key the file lacks is not mistaken
    /// for a wrong value: "" when `key` is in the file, otherwise " (<key> is not in the file, so the default
    /// <value> is used)".
    public func defaultNote(_ key: String, _ defaultValue: some CustomStringConvertible) -> String {
        has(key) ? "" : " (\(keyPath + key) is not in the file, so the default \(defaultValue) is used)"
    }

    private func missing(_ key: String) -> ModelIOError { .missingConfigKey(path: displayName, key: keyPath + key) }

    private func get<T>(_ key: String, _ what: String, _ convert: (JSONValue) -> T?) throws -> T? {
        guard let v = value(key) else { return nil }
        guard let t = convert(v) else { throw invalid(key, "must be \(what)") }
        return t
    }

    private func require<T>(_ key: String, _ what: String, _ convert: (JSONValue) -> T?) throws -> T {
        guard let t = try get(key, what, convert) else { throw missing(key) }
        return t
    }

    // MARK: Scalars

    public func int(_ key: String) throws -> Int { try require(key, "an integer", asInt) }
    public func int(_ key: String, default d: Int) throws -> Int { try get(key, "an integer", asInt) ?? d }
    public func optionalInt(_ key: String) throws -> Int? { try get(key, "an integer", asInt) }

    public func double(_ key: String) throws -> Double { try require(key, "a number", asDouble) }
    public func double(_ key: String, default d: Double) throws -> Double { try get(key, "a number", asDouble) ?? d }
    public func optionalDouble(_ key: String) throws -> Double? { try get(key, "a number", asDouble) }

    public func bool(_ key: String) throws -> Bool { try require(key, "true or false", asBool) }
    public func bool(_ key: String, default d: Bool) throws -> Bool { try get(key, "true or false", asBool) ?? d }
    public func optionalBool(_ key: String) throws -> Bool? { try get(key, "true or false", asBool) }

    public func string(_ key: String) throws -> String { try require(key, "a string", asString) }
    public func string(_ key: String, default d: String) throws -> String { try get(key, "a string", asString) ?? d }
    public func optionalString(_ key: String) throws -> String? { try get(key, "a string", asString) }

    /// A string that must be one of `allowed` (e.g. `act_fn`), with the allowed values in the error.
    public func string(_ key: String, default d: String? = nil, oneOf allowed: [String]) throws -> String {
        let s: String
        if let v = try optionalString(key) { s = v } else if let d { s = d } else { throw missing(key) }
        guard allowed.contains(s) else {
            throw invalid(key, "must be one of " + allowed.map(quoted).joined(separator: ", "))
        }
        return s
    }

    // MARK: Lists

    public func ints(_ key: String) throws -> [Int] { try require(key, "a list of integers", list(asInt)) }
    public func ints(_ key: String, default d: [Int]) throws -> [Int] { try get(key, "a list of integers", list(asInt)) ?? d }
    public func optionalInts(_ key: String) throws -> [Int]? { try get(key, "a list of integers", list(asInt)) }

    public func doubles(_ key: String) throws -> [Double] { try require(key, "a list of numbers", list(asDouble)) }
    public func doubles(_ key: String, default d: [Double]) throws -> [Double] { try get(key, "a list of numbers", list(asDouble)) ?? d }
    public func optionalDoubles(_ key: String) throws -> [Double]? { try get(key, "a list of numbers", list(asDouble)) }

    public func strings(_ key: String) throws -> [String] { try require(key, "a list of strings", list(asString)) }
    public func strings(_ key: String, default d: [String]) throws -> [String] { try get(key, "a list of strings", list(asString)) ?? d }
    public func optionalStrings(_ key: String) throws -> [String]? { try get(key, "a list of strings", list(asString)) }

    // MARK: One value or one per block

    /// A value that diffusers accepts either as one integer for every block or as a list with one integer
    /// per block (`attention_head_dim`, `transformer_layers_per_block`, `cross_attention_dim`, …); returns
    /// `count` integers.
    public func intOrInts(_ key: String, count: Int) throws -> [Int] {
        guard let r = try optionalIntOrInts(key, count: count) else { throw missing(key) }
        return r
    }

    public func intOrInts(_ key: String, count: Int, default d: Int) throws -> [Int] {
        try optionalIntOrInts(key, count: count) ?? Array(repeating: d, count: count)
    }

    public func optionalIntOrInts(_ key: String, count: Int) throws -> [Int]? {
        try oneOrMany(key, count: count, "an integer", asInt)
    }

    /// As `intOrInts`, for booleans (`only_cross_attention`).
    public func boolOrBools(_ key: String, count: Int, default d: Bool) throws -> [Bool] {
        try oneOrMany(key, count: count, "true or false", asBool) ?? Array(repeating: d, count: count)
    }

    private func oneOrMany<T>(_ key: String, count: Int, _ what: String, _ convert: (JSONValue) -> T?) throws -> [T]? {
        guard let v = value(key) else { return nil }
        if let t = convert(v) { return Array(repeating: t, count: count) }
        let plural = what == "an integer" ? "integers" : "booleans"
        let requirement = "must be \(what) or a list of \(count) \(plural) (one per block)"
        guard case .array(let items) = v, items.count == count else { throw invalid(key, requirement) }
        var out: [T] = []
        for item in items {
            guard let t = convert(item) else { throw invalid(key, requirement) }
            out.append(t)
        }
        return out
    }

    // MARK: Nested objects

    /// The nested object `key` (transformers' `text_config`), as a config whose errors say `key.subkey`.
    public func object(_ key: String) throws -> ConfigFile {
        guard let c = try optionalObject(key) else { throw missing(key) }
        return c
    }

    public func optionalObject(_ key: String) throws -> ConfigFile? {
        guard let o = try get(key, "an object", { $0.objectValue }) else { return nil }
        return ConfigFile(values: o, displayName: displayName, keyPath: keyPath + key + ".")
    }
}

private func asInt(_ v: JSONValue) -> Int? { v.intValue }
private func asDouble(_ v: JSONValue) -> Double? { v.doubleValue }
private func asBool(_ v: JSONValue) -> Bool? { v.boolValue }
private func asString(_ v: JSONValue) -> String? { v.stringValue }

private func list<T>(_ convert: @escaping (JSONValue) -> T?) -> (JSONValue) -> [T]? {
    { v in
        guard case .array(let items) = v else { return nil }
        var out: [T] = []
        out.reserveCapacity(items.count)
        for item in items {
            guard let t = convert(item) else { return nil }
            out.append(t)
        }
        return out
    }
}

private func shortened(_ s: String) -> String {
    s.count <= 60 ? s : String(s.prefix(57)) + "…"
}
