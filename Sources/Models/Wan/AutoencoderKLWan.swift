import Foundation
import ModelIO
import TensorCore

/// Why a Wan VAE call refused its input or stopped.
public enum WanVAEError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `argument` does not have the shape the VAE needs (`expected` says which).
    case shape(argument: String, expected: String, got: [Int])
    /// The video's frame count is not `1 + 4k`.
    case frameCount(Int)
    /// The cancellation check asked to stop (polled between chunks and blocks); nothing was returned.
    case cancelled

    public var description: String {
        switch self {
        case let .shape(argument, expected, got):
            return "Wan VAE: \(argument) has shape \(got); it must be \(expected)"
        case let .frameCount(f):
            let below = (f - 1) / 4 * 4 + 1
            return "Wan VAE: encode needs 1 + 4k frames (1, 5, 9, …), got \(f); drop the last \(f - below) frame(s) or pad to \(below + 4)"
        case .cancelled:
            return "Wan VAE: cancelled"
        }
    }
}

/// diffusers' `AutoencoderKLWan` for Wan 2.1 (`AutoencoderKLWanConfig` lists the options): a causal 3-D VAE, video
/// `[N, 3, 1 + 4k, H, W]` ↔ latents `[N, z_dim, 1 + k, H/8, W/8]`, loaded strictly from a diffusers `vae/`
/// directory (config.json + diffusion_pytorch_model[.variant].safetensors, sharded or not). Convolution weights stay
/// in their stored precision (f16 / bf16 mapped, widened as the kernels read them); activations are float32.
///
/// `decode` and `encode` run chunked as diffusers' `_decode` / `_encode` do — one latent frame at a time (→ 1, then
/// 4 frames), and 1, then 4 frames at a time — with the causal feature cache (each time-padded convolution keeps its
/// input's last 2 frames), so memory is bounded by one chunk whatever the video's length. Samples of a batch are
/// computed together, as diffusers does. No tiling (diffusers' `enable_tiling`) and no slicing option.
public struct AutoencoderKLWan: Sendable {
    public let config: AutoencoderKLWanConfig
    let encoder: WanEncoder3d
    let quantConv: WanCausalConv3d
    let postQuantConv: WanCausalConv3d
    let decoder: WanDecoder3d

    /// Loads `directory` (config.json + diffusion_pytorch_model[.variant].safetensors).
    public init(directory: URL, variant: String? = nil) throws {
        let config = try AutoencoderKLWanConfig(ConfigFile.load(directory.appendingPathComponent("config.json")))
        let store = try WeightStore(directory: directory, baseName: "diffusion_pytorch_model", variant: variant)
        try self.init(config: config, weights: store)
        try store.finish()
    }

    public init(config c: AutoencoderKLWanConfig, weights s: WeightStore) throws {
        config = c
        encoder = try WanEncoder3d(s.scope("encoder"), config: c)
        quantConv = try WanCausalConv3d(s, "quant_conv", in: 2 * c.zDim, out: 2 * c.zDim, cube: 1)
        postQuantConv = try WanCausalConv3d(s, "post_quant_conv", in: c.zDim, out: c.zDim, cube: 1)
        decoder = try WanDecoder3d(s.scope("decoder"), config: c)
    }

    /// `vae.decode(z).sample`: latents `[N, z_dim, F′, H′, W′]` as diffusers' decode receives them (already
    /// un-normalised with `latents_mean` / `latents_std`) → video `[N, out_channels, 1 + 4(F′ − 1), 8H′, 8W′]`
    /// clamped to [−1, 1]. `cancellation` is polled between chunks and blocks (`.cancelled`).
    public func decode(_ z: Tensor, cancellation: CancellationCheck = .never) throws(WanVAEError) -> Tensor {
        let c = config
        guard z.rank == 5, z.shape[0] >= 1, z.shape[1] == c.zDim, z.shape[2] >= 1, z.shape[3] >= 1, z.shape[4] >= 1 else {
            throw .shape(argument: "latents", expected: "[N, \(c.zDim), F′ ≥ 1, H′, W′]", got: z.shape)
        }
        let x = postQuantConv(z)
        var cache = WanFeatureCache()
        var chunks: [Tensor] = []
        for i in 0..<z.shape[2] {
            if cancellation.isCancelled { throw .cancelled }
            cache.beginChunk()
            chunks.append(try decoder(NN.frames(x, i..<(i + 1)), cache: &cache, cancellation: cancellation))
        }
        return NN.concatFrames(chunks).clamped(to: -1...1)
    }

    /// The posterior's mean (`vae.encode(x).latent_dist.mean`) of video `[N, in_channels, 1 + 4k, H, W]` with H and
    /// W multiples of `spatialScaleFactor` → `[N, z_dim, 1 + k, H/8, W/8]` (not normalised; diffusers' pipelines
    /// apply `latents_mean` / `latents_std` themselves).
    public func encode(_ x: Tensor, cancellation: CancellationCheck = .never) throws(WanVAEError) -> Tensor {
        try encodePosterior(x, cancellation: cancellation).mean
    }

