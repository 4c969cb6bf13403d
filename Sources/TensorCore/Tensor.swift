/// A dense float32 tensor on the CPU, row-major, with value semantics (copy-on-write through `Array`).
///
/// The leading axis is the batch axis wherever a batch is meant: a population of N individuals of shape
/// `[d…]` is one tensor of shape `[N, d…]`. Operations allocate their result; in-place variants exist where
/// a hot loop needs them.
public struct Tensor: Sendable, Equatable, CustomStringConvertible {
    public private(set) var shape: [Int]
    public var scalars: [Float]

    /// A tensor of the given shape over `scalars` (row-major). The count must equal the product of the shape.
    public init(shape: [Int], scalars: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in \(shape)")
        precondition(shape.reduce(1, *) == scalars.count,
                     "Tensor: shape \(shape) holds \(shape.reduce(1, *)) scalars, got \(scalars.count)")
        self.shape = shape
        self.scalars = scalars
    }

    public init(zeros shape: [Int]) { self.init(repeating: 0, shape: shape) }

    public init(repeating value: Float, shape: [Int]) {
        self.init(shape: shape, scalars: [Float](repeating: value, count: shape.reduce(1, *)))
    }

    /// A 1-D tensor.
    public init(_ scalars: [Float]) { self.init(shape: [scalars.count], scalars: scalars) }

    public var count: Int { scalars.count }
    public var rank: Int { shape.count }

    /// Number of scalars in one entry of the leading axis.
    public var rowSize: Int { shape.isEmpty ? 1 : (shape[0] == 0 ? 0 : count / shape[0]) }

    /// Size of the leading (batch) axis.
    public var rows: Int { shape.first ?? 1 }

    public var description: String { "Tensor\(shape)" }

