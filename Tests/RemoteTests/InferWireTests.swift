import Foundation
@testable import Remote
import Testing

/// Replies are checked before use: the wrong name, dtype, shape, batch or byte count is a `.badResponse` naming
/// the endpoint.
@Suite struct InferWireTests {
    static func reply(name: String = "out_sample", datatype: String = "FP32", shape: [Int64] = [2, 3],
                      raw: [Float]? = [1, 2, 3, 4, 5, 6], contents: [Float] = []) -> Inference_ModelInferResponse {
        var r = Inference_ModelInferResponse()
        var t = Inference_ModelInferResponse.InferOutputTensor()
        t.name = name; t.datatype = datatype; t.shape = shape
        if !contents.isEmpty { t.contents.fp32Contents = contents }
        r.outputs = [t]
        if let raw { r.rawOutputContents = [InferWire.littleEndianBytes(raw)] }
        return r
    }

    func problem(_ r: Inference_ModelInferResponse) -> String? {
        do { _ = try InferWire.output("out_sample", shape: [2, 3], of: r, endpoint: "grpc://h:1/m"); return nil } catch {
            #expect(error.kind == .badResponse)
            return error.description
        }
    }

    @Test func readsRawAndTypedContents() throws {
        let raw = try InferWire.output("out_sample", shape: [2, 3], of: Self.reply(), endpoint: "e")
        #expect(raw.shape == [2, 3] && raw.scalars == [1, 2, 3, 4, 5, 6])
        let typed = try InferWire.output("out_sample", shape: [2, 3], of: Self.reply(raw: nil, contents: [6, 5, 4, 3, 2, 1]), endpoint: "e")
        #expect(typed.scalars == [6, 5, 4, 3, 2, 1])
    }

    @Test func rejectsWhatWasNotAskedFor() {
        let p = "grpc://h:1/m: ModelInfer reply: "
        #expect(problem(Self.reply(name: "sample")) == p + "no output out_sample (it holds: sample)")
        #expect(problem(Self.reply(datatype: "FP16")) == p + "output out_sample is FP16, expected FP32")
        #expect(problem(Self.reply(shape: [2, 4])) == p + "output out_sample has shape [2, 4], expected [2, 3]")
        #expect(problem(Self.reply(shape: [1, 3], raw: [1, 2, 3]))
                == p + "output out_sample has shape [1, 3], expected [2, 3] (a reply for batch 1, 2 rows were sent)")
        #expect(problem(Self.reply(raw: [1, 2, 3])) == p + "output out_sample holds 12 bytes, expected 24 (FP32 [2, 3])")
        #expect(problem(Self.reply(raw: nil, contents: [1])) == p + "output out_sample holds 1 values, expected 6")
    }

    @Test func rawBytesAreLittleEndianFloat32() {
        let data = InferWire.littleEndianBytes([1, -2.5])
        #expect(Array(data) == [0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x20, 0xC0])
        #expect(InferWire.floats(fromLittleEndian: data) == [1, -2.5])
    }
}
