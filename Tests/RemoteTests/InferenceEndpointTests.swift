import Remote
import Testing

@Suite struct InferenceEndpointTests {
    @Test func parsesHostPortModelAndVersion() throws {
        let e = try InferenceEndpoint(parsing: "grpc://127.0.0.1:8001/unet")
        #expect(e == InferenceEndpoint(host: "127.0.0.1", port: 8001, model: "unet"))
        #expect(e.description == "grpc://127.0.0.1:8001/unet")
        let v = try InferenceEndpoint(parsing: "grpc://[::1]:9000/sd/2")
        #expect(v == InferenceEndpoint(host: "::1", port: 9000, model: "sd", version: "2"))
        #expect(v.description == "grpc://[::1]:9000/sd/2")
    }

    @Test(arguments: [
        ("http://h:1/m", "only the grpc scheme"), ("grpc://h:1", "no model name"), ("grpc://h/m", "no port"),
        ("grpc://h:0/m", "port 0 must be"), ("grpc://h:x/m", "port x must be"), ("grpc://:5/m", "no host"),
        ("grpc://h:5/", "the path must be"), ("grpc://h:5/a/b/c", "the path must be"), ("grpc://[::1/m", "IPv6"),
    ])
    func rejectsBadURLs(text: String, problem: String) {
        let e = #expect(throws: InferenceEndpointError.self) { try InferenceEndpoint(parsing: text) }
        #expect(e?.description.hasPrefix(text + ": ") == true && e?.description.contains(problem) == true, "\(String(describing: e))")
    }
}
