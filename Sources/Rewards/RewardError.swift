import Foundation

/// Why a reward could not be built or named. `description` is one line, fit for a command-line error.
public enum RewardError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A name that is not in the registry; `known` lists the registry's names.
    case unknownReward(name: String, known: [String])
    /// A `--reward` specification that does not parse (composite syntax).
    case invalidSpec(spec: String, reason: String)
    /// A model-based reward was asked for without a model directory.
    case missingModel(reward: String)
    /// The model directory is not of the kind the reward needs (or cannot be loaded); `reason` says what is wrong.
    case wrongModel(reward: String, directory: String, reason: String)
    /// The reward compares images with the prompt, and the prompt is empty.
    case emptyPrompt(reward: String)
    /// `scores` was given samples of a shape the reward does not take (`expected` says which).
    case unsupportedSamples(reward: String, shape: [Int], expected: String)
    /// The reward's model failed on a batch.
    case scoringFailed(reward: String, reason: String)
    /// The reward does not score what the model makes (`fix` says what to give instead).
    case wrongSampleKind(reward: String, takes: RewardInput, model: RewardInput, fix: String)

    public var description: String {
        switch self {
        case let .unknownReward(name, known):
            return "unknown reward \"\(name)\"; known rewards: \(known.joined(separator: ", "))"
        case let .invalidSpec(spec, reason):
            return "invalid reward \"\(spec)\": \(reason)"
        case let .missingModel(reward):
            return "reward \(reward) needs a model: pass --reward-model DIR (or --reward-model \(reward)=DIR)"
        case let .wrongModel(reward, directory, reason):
            return "reward \(reward): \(directory): \(reason)"
        case let .emptyPrompt(reward):
            return "reward \(reward) compares images with the prompt, which is empty: pass a non-empty --prompt"
        case let .unsupportedSamples(reward, shape, expected):
            return "reward \(reward) takes \(expected); it was given samples of shape \(shape)"
        case let .scoringFailed(reward, reason):
            return "reward \(reward) failed: \(reason)"
        case let .wrongSampleKind(reward, takes, model, fix):
            return "reward \(reward) scores \(takes) and the model makes \(model): \(fix)"
        }
    }
}
