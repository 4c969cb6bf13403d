import Foundation

/// Antialiased bicubic resampling of 8-bit images, bit-exact with the two implementations image pipelines use:
///
/// - `.pillow`: Pillow's `Image.resize(size, Image.BICUBIC)` (libImaging/Resample.c) — what transformers'
///   `CLIPImageProcessorPil`, torchvision transforms on PIL images (OpenAI's `clip`, open_clip, HPSv2) and any
///   code that resizes PIL images get;
/// - `.torch`: PyTorch's uint8 `interpolate(mode="bicubic", antialias=True, align_corners=False)` (ATen's
///   `_compute_index_ranges_int16_weights` + the separable uint8 kernels) — what torchvision's `resize` on uint8
///   tensors, and so transformers' default torchvision-backed `CLIPImageProcessor`, gets.
///
/// Both compute, per axis and output index i, the source window around centre c = (i + ½)·in/out with the Keys
/// cubic (a = −½) widened by the downscale factor (support 2·max(in/out, 1) pixels), normalise the weights in
/// Double and round them to fixed point; the width pass runs first, rounded and clamped to 8 bits, then the
/// height pass. They differ only in fixed point: Pillow uses 22 fractional bits, PyTorch int16 weights with as
/// many fractional bits as the axis's largest weight allows (about 14) — so their outputs differ by ±1 (rarely 2)
/// in under 1 % of pixels. An axis whose size does not change is copied, not filtered.
public enum BicubicResampler {
    /// Which implementation's fixed-point arithmetic to reproduce.
    public enum Arithmetic: String, Sendable, CaseIterable {
        case pillow
        case torch
    }

    /// `image` resized to `width × height` (any channel count, every channel alike). Sizes must be ≥ 1.
    public static func resize(_ image: Image8, width: Int, height: Int, arithmetic: Arithmetic) -> Image8 {
        precondition(width >= 1 && height >= 1, "BicubicResampler: output size \(width)×\(height) must be at least 1×1")
        precondition(image.width >= 1 && image.height >= 1, "BicubicResampler: empty input image")
        var current = image
        if width != image.width {
            let taps = AxisTaps(inSize: image.width, outSize: width, arithmetic: arithmetic)
            current = horizontal(current, taps)
        }
        if height != image.height {
            let taps = AxisTaps(inSize: image.height, outSize: height, arithmetic: arithmetic)
            current = vertical(current, taps)
        }
        return current
    }

    /// Fixed-point filter taps of one axis: for output i, `counts[i]` weights starting at source `starts[i]`,
    /// stored at `weights[i·stride …]`, with `precision` fractional bits.
    struct AxisTaps {
        var starts: [Int] = []
        var counts: [Int] = []
        var weights: [Int32] = []
        var stride = 0
        var precision = 0

        init(inSize: Int, outSize: Int, arithmetic: Arithmetic) {
            let scale = Double(inSize) / Double(outSize)
            let filterScale = max(scale, 1)
            let support = 2.0 * filterScale
            let inverse = 1.0 / filterScale
            stride = Int(support.rounded(.up)) * 2 + 1
            var real = [Double](repeating: 0, count: outSize * stride)
            starts = [Int](repeating: 0, count: outSize)
            counts = [Int](repeating: 0, count: outSize)
            var largest = 0.0
            for i in 0..<outSize {
                let center = (Double(i) + 0.5) * scale
                // C casts truncate toward zero; Int(_:) does too.
                let lo = max(Int(center - support + 0.5), 0)
                let n = min(max(min(Int(center + support + 0.5), inSize) - lo, 0), stride)
                var total = 0.0
                for j in 0..<n {
                    let w = kernel((Double(j + lo) - center + 0.5) * inverse, arithmetic)
                    real[i * stride + j] = w
                    total += w
                }
                if total != 0 {
                    for j in 0..<n {
                        real[i * stride + j] /= total
                        largest = max(largest, real[i * stride + j])
                    }
                }
                starts[i] = lo
                counts[i] = n
            }
            switch arithmetic {
            case .pillow:
                precision = 22
            case .torch:
                // The most fractional bits (< 22) for which 2·largest still fits an int16 after rounding.
                precision = 0
                while precision < 22 {
                    if Int(0.5 + largest * Double(1 << (precision + 1))) >= 1 << 15 { break }
                    precision += 1
                }
            }
            let one = Double(1 << precision)
            weights = real.map { w in
                let v = w * one
                return Int32(v < 0 ? Int(-0.5 + v) : Int(0.5 + v))
            }
        }

