import Foundation
import Imaging
import ModelIO
import Models
import TensorCore

/// CLIP image preprocessing: resize, center crop (or pad), rescale to [0, 1], normalise with a per-channel mean and
/// std; 8-bit RGB images in, `[N, 3, cropHeight, cropWidth]` pixel values out.
///
/// Reads transformers' `preprocessor_config.json` (`CLIPImageProcessor`): `do_resize`, `size` (`{"shortest_edge": n}`,
/// `{"height", "width"}` or a bare integer = shortest edge), `resample` (3 = bicubic only), `do_center_crop`,
/// `crop_size`, `do_rescale`, `rescale_factor`, `do_normalize`, `image_mean`, `image_std`, with transformers'
/// defaults (224, OpenAI's mean and std) for absent keys; a missing file means all defaults. Two keys of our own
/// choose what transformers cannot express: `"evosearch_backend"` (see `Backend`) and `"evosearch_resize"`
/// (`"shortest_edge"`, default, or `"longest_edge_pad"`: HPSv2's `ResizeMaxSize` — longest side to `size`,
/// rounded, then zero padding centred to a square; no center crop).
///
/// Which implementation it reproduces (`Backend`):
/// - `.torchvision` (default): transformers 5.24's `CLIPImageProcessor`, the class `CLIPProcessor.from_pretrained`
///   / `AutoProcessor` pick whenever torchvision is installed, given PIL (8-bit) images: PyTorch's uint8 antialiased
///   bicubic, `int((h − crop)/2)` crop offsets, and the fused normalisation (x − mean/r) / (std/r) in float32.
///   Pixel values are bit-identical to it (fixture tests).
/// - `.pil`: `CLIPImageProcessorPil` (what `AutoProcessor` picks without torchvision): Pillow's bicubic,
///   `(h − crop) // 2` offsets (padding above by ⌈·/2⌉ when the image is smaller than the crop), x·r in Double
///   rounded to float, then (x − mean)/std in float32. Bit-identical as well.
/// - `.torchvisionTransforms`: the torchvision `Resize`/`CenterCrop`/`ToTensor`/`Normalize` pipeline on PIL
///   images of OpenAI's `clip` package, open_clip and HPSv2: Pillow's bicubic, `round((h − crop)/2)` offsets,
///   x/255 then (x − mean)/std in float32.
/// The backends' resized pixels differ by ±1–2 levels in under 1 % of pixels (see `BicubicResampler`), which moves
/// CLIP scores by ~1e-3 relative; the fixture tests bound it.
///
/// Limits: bicubic only; `size` with `longest_edge` or `max_height`/`max_width` is refused. Images are made RGB
/// before resizing (gray expanded, alpha dropped), as transformers does; torchvision-transform pipelines convert after
/// resizing, which for palette-mode PIL images means a nearest-neighbour resize of the palette indices — not reproduced.
public struct CLIPImageProcessor: Sendable, Equatable {
    public enum Backend: String, Sendable, CaseIterable {
        case torchvision
        case pil
        case torchvisionTransforms = "torchvision_transforms"
    }

    /// How the image is brought to the model's size.
    public enum Resize: Sendable, Equatable {
        /// Shortest side to `n`, the other to ⌊n·long/short⌋ (transformers and torchvision `Resize(n)`).
        case shortestEdge(Int)
        /// Exactly `height × width`.
        case exact(height: Int, width: Int)
        /// HPSv2's `ResizeMaxSize(n)`: longest side to `n`, the other to round(side·n/longest) (half to even), then
        /// zero padding (⌊pad/2⌋ before) to `n × n`; nothing at all when the longest side is already `n`.
        case longestEdgePad(Int)
        case none
    }

    public var backend: Backend
    public var resize: Resize
    /// Center crop to `(height, width)`, padding with zeros where the image is smaller; nil = no crop.
    public var crop: (height: Int, width: Int)?
    /// Multiplier to [0, 1] (transformers' `rescale_factor`, 1/255); nil = no rescale.
    public var rescaleFactor: Double?
    /// Per-channel mean and std; nil = no normalisation.
    public var mean: [Float]?
    public var std: [Float]?

    public static let openAIMean: [Float] = [0.48145466, 0.4578275, 0.40821073]
    public static let openAIStd: [Float] = [0.26862954, 0.26130258, 0.27577711]

    /// transformers' CLIPImageProcessor defaults: shortest edge 224, crop 224×224, 1/255, OpenAI mean/std.
    public init(backend: Backend = .torchvision, resize: Resize = .shortestEdge(224), crop: (height: Int, width: Int)? = (224, 224),
                rescaleFactor: Double? = 1.0 / 255.0, mean: [Float]? = CLIPImageProcessor.openAIMean,
                std: [Float]? = CLIPImageProcessor.openAIStd) {
        self.backend = backend
        self.resize = resize
        self.crop = crop
        self.rescaleFactor = rescaleFactor
        self.mean = mean
        self.std = std
    }

