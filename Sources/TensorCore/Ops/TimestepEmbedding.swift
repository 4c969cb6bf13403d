import Foundation

extension NN {
    /// diffusers' `get_timestep_embedding(timesteps, embedding_dim, flip_sin_to_cos, downscale_freq_shift,
    /// scale, max_period)` (used by `Timesteps`): `[timesteps.count, dim]` with
    /// `freq_i = exp(−ln(max_period)·i / (half − shift))`, `arg = scale·t·freq_i`, halves `[sin(arg), cos(arg)]`
    /// (swapped to `[cos, sin]` when `flipSinToCos`), and a zero column appended when `dim` is odd.
    ///
    /// Every step is done in float32 in PyTorch's order. `exp`, `sin` and `cos` are correctly rounded here;
    /// PyTorch's (MKL) `exp` is off by one ulp for a few frequencies (e.g. 3 of the 160 for dim 320, shift 0),
    /// which moves `t·freq` by one float32 ulp of the argument and hence the result by up to 6e-5 at t ≈ 1000
    /// for those columns; all other entries agree to ≤ 1 ulp.
    public static func timestepEmbedding(_ timesteps: [Float], dim: Int, flipSinToCos: Bool = false,
                                         downscaleFreqShift: Double = 1, scale: Float = 1,
                                         maxPeriod: Int = 10000) -> Tensor {
        precondition(dim >= 0, "NN.timestepEmbedding: negative dim")
        let half = dim / 2
        let logPeriod = Float(-Foundation.log(Double(maxPeriod)))
        let divisor = Float(Double(half) - downscaleFreqShift)
        let freqs: [Float] = (0..<half).map { i in
            let exponent = (logPeriod * Float(i)) / divisor
            return Float(Foundation.exp(Double(exponent)))
        }
        var out = [Float](repeating: 0, count: timesteps.count * dim)
        for (row, t) in timesteps.enumerated() {
            for i in 0..<half {
                let arg = scale * (t * freqs[i])
                let s = Float(Foundation.sin(Double(arg))), c = Float(Foundation.cos(Double(arg)))
                out[row * dim + i] = flipSinToCos ? c : s
                out[row * dim + half + i] = flipSinToCos ? s : c
            }
        }
        return Tensor(shape: [timesteps.count, dim], scalars: out)
    }
}
