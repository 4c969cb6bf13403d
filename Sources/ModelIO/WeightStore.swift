import Foundation
import TensorCore

/// The strict weight loader model code builds modules from.
///
/// A module asks for each parameter by its checkpoint key and the shape its config implies:
/// ```swift
/// let store = try WeightStore(directory: pipeline.appendingPathComponent("unet"))
/// let block = store.scope("down_blocks.0")               // keys relative to "down_blocks.0."
/// let w = try block.take("resnets.0.conv1.weight", shape: [320, 320, 3, 3])
/// …
/// try store.finish()                                     // every checkpoint key must have been taken
/// ```
/// A missing key throws `ModelIOError.missingWeight` naming the file and the full key, with near names; a shape
/// mismatch throws `.shapeMismatch` naming the shard that holds the key, the stored and the expected shape;
/// `finish()` throws `.unusedWeights` listing keys no module took. `take` gives float32 (small weights: biases,
/// norm scales, scalars are widened at load); `takeStored` gives layer weights in their stored precision.
///
/// `WeightStore` is a cheap value: `scope(_:)` returns a view onto the same source and the same record of
/// taken keys, so a sub-module can be handed a scoped store and `finish()` on the root sees everything.
/// `finish()` on a scoped view checks only the keys under its prefix. Taking a key twice is allowed (tied
/// weights). Safe to use from several threads. Limits: no key renaming (convert legacy key layouts before),
/// suggestions cost an edit-distance scan of the keys, only on error.
public struct WeightStore: Sendable {
    private let ledger: Ledger
    /// The prefix every key passed to this view gets ("" or "down_blocks.0.").
    public let prefix: String

    public init(_ source: any WeightSource) {
        ledger = Ledger(source)
        prefix = ""
    }

    /// Opens the checkpoint in `directory` (see `SafetensorsCheckpoint`).
    public init(directory: URL, baseName: String? = nil, variant: String? = nil) throws {
        self.init(try SafetensorsCheckpoint(directory: directory, baseName: baseName, variant: variant))
    }

    private init(ledger: Ledger, prefix: String) {
        self.ledger = ledger
        self.prefix = prefix
    }

    public var source: any WeightSource { ledger.source }
    public var displayName: String { ledger.source.displayName }

    /// A view whose keys are relative to `prefix` + "." (nested scopes compose; an empty component is ignored).
    public func scope(_ component: String) -> WeightStore {
        if component.isEmpty { return self }
        let c = component.hasSuffix(".") ? String(component.dropLast()) : component
        return WeightStore(ledger: ledger, prefix: prefix + c + ".")
    }

    /// The full checkpoint key for `name` in this view.
    public func fullKey(_ name: String) -> String { prefix + name }

    public func contains(_ name: String) -> Bool { ledger.source.shape(of: prefix + name) != nil }

    /// Stored shape of `name`, or nil; does not mark it taken (for configs inferred from weights).
    public func shape(of name: String) -> [Int]? { ledger.source.shape(of: prefix + name) }

    /// Keys under this view's prefix, relative to it, sorted.
    public var keys: [String] {
        ledger.source.names.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }.sorted()
    }

    /// The weight `name`, which must exist and have exactly `shape`.
    public func take(_ name: String, shape: [Int]) throws -> Tensor {
        try load(try key(name, shape: shape))
    }

    /// The full key of `name`, which must exist and have exactly `shape`.
    private func key(_ name: String, shape: [Int]) throws -> String {
        let key = prefix + name
        let stored = try storedShape(key)
        guard stored == shape else {
            throw ModelIOError.shapeMismatch(path: ledger.source.displayName(containing: key), key: key,
                                             stored: stored, expected: shape)
        }
        return key
    }

    /// The weight `name` in whatever shape it is stored.
    public func take(_ name: String) throws -> Tensor {
        let key = prefix + name
        _ = try storedShape(key)
        return try load(key)
    }

    /// The weight `name` reshaped to `shape`, which must hold the same number of elements as the stored one
    /// (e.g. a 1×1 convolution `[out, in, 1, 1]` used as a linear `[out, in]`).
    public func take(_ name: String, reshapedTo shape: [Int]) throws -> Tensor {
        let key = prefix + name
        let stored = try storedShape(key)
        guard stored.reduce(1, *) == shape.reduce(1, *), shape.allSatisfy({ $0 >= 0 }) else {
            throw ModelIOError.shapeMismatch(path: ledger.source.displayName(containing: key), key: key,
                                             stored: stored, expected: shape)
        }
        return try load(key).reshaped(shape)
    }

    /// The layer weight `name` (a matrix, convolution kernel or embedding table), which must have exactly `shape`,
    /// in its stored precision: f16 / bf16 stay memory-mapped and are widened by the kernels that read them
    /// (`StoredTensor`); f32 (and f64) come as float32. Throws `.unsupportedWeightDType` for other dtypes.
    public func takeStored(_ name: String, shape: [Int]) throws -> StoredTensor {
        let key = try key(name, shape: shape)
        let t = try ledger.source.storedTensor(named: key)
        ledger.markTaken([key])
        return t
    }

    /// The weight `name` with exactly `shape` if the checkpoint has it, nil if not (optional parameters such
    /// as a bias some checkpoints omit). A present weight of the wrong shape still throws.
    public func takeIfPresent(_ name: String, shape: [Int]) throws -> Tensor? {
        contains(name) ? try take(name, shape: shape) : nil
    }

    /// Marks `names` as deliberately unused (buffers such as `position_ids`), if present.
    public func ignore(_ names: String...) {
        ledger.markTaken(names.map { prefix + $0 })
    }

    /// Marks every key under this view for which `predicate(relativeKey)` holds as deliberately unused.
    public func ignoreAll(where predicate: (String) -> Bool) {
        ledger.markTaken(keys.filter(predicate).map { prefix + $0 })
    }

    /// Keys under this view's prefix (full keys) that nothing has taken yet, sorted.
    public var unusedKeys: [String] {
        let all = ledger.source.names.filter { $0.hasPrefix(prefix) }
        let taken = ledger.takenSnapshot()
        return all.filter { !taken.contains($0) }.sorted()
    }

    /// Throws `.unusedWeights` if a key under this view's prefix was never taken or ignored.
    public func finish() throws {
        let unused = unusedKeys
        if !unused.isEmpty {
            throw ModelIOError.unusedWeights(path: ledger.source.displayName, keys: unused)
        }
    }

    private func storedShape(_ key: String) throws -> [Int] {
        if let s = ledger.source.shape(of: key) { return s }
        throw ModelIOError.missingWeight(path: ledger.source.displayName, key: key,
                                         suggestions: nearNames(key, in: ledger.source.names))
    }

    private func load(_ key: String) throws -> Tensor {
        let t = try ledger.source.tensor(named: key)
        ledger.markTaken([key])
        return t
    }
}

/// Shared record of taken keys.
private final class Ledger: @unchecked Sendable {
    let source: any WeightSource
    private let lock = NSLock()
    private var taken: Set<String> = []

    init(_ source: any WeightSource) { self.source = source }

    func markTaken(_ keys: [String]) {
        lock.lock()
        defer { lock.unlock() }
        taken.formUnion(keys)
    }

    func takenSnapshot() -> Set<String> {
        lock.lock()
        defer { lock.unlock() }
        return taken
    }
}
