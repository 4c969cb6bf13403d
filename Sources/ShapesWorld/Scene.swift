/// One object of a scene: its shape, colour, centre and size in pixels.
///
/// `size` is the side of the object's bounding box: a circle's diameter, a square's side, an upward
/// isosceles triangle's base and height.
public struct ShapeObject: Sendable, Codable, Equatable {
    public var shape: ShapeKind
    public var color: ShapeColor
    public var centerX: Double
    public var centerY: Double
    public var size: Double

    public init(shape: ShapeKind, color: ShapeColor, centerX: Double, centerY: Double, size: Double) {
        self.shape = shape; self.color = color; self.centerX = centerX; self.centerY = centerY; self.size = size
    }

    /// Whether the point (x, y) (pixel coordinates, continuous) lies inside the object.
    public func contains(x: Double, y: Double) -> Bool {
        let h = size / 2
        let dx = x - centerX, dy = y - centerY
        switch shape {
        case .circle:
            return dx * dx + dy * dy <= h * h
        case .square:
            return abs(dx) <= h && abs(dy) <= h
        case .triangle:
            // Apex at (cx, cy - h), base from (cx - h, cy + h) to (cx + h, cy + h).
            guard dy >= -h && dy <= h else { return false }
            let halfWidth = (dy + h) / 2  // 0 at the apex, h at the base
            return abs(dx) <= halfWidth
        }
    }

    /// Axis-aligned bounding box (minX, minY, maxX, maxY).
    public var bounds: (minX: Double, minY: Double, maxX: Double, maxY: Double) {
        let h = size / 2
        return (centerX - h, centerY - h, centerX + h, centerY + h)
    }
}

/// A picture of the shapes world: a square canvas of `imageSize` pixels and its objects, drawn in order.
public struct ShapesScene: Sendable, Codable, Equatable {
    public var imageSize: Int
    public var objects: [ShapeObject]

    public init(imageSize: Int, objects: [ShapeObject]) {
        self.imageSize = imageSize; self.objects = objects
    }
}
