import Foundation
import TensorCore

/// Anything a `WeightStore` can read named float32 tensors from.
public protocol WeightSource: Sendable {
    /// How errors name the source ("unet/diffusion_pytorch_model.safetensors").
    var displayName: String { get }
    /// Every tensor name (in no particular order).
    var names: [String] { get }
    /// Stored shape of `name`, or nil if absent. Must not touch tensor data.
    func shape(of name: String) -> [Int]?
    /// `name` converted to float32.
    func tensor(named name: String) throws -> Tensor
    /// `name` as a layer weight in its stored precision (see `SafetensorsFile.storedTensor(named:)`).
    func storedTensor(named name: String) throws -> StoredTensor
    /// How errors name the file that holds `name` (a shard, for sharded checkpoints).
    func displayName(containing name: String) -> String
}

extension WeightSource {
    public func displayName(containing name: String) -> String { displayName }
    /// Sources without half-precision storage hand out their float32 tensors.
    public func storedTensor(named name: String) throws -> StoredTensor { StoredTensor(try tensor(named: name)) }
}

extension SafetensorsFile: WeightSource {
    public func shape(of name: String) -> [Int]? { try? info(named: name).shape }
}

/// In-memory weights (for tests and for weights computed rather than loaded).
public struct InMemoryWeights: WeightSource {
    public let displayName: String
    public let tensors: [String: Tensor]
    public var names: [String] { tensors.keys.sorted() }

    public init(_ tensors: [String: Tensor], displayName: String = "in-memory weights") {
        self.tensors = tensors
        self.displayName = displayName
    }

    public func shape(of name: String) -> [Int]? { tensors[name]?.shape }

    public func tensor(named name: String) throws -> Tensor {
        guard let t = tensors[name] else {
            throw ModelIOError.missingWeight(path: displayName, key: name, suggestions: nearNames(name, in: names))
        }
        return t
    }
}

/// The weights of one model in a diffusers / transformers directory: a single `.safetensors` file or a sharded
/// checkpoint (`*.safetensors.index.json` whose `weight_map` maps each tensor name to a shard file).
///
/// File names matched in a directory, for each base name (default `diffusion_pytorch_model`, then `model`):
/// `<base>.safetensors`, then `<base>.safetensors.index.json`; with `variant: "fp16"` first
/// `<base>.fp16.safetensors`, `<base>.safetensors.index.fp16.json` (diffusers' current spelling) and
/// `<base>.fp16.safetensors.index.json` (the legacy one), then the non-variant names (the values are the
/// same weights at another precision; `variant` records which was opened). Without a variant, variant files
/// are never chosen silently: the error names them.
///
/// Each shard is mapped once (see `SafetensorsFile`); tensors are converted on demand. Limits: shard names in
/// the index are resolved relative to the index's directory; tensors present in a shard but absent from
/// `weight_map` are ignored; PyTorch pickles (`.bin`, `.ckpt`) are not read.
public final class SafetensorsCheckpoint: WeightSource, @unchecked Sendable {
    // Immutable after init.
    /// The file that was opened: the `.safetensors` file or the `.index.json`.
    public let url: URL
    public let displayName: String
    /// The shard files (one for an unsharded checkpoint), each mapped once.
    public let shards: [SafetensorsFile]
    public let names: [String]
    /// The variant actually opened (nil for the plain files).
    public let variant: String?
    /// `metadata` of the index (e.g. `total_size`), or the single file's `__metadata__`.
    public let metadata: [String: String]
    private let location: [String: Int]

    /// Opens `url`: a `.safetensors` file or a `.safetensors.index.json`.
    public convenience init(url: URL) throws {
        try self.init(resolved: url, variant: nil)
    }

    /// Finds and opens the checkpoint in `directory` (see the type's documentation for the names tried).
    public convenience init(directory: URL, baseName: String? = nil, variant: String? = nil) throws {
        let (url, found) = try Self.locate(in: directory, baseName: baseName, variant: variant)
        try self.init(resolved: url, variant: found)
    }

