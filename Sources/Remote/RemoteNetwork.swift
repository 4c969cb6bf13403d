import Foundation
import TensorCore

/// A network served over the Open Inference Protocol by one or more endpoints (each `grpc://HOST:PORT/MODEL`
/// serving the same weights), called synchronously with a batch whose rows are independent.
///
/// `init` connects and checks every endpoint's model metadata against the pipeline's `NetworkSignature`
/// (concurrently, each with `policy.metadataTimeout`), so a wrong address, a missing model or a mismatched model
/// is one line before any search starts. Each `call` splits the batch's rows into contiguous shares across the
/// endpoints that are up, in proportion to their measured speed, sends the shares concurrently with a deadline, and
/// joins the replies in row order, so the result does not depend on the split. Faults follow `RemotePolicy`:
/// bounded retries with backoff, then the share moves to another endpoint; an endpoint whose attempts ran out is
/// taken out of the rotation. When no endpoint can serve a share the call throws `RemoteModelError`
/// (`.noEndpointLeft`, every endpoint's last error), and nothing of the batch is returned.
///
/// The gRPC work runs on a thread of its own (`ClientThread`); a caller blocks on a semaphore meanwhile,
/// polling its `CancellationCheck` every few milliseconds. Do not call it from inside an async task.
public final class RemoteNetwork: Sendable {
    public let endpoints: [InferenceEndpoint]
    public let signature: NetworkSignature
    public let policy: RemotePolicy
    private let thread: ClientThread
    private let clients: [InferenceClient]
    private let book: EndpointBook

    /// One input of a call: a batched tensor is split along its first dimension; an unbatched one (position ids, a
    /// table every row shares) goes whole with every share.
    public struct Input: Sendable {
        public var name: String
        public var tensor: Tensor
        public var batched: Bool
        public init(_ name: String, _ tensor: Tensor, batched: Bool = true) {
            self.name = name; self.tensor = tensor; self.batched = batched
        }
    }

    public init(endpoints: [InferenceEndpoint], signature: NetworkSignature, policy: RemotePolicy = RemotePolicy()) throws {
        precondition(!endpoints.isEmpty, "RemoteNetwork needs an endpoint")
        precondition(signature.outputs.count == 1, "RemoteNetwork reads one output")
        self.endpoints = endpoints; self.signature = signature; self.policy = policy
        let thread = ClientThread(name: "evosearch-grpc")
        var clients: [InferenceClient] = []
        do {
            for e in endpoints { clients.append(try InferenceClient(e, thread: thread)) }
            let check = clients
            let problems: [RemoteModelError?] = try thread.run(cancellation: .never) {
                try await withThrowingTaskGroup(of: (Int, RemoteModelError?).self) { group in
                    for (i, client) in check.enumerated() {
                        group.addTask {
                            do {
                                let m = try await client.metadata(timeout: policy.metadataTimeout)
                                try signature.check(served: m.inputs, outputs: m.outputs, endpoint: client.endpoint.description)
                                return (i, nil)
                            } catch {
                                return (i, RemoteModelError.from(error, endpoint: client.endpoint, call: "ModelMetadata"))
                            }
                        }
                    }
                    var out = [RemoteModelError?](repeating: nil, count: check.count)
                    for try await (i, e) in group { out[i] = e }
                    return out
                }
            }
            if let first = problems.compactMap({ $0 }).first { throw first }
        } catch {
            clients.forEach { $0.close() }
            thread.stop()
            throw error
        }
        self.thread = thread
        self.clients = clients
        book = EndpointBook(endpoints)
    }

    deinit {
        clients.forEach { $0.close() }
        thread.stop()
    }

    /// Per endpoint, what it served so far.
    public var statistics: [EndpointStatistics] { book.statistics }

