import Imaging
import TensorCore

/// One object the detector found: its colour, shape class, where it is and the measurements behind the shape call.
///
/// Coordinates are continuous pixel coordinates (pixel (x, y) covers [x, x+1) × [y, y+1)), as in `ShapeObject`.
/// `centerX`/`centerY` is the centre of the object's bounding box — the same definition as `ShapeObject`'s centre
/// and GenEval's box centres, and what spatial relations compare — estimated from the colour mass so that blur
/// does not move it: the centre of mass (`centroidX`/`centroidY`), raised for a triangle by a sixth of its
/// height √(2·mass). `minX`…`maxY` is the bounding box of the component's pixels, which blur erodes at corners
/// and at a triangle's apex.
public struct DetectedObject: Sendable, Equatable, Codable {
    public var shape: ShapeKind
    public var color: ShapeColor
    public var centerX: Double
    public var centerY: Double
    public var centroidX: Double
    public var centroidY: Double
    /// Bounding box of the component's pixels (continuous: the max edges are one past the last pixel).
    public var minX: Double
    public var minY: Double
    public var maxX: Double
    public var maxY: Double
    /// Pixels in the component.
    public var area: Int
    /// Colour mass: the summed coverage of the object's colour over the component and a thin ring around it (an
    /// anti-aliased edge pixel counts by how much of it is covered); blur does not change it.
    public var mass: Double
    /// How much the mass sits low, as an upward triangle's does: the vertical third cumulant of the mass over
    /// mass^1.5, divided by that of the ideal triangle (1 for a triangle, 0 for circles and squares).
    public var lowMass: Double
    /// How much mass sits in the diagonal corners, as a square's does: the fourth cumulant of the mass along the
    /// diagonals minus that along the axes, over mass², divided by the square's value (1 for a square, 0 for a
    /// circle).
    public var cornerMass: Double

    /// Width and height of the bounding box in pixels.
    public var width: Double { maxX - minX }
    public var height: Double { maxY - minY }
    /// area / bounding-box area: ≈ 1 for a square, π/4 for a circle, 1/2 for a triangle (for reports; the shape
    /// call uses `lowMass` and `cornerMass`, which blur leaves alone).
    public var fillRatio: Double { Double(area) / max(width * height, 1) }
}

/// Why an image cannot be examined by the detector; `description` says what to pass instead.
public enum ShapesImageError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A tensor that is not `[3, H, W]` (or a batch that is not `[N, 3, H, W]`).
    case notAnRGBImage(shape: [Int])
    /// An image with fewer than `ObjectDetector.minimumSide` pixels on a side.
    case tooSmall(width: Int, height: Int)

    public var description: String {
        switch self {
        case .notAnRGBImage(let shape):
            return "the shapes verifier reads RGB images as [3, H, W] tensors in [0, 1] (batches as [N, 3, H, W]); got a tensor of shape \(shape)"
        case let .tooSmall(width, height):
            return "the shapes verifier needs images of at least \(ObjectDetector.minimumSide)×\(ObjectDetector.minimumSide) pixels (shapes-world images are 64×64 or larger); got \(width)×\(height)"
        }
    }
}

