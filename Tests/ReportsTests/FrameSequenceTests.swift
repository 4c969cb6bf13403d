import Foundation
import Imaging
import Reports
import TensorCore
import Testing

@Suite struct FrameSequenceTests {
    func video(frames: Int, h: Int = 4, w: Int = 6) -> Tensor {
        Tensor(shape: [1, frames, 3, h, w], scalars: (0..<(frames * 3 * h * w)).map { Float($0 % 256) / 255 })
    }

    /// Frames are numbered PNGs holding the frame's pixels; a shorter video replaces a longer one's frames, and
    /// other files stay.
    @Test func writesNumberedFramesAndRemovesStaleOnes() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("frames-\(UUID().uuidString)")
        let first = try FrameSequence.write(video(frames: 3), to: dir)
        #expect(first.map(\.lastPathComponent) == ["frame-0000.png", "frame-0001.png", "frame-0002.png"])
        try Data("keep".utf8).write(to: dir.appendingPathComponent("notes.txt"))
        let v = video(frames: 2)
        try FrameSequence.write(v, to: dir)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        #expect(files == ["frame-0000.png", "frame-0001.png", "notes.txt"])
        let read = try PNG.read(path: dir.appendingPathComponent("frame-0001.png").path)
        #expect(read == Image8(tensor: v.row(0).row(1)))
    }

    /// Reading gives back the written video (8-bit rounding aside: the pixels are multiples of 1/255), in frame order
    /// past ten frames, and ignores other files.
    @Test func readsTheFramesBackInOrder() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("frames-\(UUID().uuidString)")
        let v = video(frames: 11)
        try FrameSequence.write(v, to: dir)
        try Data("keep".utf8).write(to: dir.appendingPathComponent("notes.txt"))
        let read = try FrameSequence.read(from: dir)
        #expect(read.shape == [11, 3, 4, 6])
        #expect(zip(read.scalars, v.row(0).scalars).allSatisfy { abs($0 - $1) < 1e-6 })
    }

    @Test func refusesADirectoryWithoutFramesOrWithMixedSizes() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("frames-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        #expect { try FrameSequence.read(from: dir) } throws: { "\($0)".contains("no frame-NNNN.png") }
        try FrameSequence.write(video(frames: 2), to: dir)
        try PNG.write(Image8(tensor: video(frames: 1, h: 5).row(0).row(0)), to: dir.appendingPathComponent("frame-0002.png").path)
        #expect { try FrameSequence.read(from: dir) } throws: { "\($0)".contains("the first frame is [3, 4, 6]") }
    }

    @Test func refusesWhatIsNotFrames() {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("frames-\(UUID().uuidString)")
        #expect { try FrameSequence.write(Tensor(shape: [3, 4, 4], scalars: Array(repeating: 0, count: 48)), to: dir) }
            throws: { "\($0)".contains("not [F, 3, H, W]") }
    }
}
