import Sampling
import TensorCore
import Foundation

/// A trajectory that is `base` and records, in order, each model call it serves: a denoiser evaluation (its rows
/// and step index) or a decode (its rows). What `ThroughputBench` replays on the PyTorch side, so both sides run the
/// same batch shapes in the same order. Thread-safe.
public final class RecordingTrajectory: TrajectoryWrapper, @unchecked Sendable {
    /// One model call: `step` is the state index of an evaluation, nil for a decode.
    public struct Call: Sendable, Equatable {
        public var rows: Int
        public var step: Int?
        public init(rows: Int, step: Int?) { self.rows = rows; self.step = step }
    }

    public let base: any Trajectory
    private let lock = NSLock()
    private var recorded: [Call] = []

    public init(_ base: any Trajectory) { self.base = base }

    /// The calls served so far, in order.
    public var calls: [Call] { lock.withLock { recorded } }

    public func evaluate(_ states: Tensor, at index: Int, cancellation: CancellationCheck) throws -> Tensor {
        let out = try base.evaluate(states, at: index, cancellation: cancellation)
        lock.withLock { recorded.append(Call(rows: states.shape[0], step: index)) }
        return out
    }

    public func decode(_ states: Tensor) throws -> Tensor {
        let out = try base.decode(states)
        lock.withLock { recorded.append(Call(rows: states.shape[0], step: nil)) }
        return out
    }
}