    private init(resolved url: URL, variant: String?) throws {
        self.url = url
        self.displayName = displayPath(url)
        self.variant = variant
        if url.lastPathComponent.hasSuffix(".json") {
            let (files, location, metadata) = try Self.openIndex(url)
            self.shards = files
            self.location = location
            self.metadata = metadata
            self.names = location.keys.sorted()
        } else {
            let file = try SafetensorsFile(url: url)
            self.shards = [file]
            self.names = file.names.sorted()
            self.location = Dictionary(uniqueKeysWithValues: file.names.map { ($0, 0) })
            self.metadata = file.metadata
        }
    }

    /// Finds the weights file in `directory`; returns it and the variant it carries.
    static func locate(in directory: URL, baseName: String?, variant: String?) throws -> (URL, String?) {
        let dirName = displayPath(directory)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDir), isDir.boolValue else {
            throw ModelIOError.cannotOpen(path: dirName, reason: "no such directory")
        }
        let bases = baseName.map { [$0] } ?? ["diffusion_pytorch_model", "model"]
        func exists(_ name: String) -> Bool {
            FileManager.default.fileExists(atPath: directory.appendingPathComponent(name).path)
        }
        for base in bases {
            if let v = variant {
                for name in ["\(base).\(v).safetensors", "\(base).safetensors.index.\(v).json",
                             "\(base).\(v).safetensors.index.json"] where exists(name) {
                    return (directory.appendingPathComponent(name), v)
                }
            }
            for name in ["\(base).safetensors", "\(base).safetensors.index.json"] where exists(name) {
                return (directory.appendingPathComponent(name), nil)
            }
        }
        // Nothing usable: say what is there.
        let contents = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).sorted()
        let wanted = bases.map { "\($0).safetensors" }.joined(separator: " or ")
        let variants = contents.filter { name in
            bases.contains { name.hasPrefix($0 + ".") } && name.contains(".safetensors")
        }
        if !variants.isEmpty {
            throw ModelIOError.invalidPipeline(path: dirName, reason: "no \(wanted) (nor a sharded index); found "
                + variants.prefix(3).joined(separator: ", ") + " — pass the variant (e.g. \"fp16\") to use it")
        }
        let pickles = contents.filter { $0.hasSuffix(".bin") || $0.hasSuffix(".ckpt") || $0.hasSuffix(".pt") }
        if !pickles.isEmpty {
            throw ModelIOError.invalidPipeline(path: dirName, reason: "no \(wanted) (nor a sharded index); only PyTorch pickle weights ("
                + pickles.prefix(3).joined(separator: ", ") + "), which ModelIO cannot read — convert them to safetensors")
        }
        throw ModelIOError.invalidPipeline(path: dirName, reason: "no \(wanted) (nor a sharded index) in this directory")
    }

    private static func openIndex(_ url: URL) throws -> ([SafetensorsFile], [String: Int], [String: String]) {
        let name = displayPath(url)
        let root = try loadJSON(url)
        guard case .object(let obj) = root else {
            throw ModelIOError.invalidIndex(path: name, reason: "the file holds \(root.kindName), not an object")
        }
        guard case .object(let map)? = obj["weight_map"] else {
            throw ModelIOError.invalidIndex(path: name, reason: "no \"weight_map\" object")
        }
        var metadata: [String: String] = [:]
        if case .object(let m)? = obj["metadata"] {
            for k in m.keys { metadata[k] = m[k]!.stringValue ?? m[k]!.description }
        }
        let dir = url.deletingLastPathComponent()
        var files: [SafetensorsFile] = []
        var fileIndex: [String: Int] = [:]
        var location: [String: Int] = [:]
        for key in map.keys {
            guard case .string(let shard) = map[key]! else {
                throw ModelIOError.invalidIndex(path: name, reason: "weight_map entry \(quoted(key)) is \(map[key]!.kindName), not a file name")
            }
            guard !shard.isEmpty, !shard.hasPrefix("/") else {
                throw ModelIOError.invalidIndex(path: name, reason: "weight_map entry \(quoted(key)) names \(quoted(shard)), not a relative file name")
            }
            let shardURL = dir.appendingPathComponent(shard).standardizedFileURL
            let index: Int
            if let i = fileIndex[shardURL.path] {
                index = i
            } else {
                guard FileManager.default.fileExists(atPath: shardURL.path) else {
                    throw ModelIOError.invalidIndex(path: name, reason: "shard \(quoted(shard)) (for \(quoted(key))) does not exist")
                }
                files.append(try SafetensorsFile(url: shardURL))
                index = files.count - 1
                fileIndex[shardURL.path] = index
            }
            guard files[index].contains(key) else {
                throw ModelIOError.invalidIndex(path: name, reason: "weight_map puts \(quoted(key)) in \(quoted(shard)), which does not contain it")
            }
            location[key] = index
        }
        return (files, location, metadata)
    }

    public func contains(_ name: String) -> Bool { location[name] != nil }

    /// The shard holding `name`.
    public func file(containing name: String) -> SafetensorsFile? { location[name].map { shards[$0] } }

    /// Dtype, shape and location of `name`, without touching its data.
    public func info(named name: String) throws -> TensorInfo {
        guard let f = file(containing: name) else { throw missing(name) }
        return try f.info(named: name)
    }

    public func shape(of name: String) -> [Int]? { try? file(containing: name)?.info(named: name).shape }

    public func tensor(named name: String) throws -> Tensor {
        guard let f = file(containing: name) else { throw missing(name) }
        return try f.tensor(named: name)
    }

    public func storedTensor(named name: String) throws -> StoredTensor {
        guard let f = file(containing: name) else { throw missing(name) }
        return try f.storedTensor(named: name)
    }

    public func displayName(containing name: String) -> String { file(containing: name)?.displayName ?? displayName }

    private func missing(_ name: String) -> ModelIOError {
        .missingWeight(path: displayName, key: name, suggestions: nearNames(name, in: names))
    }
}