    public static func == (a: CLIPImageProcessor, b: CLIPImageProcessor) -> Bool {
        a.backend == b.backend && a.resize == b.resize && a.crop?.height == b.crop?.height && a.crop?.width == b.crop?.width
            && a.rescaleFactor == b.rescaleFactor && a.mean == b.mean && a.std == b.std
    }

    /// Reads `directory/preprocessor_config.json` (all defaults when the file does not exist).
    public init(directory: URL) throws {
        let url = directory.appendingPathComponent("preprocessor_config.json")
        if !FileManager.default.fileExists(atPath: url.path) { self.init(); return }
        try self.init(config: ConfigFile.load(url))
    }

    public init(config c: ConfigFile) throws {
        self.init()
        backend = Backend(rawValue: try c.string("evosearch_backend", default: Backend.torchvision.rawValue,
                                                 oneOf: Backend.allCases.map(\.rawValue)))!
        let resample = try c.int("resample", default: 3)
        if resample != 3 { throw c.invalid("resample", "must be 3 (bicubic), the only filter implemented") }
        let mode = try c.string("evosearch_resize", default: "shortest_edge", oneOf: ["shortest_edge", "longest_edge_pad"])
        if try c.bool("do_resize", default: true) {
            var shortest: Int?, height: Int?, width: Int?
            if let v = c.value("size") {
                if case .int(let n) = v {
                    shortest = n
                } else if case .object(let o) = v {
                    let s = ConfigFile(values: o, displayName: c.displayName, keyPath: c.keyPath + "size.")
                    for key in s.keys where !["shortest_edge", "height", "width"].contains(key) {
                        throw c.invalid("size", "must have \"shortest_edge\" or \"height\" and \"width\" (\"\(key)\" is not supported)")
                    }
                    shortest = try s.optionalInt("shortest_edge")
                    height = try s.optionalInt("height"); width = try s.optionalInt("width")
                } else {
                    throw c.invalid("size", "must be an integer or an object")
                }
            } else {
                shortest = 224
            }
            if mode == "longest_edge_pad" {
                guard let n = shortest ?? height, n >= 1 else { throw c.invalid("size", "needs \"shortest_edge\" for evosearch_resize longest_edge_pad") }
                resize = .longestEdgePad(n)
            } else if let n = shortest {
                guard n >= 1 else { throw c.invalid("size", "must be at least 1") }
                resize = .shortestEdge(n)
            } else if let h = height, let w = width, h >= 1, w >= 1 {
                resize = .exact(height: h, width: w)
            } else {
                throw c.invalid("size", "must have \"shortest_edge\" or both \"height\" and \"width\" (≥ 1)")
            }
        } else {
            resize = .none
        }
        if try c.bool("do_center_crop", default: true) && mode != "longest_edge_pad" {
            if let v = c.value("crop_size") {
                if case .int(let n) = v {
                    crop = (n, n)
                } else if case .object(let o) = v {
                    let s = ConfigFile(values: o, displayName: c.displayName, keyPath: c.keyPath + "crop_size.")
                    crop = (try s.int("height"), try s.int("width"))
                } else {
                    throw c.invalid("crop_size", "must be an integer or an object with \"height\" and \"width\"")
                }
            } else {
                crop = (224, 224)
            }
            if let cr = crop, cr.height < 1 || cr.width < 1 { throw c.invalid("crop_size", "must be at least 1×1") }
        } else {
            crop = nil
        }
        rescaleFactor = try c.bool("do_rescale", default: true) ? try c.double("rescale_factor", default: 1.0 / 255.0) : nil
        if try c.bool("do_normalize", default: true) {
            let m = try c.doubles("image_mean", default: CLIPImageProcessor.openAIMean.map(Double.init))
            let s = try c.doubles("image_std", default: CLIPImageProcessor.openAIStd.map(Double.init))
            guard m.count == 3 else { throw c.invalid("image_mean", "must have 3 values (RGB)") }
            guard s.count == 3, s.allSatisfy({ $0 != 0 }) else { throw c.invalid("image_std", "must have 3 non-zero values (RGB)") }
            mean = m.map { Float($0) }; std = s.map { Float($0) }
        } else {
            mean = nil; std = nil
        }
    }

    /// The output size (height, width) for an input of `height × width`, or nil if the steps give no fixed size.
    public var outputSize: (height: Int, width: Int)? {
        if let crop { return crop }
        switch resize {
        case .exact(let h, let w): return (h, w)
        case .longestEdgePad(let n): return (n, n)
        default: return nil
        }
    }

    // MARK: Processing

    /// Pixel values `[N, 3, H, W]` of 8-bit images (RGB; gray and alpha are converted by `Image8.rgb`). All results
    /// must share one size (true whenever there is a crop or a fixed resize).
    public func callAsFunction(_ images: [Image8]) throws(CLIPInputError) -> Tensor {
        var planes: [Float] = []
        var size: (Int, Int)?
        for (i, image) in images.enumerated() {
            let p = try process(image)
            if let s = size, s != (p.height, p.width) {
                throw CLIPInputError("image \(i) preprocesses to \(p.width)×\(p.height), image 0 to \(s.1)×\(s.0): sizes must agree")
            }
            size = (p.height, p.width)
            planes += p.values
        }
        guard let (h, w) = size else { return Tensor(zeros: [0, 3, outputSize?.height ?? 0, outputSize?.width ?? 0]) }
        return Tensor(shape: [images.count, 3, h, w], scalars: planes)
    }

