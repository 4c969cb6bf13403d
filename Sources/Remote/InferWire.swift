import Foundation
import TensorCore

/// Tensors ↔ Open Inference Protocol messages: FP32 only, as `raw_input_contents` (little-endian, row-major, no
/// padding); replies are read from `raw_output_contents` or, from servers that do not answer raw, from
/// `contents.fp32_contents`. Every reply is checked against what was asked before it is used.
enum InferWire {
    /// One named input.
    struct Input {
        var name: String
        var shape: [Int]
        var scalars: [Float]
    }

    /// A ModelInfer request; `parameters` travel as the request's string parameters (e.g. a reward's prompt).
    static func request(model: String, version: String, inputs: [Input], output: String,
                        parameters: [String: String] = [:]) -> Inference_ModelInferRequest {
        var r = Inference_ModelInferRequest()
        r.modelName = model
        r.modelVersion = version
        for (key, value) in parameters {
            var p = Inference_InferParameter()
            p.stringParam = value
            r.parameters[key] = p
        }
        for input in inputs {
            var t = Inference_ModelInferRequest.InferInputTensor()
            t.name = input.name
            t.datatype = "FP32"
            t.shape = input.shape.map(Int64.init)
            r.inputs.append(t)
            r.rawInputContents.append(littleEndianBytes(input.scalars))
        }
        var o = Inference_ModelInferRequest.InferRequestedOutputTensor()
        o.name = output
        r.outputs = [o]
        return r
    }

    /// The output `name` of `response` as a tensor of exactly `shape`; anything else is a `.badResponse` naming
    /// the endpoint and what differs.
    static func output(_ name: String, shape: [Int], of response: Inference_ModelInferResponse, endpoint: String) throws(RemoteModelError) -> Tensor {
        func bad(_ text: String) -> RemoteModelError { RemoteModelError(endpoint, .badResponse, "ModelInfer reply: \(text)") }
        guard let index = response.outputs.firstIndex(where: { $0.name == name }) else {
            throw bad("no output \(name) (it holds: \(response.outputs.map(\.name).joined(separator: ", ")))")
        }
        let t = response.outputs[index]
        guard t.datatype == "FP32" else { throw bad("output \(name) is \(t.datatype), expected FP32") }
        let got = t.shape.map { Int($0) }
        guard got == shape else {
            let batch = got.first.map { $0 != shape[0] ? " (a reply for batch \($0), \(shape[0]) rows were sent)" : "" } ?? ""
            throw bad("output \(name) has shape [\(got.map(String.init).joined(separator: ", "))], expected [\(shape.map(String.init).joined(separator: ", "))]\(batch)")
        }
        let count = shape.reduce(1, *)
        let scalars: [Float]
        if !response.rawOutputContents.isEmpty {
            guard response.rawOutputContents.count == response.outputs.count else {
                throw bad("\(response.rawOutputContents.count) raw output contents for \(response.outputs.count) outputs")
            }
            let raw = response.rawOutputContents[index]
            guard raw.count == 4 * count else { throw bad("output \(name) holds \(raw.count) bytes, expected \(4 * count) (FP32 \(shape))") }
            scalars = floats(fromLittleEndian: raw)
        } else {
            scalars = t.contents.fp32Contents
            guard scalars.count == count else { throw bad("output \(name) holds \(scalars.count) values, expected \(count)") }
        }
        return Tensor(shape: shape, scalars: scalars)
    }

    /// The server's compute time when it reports one (`compute_us`, an int64 parameter tools/serve sets).
    static func computeSeconds(of response: Inference_ModelInferResponse) -> Double? {
        guard case .int64Param(let us)? = response.parameters["compute_us"]?.parameterChoice else { return nil }
        return Double(us) / 1e6
    }

    static func littleEndianBytes(_ values: [Float]) -> Data {
        var data = Data(count: values.count * 4)
        data.withUnsafeMutableBytes { raw in
            let out = raw.bindMemory(to: UInt32.self)
            for (i, v) in values.enumerated() { out[i] = v.bitPattern.littleEndian }
        }
        return data
    }

    static func floats(fromLittleEndian data: Data) -> [Float] {
        let n = data.count / 4
        return [Float](unsafeUninitializedCapacity: n) { buffer, count in
            data.withUnsafeBytes { raw in
                for i in 0..<n {
                    buffer[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                }
            }
            count = n
        }
    }
}
