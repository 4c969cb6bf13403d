import Imaging

/// Draws a `ShapesScene` as an 8-bit RGB image with anti-aliased edges: each pixel averages an
/// `supersampling × supersampling` grid of point samples (later objects cover earlier ones).
public struct ShapesRenderer: Sendable {
    public var supersampling: Int

    public init(supersampling: Int = 4) {
        precondition(supersampling >= 1, "ShapesRenderer: supersampling must be ≥ 1")
        self.supersampling = supersampling
    }

    public func render(_ scene: ShapesScene) -> Image8 {
        let n = scene.imageSize, s = supersampling
        var px = [UInt8](repeating: 0, count: n * n * 3)
        let bg = shapesBackground
        let fills = scene.objects.map { $0.color.rgb }
        let inv = 1 / Double(s * s)
        for y in 0..<n {
            for x in 0..<n {
                // Only objects whose box touches this pixel can cover it.
                let candidates = scene.objects.indices.filter { i in
                    let b = scene.objects[i].bounds
                    return Double(x + 1) >= b.minX && Double(x) <= b.maxX && Double(y + 1) >= b.minY && Double(y) <= b.maxY
                }
                var r = 0.0, g = 0.0, b = 0.0
                for sy in 0..<s {
                    for sx in 0..<s {
                        let fx = Double(x) + (Double(sx) + 0.5) / Double(s)
                        let fy = Double(y) + (Double(sy) + 0.5) / Double(s)
                        var c = bg
                        for i in candidates.reversed() where scene.objects[i].contains(x: fx, y: fy) {
                            c = fills[i]; break
                        }
                        r += Double(c.r); g += Double(c.g); b += Double(c.b)
                    }
                }
                let o = (y * n + x) * 3
                px[o] = UInt8((r * inv).rounded())
                px[o + 1] = UInt8((g * inv).rounded())
                px[o + 2] = UInt8((b * inv).rounded())
            }
        }
        return Image8(width: n, height: n, channels: 3, pixels: px)
    }
}
