import Rewards
import Sampling

/// A setting that cannot work with this trajectory or budget; `message` names the field and the fix.
public struct SearchConfigurationError: Error, CustomStringConvertible, Equatable, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A search method. `plan` resolves defaults and checks settings against the step count and the budget
/// before any compute is spent; `run` spends at most the budget and returns the best sample found.
public protocol SearchStrategy: Sendable {
    /// Name used on the command line and in results ("evosearch", "best-of-n", …).
    static var methodName: String { get }
    /// Throws when the settings cannot work for `stepCount` steps within `budget` NFE.
    func validate(stepCount: Int, budget: Int) throws(SearchConfigurationError)
    /// Runs the search on `engine`; must call `engine.finish`.
    func run(_ engine: inout SearchEngine) -> SearchResult
}

extension SearchStrategy {
    /// Validates, then runs on a new engine.
    public func search(_ trajectory: any Trajectory, reward: any Reward, budget: Int,
                       options: SearchOptions = SearchOptions()) throws(SearchConfigurationError) -> SearchResult {
        try requireAtLeastOneRollout(stepCount: trajectory.stepCount, budget: budget)
        try validate(stepCount: trajectory.stepCount, budget: budget)
        var engine = SearchEngine(trajectory: trajectory, reward: reward, budget: budget, options: options)
        return run(&engine)
    }
}

/// Every method needs at least one full rollout.
public func requireAtLeastOneRollout(stepCount: Int, budget: Int) throws(SearchConfigurationError) {
    if budget < stepCount {
        throw SearchConfigurationError("budget: \(budget) NFE is less than one rollout of \(stepCount) steps; use --budget \(stepCount) or more")
    }
}

/// Index of the maximum (first on ties); -1 for an empty array.
func argmax(_ values: [Float]) -> Int {
    var best = -1
    for (i, v) in values.enumerated() where best < 0 || v > values[best] { best = i }
    return best
}

/// Indices sorted by descending value, stable on ties.
func rankDescending(_ values: [Float]) -> [Int] {
    values.indices.sorted { values[$0] != values[$1] ? values[$0] > values[$1] : $0 < $1 }
}
