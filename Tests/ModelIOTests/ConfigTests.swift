import Foundation
import Testing
@testable import ModelIO

@Suite struct ConfigTests {
    @Test func realDiffusersUNetConfig() throws {
        let c = try ConfigFile.load(Fixture.pipeline.appendingPathComponent("unet/config.json"))
        #expect(c.displayName == "unet/config.json")
        #expect(c.className == "UNet2DConditionModel")
        #expect(try c.int("sample_size") == 8)
        #expect(try c.ints("block_out_channels") == [4, 8])
        #expect(try c.strings("down_block_types") == ["CrossAttnDownBlock2D", "DownBlock2D"])
        #expect(try c.intOrInts("attention_head_dim", count: 2) == [2, 2])
        #expect(try c.intOrInts("transformer_layers_per_block", count: 2, default: 1) == [1, 1])
        #expect(try c.optionalIntOrInts("num_attention_heads", count: 2) == nil) // null
        #expect(try c.optionalInt("time_embedding_dim") == nil) // null
        #expect(try c.int("time_embedding_dim", default: 16) == 16) // null → default
        #expect(try c.string("act_fn", oneOf: ["silu", "gelu"]) == "silu")
        #expect(try c.bool("center_input_sample") == false)
        #expect(try c.boolOrBools("only_cross_attention", count: 2, default: true) == [false, false])
        #expect(try c.double("norm_eps") == 1e-5)
        #expect(try c.double("mid_block_scale_factor") == 1) // an integer read as a number
        #expect(!c.has("class_embed_type") && c.has("act_fn"))
        #expect(try c.optionalString("not_in_file") == nil)
        #expect(try c.int("not_in_file", default: 3) == 3)
    }

    @Test func transformersAndSchedulerConfigs() throws {
        let clip = try ConfigFile.load(Fixture.pipeline.appendingPathComponent("text_encoder/config.json"))
        #expect(clip.className == "CLIPTextModel")
        #expect(try clip.int("hidden_size") == 8)
        let sched = try ConfigFile.load(Fixture.pipeline.appendingPathComponent("scheduler/scheduler_config.json"))
        #expect(try sched.string("beta_schedule") == "scaled_linear")
        #expect(try sched.double("beta_end") == 0.012)
        #expect(try sched.int("num_train_timesteps") == 1000)
    }

    private let bad = """
        {"block_out_channels": "abc", "layers": [1, 2, 3], "ratio": 1.5, "flag": 1, "nothing": null,
         "steps": 1000.0, "names": ["a", 2], "act": "relu", "heads": [1, "2"],
         "text_config": {"hidden_size": "big", "n": 4}, "inf": -Infinity, "long": "\(String(repeating: "x", count: 100))"}
        """

    private func config() throws -> ConfigFile { try ConfigFile(parsing: bad, displayName: "unet/config.json") }

    private func message(_ body: (ConfigFile) throws -> Any) throws -> String? {
        let c = try config()
        return modelIOError { _ = try body(c) }?.description
    }

    @Test func accessorErrorsNameFileAndKey() throws {
        #expect(try message { try $0.ints("block_out_channels") } == "unet/config.json: \"block_out_channels\" must be a list of integers, got \"abc\"")
        #expect(try message { try $0.intOrInts("layers", count: 2) } == "unet/config.json: \"layers\" must be an integer or a list of 2 integers (one per block), got [1, 2, 3]")
        #expect(try message { try $0.intOrInts("heads", count: 2, default: 8) } == "unet/config.json: \"heads\" must be an integer or a list of 2 integers (one per block), got [1, \"2\"]")
        #expect(try message { try $0.int("ratio") } == "unet/config.json: \"ratio\" must be an integer, got 1.5")
        #expect(try message { try $0.bool("flag") } == "unet/config.json: \"flag\" must be true or false, got 1")
        #expect(try message { try $0.int("nothing") } == "unet/config.json: missing required key \"nothing\"")
        #expect(try message { try $0.string("absent") } == "unet/config.json: missing required key \"absent\"")
        #expect(try message { try $0.strings("names") } == "unet/config.json: \"names\" must be a list of strings, got [\"a\", 2]")
        #expect(try message { try $0.string("act", oneOf: ["silu", "gelu"]) } == "unet/config.json: \"act\" must be one of \"silu\", \"gelu\", got \"relu\"")
        #expect(try message { try $0.object("text_config").int("hidden_size") } == "unet/config.json: \"text_config.hidden_size\" must be an integer, got \"big\"")
        #expect(try message { try $0.object("text_config").int("absent") } == "unet/config.json: missing required key \"text_config.absent\"")
        #expect(try message { try $0.double("block_out_channels") } == "unet/config.json: \"block_out_channels\" must be a number, got \"abc\"")
        let long = try message { try $0.int("long") }
        #expect(long?.hasSuffix("…") == true && long!.count < 120)
    }

