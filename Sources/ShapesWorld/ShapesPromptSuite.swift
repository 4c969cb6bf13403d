/// The fixed prompt suite of the shapes world: a held-out set (8 prompts per task type, 4 for two_objects,
/// whose form has only six prompts) for reporting and benchmarks, and a disjoint tuning set (half as many) for
/// choosing settings. Drawn once from the grammar with a fixed seed and then frozen here; position prompts were
/// edited so that each split has all four relations. Never tune on the held-out set.
public enum ShapesPromptSuite {
    public enum Split: String, CaseIterable, Sendable { case heldout, tuning }

    public static let heldout: [String] = [
        "a red square",
        "a purple triangle",
        "a red circle",
        "a purple square",
        "a yellow triangle",
        "a yellow circle",
        "a red triangle",
        "a blue circle",
        "a square and a circle",
        "a triangle and a square",
        "a circle and a square",
        "a square and a triangle",
        "three yellow triangles",
        "four red triangles",
        "three red triangles",
        "four blue squares",
        "three green triangles",
        "four purple squares",
        "two blue squares",
        "three yellow circles",
        "a purple square and a yellow square",
        "a yellow circle and a purple circle",
        "a purple square and a blue square",
        "a purple triangle and a red triangle",
        "a green triangle and a purple triangle",
        "a purple circle and a red circle",
        "a purple triangle and a yellow triangle",
        "a green square and a yellow square",
        "a green circle below a yellow triangle",
        "a blue triangle to the left of a purple triangle",
        "a yellow square above a green square",
        "a red circle to the right of a green triangle",
        "a purple square above a blue circle",
        "a yellow square to the left of a purple square",
        "a purple triangle above a red square",
        "a yellow circle to the right of a yellow triangle",
        "a yellow square and a purple circle",
        "a yellow circle and a blue square",
        "a yellow circle and a green triangle",
        "a red square and a purple circle",
        "a purple square and a green circle",
        "a purple circle and a red triangle",
        "a blue triangle and a green square",
        "a purple circle and a yellow square",
    ]

    public static let tuning: [String] = [
        "a green triangle",
        "a green square",
        "a purple circle",
        "a green circle",
        "a triangle and a circle",
        "a circle and a triangle",
        "three blue circles",
        "two purple squares",
        "three blue squares",
        "three red squares",
        "a purple square and a green square",
        "a purple circle and a green circle",
        "a red triangle and a yellow triangle",
        "a green circle and a purple circle",
        "a red triangle below a purple circle",
        "a green square to the right of a red circle",
        "a purple circle to the left of a green triangle",
        "a yellow square above a yellow triangle",
        "a blue circle and a green square",
        "a blue square and a yellow circle",
        "a blue square and a yellow triangle",
        "a purple square and a blue circle",
    ]

    /// The split's prompts, parsed (the suite is checked by tests to parse and cover every task type).
    public static func prompts(_ split: Split) -> [ShapesPrompt] {
        (split == .heldout ? heldout : tuning).compactMap { try? ShapesPrompt(parsing: $0) }
    }
}
