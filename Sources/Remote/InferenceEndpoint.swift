import Foundation

/// One Open Inference Protocol (KServe v2) model on a gRPC server: `grpc://HOST:PORT/MODEL`, with an optional
/// version as `grpc://HOST:PORT/MODEL/VERSION`. Plain-text HTTP/2 only (no TLS); HOST is a name, an IPv4 address or
/// a bracketed IPv6 address.
public struct InferenceEndpoint: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var model: String
    public var version: String

    public init(host: String, port: Int, model: String, version: String = "") {
        self.host = host; self.port = port; self.model = model; self.version = version
    }

    /// Parses `grpc://HOST:PORT/MODEL[/VERSION]`; anything else is an `InferenceEndpointError` saying what is wrong.
    public init(parsing text: String) throws(InferenceEndpointError) {
        let scheme = "grpc://"
        guard text.hasPrefix(scheme) else {
            throw InferenceEndpointError(text, "expected grpc://HOST:PORT/MODEL (only the grpc scheme is supported)")
        }
        let rest = text.dropFirst(scheme.count)
        guard let slash = rest.firstIndex(of: "/") else {
            throw InferenceEndpointError(text, "no model name: expected grpc://HOST:PORT/MODEL")
        }
        let authority = rest[..<slash]
        let path = rest[rest.index(after: slash)...].split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard let model = path.first, !model.isEmpty, path.count <= 2, path.allSatisfy({ !$0.isEmpty }) else {
            throw InferenceEndpointError(text, "the path must be /MODEL or /MODEL/VERSION")
        }
        let hostPart: Substring, portPart: Substring
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]"), authority[authority.index(after: close)...].hasPrefix(":") else {
                throw InferenceEndpointError(text, "an IPv6 host is written [ADDRESS]:PORT")
            }
            hostPart = authority[authority.index(after: authority.startIndex)..<close]
            portPart = authority[authority.index(close, offsetBy: 2)...]
        } else {
            guard let colon = authority.lastIndex(of: ":") else {
                throw InferenceEndpointError(text, "no port: expected grpc://HOST:PORT/MODEL")
            }
            hostPart = authority[..<colon]
            portPart = authority[authority.index(after: colon)...]
        }
        guard !hostPart.isEmpty else { throw InferenceEndpointError(text, "no host: expected grpc://HOST:PORT/MODEL") }
        guard let port = Int(portPart), (1...65535).contains(port) else {
            throw InferenceEndpointError(text, "port \(portPart.isEmpty ? "(empty)" : String(portPart)) must be a number from 1 to 65535")
        }
        self.init(host: String(hostPart), port: port, model: model, version: path.count == 2 ? path[1] : "")
    }

    public var description: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return "grpc://\(h):\(port)/\(model)" + (version.isEmpty ? "" : "/\(version)")
    }
}

/// An endpoint URL that does not parse: the text and what is wrong with it.
public struct InferenceEndpointError: Error, Sendable, Equatable, CustomStringConvertible {
    public let text: String
    public let problem: String
    public init(_ text: String, _ problem: String) { self.text = text; self.problem = problem }
    public var description: String { "\(text): \(problem)" }
}