    @Test func lenientWhereDiffusersIs() throws {
        let c = try config()
        #expect(try c.int("steps") == 1000) // integral float
        #expect(try c.int("nothing", default: 7) == 7) // null → default
        #expect(try c.optionalBool("nothing") == nil)
        #expect(try c.double("inf") == -.infinity) // Python's json writes -Infinity
        #expect(try c.double("ratio") == 1.5)
        #expect(try c.object("text_config").int("n") == 4)
        #expect(try c.optionalObject("nothing") == nil)
    }

    @Test func invalidJSONFiles() throws {
        let tmp = try TempDir()
        defer { tmp.cleanUp() }
        let e = modelIOError { _ = try ConfigFile.load(tmp.write("vae/config.json", text: "{\"a\": 1,, }")) }
        guard case .invalidJSON(let path, let reason)? = e else { Issue.record("expected invalidJSON"); return }
        #expect(path == "vae/config.json" && reason.contains("at byte 8"))
        let list = modelIOError { _ = try ConfigFile.load(tmp.write("x/config.json", text: "[1]")) }
        #expect(list == .invalidJSON(path: "x/config.json", reason: "expected an object, got a list"))
        let missing = modelIOError { _ = try ConfigFile.load(tmp.file("y/config.json")) }
        #expect(missing == .cannotOpen(path: "y/config.json", reason: "no such file"))
    }

