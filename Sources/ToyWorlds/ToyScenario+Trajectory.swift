import Models
import Sampling
import Schedulers

extension ToyScenario {
    /// The sampler of the scenario's path.
    /// - "vp": DDIM with η = 1 over Stable Diffusion's noise schedule (scaled_linear betas 0.00085–0.012,
    ///   1000 training steps, leading spacing, steps_offset 1, set_alpha_to_one false, no clipping).
    /// - "flow": the stochastic flow sampler (first-order SDE-DPM-Solver++ on rectified-flow sigmas, shift 1).
    public func makeScheduler() -> any DenoisingScheduler {
        switch path {
        case .vp:
            let config = DDIMConfig(numTrainTimesteps: 1000, betaStart: 0.00085, betaEnd: 0.012, betaSchedule: .scaledLinear,
                                    clipSample: false, setAlphaToOne: false, stepsOffset: 1,
                                    predictionType: .epsilon, timestepSpacing: .leading)
            return DDIMScheduler(config: config, numInferenceSteps: steps, eta: 1)
        case .flow:
            return FlowMatchSDEScheduler(config: FlowMatchSDEConfig(), numInferenceSteps: steps)
        }
    }

    /// The exact model and its sampler as a `Trajectory` over states of shape `[dimension]`.
    public func makeTrajectory() throws(ToyScenarioError) -> DenoisingTrajectory {
        let scheduler = makeScheduler()
        let table = (scheduler as? DDIMScheduler)?.noiseSchedule.alphasCumprod
        return DenoisingTrajectory(denoiser: try makeDenoiser(alphasCumprod: table), scheduler: scheduler, stateShape: [dimension])
    }
}
