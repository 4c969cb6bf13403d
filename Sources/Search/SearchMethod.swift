/// The search methods by the names the command line and the benchmark tables use. `defaultStrategy` is the method
/// with its default settings (the ones derived from the budget and step count where the method derives them);
/// strategies with other settings are built from their own initialisers.
public enum SearchMethod: String, CaseIterable, Sendable, Codable {
    case evosearch
    case bestOfN = "best-of-n"
    case particle
    case beam
    case zeroOrder = "zero-order"
    case searchOverPaths = "search-over-paths"

    public var defaultStrategy: any SearchStrategy {
        switch self {
        case .evosearch: EvoSearch()
        case .bestOfN: BestOfN()
        case .particle: ParticleFilter()
        case .beam: BeamSearch()
        case .zeroOrder: ZeroOrderSearch()
        case .searchOverPaths: SearchOverPaths()
        }
    }

    /// The method named `name` (case-insensitive), or nil.
    public init?(name: String) { self.init(rawValue: name.lowercased()) }

    public static var names: [String] { allCases.map(\.rawValue) }
}