    @Test func jsonParser() throws {
        let v = try JSONValue.parse(Array(#"{"s": "a\"b\\c\n\u00e9\ud83d\ude00", "n": [0, -1, 2.5e3, 1E-2, -0.0, 9223372036854775807, 1e400], "t": true, "o": {}, "e": []}"#.utf8))
        let o = try #require(v.objectValue)
        #expect(o.keys == ["s", "n", "t", "o", "e"])
        #expect(o["s"] == .string("a\"b\\c\né😀"))
        #expect(o["n"] == .array([.int(0), .int(-1), .double(2500), .double(0.01), .double(-0.0), .int(Int.max), .double(.infinity)]))
        #expect(o["t"] == .bool(true) && o["o"] == .object(JSONObject()) && o["e"] == .array([]))
        let dup = try JSONValue.parse(Array(#"{"a": 1, "a": 2}"#.utf8)).objectValue
        #expect(dup?["a"] == .int(2) && dup?.count == 1)
        for text in ["", "{", "[1,]", "{\"a\" 1}", "01", "1.", "-", "\"\\x\"", "\"\\ud800\"", "tru", "[1] 2", "\"a\u{1}\"",
                     String(repeating: "[", count: 600) + String(repeating: "]", count: 600)] {
            #expect(throws: JSONParseError.self, "\(text.prefix(20))") { _ = try JSONValue.parse(Array(text.utf8)) }
        }
    }
}

@Suite struct PipelineTests {
    @Test func modelIndexAndComponents() throws {
        let p = try PipelineDirectory(Fixture.pipeline)
        #expect(p.index.pipelineClass == "StableDiffusionPipeline")
        #expect(p.index.diffusersVersion != nil)
        #expect(p.index.components["unet"] == ModelIndex.Component(library: "diffusers", className: "UNet2DConditionModel"))
        #expect(p.index.components["text_encoder"] == ModelIndex.Component(library: "transformers", className: "CLIPTextModel"))
        #expect(Set(p.index.components.keys) == ["unet", "vae", "text_encoder", "tokenizer", "scheduler"])
        #expect(p.index.absentComponents == ["feature_extractor", "image_encoder", "safety_checker"])
        #expect(try p.index.config.bool("requires_safety_checker") == false)
        #expect(try p.unet.lastPathComponent == "unet")
        #expect(try p.vae.lastPathComponent == "vae")
        #expect(try p.textEncoder.lastPathComponent == "text_encoder")
        #expect(try p.tokenizer.lastPathComponent == "tokenizer")
        #expect(try p.scheduler.lastPathComponent == "scheduler")
        #expect(try p.config(of: "scheduler").displayName == "scheduler/scheduler_config.json")
        #expect(try p.config(of: "tokenizer").int("model_max_length") == 77)
        #expect(try p.config(of: "unet").className == "UNet2DConditionModel")
        #expect(try p.checkpoint(of: "vae", variant: "fp16").variant == "fp16")
        let unet = try p.weights(of: "unet")
        #expect(unet.keys.count == 208)
        #expect(try p.component("vae").className == "AutoencoderKL")
    }

    @Test func componentErrors() throws {
        let p = try PipelineDirectory(Fixture.pipeline)
        let absent = modelIOError { _ = try p.directory(of: "safety_checker") }
        #expect(absent?.description == "Fixtures/pipeline: component \"safety_checker\" is [null, null] in model_index.json (the pipeline was saved without it)")
        let unlisted = modelIOError { _ = try p.directory(of: "controlnet") }
        #expect(unlisted?.description == "Fixtures/pipeline: model_index.json lists no component \"controlnet\" (it lists: scheduler, text_encoder, tokenizer, unet, vae)")

        let tmp = try TempDir()
        defer { tmp.cleanUp() }
        try FileManager.default.copyItem(at: Fixture.pipeline.appendingPathComponent("model_index.json"),
                                         to: tmp.file("model_index.json"))
        let partial = try PipelineDirectory(tmp.url)
        let missingDir = modelIOError { _ = try partial.unet }
        #expect(missingDir?.description == "\(displayPath(tmp.url)): component \"unet\" is listed in model_index.json but unet/ does not exist (incomplete download?)")
        try FileManager.default.createDirectory(at: tmp.file("vae"), withIntermediateDirectories: true)
        let noConfig = modelIOError { _ = try partial.config(of: "vae") }
        #expect(noConfig?.description == "\(tmp.url.lastPathComponent)/vae: no config.json in this component directory")
        let noWeights = modelIOError { _ = try partial.weights(of: "vae") }
        guard case .invalidPipeline? = noWeights else { Issue.record("expected invalidPipeline"); return }
    }

    @Test func notAPipeline() throws {
        let component = modelIOError { _ = try PipelineDirectory(Fixture.pipeline.appendingPathComponent("unet")) }
        #expect(component?.description == "pipeline/unet: not a diffusers pipeline directory (no model_index.json); it has a config.json, so it may be a single model's directory (a pipeline component)")
        let file = modelIOError { _ = try PipelineDirectory(Fixture.url("dtypes.safetensors")) }
        #expect(file == .invalidPipeline(path: "Fixtures/dtypes.safetensors", reason: "is a file, not a diffusers pipeline directory"))
        let tmp = try TempDir()
        defer { tmp.cleanUp() }
        try FileManager.default.createDirectory(at: tmp.file("models--x--y/snapshots"), withIntermediateDirectories: true)
        let cache = modelIOError { _ = try PipelineDirectory(tmp.file("models--x--y")) }
        #expect(cache?.description.hasSuffix("use snapshots/<revision> inside it") == true)
        let none = modelIOError { _ = try PipelineDirectory(tmp.file("nothing")) }
        #expect(none == .cannotOpen(path: "\(tmp.url.lastPathComponent)/nothing", reason: "no such directory"))
        // Malformed component entry.
        _ = try tmp.write("bad/model_index.json", text: "{\"unet\": [\"diffusers\"]}")
        let bad = modelIOError { _ = try PipelineDirectory(tmp.file("bad")) }
        #expect(bad?.description == "bad/model_index.json: \"unet\" must be a [library, class] pair of strings or [null, null], got [\"diffusers\"]")
    }
}