/// Reads and parses a JSON file, mapping failures to `ModelIOError`.
func loadJSON(_ url: URL) throws -> JSONValue {
    let name = displayPath(url)
    let data: Data
    do {
        data = try Data(contentsOf: url)
    } catch {
        let exists = FileManager.default.fileExists(atPath: url.path)
        throw ModelIOError.cannotOpen(path: name, reason: exists ? "cannot read file" : "no such file")
    }
    do {
        return try data.withUnsafeBytes { try JSONValue.parse($0) }
    } catch {
        throw ModelIOError.invalidJSON(path: name, reason: "\(error)")
    }
}

/// Up to three names close to `key`, best first: names that equal `key` up to a dotted prefix (a checkpoint
/// saved with or without `unet.` / `model.`); failing those, the names at the smallest edit distance
/// (with transpositions), if it is small for the key's length.
func nearNames(_ key: String, in names: [String]) -> [String] {
    var out: [String] = []
    for n in names.sorted() where n.hasSuffix("." + key) || key.hasSuffix("." + n) {
        out.append(n)
        if out.count == 3 { return out }
    }
    if !out.isEmpty { return out }
    let k = Array(key.utf8)
    var limit = max(2, min(6, k.count / 6))
    var best: [String] = []
    for n in names {
        let c = n.utf8.count
        guard abs(c - k.count) <= limit else { continue }
        let d = editDistance(k, Array(n.utf8), limit: limit)
        if d < limit { best = [n]; limit = d } else if d == limit { best.append(n) }
    }
    return Array(best.sorted().prefix(3))
}

/// Optimal-string-alignment distance (Levenshtein plus adjacent transpositions), giving up (returning
/// `limit + 1`) once every alignment exceeds `limit`.
func editDistance(_ a: [UInt8], _ b: [UInt8], limit: Int) -> Int {
    if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
    var prev2 = [Int](repeating: 0, count: b.count + 1)
    var prev = Array(0...b.count)
    var cur = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        cur[0] = i
        var rowMin = i
        for j in 1...b.count {
            var d = min(prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1), prev[j] + 1, cur[j - 1] + 1)
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] { d = min(d, prev2[j - 2] + 1) }
            cur[j] = d
            rowMin = min(rowMin, d)
        }
        if rowMin > limit { return limit + 1 }
        (prev2, prev, cur) = (prev, cur, prev2)
    }
    return prev[b.count]
}
