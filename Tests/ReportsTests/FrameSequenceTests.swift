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

    @Test func refusesWhatIsNotFrames() {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("frames-\(UUID().uuidString)")
        #expect { try FrameSequence.write(Tensor(shape: [3, 4, 4], scalars: Array(repeating: 0, count: 48)), to: dir) }
            throws: { "\($0)".contains("not [F, 3, H, W]") }
    }
}
