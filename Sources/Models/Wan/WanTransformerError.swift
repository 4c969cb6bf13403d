/// A call of `WanTransformer3DModel` whose inputs do not fit the model; one line saying what to pass.
public enum WanTransformerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// An input of the wrong shape: which argument, the shape it must have, the shape it has.
    case shape(argument: String, expected: String, got: [Int])
    /// A latent extent (`axis`: "frames", "height" or "width") that is not a multiple of the patch size.
    case notDivisible(axis: String, size: Int, patch: Int)
    /// More patches along `axis` than the rotary tables cover (`rope_max_seq_len`).
    case tooManyPositions(axis: String, count: Int, max: Int)
    /// The call's cancellation check asked to stop between two blocks.
    case cancelled

    public var description: String {
        switch self {
        case .cancelled: "cancelled"
        case let .shape(argument, expected, got):
            "\(argument) has shape \(got); expected \(expected)"
        case let .notDivisible(axis, size, patch):
            "latent \(axis) \(size) is not a positive multiple of the patch size \(patch); use \(max(size / patch, 1) * patch)"
                + (size > patch ? " or \((size / patch + 1) * patch)" : "")
        case let .tooManyPositions(axis, count, max):
            "\(count) patches along \(axis) exceed the transformer's rope_max_seq_len \(max); use a smaller video"
        }
    }
}
