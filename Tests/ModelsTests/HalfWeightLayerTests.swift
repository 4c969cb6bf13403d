import Foundation
import ModelIO
import Models
import TensorCore
import Testing

/// Layers loaded from bf16 and f16 safetensors files (tools/fixtures/make_half_weight_fixtures.py) keep their
/// weights as stored and match torch's float32 layers on the widened weights.
@Suite struct HalfWeightLayerTests {
    static func url(_ name: String) -> URL {
        Bundle.module.url(forResource: "Fixtures/half/" + name, withExtension: nil)!
    }

    static func relativeError(_ a: Tensor, _ b: Tensor) -> Float {
        precondition(a.shape == b.shape, "shapes \(a.shape) and \(b.shape) differ")
        return a.maxAbsDifference(b) / max(b.scalars.map { abs($0) }.max() ?? 0, 1e-30)
    }

    @Test(arguments: ["bf16", "f16"])
    func layersMatchTorchAndKeepTheStoredPrecision(tag: String) throws {
        let store = WeightStore(try SafetensorsFile(url: Self.url("layers.\(tag).safetensors")))
        let io = try SafetensorsFile(url: Self.url("layers.\(tag).io.safetensors"))
        let format: StoredTensor.Format = tag == "bf16" ? .bf16 : .f16

        let linear = try Linear(store, "linear", in: 40, out: 48)
        guard case .stored(let w) = linear.weight else {
            Issue.record("Linear made a float32 copy of its \(tag) weight"); return
        }
        #expect(w.format == format && w.float32 == nil)
        #expect(Self.relativeError(linear(try io.tensor(named: "linear.x")), try io.tensor(named: "linear.y")) < 1e-6)

        let conv = try Conv2d(store, "conv", in: 16, out: 24, kernel: 3)
        #expect(conv.weight.format == format && conv.weight.float32 == nil)
        #expect(conv.winograd != nil)   // 12×12 runs the Winograd path, 8×50 the direct kernel
        #expect(Self.relativeError(conv(try io.tensor(named: "conv.small")), try io.tensor(named: "conv.small.y")) < 1e-5)
        #expect(Self.relativeError(conv(try io.tensor(named: "conv.large")), try io.tensor(named: "conv.large.y")) < 1e-5)
        let strided = try Conv2d(store, "strided", in: 16, out: 32, kernel: 3, stride: 2)
        #expect(Self.relativeError(strided(try io.tensor(named: "conv.small")), try io.tensor(named: "strided.y")) < 1e-5)
        let pointwise = try Conv2d(store, "pointwise", in: 16, out: 40, kernel: 1)
        #expect(Self.relativeError(pointwise(try io.tensor(named: "conv.small")), try io.tensor(named: "pointwise.y")) < 1e-5)

        let table = try store.takeStored("embedding.weight", shape: [100, 32])
        #expect(table.format == format)
        let ids = try io.tensor(named: "embedding.ids").scalars.map { Int($0) }
        #expect(table.rows(ids) == (try io.tensor(named: "embedding.y")))   // a lookup is exact
        try store.finish()
    }
}