    /// The output for `inputs` (the batched ones with the same first dimension `rows`; the first input batched). Its
    /// shape is the signature's output shape with each variable size taken from the first input at the same
    /// position (batch = `rows`), or `outputRowShape` when given (an output whose sizes differ from the input's, e.g.
    /// a decoder's images). `parameters` go with every share as string request parameters.
    public func call(_ inputs: [Input], parameters: [String: String] = [:], outputRowShape: [Int]? = nil,
                     cancellation: CancellationCheck) throws -> Tensor {
        let rows = inputs[0].tensor.shape[0]
        precondition(inputs[0].batched && inputs.allSatisfy { !$0.batched || $0.tensor.shape.first == rows },
                     "RemoteNetwork: batched inputs of different batch sizes")
        let output = signature.outputs[0]
        let reference = inputs[0].tensor.shape
        let rowShape = outputRowShape ?? output.shape.indices.dropFirst().map { i in
            output.shape[i] >= 0 ? output.shape[i] : (i < reference.count ? reference[i] : 1)
        }
        let rowCount = rowShape.reduce(1, *)
        let plan = book.plan(rows: rows)
        let parts: [[Float]] = try thread.run(cancellation: cancellation) { [self] in
            try await withThrowingTaskGroup(of: (Int, [Float]).self) { group in
                for (k, share) in plan.enumerated() {
                    let slice = inputs.map { input in
                        guard input.batched else {
                            return InferWire.Input(name: input.name, shape: input.tensor.shape, scalars: input.tensor.scalars)
                        }
                        let per = input.tensor.count / rows
                        return InferWire.Input(name: input.name, shape: [share.rows.count] + input.tensor.shape.dropFirst(),
                                               scalars: Array(input.tensor.scalars[share.rows.lowerBound * per..<share.rows.upperBound * per]))
                    }
                    group.addTask {
                        (k, try await self.serve(slice, parameters: parameters, rows: share.rows.count, rowShape: rowShape, preferred: share.endpoint))
                    }
                }
                var out = [[Float]](repeating: [], count: plan.count)
                for try await (k, scalars) in group { out[k] = scalars }
                return out
            }
        }
        var scalars: [Float] = []
        scalars.reserveCapacity(rows * rowCount)
        for p in parts { scalars += p }
        return Tensor(shape: [rows] + rowShape, scalars: scalars)
    }

    /// One share: the preferred endpoint first, then the others that are up, each with its retries.
    private func serve(_ inputs: [InferWire.Input], parameters: [String: String], rows: Int, rowShape: [Int], preferred: Int) async throws -> [Float] {
        let name = signature.outputs[0].name
        let order = [preferred] + endpoints.indices.filter { $0 != preferred }
        var failures: [(endpoint: String, message: String)] = []
        var retried = false
        for i in order where i == preferred || !book.isDown(i) {
            let client = clients[i]
            let request = InferWire.request(model: client.endpoint.model, version: client.endpoint.version, inputs: inputs, output: name,
                                             parameters: parameters)
            for attempt in 0..<max(policy.attemptsPerEndpoint, 1) {
                try Task.checkCancellation()
                let start = DispatchTime.now().uptimeNanoseconds
                do {
                    let response = try await client.infer(request, timeout: policy.requestTimeout)
                    let out = try InferWire.output(name, shape: [rows] + rowShape, of: response, endpoint: client.endpoint.description)
                    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                    book.recordSuccess(i, rows: rows, seconds: seconds, serverSeconds: InferWire.computeSeconds(of: response))
                    return out.scalars
                } catch let error as RemoteModelError {
                    try Task.checkCancellation()
                    book.recordFailure(i)
                    failures.removeAll { $0.endpoint == error.endpoint }
                    failures.append((error.endpoint, error.message))
                    if !error.isRetryable { break }
                    retried = retried || policy.attemptsPerEndpoint > 1
                    if attempt + 1 < policy.attemptsPerEndpoint {
                        try await Task.sleep(for: .milliseconds(Int64(policy.backoff * 1000 * Double(1 << min(attempt, 10)))))
                    }
                }
            }
            book.markDown(i)
        }
        // The attempt count only where a failure was retried (a bad reply is not).
        let attempts = retried ? " (\(policy.attemptsPerEndpoint) attempts\(endpoints.count == 1 ? "" : " each"))" : ""
        if endpoints.count == 1, let only = failures.first {
            throw RemoteModelError(only.endpoint, .noEndpointLeft, "no endpoint could serve \(rows) rows\(attempts): \(only.message)")
        }
        throw RemoteModelError(endpoints.map(\.description).joined(separator: ", "), .noEndpointLeft,
                               "no endpoint could serve \(rows) rows\(attempts); last errors: \(failures.map { "\($0.endpoint): \($0.message)" }.joined(separator: "; "))")
    }
}
