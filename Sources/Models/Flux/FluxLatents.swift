import TensorCore

/// FluxPipeline's latent helpers: the VAE latent `[B, C, H, W]` is cut into 2×2 patches, each one token of
/// `4·C` features (`_pack_latents` / `_unpack_latents`), and every token gets the position id
/// `(0, row, column)` of its patch (`_prepare_latent_image_ids`); text tokens get id `(0, 0, 0)`.
/// Unlike the pipeline, which floors an image size it cannot pack (with a warning), sizes that do not fit are
/// errors here.
public enum FluxLatents {
    /// The latent size `(height, width)` of an image of `imageHeight × imageWidth` pixels: each side divided by
    /// `vaeScaleFactor` (8 for FLUX.1's VAE); both must be positive multiples of `2·vaeScaleFactor` so the
    /// latent packs into whole 2×2 patches.
    public static func latentSize(imageHeight: Int, imageWidth: Int,
                                  vaeScaleFactor: Int = 8) throws(FluxPackingError) -> (height: Int, width: Int) {
        precondition(vaeScaleFactor >= 1, "FluxLatents.latentSize: vaeScaleFactor \(vaeScaleFactor) must be positive")
        let factor = 2 * vaeScaleFactor
        for (dimension, value) in [("height", imageHeight), ("width", imageWidth)] where value < factor || value % factor != 0 {
            throw .imageSize(dimension: dimension, value: value, factor: factor)
        }
        return (imageHeight / vaeScaleFactor, imageWidth / vaeScaleFactor)
    }

    /// Packed tokens of an `imageHeight × imageWidth` image: `(H/16)·(W/16)` for FLUX.1 (the `image_seq_len`
    /// FluxPipeline's `calculate_shift` takes).
    public static func sequenceLength(imageHeight: Int, imageWidth: Int, vaeScaleFactor: Int = 8) throws(FluxPackingError) -> Int {
        let (h, w) = try latentSize(imageHeight: imageHeight, imageWidth: imageWidth, vaeScaleFactor: vaeScaleFactor)
        return (h / 2) * (w / 2)
    }

    /// `_pack_latents`: `[B, C, H, W]` → `[B, (H/2)·(W/2), 4·C]`; token `(i, j)` (row-major) holds features
    /// `c·4 + dy·2 + dx` = `latents[b, c, 2i + dy, 2j + dx]`.
    public static func pack(_ latents: Tensor) throws(FluxPackingError) -> Tensor {
        guard latents.rank == 4 else { throw .shape(argument: "latents", expected: "[B, C, H, W]", got: latents.shape) }
        let (b, c, h, w) = (latents.shape[0], latents.shape[1], latents.shape[2], latents.shape[3])
        try checkEven(height: h, width: w)
        let ph = h / 2, pw = w / 2
        var out = [Float](repeating: 0, count: latents.count)
        latents.scalars.withUnsafeBufferPointer { src in
            for n in 0..<b {
                for i in 0..<ph {
                    for j in 0..<pw {
                        let token = ((n * ph + i) * pw + j) * 4 * c
                        for ch in 0..<c {
                            let plane = (n * c + ch) * h * w
                            for dy in 0..<2 {
                                let row = plane + (2 * i + dy) * w + 2 * j
                                out[token + ch * 4 + dy * 2] = src[row]
                                out[token + ch * 4 + dy * 2 + 1] = src[row + 1]
                            }
                        }
                    }
                }
            }
        }
        return Tensor(shape: [b, ph * pw, 4 * c], scalars: out)
    }

    /// `_unpack_latents` for a latent of `height × width` (not the image size): `[B, (H/2)·(W/2), 4·C]` →
    /// `[B, C, H, W]`, the inverse of `pack`.
    public static func unpack(_ tokens: Tensor, height: Int, width: Int) throws(FluxPackingError) -> Tensor {
        try checkEven(height: height, width: width)
        let ph = height / 2, pw = width / 2
        guard tokens.rank == 3, tokens.shape[1] == ph * pw, tokens.shape[2] % 4 == 0, tokens.shape[2] > 0 else {
            throw .shape(argument: "packed latents", expected: "[B, \(ph * pw), 4·C] for a \(height)×\(width) latent", got: tokens.shape)
        }
        let b = tokens.shape[0], c = tokens.shape[2] / 4
        var out = [Float](repeating: 0, count: tokens.count)
        tokens.scalars.withUnsafeBufferPointer { src in
            for n in 0..<b {
                for i in 0..<ph {
                    for j in 0..<pw {
                        let token = ((n * ph + i) * pw + j) * 4 * c
                        for ch in 0..<c {
                            let plane = (n * c + ch) * height * width
                            for dy in 0..<2 {
                                let row = plane + (2 * i + dy) * width + 2 * j
                                out[row] = src[token + ch * 4 + dy * 2]
                                out[row + 1] = src[token + ch * 4 + dy * 2 + 1]
                            }
                        }
                    }
                }
            }
        }
        return Tensor(shape: [b, c, height, width], scalars: out)
    }

    /// `_prepare_latent_image_ids` for a grid of `packedHeight × packedWidth` tokens (half the latent's size):
    /// `[packedHeight·packedWidth, 3]`, row `i·packedWidth + j` = `(0, i, j)`.
    public static func imageIds(packedHeight: Int, packedWidth: Int) -> Tensor {
        precondition(packedHeight >= 0 && packedWidth >= 0, "FluxLatents.imageIds: negative size \(packedHeight)×\(packedWidth)")
        var ids = [Float](repeating: 0, count: packedHeight * packedWidth * 3)
        for i in 0..<packedHeight {
            for j in 0..<packedWidth {
                ids[(i * packedWidth + j) * 3 + 1] = Float(i)
                ids[(i * packedWidth + j) * 3 + 2] = Float(j)
            }
        }
        return Tensor(shape: [packedHeight * packedWidth, 3], scalars: ids)
    }

    /// FluxPipeline's text ids: `[count, 3]` zeros.
    public static func textIds(count: Int) -> Tensor { Tensor(zeros: [count, 3]) }

    private static func checkEven(height: Int, width: Int) throws(FluxPackingError) {
        for (dimension, value) in [("height", height), ("width", width)] where value < 2 || value % 2 != 0 {
            throw .latentSize(dimension: dimension, value: value)
        }
    }
}