        /// The Keys cubic with a = −½, in each implementation's own evaluation order (they round differently in
        /// the last bit, which can flip a fixed-point weight).
        @inline(__always)
        func kernel(_ t: Double, _ arithmetic: Arithmetic) -> Double {
            let a = -0.5
            let x = abs(t)
            switch arithmetic {
            case .pillow:
                if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
                if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
                return 0
            case .torch:
                if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
                if x < 2 { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }
                return 0
            }
        }
    }

    @inline(__always)
    static func clamp8(_ acc: Int32, _ precision: Int) -> UInt8 {
        let v = acc >> Int32(precision)
        return UInt8(clamping: v)
    }

    static func horizontal(_ image: Image8, _ t: AxisTaps) -> Image8 {
        let c = image.channels, inW = image.width, h = image.height, outW = t.starts.count
        var out = [UInt8](repeating: 0, count: outW * h * c)
        let half = Int32(1) << Int32(max(t.precision - 1, 0))
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                t.weights.withUnsafeBufferPointer { w in
                    for y in 0..<h {
                        let row = y * inW * c
                        for x in 0..<outW {
                            let lo = t.starts[x], n = t.counts[x], wo = x * t.stride
                            for ch in 0..<c {
                                var acc = half
                                for j in 0..<n { acc &+= Int32(src[row + (lo + j) * c + ch]) &* w[wo + j] }
                                dst[(y * outW + x) * c + ch] = clamp8(acc, t.precision)
                            }
                        }
                    }
                }
            }
        }
        return Image8(width: outW, height: h, channels: c, pixels: out)
    }

    static func vertical(_ image: Image8, _ t: AxisTaps) -> Image8 {
        let c = image.channels, w = image.width, outH = t.starts.count
        let rowLength = w * c
        var out = [UInt8](repeating: 0, count: outH * rowLength)
        let half = Int32(1) << Int32(max(t.precision - 1, 0))
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                t.weights.withUnsafeBufferPointer { wt in
                    var acc = [Int32](repeating: 0, count: rowLength)
                    for y in 0..<outH {
                        let lo = t.starts[y], n = t.counts[y], wo = y * t.stride
                        for k in 0..<rowLength { acc[k] = half }
                        for j in 0..<n {
                            let weight = wt[wo + j], row = (lo + j) * rowLength
                            for k in 0..<rowLength { acc[k] &+= Int32(src[row + k]) &* weight }
                        }
                        for k in 0..<rowLength { dst[y * rowLength + k] = clamp8(acc[k], t.precision) }
                    }
                }
            }
        }
        return Image8(width: w, height: outH, channels: c, pixels: out)
    }
}

extension Image8 {
    /// The `height × width` window whose top-left corner is at (`top`, `left`) in this image; the window may
    /// reach outside the image (negative offsets or past the edges), and pixels outside are `fill` (center crop
    /// and zero padding in one step).
    public func window(top: Int, left: Int, height h: Int, width w: Int, fill: UInt8 = 0) -> Image8 {
        precondition(h >= 0 && w >= 0, "Image8.window: negative size \(w)×\(h)")
        var out = [UInt8](repeating: fill, count: h * w * channels)
        let y0 = max(0, top), y1 = min(height, top + h)
        let x0 = max(0, left), x1 = min(width, left + w)
        if y0 < y1 && x0 < x1 {
            for y in y0..<y1 {
                let s = (y * width + x0) * channels
                let d = ((y - top) * w + (x0 - left)) * channels
                let n = (x1 - x0) * channels
                for k in 0..<n { out[d + k] = pixels[s + k] }
            }
        }
        return Image8(width: w, height: h, channels: channels, pixels: out)
    }
}