/// Finds the objects of a shapes-world image: colour segmentation, connected components, shape classification.
///
/// Rules, in order (lengths are for a 64-pixel-wide image and scale with it; areas scale with the pixel count):
/// 1. **Pixel colours.** Tensors are first rounded to 8 bits as `Image8(tensor:)` does, so a sample and its saved
///    PNG give the same answer. Each pixel is explained as a mix of the background and one fill,
///    `bg + t·(fill − bg)` with t ∈ [0, 1] — exactly what anti-aliasing and blur produce — and assigned to the
///    fill whose mixing segment passes closest. It takes that fill's label if t ≥ ½ (the object covers at least
///    half the pixel), is background if t < ½, and is *unknown* (treated as background) if even the closest
///    segment is more than `maxColorDistance` away (0…255 RGB units; e.g. white, gray or orange smudges).
///    Non-finite values are unknown.
/// 2. **Hole filling.** A non-fill pixel whose four neighbours (three at the border) all carry one fill label
///    takes that label (one pass), so single-pixel holes from noise do not break objects apart.
/// 3. **Components.** 8-connected components of each fill label; components smaller than `minimumArea` pixels
///    are specks and dropped (the smallest object the sampler draws, an 11-pixel triangle, covers ~60 pixels).
/// 4. **Shape, from the colour mass.** Each pixel of the component and of a 2-pixel ring around it (pixels of
///    other objects and unknown pixels excluded) weighs its coverage t of the object's colour, clamped to [0, 1].
///    Gaussian blur leaves the mass, the centre of mass and the third and fourth cumulants of the mass unchanged
///    (up to what spills beyond the ring), and divided by the right power of the mass they do not depend on the
///    object's size. An upward triangle's mass
///    sits low (`lowMass` ≈ 1, circles and squares ≈ 0); a square has more mass along its diagonals than along
///    its axes (`cornerMass` ≈ 1, circles ≈ 0, both isotropic up to second order). The object is a triangle if
///    `lowMass` ≥ `triangleThreshold`, else a square if `cornerMass` ≥ `squareThreshold`, else a circle.
///    Measured by the tests on 11–24-pixel renders in every colour at sub-pixel offsets, clean, blurred (σ = 1 and
///    1.5 px), noisy (σ = 0.06) and both: triangles have `lowMass` 0.67…1.37, circles and squares −0.07…0.05;
///    squares have `cornerMass` 0.83…1.26, circles −0.15…0.26.
/// 5. **Centre.** The centre of mass, raised by a sixth of the height √(2·mass) for a triangle: the centre of the
///    ideal shape's bounding box, which blur does not move (the pixels' bounding box shrinks under blur).
///
/// Limits: one colour per component (two touching objects of one colour merge into one object, whose shape is
/// whichever rule fits; objects of different colours touching stay separate); an object in none of the five fills
/// is unknown, hence invisible; squares are axis-aligned (a square turned 45° reads as a circle) and triangles
/// upward (a downward one reads as a circle or square); the background is assumed to be the world's dark gray.
public struct ObjectDetector: Sendable, Equatable {
    /// Distance (0…255 RGB units) from every fill–background segment beyond which a pixel is unknown.
    public var maxColorDistance: Double
    /// Minimum component area in pixels for a 64 × 64 image (scaled by the pixel count for other sizes).
    public var minimumArea: Double
    /// Whether rule 2 (single-pixel hole filling) runs.
    public var fillsHoles: Bool
    /// `lowMass` from which an object is a triangle.
    public var triangleThreshold: Double
    /// `cornerMass` from which an object (not a triangle) is a square.
    public var squareThreshold: Double

    /// The smallest image side the detector accepts.
    public static let minimumSide = 32

    public init(maxColorDistance: Double = 70, minimumArea: Double = 20, fillsHoles: Bool = true,
                triangleThreshold: Double = 0.3, squareThreshold: Double = 0.55) {
        self.maxColorDistance = maxColorDistance
        self.minimumArea = minimumArea
        self.fillsHoles = fillsHoles
        self.triangleThreshold = triangleThreshold
        self.squareThreshold = squareThreshold
    }

    // MARK: Entry points

    /// The objects of an 8-bit image (gray and alpha images are converted to RGB first).
    public func detect(_ image: Image8) throws(ShapesImageError) -> [DetectedObject] {
        let w = image.width, h = image.height
        guard w >= Self.minimumSide && h >= Self.minimumSide else { throw .tooSmall(width: w, height: h) }
        return objects(rgb: image.rgb.pixels.map(Float.init), width: w, height: h)
    }

    /// The objects of a `[3, H, W]` tensor in [0, 1] (a decoded sample).
    public func detect(tensor: Tensor) throws(ShapesImageError) -> [DetectedObject] {
        guard tensor.rank == 3 && tensor.shape[0] == 3 else { throw .notAnRGBImage(shape: tensor.shape) }
        return try detect(planes: tensor.scalars, offset: 0, width: tensor.shape[2], height: tensor.shape[1])
    }

