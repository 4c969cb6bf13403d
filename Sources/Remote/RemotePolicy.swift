/// How remote calls wait and retry. A failed request (no connection, no answer before `requestTimeout`, a server
/// error) is sent again to the same endpoint up to `attemptsPerEndpoint` times in all, after pauses of
/// `backoff`, 2·`backoff`, 4·`backoff`…, then moved to the next endpoint that has not failed; a reply of the wrong
/// shape or dtype moves on at once. When no endpoint is left the call throws, which stops the search.
public struct RemotePolicy: Sendable, Equatable {
    /// Deadline of one ModelInfer request, seconds.
    public var requestTimeout: Double
    /// Deadline of the start-up metadata request, seconds.
    public var metadataTimeout: Double
    public var attemptsPerEndpoint: Int
    /// First pause between attempts, seconds.
    public var backoff: Double

    public init(requestTimeout: Double = 120, metadataTimeout: Double = 10, attemptsPerEndpoint: Int = 3, backoff: Double = 0.25) {
        self.requestTimeout = requestTimeout; self.metadataTimeout = metadataTimeout
        self.attemptsPerEndpoint = attemptsPerEndpoint; self.backoff = backoff
    }
}
