import GRPCCore

/// Why a served model could not answer, always naming the endpoint (`grpc://HOST:PORT/MODEL`) first.
public struct RemoteModelError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// No connection (refused, host unknown, connection lost).
        case unreachable
        /// No answer before the request's deadline.
        case timedOut
        /// The server answered with an error status.
        case serverError
        /// The server has no such model (or version).
        case noSuchModel
        /// The model's metadata does not match what the pipeline sends.
        case metadataMismatch
        /// The reply does not have the shape, dtype, size or batch that was asked for.
        case badResponse
        /// Every endpoint failed; `message` lists each one's last error.
        case noEndpointLeft
    }

    public let endpoint: String
    public let kind: Kind
    public let message: String

    public init(_ endpoint: String, _ kind: Kind, _ message: String) {
        self.endpoint = endpoint; self.kind = kind; self.message = message
    }

    public var description: String { "\(endpoint): \(message)" }

    /// Worth another attempt after a pause (the same endpoint may answer then).
    public var isRetryable: Bool { kind == .unreachable || kind == .timedOut || kind == .serverError }

    /// The error for a failed call of `what` (e.g. "ModelInfer") on `endpoint`.
    static func from(_ error: any Error, endpoint: InferenceEndpoint, call what: String) -> RemoteModelError {
        if let e = error as? RemoteModelError { return e }
        let name = endpoint.description
        guard let rpc = error as? RPCError else { return RemoteModelError(name, .unreachable, "\(what) failed: \(error)") }
        let detail = rpc.message.isEmpty ? "" : ": \(rpc.message)"
        switch rpc.code {
        case .unavailable:
            return RemoteModelError(name, .unreachable, "\(what): the server is not reachable\(detail) (is it running, and is the address right?)")
        case .deadlineExceeded:
            return RemoteModelError(name, .timedOut, "\(what): no answer before the deadline\(detail)")
        case .notFound:
            return RemoteModelError(name, .noSuchModel, "the server has no model \(endpoint.model)\(endpoint.version.isEmpty ? "" : " version \(endpoint.version)")\(detail)")
        case .invalidArgument, .unimplemented, .failedPrecondition, .outOfRange, .permissionDenied, .unauthenticated:
            return RemoteModelError(name, .badResponse, "\(what) refused (\(rpc.code))\(detail)")
        default:
            return RemoteModelError(name, .serverError, "\(what): server error (\(rpc.code))\(detail)")
        }
    }
}
