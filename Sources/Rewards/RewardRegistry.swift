import Foundation
import ModelIO
import Models
import TensorCore

/// Where model-based rewards find their model directories: one directory for every component (`--reward-model DIR`)
/// and/or one per reward name (`--reward-model NAME=DIR`, which wins for that name).
public struct RewardModels: Sendable, Equatable {
    public var shared: URL?
    public var byName: [String: URL]

    public init(shared: URL? = nil, byName: [String: URL] = [:]) {
        self.shared = shared
        self.byName = byName
    }

    /// Parses command-line values: `NAME=DIR` when NAME is a reward of `registry`, otherwise the whole value is a
    /// directory shared by every component. At most one shared directory.
    public init(arguments: [String], registry: RewardRegistry = .standard) throws(RewardError) {
        self.init()
        for a in arguments {
            if let eq = a.firstIndex(of: "="), registry.entry(String(a[..<eq])) != nil {
                let name = String(a[..<eq]), path = String(a[a.index(after: eq)...])
                if path.isEmpty { throw .invalidSpec(spec: a, reason: "--reward-model \(name)= needs a directory") }
                byName[name] = URL(fileURLWithPath: path)
            } else {
                if shared != nil {
                    throw .invalidSpec(spec: a, reason: "--reward-model given twice without NAME=; use NAME=DIR for each reward")
                }
                shared = URL(fileURLWithPath: a)
            }
        }
    }

    public func directory(for name: String) -> URL? { byName[name] ?? shared }
}

/// What a registry entry is built from. Loaded CLIP models are cached by directory and towers, so a composite
/// whose components share a model directory loads it once.
public final class RewardBuildContext {
    public let models: RewardModels
    public let prompt: String
    private var scorers: [String: CLIPScorer] = [:]

    public init(models: RewardModels, prompt: String) {
        self.models = models
        self.prompt = prompt
    }

    /// The model directory for `reward`, which must exist.
    public func directory(for reward: String) throws(RewardError) -> URL {
        guard let dir = models.directory(for: reward) else { throw .missingModel(reward: reward) }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw .wrongModel(reward: reward, directory: dir.path, reason: "no such directory")
        }
        return dir
    }

    /// The prompt, which must not be blank.
    public func requirePrompt(for reward: String) throws(RewardError) -> String {
        if prompt.allSatisfy(\.isWhitespace) { throw .emptyPrompt(reward: reward) }
        return prompt
    }

    /// A CLIP scorer for `reward`'s directory (loaded once per directory and towers).
    public func clipScorer(for reward: String, towers: CLIPModel.Towers) throws(RewardError) -> CLIPScorer {
        let dir = try directory(for: reward)
        let key = "\(towers)|\(dir.standardizedFileURL.path)"
        if let s = scorers[key] { return s }
        // A scorer with both towers serves a vision-only request too.
        if towers != .both, let s = scorers["\(CLIPModel.Towers.both)|\(dir.standardizedFileURL.path)"] { return s }
        let configURL = dir.appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: configURL.path) else {
            throw .wrongModel(reward: reward, directory: dir.path, reason: "no config.json: not a CLIPModel directory in transformers' layout")
        }
        do {
            let s = try CLIPScorer(directory: dir, towers: towers)
            scorers[key] = s
            return s
        } catch {
            throw .wrongModel(reward: reward, directory: dir.path, reason: "\(error)")
        }
    }
}

/// The rewards the search and the command line know by name, and the `--reward` syntax.
///
/// Syntax: a single NAME, or a weighted sum `TERM,TERM,…` with TERM = `NAME[:WEIGHT]` or `zscore(NAME)[:WEIGHT]`
/// (weight default 1; `zscore(…)` standardises that component over each scored batch, see `WeightedSumReward`).
/// Examples: `clip`, `clip:1,aesthetic:0.5`, `zscore(hpsv2):1,zscore(aesthetic):1`. A name may appear once.
///
/// A registry is a value: `standard` holds this module's rewards; worlds add their own (`adding`), and the
/// catalog a build ships composes them.
public struct RewardRegistry: Sendable {
    /// One registered reward.
    public struct Entry: Sendable {
        public let name: String
        /// One line for `--help` and error messages.
        public let summary: String
        public let needsModel: Bool
        public let needsPrompt: Bool
        public let build: @Sendable (RewardBuildContext) throws -> any Reward

