import Foundation

/// Base64 (RFC 4648, with padding, no line breaks) and `data:` URIs, for images embedded in a report.
public enum Base64 {
    /// `bytes` as base64 text.
    public static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
    }

    /// A `data:image/png;base64,…` URI of PNG file bytes.
    public static func pngDataURI(_ png: [UInt8]) -> String {
        "data:image/png;base64," + encode(png)
    }
}