    /// The posterior `DiagonalGaussianDistribution(h)` of `encode` as its mean and log-variance (clamped to
    /// [−30, 20] as diffusers clamps it), each `[N, z_dim, 1 + k, H/8, W/8]`.
    public func encodePosterior(_ x: Tensor, cancellation: CancellationCheck = .never) throws(WanVAEError)
        -> (mean: Tensor, logvar: Tensor) {
        let c = config, s = c.spatialScaleFactor
        guard x.rank == 5, x.shape[0] >= 1, x.shape[1] == c.inChannels, x.shape[2] >= 1,
              x.shape[3] >= s, x.shape[3] % s == 0, x.shape[4] >= s, x.shape[4] % s == 0 else {
            throw .shape(argument: "video", expected: "[N, \(c.inChannels), 1 + 4k, H, W] with H and W multiples of \(s)",
                         got: x.shape)
        }
        let frames = x.shape[2]
        guard (frames - 1) % c.temporalScaleFactor == 0 else { throw .frameCount(frames) }
        var cache = WanFeatureCache()
        var chunks: [Tensor] = []
        var start = 0
        while start < frames {
            if cancellation.isCancelled { throw .cancelled }
            let count = start == 0 ? 1 : c.temporalScaleFactor
            cache.beginChunk()
            chunks.append(try encoder(NN.frames(x, start..<(start + count)), cache: &cache, cancellation: cancellation))
            start += count
        }
        let h = quantConv(NN.concatFrames(chunks))
        let (n, f, hh, ww) = (h.shape[0], h.shape[2], h.shape[3], h.shape[4])
        let half = c.zDim * f * hh * ww
        var means = [Float](), logvars = [Float]()
        means.reserveCapacity(n * half)
        logvars.reserveCapacity(n * half)
        h.scalars.withUnsafeBufferPointer { p in
            for img in 0..<n {
                means.append(contentsOf: p[(2 * img * half)..<((2 * img + 1) * half)])
                logvars.append(contentsOf: p[((2 * img + 1) * half)..<((2 * img + 2) * half)].map { Swift.min(Swift.max($0, -30), 20) })
            }
        }
        let shape = [n, c.zDim, f, hh, ww]
        return (Tensor(shape: shape, scalars: means), Tensor(shape: shape, scalars: logvars))
    }
}

extension AutoencoderKLWanConfig {
    /// An estimate of `decode`'s peak working set, in bytes, for latents of `latentHeight × latentWidth` (one
    /// sample; scale by the batch): the feature cache once every chunk has filled it (each time-padded convolution
    /// keeps 2 input frames at its resolution) plus the largest transient of one steady-state chunk (1 latent frame
    /// → 4 frames): at each convolution its input, its output, the block's skip tensor and the convolution's
    /// gathered `C·KT`-plane images with their channels-last copy (one output frame at a time above 16 MB), plus the
    /// chunk's output. Weights and the decoded video (the result) are not included.
    public func decodeWorkingBytes(latentHeight: Int, latentWidth: Int) -> Int {
        let dims = decoderDims
        var cache = 0, peak = 0
        var frames = 1, plane = latentHeight * latentWidth
        let gatherLimit = 4 << 20
        // A causal k×k×k convolution from cin to cout channels at the current size.
        func conv(_ cin: Int, _ cout: Int, kt: Int, cached: Bool, skip: Int) {
            if cached { cache += 2 * cin * plane }
            let perFrame = cin * kt * plane
            let group = Swift.max(1, Swift.min(frames, gatherLimit / Swift.max(1, perFrame)))
            let transient = cin * frames * plane + cout * frames * plane + skip + 2 * group * perFrame + group * cout * plane
            peak = Swift.max(peak, transient)
        }
        func resnet(_ cin: Int, _ cout: Int) {
            conv(cin, cout, kt: 3, cached: true, skip: 2 * cin * frames * plane)
            conv(cout, cout, kt: 3, cached: true, skip: (cin + cout) * frames * plane)
        }
        conv(zDim, dims[0], kt: 3, cached: true, skip: 0)
        resnet(dims[0], dims[0])
        peak = Swift.max(peak, 6 * dims[0] * plane)   // the mid attention's norm, q|k|v, q, k, v and output
        resnet(dims[0], dims[0])
        let last = dimMult.count - 1
        for i in 0...last {
            let cout = dims[i + 1]
            var cin = i > 0 ? dims[i] / 2 : dims[0]
            for _ in 0...numResBlocks { resnet(cin, cout); cin = cout }
            if i != last {
                if temperalUpsample[i] {
                    conv(cout, 2 * cout, kt: 3, cached: true, skip: 0)
                    frames *= 2
                }
                plane *= 4
                conv(cout, cout / 2, kt: 1, cached: false, skip: cout * frames * plane / 4)
                // The 2-D conv of the upsampled frames: upsampled input and its im2col / channels-last copy.
                peak = Swift.max(peak, cout * frames * plane * 3 + cout / 2 * frames * plane)
            }
        }
        conv(dims.last!, outChannels, kt: 3, cached: true, skip: 0)
        let output = outChannels * frames * plane
        return 4 * (cache + peak + output)
    }
}