        public init(name: String, summary: String, needsModel: Bool, needsPrompt: Bool,
                    build: @escaping @Sendable (RewardBuildContext) throws -> any Reward) {
            self.name = name; self.summary = summary; self.needsModel = needsModel; self.needsPrompt = needsPrompt
            self.build = build
        }
    }

    public let entries: [Entry]

    public init(entries: [Entry]) { self.entries = entries }

    /// This registry followed by `more` (a name already present is replaced).
    public func adding(_ more: [Entry]) -> RewardRegistry {
        RewardRegistry(entries: entries.filter { e in !more.contains { $0.name == e.name } } + more)
    }

    /// The rewards of this module: image statistics and the model-based rewards.
    public static let standard = RewardRegistry(entries: {
        var list: [Entry] = ImageStatisticReward.Kind.allCases.map { kind in
            Entry(name: kind.rawValue, summary: "image statistic (\(kind.rawValue)), no model", needsModel: false,
                  needsPrompt: false) { _ in ImageStatisticReward(kind) }
        }
        let clipSummaries: [CLIPReward.Kind: String] = [
            .clip: "cosine similarity of CLIP image and prompt embeddings (a transformers CLIPModel directory)",
            .clipscore: "Hessel et al.'s CLIPScore 2.5·max(cos, 0) (a CLIP directory, usually ViT-L/14)",
            .pickscore: "PickScore exp(logit_scale)·cos (the PickScore_v1 CLIP-H directory)",
            .hpsv2: "HPSv2.1 cos (open_clip ViT-H-14 checkpoint converted by tools/convert_open_clip.py)",
        ]
        for kind in CLIPReward.Kind.allCases {
            list.append(Entry(name: kind.rawValue, summary: clipSummaries[kind]!, needsModel: true, needsPrompt: true) { context in
                let prompt = try context.requirePrompt(for: kind.rawValue)
                if kind == .hpsv2 { try checkConverted(context, reward: kind.rawValue, marker: "hpsv2") }
                let scorer = try context.clipScorer(for: kind.rawValue, towers: .both)
                do { return try CLIPReward(kind: kind, scorer: scorer, prompt: prompt) } catch {
                    throw RewardError.wrongModel(reward: kind.rawValue, directory: try context.directory(for: kind.rawValue).path, reason: "\(error)")
                }
            })
        }
        list.append(Entry(name: "aesthetic", summary: "LAION aesthetic predictor v2 (CLIP ViT-L/14 directory + aesthetic_head.safetensors)",
                          needsModel: true, needsPrompt: false) { context in
            let dir = try context.directory(for: "aesthetic")
            let headURL = dir.appendingPathComponent(AestheticHead.fileName)
            guard FileManager.default.fileExists(atPath: headURL.path) else {
                throw RewardError.wrongModel(reward: "aesthetic", directory: dir.path,
                                             reason: "no \(AestheticHead.fileName): convert the LAION head into this CLIP ViT-L/14 directory with tools/convert_aesthetic_head.py")
            }
            let scorer = try context.clipScorer(for: "aesthetic", towers: .vision)
            do { return try AestheticReward(scorer: scorer, head: AestheticHead(file: headURL)) } catch {
                throw RewardError.wrongModel(reward: "aesthetic", directory: dir.path, reason: "\(error)")
            }
        })
        list.append(Entry(name: "imagereward", summary: "ImageReward (BLIP; ImageReward.pt converted by tools/convert_imagereward.py)",
                          needsModel: true, needsPrompt: true) { context in
            let prompt = try context.requirePrompt(for: "imagereward")
            let dir = try context.directory(for: "imagereward")
            do { return ImageReward(scorer: try ImageRewardScorer(directory: dir), prompt: prompt) } catch {
                throw RewardError.wrongModel(reward: "imagereward", directory: dir.path, reason: "\(error)")
            }
        })
        list.append(Entry(name: "aesthetic-v2.5", summary: "aesthetic predictor v2.5 (SigLIP + head; tools/convert_aesthetic_v25.py)",
                          needsModel: true, needsPrompt: false) { context in
            let dir = try context.directory(for: "aesthetic-v2.5")
            do { return AestheticV25Reward(predictor: try AestheticV25Predictor(directory: dir)) } catch {
                throw RewardError.wrongModel(reward: "aesthetic-v2.5", directory: dir.path, reason: "\(error)")
            }
        })
        return list
    }())