    /// The objects of one `[3, H, W]` image stored planar at `offset` in `scalars` (values in [0, 1]); lets a
    /// batch be read without copying rows out.
    public func detect(planes scalars: [Float], offset: Int, width w: Int, height h: Int) throws(ShapesImageError) -> [DetectedObject] {
        guard w >= Self.minimumSide && h >= Self.minimumSide else { throw .tooSmall(width: w, height: h) }
        precondition(offset >= 0 && offset + 3 * w * h <= scalars.count, "ObjectDetector: image out of the buffer")
        let plane = w * h
        var rgb = [Float](repeating: 0, count: 3 * plane)
        scalars.withUnsafeBufferPointer { p in
            for i in 0..<plane {
                for c in 0..<3 { rgb[3 * i + c] = Self.byte(p[offset + c * plane + i]) }
            }
        }
        return objects(rgb: rgb, width: w, height: h)
    }

    /// A [0, 1] value as the 8-bit level `Image8(tensor:)` stores (NaN stays NaN).
    @inline(__always) static func byte(_ v: Float) -> Float {
        if v.isNaN { return v }
        return (Swift.min(Swift.max(v, 0), 1) * 255).rounded()
    }

    // MARK: Segmentation

    /// Rules 1–5 on interleaved RGB values in 0…255.
    func objects(rgb: [Float], width w: Int, height h: Int) -> [DetectedObject] {
        let classifier = PixelClassifier(maxDistance: maxColorDistance)
        var labels = [UInt8](repeating: PixelClassifier.background, count: w * h)
        for i in 0..<(w * h) { labels[i] = classifier.label(rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]) }
        if fillsHoles { fillHoles(&labels, width: w, height: h) }

