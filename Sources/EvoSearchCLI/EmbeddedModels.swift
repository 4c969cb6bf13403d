import Foundation

/// Resolves a `--model` or `--reward-model` value to a directory: an existing directory is used as given; one of
/// the embedded model names (`shapes-sd-small`, `shapes-sd-large`, `shapes-flux-small`, `shapes-wan-small`,
/// `shapes-wan-large`, `shapes-clip`) is looked up in, in order,
///
/// 1. `$EVOSEARCH_MODELS/<NAME>`,
/// 2. `./models/<NAME>` (the working directory),
/// 3. `models/<NAME>` in the executable's directory or any of its parents — the repository's `models/` when the
///    binary is `<repo>/.build/release/evosearch` or `<repo>/.build/<triple>/release/evosearch`.
///
/// Anything else is a one-line `CLIError` naming the embedded models. The resolver only looks at the file system;
/// whether a directory holds the right kind of model is checked when it is loaded.
struct EmbeddedModels {
    /// The models the repository ships (trained by its own scripts) under `models/`.
    static let names = ["shapes-sd-small", "shapes-sd-large", "shapes-flux-small", "shapes-wan-small", "shapes-wan-large", "shapes-clip"]

    var environment: [String: String]
    var workingDirectory: URL
    /// The running executable (symlinks resolved).
    var executable: URL

    init(environment: [String: String] = ProcessInfo.processInfo.environment,
         workingDirectory: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath),
         executable: URL = EmbeddedModels.currentExecutable()) {
        self.environment = environment; self.workingDirectory = workingDirectory; self.executable = executable
    }

    /// The running binary: `/proc/self/exe` on Linux, else the first argument, with symlinks resolved.
    static func currentExecutable() -> URL {
        if let linked = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            return URL(fileURLWithPath: linked)
        }
        let arg0 = CommandLine.arguments.first ?? "evosearch"
        return URL(fileURLWithPath: arg0).resolvingSymlinksInPath()
    }

    /// Where `name` is looked for, in order.
    func candidates(for name: String) -> [URL] {
        var out: [URL] = []
        if let root = environment["EVOSEARCH_MODELS"], !root.isEmpty {
            out.append(URL(fileURLWithPath: root).appendingPathComponent(name))
        }
        out.append(workingDirectory.appendingPathComponent("models").appendingPathComponent(name))
        var dir = executable.deletingLastPathComponent().standardizedFileURL
        while true {
            out.append(dir.appendingPathComponent("models").appendingPathComponent(name))
            let parent = dir.deletingLastPathComponent().standardizedFileURL
            if parent.path == dir.path { break }
            dir = parent
        }
        var seen = Set<String>()
        return out.filter { seen.insert($0.standardizedFileURL.path).inserted }
    }

    static func isDirectory(_ url: URL) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) && isDir.boolValue
    }

    /// The directory `value` names. Errors start with `label` (default: `option value`, e.g. "--model foo").
    func resolve(_ value: String, option: String, label: String? = nil) throws -> URL {
        let label = label ?? "\(option) \(value)"
        let given = URL(fileURLWithPath: value)
        if Self.isDirectory(given) { return given }
        if Self.names.contains(value) {
            if let found = candidates(for: value).first(where: Self.isDirectory) { return found }
            let places = ["$EVOSEARCH_MODELS/\(value)", "./models/\(value)", "models/\(value) above the evosearch binary"]
            throw CLIError("\(label): embedded model not found (looked in \(places.joined(separator: ", "))); build it into the repository's models/, set EVOSEARCH_MODELS, or give a model directory")
        }
        if FileManager.default.fileExists(atPath: value) {
            throw CLIError("\(label): is a file, not a model directory")
        }
        throw CLIError("\(label): no such directory and not an embedded model (\(Self.names.joined(separator: ", "))); give a model directory or one of those names")
    }

    /// A diffusers pipeline: resolves `value` and checks for `model_index.json` (before any weights are loaded).
    func resolvePipeline(_ value: String, option: String = "--model") throws -> URL {
        let dir = try resolve(value, option: option)
        guard FileManager.default.fileExists(atPath: dir.appendingPathComponent("model_index.json").path) else {
            throw CLIError("\(option) \(value): \(dir.path) has no model_index.json; give a diffusers pipeline directory (unet/, vae/, text_encoder/, tokenizer/, scheduler/)")
        }
        return dir
    }

    /// `--reward-model` values with their directories resolved: `DIR` or `NAME=DIR`, where `NAME` is one of
    /// `rewardNames` and `DIR` may be an embedded model name.
    func resolveRewardModels(_ values: [String], rewardNames: [String]) throws -> [String] {
        try values.map { v in
            if let eq = v.firstIndex(of: "="), rewardNames.contains(String(v[..<eq])) {
                let name = String(v[..<eq]), dir = String(v[v.index(after: eq)...])
                if dir.isEmpty { return v }  // the registry reports the missing directory
                return name + "=" + (try resolve(dir, option: "--reward-model", label: "--reward-model \(v)")).path
            }
            return try resolve(v, option: "--reward-model").path
        }
    }
}