    /// Pixel values of decoded samples `[N, 3, H, W]` in [0, 1], each first rounded to 8 bits as a PNG of it
    /// would be (`Image8(tensor:)`: clamped, ×255, rounded) — so a sample scores the same as its saved PNG.
    public func callAsFunction(_ samples: Tensor) throws(CLIPInputError) -> Tensor {
        guard samples.rank == 4, samples.shape[1] == 3 else {
            throw CLIPInputError("expected decoded images [N, 3, H, W], got \(samples.shape)")
        }
        return try self((0..<samples.shape[0]).map { Image8(tensor: samples.row($0)) })
    }

    /// One image through resize, crop/pad, rescale and normalise; planar RGB floats.
    public func process(_ input: Image8) throws(CLIPInputError) -> (height: Int, width: Int, values: [Float]) {
        var image = input.rgb
        let arithmetic: BicubicResampler.Arithmetic = backend == .torchvision ? .torch : .pillow
        switch resize {
        case .none:
            break
        case .shortestEdge(let n):
            let (h, w) = (image.height, image.width)
            let (short, long) = w <= h ? (w, h) : (h, w)
            // int(n * long / short) in Python: true division in Double, then truncation.
            let newLong = Int(Double(n) * Double(long) / Double(short))
            let (nh, nw) = w <= h ? (newLong, n) : (n, newLong)
            if (nh, nw) != (h, w) { image = BicubicResampler.resize(image, width: nw, height: nh, arithmetic: arithmetic) }
        case .exact(let nh, let nw):
            if (nh, nw) != (image.height, image.width) {
                image = BicubicResampler.resize(image, width: nw, height: nh, arithmetic: arithmetic)
            }
        case .longestEdgePad(let n):
            let (h, w) = (image.height, image.width)
            let scale = Double(n) / Double(max(h, w))
            if scale != 1 {
                let nh = Int((Double(h) * scale).rounded(.toNearestOrEven)), nw = Int((Double(w) * scale).rounded(.toNearestOrEven))
                guard nh >= 1, nw >= 1 else { throw CLIPInputError("a \(w)×\(h) image is too thin to resize to \(n) px") }
                image = BicubicResampler.resize(image, width: nw, height: nh, arithmetic: arithmetic)
                image = image.window(top: -((n - nh) / 2), left: -((n - nw) / 2), height: n, width: n)
            }
        }
        if let (ch, cw) = crop {
            image = image.window(top: cropOffset(image.height, ch), left: cropOffset(image.width, cw), height: ch, width: cw)
        }
        return (image.height, image.width, normalize(image))
    }

    /// Top (or left) of the crop window for a side of `size` cropped to `crop`; negative = padding before.
    func cropOffset(_ size: Int, _ crop: Int) -> Int {
        if size >= crop {
            let d = size - crop
            switch backend {
            case .torchvision, .pil: return d / 2
            case .torchvisionTransforms: return Int((Double(d) / 2).rounded(.toNearestOrEven))
            }
        }
        let d = crop - size
        switch backend {
        case .torchvision, .torchvisionTransforms: return -(d / 2)
        case .pil: return -((d + 1) / 2)
        }
    }

    /// Planar floats with each backend's float32 arithmetic.
    func normalize(_ image: Image8) -> [Float] {
        let plane = image.width * image.height
        var out = [Float](repeating: 0, count: 3 * plane)
        let px = image.pixels
        for c in 0..<3 {
            let m = mean?[c], s = std?[c]
            // Backend-specific constants (each computed as that library does, in float32 where it does).
            var fusedMean: Float = 0, fusedStd: Float = 1
            if backend == .torchvision, let r = rescaleFactor, let m, let s {
                let inv = Float(1.0 / r)
                fusedMean = m * inv; fusedStd = s * inv
            }
            for i in 0..<plane {
                let v = Float(px[i * 3 + c])
                var x: Float
                switch backend {
                case .torchvision:
                    if rescaleFactor != nil && m != nil {
                        x = (v - fusedMean) / fusedStd
                    } else {
                        x = v
                        if let r = rescaleFactor { x = v * Float(r) }
                        if let m, let s { x = (x - m) / s }
                    }
                case .pil:
                    x = v
                    if let r = rescaleFactor { x = Float(Double(v) * r) }
                    if let m, let s { x = (x - m) / s }
                case .torchvisionTransforms:
                    x = v
                    if let r = rescaleFactor { x = r == 1.0 / 255.0 ? v / 255 : Float(Double(v) * r) }
                    if let m, let s { x = (x - m) / s }
                }
                out[c * plane + i] = x
            }
        }
        return out
    }
}