    /// Every registered name, in registry order.
    public var names: [String] { entries.map(\.name) }

    public func entry(_ name: String) -> Entry? { entries.first { $0.name == name } }

    /// A parsed `--reward` value: the components, their weights and whether each is z-scored.
    public struct Spec: Sendable, Equatable {
        public struct Term: Sendable, Equatable {
            public var name: String
            public var weight: Float
            public var zScore: Bool
            public init(name: String, weight: Float = 1, zScore: Bool = false) {
                self.name = name; self.weight = weight; self.zScore = zScore
            }
        }
        public var terms: [Term]
        /// The registry entries of the terms, in order.
        public var entries: [Entry]
        /// A plain single name (no weight, no z-score): built as that reward itself, not a sum.
        public var isSingle: Bool { terms.count == 1 && terms[0].weight == 1 && !terms[0].zScore }

        public static func == (a: Spec, b: Spec) -> Bool { a.terms == b.terms }
    }

    /// Parses the `--reward` syntax; every name must be registered.
    public func parse(_ spec: String) throws(RewardError) -> Spec {
        let parts = spec.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        if parts.allSatisfy(\.isEmpty) { throw .invalidSpec(spec: spec, reason: "empty; known rewards: \(names.joined(separator: ", "))") }
        var terms: [Spec.Term] = []
        var found: [Entry] = []
        for part in parts {
            if part.isEmpty { throw .invalidSpec(spec: spec, reason: "empty term (stray comma?)") }
            var body = Substring(part)
            var weight: Float = 1
            if let colon = body.lastIndex(of: ":"), !body[colon...].contains(")") {
                let w = body[body.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                guard let v = Float(w), v.isFinite else {
                    throw .invalidSpec(spec: spec, reason: "weight \"\(w)\" of \"\(part)\" is not a finite number")
                }
                weight = v
                body = body[..<colon]
            }
            var name = body.trimmingCharacters(in: .whitespaces)
            var z = false
            if name.hasPrefix("zscore(") {
                guard name.hasSuffix(")") else { throw .invalidSpec(spec: spec, reason: "\"\(part)\": zscore( without a closing parenthesis") }
                name = String(name.dropFirst("zscore(".count).dropLast()).trimmingCharacters(in: .whitespaces)
                z = true
            }
            guard let e = entry(name) else { throw .unknownReward(name: name, known: names) }
            if terms.contains(where: { $0.name == name }) { throw .invalidSpec(spec: spec, reason: "\(name) appears twice") }
            terms.append(Spec.Term(name: name, weight: weight, zScore: z))
            found.append(e)
        }
        return Spec(terms: terms, entries: found)
    }

    /// Builds the reward `spec` names (see the type's syntax). Model directories and the prompt are checked only
    /// for the components that need them.
    public func make(_ spec: String, models: RewardModels = RewardModels(), prompt: String = "") throws -> any Reward {
        let parsed = try parse(spec)
        let context = RewardBuildContext(models: models, prompt: prompt)
        let built = try parsed.entries.map { try $0.build(context) }
        if parsed.isSingle { return built[0] }
        return WeightedSumReward(zip(parsed.terms, built).map { WeightedSumReward.Term(reward: $1, weight: $0.weight, zScore: $0.zScore) })
    }

    /// Requires `config.json` of the reward's directory to carry `"evosearch_reward": marker` (written by our
    /// conversion scripts), so that e.g. a plain CLIP-H directory is not silently scored as HPSv2.
    static func checkConverted(_ context: RewardBuildContext, reward: String, marker: String) throws {
        let dir = try context.directory(for: reward)
        let url = dir.appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw RewardError.wrongModel(reward: reward, directory: dir.path, reason: "no config.json: not a converted \(reward) model")
        }
        let found: String?
        do { found = try ConfigFile.load(url).optionalString("evosearch_reward") } catch {
            throw RewardError.wrongModel(reward: reward, directory: dir.path, reason: "\(error)")
        }
        guard found == marker else {
            throw RewardError.wrongModel(reward: reward, directory: dir.path,
                                         reason: "config.json is not marked \"evosearch_reward\": \"\(marker)\" (convert the checkpoint with tools/convert_open_clip.py --reward \(marker))")
        }
    }
}
