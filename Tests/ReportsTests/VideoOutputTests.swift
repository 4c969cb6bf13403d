import Foundation
import Imaging
import Reports
import Rewards
import Sampling
import Search
import TensorCore
import Testing

/// States are videos `[F, 3, H, W]` themselves: a bright square whose start and speed come from the noise, moving
/// right over a background of the noise's level. The "model" costs one NFE per row.
struct VideoStateTrajectory: Trajectory {
    var frames = 5, height = 16, width = 16
    var stepCount: Int { 1 }
    var stateShape: [Int] { [frames, 3, height, width] }
    var sampleShape: [Int] { stateShape }
    var passesPerNFE: Int { 1 }
    var isStochastic: Bool { false }
    func initialState(noise: Tensor) -> Tensor {
        let n = noise.shape[0], per = stateShape.reduce(1, *)
        var out = [Float](repeating: 0, count: n * per)
        for v in 0..<n {
            let start = Int(abs(noise.scalars[v * per]) * 3) % 4, speed = 1 + Int(abs(noise.scalars[v * per + 1]) * 2) % 2
            let level = 0.2 + 0.6 / (1 + exp(-noise.scalars[v * per + 2]))
            for f in 0..<frames {
                let x0 = start + f * speed
                for c in 0..<3 { for y in 0..<height { for x in 0..<width {
                    let inside = x >= x0 && x < x0 + 4 && y >= 6 && y < 10
                    out[v * per + ((f * 3 + c) * height + y) * width + x] = inside ? (c == 0 ? 1 : 0.1) : level
                } } }
            }
        }
        return Tensor(shape: [n] + stateShape, scalars: out)
    }
    func evaluate(_ states: Tensor, at index: Int, cancellation: CancellationCheck) -> Tensor { states }
    func advance(_ states: Tensor, modelOutput: Tensor, at index: Int, noise: Tensor?) -> TrajectoryStep {
        TrajectoryStep(states: states, predictedOriginal: states)
    }
    func noiseStd(stepIndex: Int) -> Float { 0 }
    func renoise(_ states: Tensor, from: Int, to: Int, noise: Tensor) -> Tensor { states }
    func decode(_ states: Tensor) -> Tensor { states }
}

/// Mean red of the last frame (a video reward).
struct LastFrameRedReward: Reward {
    let name = "last-red"
    var takes: RewardInput { .videos }
    func scores(_ samples: Tensor) throws -> [Float] {
        let f = samples.shape[1], plane = samples.shape[3] * samples.shape[4], per = samples.count / samples.shape[0]
        return (0..<samples.shape[0]).map { v in
            let base = v * per + (f - 1) * 3 * plane
            return samples.scalars[base..<(base + plane)].reduce(0, +) / Float(plane)
        }
    }
}

func videoResult() throws -> SearchResult {
    try BestOfN().search(VideoStateTrajectory(), reward: LastFrameRedReward(), budget: 6, options: SearchOptions(seed: 2))
}

/// Frames of an animated PNG as Pillow reads them: `[count, then each frame's RGB bytes in hex]`.
func pillowFrames(_ path: String) throws -> [String] {
    let script = """
    import sys
    from PIL import Image, ImageSequence
    im = Image.open(sys.argv[1])
    frames = [f.convert('RGB').tobytes().hex() for f in ImageSequence.Iterator(im)]
    print(getattr(im, 'n_frames', 1)); print(getattr(im, 'is_animated', False))
    for f in frames: print(f)
    """
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script, path]
    let out = Pipe()
    process.standardOutput = out
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw ChromiumError("python3 with Pillow could not read \(path)") }
    return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
}

func hex(_ image: Image8) -> String { image.rgb.pixels.map { String(format: "%02x", $0) }.joined() }

@Suite struct VideoOutputTests {
    /// Pillow (the reference reader) sees every frame with our pixels; a plain PNG reader sees the first frame.
    @Test func animatedPNGIsReadFrameByFrameByPillow() throws {
        let frames = (0..<3).map { k in
            Image8(width: 5, height: 4, channels: 3, pixels: (0..<60).map { UInt8(($0 * 7 + k * 50) % 256) })
        }
        let dir = try temporaryDirectory("apng")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("a.png").path
        try AnimatedPNG.write(frames, delayMilliseconds: 100, to: path)
        let read = try pillowFrames(path)
        #expect(read.count == 5 && read[0] == "3" && read[1] == "True")
        #expect(Array(read.dropFirst(2)) == frames.map(hex))
        #expect(try PNG.read(path: path) == frames[0])
        #expect(throws: PNGError.self) { try AnimatedPNG.encode([]) }
        #expect(throws: PNGError.self) { try AnimatedPNG.encode([frames[0], Image8(width: 4, height: 4, channels: 3, pixels: [UInt8](repeating: 0, count: 48))]) }
    }

