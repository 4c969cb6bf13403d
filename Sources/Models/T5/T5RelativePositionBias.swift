import Foundation
import ModelIO
import TensorCore

/// transformers' `T5Attention.relative_attention_bias` of an encoder (bidirectional buckets): an embedding
/// `[num_buckets, num_heads]` looked up by the bucket of each (query, key) offset, giving a bias
/// `[heads, Lq, Lk]` added to the attention scores.
public struct T5RelativePositionBias: Sendable {
    /// `[buckets, heads]`, widened to float32 at load.
    public let weight: Tensor
    public let buckets: Int
    public let maxDistance: Int

    public init(_ store: WeightStore, _ name: String, buckets: Int, heads: Int, maxDistance: Int) throws {
        weight = try store.take("\(name).weight", shape: [buckets, heads])
        self.buckets = buckets
        self.maxDistance = maxDistance
    }

    /// `T5Attention._relative_position_bucket(memory − query, bidirectional=True, …)`, in float32 as PyTorch
    /// computes it: half the buckets for positive offsets; in each half, offsets below a quarter of the buckets
    /// exact, larger ones on a log scale up to `maxDistance` (beyond it, the last bucket).
    public static func bucket(_ relativePosition: Int, buckets: Int, maxDistance: Int) -> Int {
        let half = buckets / 2
        let base = relativePosition > 0 ? half : 0
        let n = relativePosition.magnitude
        let maxExact = half / 2
        if n < UInt(maxExact) { return base + Int(n) }
        let logRatio = Float(log(Double(maxDistance) / Double(maxExact)))
        let scaled = logf(Float(n) / Float(maxExact)) / logRatio * Float(half - maxExact)
        return base + Swift.min(maxExact + Int(scaled), half - 1)
    }

    /// The bias `[heads, L, L]` for a sequence of `length` tokens (query i, key j: bucket of j − i).
    public func callAsFunction(length: Int) -> Tensor {
        let heads = weight.shape[1]
        // One bucket per offset −(L−1) … L−1.
        let table = (0..<(2 * Swift.max(length, 1) - 1)).map {
            Self.bucket($0 - (length - 1), buckets: buckets, maxDistance: maxDistance)
        }
        var out = [Float](repeating: 0, count: heads * length * length)
        weight.scalars.withUnsafeBufferPointer { w in
            for i in 0..<length {
                for j in 0..<length {
                    let row = table[j - i + length - 1] * heads
                    for h in 0..<heads { out[(h * length + i) * length + j] = w[row + h] }
                }
            }
        }
        return Tensor(shape: [heads, length, length], scalars: out)
    }
}
