import TensorCore

/// A network (or an exact formula) that the sampler calls once per step.
///
/// `predict` takes a batch `[N, …]` of (scaled) model inputs, all at the same timestep, and returns what
/// the paired scheduler's prediction type expects (ε, v, x0 or flow velocity), same shape. The timestep is
/// the scheduler's float timestep, exactly as diffusers passes it to the model. One call on N rows is N NFE.
/// A denoiser throws when it cannot answer (an input of the wrong shape, a remote model that failed), and
/// may stop early when `cancellation` asks (between the blocks of a network; the output is then lost).
public protocol Denoiser: Sendable {
    func predict(_ x: Tensor, timestep: Float, cancellation: CancellationCheck) throws -> Tensor
}

extension Denoiser {
    /// A prediction that runs to the end.
    public func predict(_ x: Tensor, timestep: Float) throws -> Tensor {
        try predict(x, timestep: timestep, cancellation: .never)
    }
}
