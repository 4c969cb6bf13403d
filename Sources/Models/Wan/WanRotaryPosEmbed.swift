import TensorCore

/// diffusers' `WanRotaryPosEmbed(attention_head_dim, patch_size, max_seq_len, theta=10000)` and the rotation of
/// `WanAttnProcessor`: a head's features are split into frame, height and width parts
/// (`WanTransformerConfig.ropeAxesDims`); token `(f, h, w)` of the patch grid (frames slowest) turns pair
/// `(2j, 2j+1)` of each part by its own position times `θ^(−2j / part size)`. The angles are FluxPosEmbed's
/// (double precision, as diffusers' float64 tables), with one position column per axis.
public struct WanRotaryPosEmbed: Sendable {
    let table: FluxPosEmbed

    /// The tables for a `frames × height × width` grid of patches.
    public init(frames: Int, height: Int, width: Int, axesDims: [Int]) {
        var ids = [Float]()
        ids.reserveCapacity(frames * height * width * 3)
        for f in 0..<frames {
            for h in 0..<height {
                for w in 0..<width { ids += [Float(f), Float(h), Float(w)] }
            }
        }
        table = FluxPosEmbed(ids: Tensor(shape: [frames * height * width, 3], scalars: ids), axesDims: axesDims)
    }

    /// Rotates queries or keys `[B, tokens, heads·headDim]`.
    func apply(_ x: Tensor) -> Tensor { table.apply(x) }
}