        let scale = (Double(w * h) / 4096).squareRoot()
        let minArea = Swift.max(1, Int((minimumArea * scale * scale).rounded()))
        let ring = Swift.max(2, Int((2 * scale).rounded()))
        var component = [Int32](repeating: -1, count: w * h)
        var stack: [Int] = []
        var found: [DetectedObject] = []
        var id: Int32 = 0
        for start in 0..<(w * h) {
            let label = labels[start]
            guard label < PixelClassifier.fillCount, component[start] < 0 else { continue }
            // Flood fill (8-connected) with an explicit stack.
            var area = 0
            var x0 = w, y0 = h, x1 = -1, y1 = -1
            component[start] = id
            stack.append(start)
            while let i = stack.popLast() {
                let x = i % w, y = i / w
                area += 1
                x0 = Swift.min(x0, x); x1 = Swift.max(x1, x); y0 = Swift.min(y0, y); y1 = Swift.max(y1, y)
                for ny in Swift.max(y - 1, 0)...Swift.min(y + 1, h - 1) {
                    for nx in Swift.max(x - 1, 0)...Swift.min(x + 1, w - 1) {
                        let j = ny * w + nx
                        if labels[j] == label && component[j] < 0 { component[j] = id; stack.append(j) }
                    }
                }
            }
            defer { id += 1 }
            guard area >= minArea else { continue }
            let box = PixelBox(x0: x0, y0: y0, x1: x1, y1: y1)
            let m = massMoments(rgb: rgb, labels: labels, component: component, id: id, color: Int(label), box: box,
                                ring: ring, width: w, height: h, classifier: classifier)
            let shape: ShapeKind = m.lowMass >= triangleThreshold ? .triangle : (m.cornerMass >= squareThreshold ? .square : .circle)
            let minX = Double(x0), maxX = Double(x1 + 1), minY = Double(y0), maxY = Double(y1 + 1)
            let raise = shape == .triangle ? (2 * m.mass).squareRoot() / 6 : 0
            found.append(DetectedObject(
                shape: shape, color: ShapeColor.allCases[Int(label)],
                centerX: m.centroidX, centerY: m.centroidY - raise, centroidX: m.centroidX, centroidY: m.centroidY,
                minX: minX, minY: minY, maxX: maxX, maxY: maxY, area: area,
                mass: m.mass, lowMass: m.lowMass, cornerMass: m.cornerMass))
        }
        return found
    }

    /// Rule 2: a non-fill pixel whose in-image 4-neighbours all share one fill label takes it (read from a copy).
    func fillHoles(_ labels: inout [UInt8], width w: Int, height h: Int) {
        let source = labels
        for y in 0..<h {
            for x in 0..<w {
                let i = y * w + x
                guard source[i] >= PixelClassifier.fillCount else { continue }
                var common = PixelClassifier.background
                var agree = true, seen = 0
                @inline(__always) func look(_ j: Int) {
                    let l = source[j]
                    if l >= PixelClassifier.fillCount || (seen > 0 && l != common) { agree = false }
                    common = l; seen += 1
                }
                if x > 0 { look(i - 1) }
                if x < w - 1 { look(i + 1) }
                if y > 0 { look(i - w) }
                if y < h - 1 { look(i + w) }
                if agree && seen >= 3 { labels[i] = common }
            }
        }
    }

    /// Inclusive pixel bounding box.
    struct PixelBox { var x0, y0, x1, y1: Int }

    /// The measurements of rule 4.
    struct MassMoments { var mass, centroidX, centroidY, lowMass, cornerMass: Double }

    /// Upward triangle (base = height): vertical third cumulant / mass^1.5 = −2√2/135.
    static let triangleThirdCumulant = -2 * 2.0.squareRoot() / 135
    /// Axis-aligned square: (diagonal − axis) fourth cumulant / mass² = 1/240.
    static let squareFourthCumulant = 1.0 / 240

    /// Rule 4: coverage-weighted mass of the component and a `ring`-pixel ring around it (pixels labelled with a
    /// fill but outside the component, and unknown pixels, weigh nothing), and its normalised cumulants.
    func massMoments(rgb: [Float], labels: [UInt8], component: [Int32], id: Int32, color: Int, box: PixelBox,
                     ring: Int, width w: Int, height h: Int, classifier: PixelClassifier) -> MassMoments {
        let rx0 = Swift.max(box.x0 - ring, 0), rx1 = Swift.min(box.x1 + ring, w - 1)
        let ry0 = Swift.max(box.y0 - ring, 0), ry1 = Swift.min(box.y1 + ring, h - 1)
        let rw = rx1 - rx0 + 1, rh = ry1 - ry0 + 1
        // Dilate the component by `ring` (Chebyshev distance) with a row pass and a column pass.
        var rows = [Bool](repeating: false, count: rw * rh), near = rows
        for y in 0..<rh {
            for x in 0..<rw where component[(y + ry0) * w + x + rx0] == id {
                for dx in Swift.max(x - ring, 0)...Swift.min(x + ring, rw - 1) { rows[y * rw + dx] = true }
            }
        }
        for y in 0..<rh {
            for x in 0..<rw where rows[y * rw + x] {
                for dy in Swift.max(y - ring, 0)...Swift.min(y + ring, rh - 1) { near[dy * rw + x] = true }
            }
        }
        var weights = [Double](repeating: 0, count: rw * rh)
        var mass = 0.0, sx = 0.0, sy = 0.0
        for y in 0..<rh {
            for x in 0..<rw where near[y * rw + x] {
                let i = (y + ry0) * w + x + rx0
                let l = labels[i]
                let mine = component[i] == id
                guard mine || l == PixelClassifier.background else { continue }
                let t = Double(classifier.coverage(rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2], fill: color))
                guard t > 0 else { continue }
                weights[y * rw + x] = t
                mass += t; sx += t * (Double(x + rx0) + 0.5); sy += t * (Double(y + ry0) + 0.5)
            }
        }
        guard mass > 0 else {  // only if every pixel came from hole filling; fall back to the box centre
            return MassMoments(mass: 0, centroidX: Double(box.x0 + box.x1 + 1) / 2, centroidY: Double(box.y0 + box.y1 + 1) / 2,
                               lowMass: 0, cornerMass: 0)
        }
        let gx = sx / mass, gy = sy / mass
        // Central moments of the mass along x, y and the two diagonals.
        var mx2 = 0.0, mx4 = 0.0, my2 = 0.0, my3 = 0.0, my4 = 0.0, mu2 = 0.0, mu4 = 0.0, mv2 = 0.0, mv4 = 0.0
        let r = 0.5.squareRoot()
        for y in 0..<rh {
            for x in 0..<rw {
                let t = weights[y * rw + x]
                guard t > 0 else { continue }
                let dx = Double(x + rx0) + 0.5 - gx, dy = Double(y + ry0) + 0.5 - gy
                let du = (dx + dy) * r, dv = (dx - dy) * r
                let dx2 = dx * dx, dy2 = dy * dy, du2 = du * du, dv2 = dv * dv
                mx2 += t * dx2; mx4 += t * dx2 * dx2
                my2 += t * dy2; my3 += t * dy2 * dy; my4 += t * dy2 * dy2
                mu2 += t * du2; mu4 += t * du2 * du2
                mv2 += t * dv2; mv4 += t * dv2 * dv2
            }
        }
        func kappa4(_ m2: Double, _ m4: Double) -> Double { m4 / mass - 3 * (m2 / mass) * (m2 / mass) }
        let low = (my3 / mass) / (mass * mass.squareRoot()) / Self.triangleThirdCumulant
        let corner = ((kappa4(mu2, mu4) + kappa4(mv2, mv4)) - (kappa4(mx2, mx4) + kappa4(my2, my4))) / 2
            / (mass * mass) / Self.squareFourthCumulant
        return MassMoments(mass: mass, centroidX: gx, centroidY: gy, lowMass: low, cornerMass: corner)
    }
}

