import ModelIO

/// diffusers' `AutoencoderKLWan` configuration (Wan 2.1's causal 3-D VAE), decoded from `vae/config.json` with
/// diffusers' defaults (the published Wan2.1 sizes). Every key of that class is read; a key it does not take
/// (other than `_`-prefixed metadata) is refused naming the key.
///
/// Limits: Wan 2.2's options are refused naming the key — `is_residual: true` (residual down/up blocks) and a
/// `patch_size` other than null / 1; `decoder_base_dim` is honoured. `attn_scales` must be empty (as in every
/// published checkpoint: diffusers 0.42.1's encoder cannot run attention blocks in its down path, and its decoder
/// ignores the key). The time compression must be 4 (two `true` entries in `temperal_downsample`), which the
/// chunked encode (1, then 4 frames at a time) and decode (one latent frame at a time) assume.
public struct AutoencoderKLWanConfig: Sendable, Equatable {
    public var baseDim: Int
    /// `decoder_base_dim`, or `base_dim` when null or absent.
    public var decoderBaseDim: Int
    public var zDim: Int
    public var dimMult: [Int]
    public var numResBlocks: Int
    public var attnScales: [Double]
    public var temperalDownsample: [Bool]
    public var dropout: Double
    public var latentsMean: [Float]
    public var latentsStd: [Float]
    public var inChannels: Int
    public var outChannels: Int
    /// `scale_factor_spatial`: pixels per latent along height and width (2 per down block after the first).
    public var spatialScaleFactor: Int
    /// `scale_factor_temporal`: frames per latent frame after the first (`1 + 4(F′ − 1)` frames decode from F′).
    public var temporalScaleFactor: Int

    /// The keys `AutoencoderKLWan.__init__` takes.
    public static let keys = ["base_dim", "decoder_base_dim", "z_dim", "dim_mult", "num_res_blocks", "attn_scales",
                              "temperal_downsample", "dropout", "latents_mean", "latents_std", "is_residual",
                              "in_channels", "out_channels", "patch_size", "scale_factor_temporal",
                              "scale_factor_spatial"]

    static let defaultLatentsMean: [Double] = [-0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508,
                                               0.4134, -0.0715, 0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921]
    static let defaultLatentsStd: [Double] = [2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743,
                                              3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253, 2.8251, 1.9160]

    public init(_ c: ConfigFile) throws {
        let file = c.displayName
        if let name = c.className, name != "AutoencoderKLWan" {
            throw ModelConfigError(file, "_class_name is \"\(name)\"; expected AutoencoderKLWan")
        }
        if let unknown = c.keys.sorted().first(where: { !$0.hasPrefix("_") && !Self.keys.contains($0) }) {
            throw ModelConfigError(file, "unknown option \"\(unknown)\" (AutoencoderKLWan takes \(Self.keys.joined(separator: ", ")))")
        }
        baseDim = try c.int("base_dim", default: 96)
        decoderBaseDim = try c.optionalInt("decoder_base_dim") ?? baseDim
        zDim = try c.int("z_dim", default: 16)
        dimMult = try c.ints("dim_mult", default: [1, 2, 4, 4])
        numResBlocks = try c.int("num_res_blocks", default: 2)
        attnScales = try c.doubles("attn_scales", default: [])
        if let v = c.value("temperal_downsample") {
            guard let list = v.arrayValue?.compactMap(\.boolValue), list.count == v.arrayValue?.count else {
                throw c.invalid("temperal_downsample", "must be a list of true / false")
            }
            temperalDownsample = list
        } else {
            temperalDownsample = [false, true, true]
        }
        dropout = try c.double("dropout", default: 0)
        latentsMean = try c.doubles("latents_mean", default: Self.defaultLatentsMean).map { Float($0) }
        latentsStd = try c.doubles("latents_std", default: Self.defaultLatentsStd).map { Float($0) }
        inChannels = try c.int("in_channels", default: 3)
        outChannels = try c.int("out_channels", default: 3)
        spatialScaleFactor = try c.optionalInt("scale_factor_spatial") ?? (1 << Swift.max(0, dimMult.count - 1))
        temporalScaleFactor = try c.optionalInt("scale_factor_temporal") ?? 4

        if try c.bool("is_residual", default: false) {
            throw ModelConfigError(file, "is_residual is true (Wan 2.2's residual down/up blocks), which is not implemented; only Wan 2.1's VAE (is_residual false) is")
        }
        if let patch = try c.optionalInt("patch_size"), patch != 1 {
            throw ModelConfigError(file, "patch_size is \(patch) (Wan 2.2's patchified VAE), which is not implemented; only null or 1 is")
        }
        for (key, value) in [("base_dim", baseDim), ("decoder_base_dim", decoderBaseDim), ("z_dim", zDim),
                             ("num_res_blocks", numResBlocks), ("in_channels", inChannels), ("out_channels", outChannels)]
            where value < 1 {
            throw ModelConfigError(file, "\(key) is \(value); it must be at least 1")
        }
        if dimMult.isEmpty || dimMult.contains(where: { $0 < 1 }) {
            throw ModelConfigError(file, "dim_mult \(dimMult) must be a non-empty list of positive multipliers")
        }
        if !attnScales.isEmpty {
            throw ModelConfigError(file, "attn_scales is \(attnScales); only [] is supported (the published Wan 2.1 VAEs have attention only in their mid blocks)")
        }
        if temperalDownsample.count != dimMult.count - 1 {
            throw ModelConfigError(file, "temperal_downsample has \(temperalDownsample.count) entries; it needs one per down block after the first, i.e. \(dimMult.count - 1) for dim_mult \(dimMult)")
        }
        let timeDowns = temperalDownsample.filter { $0 }.count
        if temporalScaleFactor != 4 || timeDowns != 2 {
            throw ModelConfigError(file, "scale_factor_temporal is \(temporalScaleFactor) with \(timeDowns) time downsamplings in temperal_downsample \(temperalDownsample); the chunked encode and decode need 4 (two true entries)")
        }
        if spatialScaleFactor != 1 << (dimMult.count - 1) {
            throw ModelConfigError(file, "scale_factor_spatial is \(spatialScaleFactor), but dim_mult \(dimMult) gives \(dimMult.count - 1) spatial downsamplings, i.e. \(1 << (dimMult.count - 1))")
        }
        if latentsMean.count != zDim || latentsStd.count != zDim {
            throw ModelConfigError(file, "latents_mean has \(latentsMean.count) and latents_std \(latentsStd.count) values; both need z_dim = \(zDim)")
        }
        if latentsStd.contains(where: { !($0 > 0) }) {
            throw ModelConfigError(file, "latents_std \(latentsStd) must be positive")
        }
    }

    /// The encoder's channel widths: `base_dim · [1] + dim_mult`.
    var encoderDims: [Int] { ([1] + dimMult).map { baseDim * $0 } }
    /// The decoder's channel widths: `decoder_base_dim · [dim_mult.last] + dim_mult reversed`.
    var decoderDims: [Int] { ([dimMult.last!] + dimMult.reversed()).map { decoderBaseDim * $0 } }
    /// Whether decoder up block i doubles the frames (`temperal_downsample` reversed).
    var temperalUpsample: [Bool] { temperalDownsample.reversed() }
}
