import Foundation
import TensorCore

/// Simple statistics of decoded images `[N, 3, H, W]` in [0, 1], as rewards needing no model: useful to test
/// search on real pipelines and as sanity baselines.
/// - `brightness`: mean of all pixels.
/// - `contrast`: standard deviation of the luminance 0.299R + 0.587G + 0.114B.
/// - `colorfulness`: Hasler & Süsstrunk (2003) on 0–255 values: σ_rgyb + 0.3·μ_rgyb with rg = R − G and
///   yb = (R + G)/2 − B.
public struct ImageStatisticReward: Reward {
    public enum Kind: String, CaseIterable, Sendable { case brightness, contrast, colorfulness }
    public let kind: Kind
    public var name: String { kind.rawValue }

    public init(_ kind: Kind) { self.kind = kind }

    public func scores(_ samples: Tensor) throws -> [Float] {
        try requireImages(samples)
        let plane = samples.shape[2] * samples.shape[3]
        return (0..<samples.shape[0]).map { n in
            let base = n * 3 * plane
            let p = samples.scalars
            switch kind {
            case .brightness:
                var s = 0.0
                for i in base..<(base + 3 * plane) { s += Double(p[i]) }
                return Float(s / Double(3 * plane))
            case .contrast:
                var s = 0.0, s2 = 0.0
                for i in 0..<plane {
                    let y = 0.299 * Double(p[base + i]) + 0.587 * Double(p[base + plane + i]) + 0.114 * Double(p[base + 2 * plane + i])
                    s += y; s2 += y * y
                }
                let m = s / Double(plane)
                return Float(max(0, s2 / Double(plane) - m * m).squareRoot())
            case .colorfulness:
                var srg = 0.0, srg2 = 0.0, syb = 0.0, syb2 = 0.0
                for i in 0..<plane {
                    let r = 255 * Double(p[base + i]), g = 255 * Double(p[base + plane + i]), b = 255 * Double(p[base + 2 * plane + i])
                    let rg = r - g, yb = 0.5 * (r + g) - b
                    srg += rg; srg2 += rg * rg; syb += yb; syb2 += yb * yb
                }
                let k = Double(plane)
                let mrg = srg / k, myb = syb / k
                let vrg = max(0, srg2 / k - mrg * mrg), vyb = max(0, syb2 / k - myb * myb)
                return Float((vrg + vyb).squareRoot() + 0.3 * (mrg * mrg + myb * myb).squareRoot())
            }
        }
    }
}