/// Rule 1 of `ObjectDetector`: a pixel's label from its 8-bit-scale RGB value.
/// Labels 0…4 are the fills in `ShapeColor.allCases` order, then background and unknown.
struct PixelClassifier {
    static let fillCount: UInt8 = 5
    static let background: UInt8 = 5
    static let unknown: UInt8 = 6

    /// Background and per-fill direction (fill − background) with 1/|direction|².
    let bg: (Float, Float, Float)
    let directions: [(Float, Float, Float, Float)]
    let maxDistanceSquared: Float

    init(maxDistance: Double) {
        let b = shapesBackground
        bg = (Float(b.r), Float(b.g), Float(b.b))
        directions = ShapeColor.allCases.map { c in
            let f = c.rgb
            let d = (Float(f.r) - Float(b.r), Float(f.g) - Float(b.g), Float(f.b) - Float(b.b))
            return (d.0, d.1, d.2, 1 / (d.0 * d.0 + d.1 * d.1 + d.2 * d.2))
        }
        maxDistanceSquared = Float(maxDistance * maxDistance)
    }

    /// How much of a pixel fill `k` covers: the mixing fraction t of `bg + t·(fill − bg)` nearest the pixel,
    /// clamped to [0, 1] (NaN for non-finite input).
    @inline(__always) func coverage(_ r: Float, _ g: Float, _ b: Float, fill k: Int) -> Float {
        let d = directions[k]
        let t = ((r - bg.0) * d.0 + (g - bg.1) * d.1 + (b - bg.2) * d.2) * d.3
        return Swift.min(Swift.max(t, 0), 1)
    }

    @inline(__always) func label(_ r: Float, _ g: Float, _ b: Float) -> UInt8 {
        let qr = r - bg.0, qg = g - bg.1, qb = b - bg.2
        var best = Float.infinity, bestT: Float = 0, bestK = 0
        for k in 0..<directions.count {
            let d = directions[k]
            let t = Swift.min(Swift.max((qr * d.0 + qg * d.1 + qb * d.2) * d.3, 0), 1)
            let er = qr - t * d.0, eg = qg - t * d.1, eb = qb - t * d.2
            let e = er * er + eg * eg + eb * eb
            if e < best { best = e; bestT = t; bestK = k }
        }
        guard best <= maxDistanceSquared else { return Self.unknown }  // also NaN (comparisons are false)
        return bestT >= 0.5 ? UInt8(bestK) : Self.background
    }
}
