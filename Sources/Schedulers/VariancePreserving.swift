import Foundation
import TensorCore

/// Shared math of the variance-preserving samplers (DDPM, DDIM): turning a model output at level ᾱ_t into
/// the clean-sample and noise estimates, in the float32 operation order diffusers uses.
enum VPPrediction {
    /// diffusers' `pred_original_sample` before clipping.
    static func original(_ modelOutput: Tensor, sample: Tensor, alphaProd: Float,
                         type: PredictionType) -> Tensor {
        let sa = alphaProd.squareRoot(), sb = (1 - alphaProd).squareRoot()
        switch type {
        case .epsilon: return elementwise(sample, modelOutput) { (x, m) in (x - sb * m) / sa }
        case .sample: return modelOutput
        case .vPrediction: return elementwise(sample, modelOutput) { (x, m) in sa * x - sb * m }
        case .flowPrediction: preconditionFailure("variance-preserving scheduler given flow_prediction")
        }
    }

    /// diffusers' DDIM `pred_epsilon` (from the unclipped prediction).
    static func epsilon(_ modelOutput: Tensor, sample: Tensor, alphaProd: Float,
                        type: PredictionType) -> Tensor {
        let sa = alphaProd.squareRoot(), sb = (1 - alphaProd).squareRoot()
        switch type {
        case .epsilon: return modelOutput
        case .sample: return elementwise(sample, modelOutput) { (x, m) in (x - sa * m) / sb }
        case .vPrediction: return elementwise(sample, modelOutput) { (x, m) in sa * m + sb * x }
        case .flowPrediction: preconditionFailure("variance-preserving scheduler given flow_prediction")
        }
    }

    /// The DDIM update `x_prev = sqrt(ᾱ_prev)·x̂₀ + sqrt(1 − ᾱ_prev − std²)·ε̂ (+ std·noise)`.
    static func ddimUpdate(original: Tensor, epsilon: Tensor, alphaPrev: Float, std: Float,
                           noise: Tensor?) -> Tensor {
        let sp = alphaPrev.squareRoot()
        let dir = Swift.max(0, 1 - alphaPrev - std * std).squareRoot()
        if let noise {
            return elementwise(original, epsilon, noise) { (x0, e, z) in (sp * x0 + dir * e) + std * z }
        }
        return elementwise(original, epsilon) { (x0, e) in sp * x0 + dir * e }
    }
}