    /// The same scalars under another shape of equal element count; one dimension may be -1.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var s = newShape
        if let i = s.firstIndex(of: -1) {
            let known = s.enumerated().filter { $0.offset != i }.map(\.element).reduce(1, *)
            precondition(known > 0 && count % known == 0, "Tensor.reshaped: cannot infer -1 in \(newShape) for \(shape)")
            s[i] = count / known
        }
        return Tensor(shape: s, scalars: scalars)
    }

    // MARK: Rows (leading axis)

    /// Entry `i` of the leading axis, as a tensor of shape `shape.dropFirst()`.
    public func row(_ i: Int) -> Tensor {
        precondition(i >= 0 && i < rows, "Tensor.row: index \(i) out of 0..<\(rows)")
        let n = rowSize
        return Tensor(shape: Array(shape.dropFirst()), scalars: Array(scalars[(i * n)..<((i + 1) * n)]))
    }

    /// Entries `indices` of the leading axis, in that order (repeats allowed).
    public func gatherRows(_ indices: [Int]) -> Tensor {
        let n = rowSize
        var out = [Float]()
        out.reserveCapacity(n * indices.count)
        for i in indices {
            precondition(i >= 0 && i < rows, "Tensor.gatherRows: index \(i) out of 0..<\(rows)")
            out.append(contentsOf: scalars[(i * n)..<((i + 1) * n)])
        }
        return Tensor(shape: [indices.count] + shape.dropFirst(), scalars: out)
    }

    /// Stacks tensors of one shape along a new leading axis.
    public static func stack(_ items: [Tensor]) -> Tensor {
        precondition(!items.isEmpty, "Tensor.stack: nothing to stack")
        let s = items[0].shape
        var out = [Float]()
        out.reserveCapacity(s.reduce(1, *) * items.count)
        for t in items {
            precondition(t.shape == s, "Tensor.stack: shapes \(s) and \(t.shape) differ")
            out.append(contentsOf: t.scalars)
        }
        return Tensor(shape: [items.count] + s, scalars: out)
    }

    /// Concatenates along the leading axis; trailing shapes must agree.
    public static func concatenate(_ items: [Tensor]) -> Tensor {
        precondition(!items.isEmpty, "Tensor.concatenate: nothing to concatenate")
        let tail = Array(items[0].shape.dropFirst())
        var out = [Float]()
        var n = 0
        for t in items {
            precondition(Array(t.shape.dropFirst()) == tail, "Tensor.concatenate: trailing shapes \(tail) and \(Array(t.shape.dropFirst())) differ")
            out.append(contentsOf: t.scalars)
            n += t.rows
        }
        return Tensor(shape: [n] + tail, scalars: out)
    }

    // MARK: Elementwise

    public func map(_ f: (Float) -> Float) -> Tensor { Tensor(shape: shape, scalars: scalars.map(f)) }

    /// Elementwise combination of two tensors; `other` may be broadcast if its shape is a suffix of ours
    /// (e.g. `[d]` against `[N, d]`) or if it is `[N, 1…]` against `[N, …]` (one value per row).
    public func zip(_ other: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
        if other.shape == shape {
            var out = scalars
            other.scalars.withUnsafeBufferPointer { b in
                out.withUnsafeMutableBufferPointer { o in
                    for i in 0..<o.count { o[i] = f(o[i], b[i]) }
                }
            }
            return Tensor(shape: shape, scalars: out)
        }
        if other.count == 1 { let v = other.scalars[0]; return map { f($0, v) } }
        if shape.count >= other.shape.count && Array(shape.suffix(other.shape.count)) == other.shape {
            let m = other.count
            var out = scalars
            other.scalars.withUnsafeBufferPointer { b in
                out.withUnsafeMutableBufferPointer { o in
                    for i in 0..<o.count { o[i] = f(o[i], b[i % m]) }
                }
            }
            return Tensor(shape: shape, scalars: out)
        }
        if !shape.isEmpty && other.shape.first == shape[0] && other.count == shape[0] {
            let n = rowSize
            var out = scalars
            other.scalars.withUnsafeBufferPointer { b in
                out.withUnsafeMutableBufferPointer { o in
                    for i in 0..<o.count { o[i] = f(o[i], b[i / n]) }
                }
            }
            return Tensor(shape: shape, scalars: out)
        }
        preconditionFailure("Tensor: shapes \(shape) and \(other.shape) do not broadcast")
    }

    public static func + (a: Tensor, b: Tensor) -> Tensor { a.zip(b, +) }
    public static func - (a: Tensor, b: Tensor) -> Tensor { a.zip(b, -) }
    public static func * (a: Tensor, b: Tensor) -> Tensor { a.zip(b, *) }
    public static func / (a: Tensor, b: Tensor) -> Tensor { a.zip(b, /) }
    public static func + (a: Tensor, s: Float) -> Tensor { a.map { $0 + s } }
    public static func - (a: Tensor, s: Float) -> Tensor { a.map { $0 - s } }
    public static func * (a: Tensor, s: Float) -> Tensor { a.map { $0 * s } }
    public static func * (s: Float, a: Tensor) -> Tensor { a.map { $0 * s } }
    public static func / (a: Tensor, s: Float) -> Tensor { a.map { $0 / s } }
    public static prefix func - (a: Tensor) -> Tensor { a.map { -$0 } }

    /// `a·self + b·other`, elementwise, shapes equal: the workhorse of scheduler updates.
    public func scaled(_ a: Float, plus b: Float, times other: Tensor) -> Tensor {
        precondition(other.shape == shape, "Tensor.scaled: shapes \(shape) and \(other.shape) differ")
        var out = scalars
        other.scalars.withUnsafeBufferPointer { o in
            out.withUnsafeMutableBufferPointer { r in
                for i in 0..<r.count { r[i] = a * r[i] + b * o[i] }
            }
        }
        return Tensor(shape: shape, scalars: out)
    }

    public func clamped(to range: ClosedRange<Float>) -> Tensor {
        map { Swift.min(Swift.max($0, range.lowerBound), range.upperBound) }
    }

    // MARK: Reductions

    public func sum() -> Float { scalars.reduce(0, +) }
    public func mean() -> Float { count == 0 ? .nan : Float(scalars.reduce(0.0) { $0 + Double($1) } / Double(count)) }
    public func max() -> Float { scalars.max() ?? -.infinity }
    public func min() -> Float { scalars.min() ?? .infinity }
    public func squaredNorm() -> Float { scalars.reduce(0) { $0 + $1 * $1 } }

    /// Per-row sum over all trailing axes: shape `[N]`.
    public func rowSums() -> Tensor {
        let n = rowSize
        return Tensor((0..<rows).map { r in scalars[(r * n)..<((r + 1) * n)].reduce(0, +) })
    }

    /// Largest absolute difference to another tensor of the same shape.
    public func maxAbsDifference(_ other: Tensor) -> Float {
        precondition(other.shape == shape, "Tensor.maxAbsDifference: shapes \(shape) and \(other.shape) differ")
        var m: Float = 0
        for i in 0..<count { m = Swift.max(m, abs(scalars[i] - other.scalars[i])) }
        return m
    }
}