    /// A video search's directory: animated best and top-K (every frame the decoded video's), an MP4 of the best
    /// with every frame, frame-strip contact sheets and the frame count in result.json.
    @Test func videoSearchWritesAnimationsStripsAndMP4() throws {
        let r = try videoResult()
        #expect(r.history.count == 6)
        let dir = try temporaryDirectory("video-output")
        defer { try? FileManager.default.removeItem(at: dir) }
        let mp4 = try #require(MP4Writer.available(), "ffmpeg is not installed; scripts/setup.sh installs it")
        let names = try SearchOutput(result: r, decode: { $0 }, prompt: "a red square moving right", keepTop: 2, mp4: mp4).write(to: dir)
        #expect(names == ["best.png", "best.mp4", "top-1.png", "top-2.png", "generation-0.png", "report.html", "result.json"])
        let best = VideoStateTrajectory().decode(r.states(of: [r.best]))
        let expected = (0..<5).map { hex(Image8(tensor: best.row(0).row($0))) }
        let read = try pillowFrames(dir.appendingPathComponent("best.png").path)
        #expect(read[0] == "5" && Array(read.dropFirst(2)) == expected)
        #expect(try pillowFrames(dir.appendingPathComponent("top-1.png").path) == read)

        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        probe.arguments = ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                           "stream=nb_read_frames,width,height,codec_name", "-of", "csv=p=0", dir.appendingPathComponent("best.mp4").path]
        let out = Pipe()
        probe.standardOutput = out
        try probe.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        probe.waitUntilExit()
        #expect(text.trimmingCharacters(in: .whitespacesAndNewlines) == "h264,16,16,5")

        // Contact sheet tiles are strips of the 5 frames (16 px each, enlarged no further).
        let sheet = try PNG.read(path: dir.appendingPathComponent("generation-0.png").path)
        #expect(sheet.width >= 5 * 16 + 4)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("result.json"))) as? [String: Any]
        #expect(json?["frames"] as? Int == 5)
        #expect(json?["state_shape"] as? [Int] == [5, 3, 16, 16])
    }

    /// The report in Chromium: every image decodes, the best and every tile are animations of 5 frames (counted by
    /// the browser's own ImageDecoder), nothing is fetched, no console message.
    @Test func reportPlaysTheVideosInChromium() throws {
        let r = try videoResult()
        let dir = try temporaryDirectory("video-browser")
        defer { try? FileManager.default.removeItem(at: dir) }
        try SearchOutput(result: r, decode: { $0 }, prompt: "a red square moving right", keepTop: 0).write(to: dir)
        let html = try String(contentsOf: dir.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(xmlError(html) == nil)
        #expect(!html.contains("<script"))
        let checker = """
        <script>
        window.addEventListener('load', function () {
          var imgs = Array.prototype.slice.call(document.images), broken = 0;
          imgs.forEach(function (i) { if (!i.complete || i.naturalWidth === 0) broken++; });
          var fetched = performance.getEntriesByType('resource').filter(function (e) { return e.name.indexOf('data:') !== 0; }).length;
          document.body.setAttribute('data-images', String(imgs.length));
          document.body.setAttribute('data-broken', String(broken));
          document.body.setAttribute('data-fetched', String(fetched));
          if (typeof ImageDecoder === 'undefined') { document.body.setAttribute('data-frames', 'no ImageDecoder'); return; }
          Promise.all(imgs.map(function (i) {
            return fetch(i.src).then(function (r) { return r.arrayBuffer(); }).then(function (b) {
              var d = new ImageDecoder({ data: b, type: 'image/png' });
              return d.tracks.ready.then(function () { return d.tracks.selectedTrack.frameCount; });
            });
          })).then(function (counts) {
            document.body.setAttribute('data-frames', counts.join(','));
          }, function (e) { document.body.setAttribute('data-frames', 'error ' + e); });
        });
        </script>
        """
        let checked = dir.appendingPathComponent("checked.html")
        try html.replacingOccurrences(of: "</body>", with: checker + "</body>").write(to: checked, atomically: true, encoding: .utf8)
        // The frame counts arrive from the browser's decoder threads, which virtual time does not wait for: on a
        // loaded machine the DOM can be dumped before they do, so the page is loaded again (at most three times)
        // until the checker has written its answer.
        var run = try Chromium.dumpDOM(checked, virtualTime: 5000)
        for _ in 1..<3 where !run.dom.contains("data-frames=\"") {
            run = try Chromium.dumpDOM(checked, virtualTime: 5000)
        }
        #expect(Chromium.consoleProblems(run.log).isEmpty, "console: \(Chromium.consoleProblems(run.log))")
        func attribute(_ name: String) -> String? {
            guard let range = run.dom.range(of: "\(name)=\"") else { return nil }
            return String(run.dom[range.upperBound...].prefix { $0 != "\"" })
        }
        // Six tiles of one generation, the best, and the winner's lineage (itself).
        let images = try #require(attribute("data-images").flatMap { Int($0) })
        #expect(images == 6 + 1 + 1)
        #expect(attribute("data-broken") == "0")
        #expect(attribute("data-fetched") == "0")
        let frames = attribute("data-frames")
        #expect(frames == Array(repeating: "5", count: images).joined(separator: ","), "frames per image: \(frames ?? "none")")
    }
}
