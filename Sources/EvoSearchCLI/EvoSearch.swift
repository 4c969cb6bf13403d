import ArgumentParser

@main
struct EvoSearchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evosearch",
        abstract: "Test-time evolutionary search over diffusion and flow-matching trajectories.",
        subcommands: [Toy.self, Generate.self, SearchCommand.self, Score.self, Shapes.self, Bench.self]
    )
}
