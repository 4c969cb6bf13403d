import TensorCore

/// What one scheduler step produced.
public struct SchedulerStepOutput: Sendable {
    /// The state after the step (diffusers' `prev_sample`).
    public var sample: Tensor
    /// The scheduler's estimate of the clean sample at this step (diffusers' `pred_original_sample`,
    /// or the flow equivalent `x − σ·v`).
    public var predictedOriginal: Tensor

    public init(sample: Tensor, predictedOriginal: Tensor) {
        self.sample = sample
        self.predictedOriginal = predictedOriginal
    }
}

/// A sampler after `set_timesteps`: a value holding the inference time grid and the math of one step.
///
/// Conventions shared by every scheduler (they are what the search layer relies on):
/// - Step indices run `0..<stepCount`; step `i` takes the state at index `i` to index `i + 1`
///   (index 0 is the initial noise, index `stepCount` the clean sample).
/// - Schedulers hold no mutable state: every call names its step index and is given its noise explicitly.
/// - `noise == nil` asks for the deterministic form of the step (DDIM with η = 0, the probability-flow
///   ODE step for flow samplers); for deterministic samplers it is the only form and noise is ignored.
/// - `noiseStd(stepIndex:)` is the standard deviation of the fresh Gaussian noise the stochastic step adds
///   (per element, before any model-specific scaling); 0 for deterministic samplers.
/// - Batched tensors: all rows of `sample` are at the same step; `modelOutput` has the same shape.
public protocol DenoisingScheduler: Sendable {
    /// Number of inference steps.
    var stepCount: Int { get }
    /// The timestep passed to the model at each step, as floats (diffusers' `scheduler.timesteps`).
    var timesteps: [Float] { get }
    /// Standard deviation of the initial noise (diffusers' `init_noise_sigma`).
    var initNoiseSigma: Float { get }
    /// Input scaling before the model call (diffusers' `scale_model_input`); identity for most samplers.
    func scaleModelInput(_ sample: Tensor, stepIndex: Int) -> Tensor
    /// One step, `noise` as described above.
    func step(modelOutput: Tensor, stepIndex: Int, sample: Tensor, noise: Tensor?) -> SchedulerStepOutput
    /// Standard deviation of the noise added by the stochastic form of step `stepIndex`.
    func noiseStd(stepIndex: Int) -> Float
    /// Moves states at index `from` back up the noise schedule to the (noisier) index `to < from` by adding
    /// fresh noise, so that a clean-data marginal at `from` becomes the forward marginal at `to`
    /// (the forward process q(x_to | x_from)). `to == 0` is the fully noised start.
    func renoise(_ sample: Tensor, from: Int, to: Int, noise: Tensor) -> Tensor
}
