import GRPCCore
import GRPCNIOTransportHTTP2Posix

/// One endpoint's gRPC client (plain-text HTTP/2): its connections run as a task on the shared `ClientThread`
/// until `close`. Calls fail fast when the server is not reachable (no waiting for a connection) and carry a
/// deadline; failures come back as `RemoteModelError` naming the endpoint.
final class InferenceClient: Sendable {
    let endpoint: InferenceEndpoint
    private let client: GRPCClient<HTTP2ClientTransport.Posix>
    private let service: Inference_GRPCInferenceService.Client<HTTP2ClientTransport.Posix>

    init(_ endpoint: InferenceEndpoint, thread: ClientThread) throws(RemoteModelError) {
        self.endpoint = endpoint
        let transport: HTTP2ClientTransport.Posix
        do {
            transport = try HTTP2ClientTransport.Posix(target: ResolvableTargets.DNS(host: endpoint.host, port: endpoint.port), transportSecurity: .plaintext)
        } catch {
            throw RemoteModelError(endpoint.description, .unreachable, "cannot set up a connection: \(error)")
        }
        let client = GRPCClient(transport: transport)
        self.client = client
        service = Inference_GRPCInferenceService.Client(wrapping: client)
        thread.start { try? await client.runConnections() }
    }

    func close() { client.beginGracefulShutdown() }

    private func options(timeout: Double) -> CallOptions {
        var o = CallOptions.defaults
        o.timeout = .milliseconds(Int64((timeout * 1000).rounded(.up)))
        o.waitForReady = false
        o.maxRequestMessageBytes = 1 << 30
        o.maxResponseMessageBytes = 1 << 30
        return o
    }

    /// The model's input and output tensors as the server states them.
    func metadata(timeout: Double) async throws -> (inputs: [TensorSignature], outputs: [TensorSignature]) {
        var request = Inference_ModelMetadataRequest()
        request.name = endpoint.model
        request.version = endpoint.version
        do {
            let m = try await service.modelMetadata(request, options: options(timeout: timeout))
            func signatures(_ t: [Inference_ModelMetadataResponse.TensorMetadata]) -> [TensorSignature] {
                t.map { TensorSignature($0.name, $0.datatype, $0.shape.map { Int($0) }) }
            }
            return (signatures(m.inputs), signatures(m.outputs))
        } catch {
            throw RemoteModelError.from(error, endpoint: endpoint, call: "ModelMetadata")
        }
    }

    func infer(_ request: Inference_ModelInferRequest, timeout: Double) async throws -> Inference_ModelInferResponse {
        do { return try await service.modelInfer(request, options: options(timeout: timeout)) } catch {
            throw RemoteModelError.from(error, endpoint: endpoint, call: "ModelInfer")
        }
    }
}
