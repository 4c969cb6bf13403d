import Remote
import Testing

@Suite struct NetworkSignatureTests {
    static let expected = NetworkSignature(
        inputs: [TensorSignature("sample", "FP32", [-1, 4, -1, -1]), TensorSignature("timestep", "FP32", [-1])],
        outputs: [TensorSignature("out_sample", "FP32", [-1, 4, -1, -1])], source: "unet/config.json")
    static let outputs = [TensorSignature("out_sample", "FP32", [-1, 4, -1, -1])]

    func message(_ inputs: [TensorSignature], _ outputs: [TensorSignature] = outputs) -> String? {
        do { try Self.expected.check(served: inputs, outputs: outputs, endpoint: "grpc://h:1/m"); return nil } catch {
            #expect(error.kind == .metadataMismatch)
            return error.description
        }
    }

    @Test func acceptsTheSameOrAVariableSize() {
        #expect(message(Self.expected.inputs) == nil)
        #expect(message([TensorSignature("sample", "FP32", [-1, -1, -1, -1]), TensorSignature("timestep", "FP32", [-1])]) == nil)
    }

    @Test func namesTheFirstDifference() {
        let prefix = "grpc://h:1/m: the model's metadata does not match unet/config.json: "
        #expect(message([TensorSignature("sample", "FP32", [-1, 9, -1, -1]), TensorSignature("timestep", "FP32", [-1])])
                == prefix + "input sample has shape [-1, 9, -1, -1], expected [-1, 4, -1, -1] (-1 = any size)")
        #expect(message([TensorSignature("sample", "FP16", [-1, 4, -1, -1]), TensorSignature("timestep", "FP32", [-1])])
                == prefix + "input sample is FP16, expected FP32")
        #expect(message([TensorSignature("sample", "FP32", [-1, 4, -1, -1])]) == prefix + "it has no input timestep (its inputs: sample)")
        #expect(message([TensorSignature("sample", "FP32", [8, 4, -1, -1]), TensorSignature("timestep", "FP32", [-1])])
                == prefix + "input sample has shape [8, 4, -1, -1], expected [-1, 4, -1, -1] (-1 = any size)")
        #expect(message(Self.expected.inputs + [TensorSignature("guidance", "FP32", [1])])
                == prefix + "it also takes input guidance, which this pipeline does not send")
        #expect(message(Self.expected.inputs, [TensorSignature("sample", "FP32", [-1, 4, -1, -1])])
                == prefix + "it has no output out_sample (its outputs: sample)")
    }
}
