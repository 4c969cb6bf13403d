import Foundation
import Testing
@testable import Reports

@Suite struct OutputDirectoryClaimTests {
    func scratch() -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("claim-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }

    @Test func aSecondClaimIsRefusedAndLeavesTheFirstLockAlone() throws {
        let dir = scratch()
        let lock = dir.appendingPathComponent(OutputDirectoryClaim.lockName).path
        let first = try OutputDirectoryClaim(dir)
        #expect(throws: ReportError("\(dir.path) is in use by another run (process \(getpid())); wait for it or choose another output directory")) {
            _ = try OutputDirectoryClaim(dir)
        }
        #expect(FileManager.default.fileExists(atPath: lock))   // the refused claim did not remove it
        first.release()
        #expect(!FileManager.default.fileExists(atPath: lock))
        let again = try OutputDirectoryClaim(dir)
        again.release()
    }

    @Test func aLockLeftByADeadProcessIsTakenOver() throws {
        let dir = scratch()
        // A process id that is not running: a child that has exited.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/true")
        try p.run()
        p.waitUntilExit()
        try "\(p.processIdentifier)\n".write(to: dir.appendingPathComponent(OutputDirectoryClaim.lockName), atomically: true, encoding: .utf8)
        let claim = try OutputDirectoryClaim(dir)
        let owner = try String(contentsOf: dir.appendingPathComponent(OutputDirectoryClaim.lockName), encoding: .utf8)
        #expect(owner == "\(getpid())\n")
        claim.release()
    }

    @Test func anEarlierResultIsRemovedWhenTheRunStarts() throws {
        let dir = scratch()
        let result = dir.appendingPathComponent("result.json")
        try Data("{}".utf8).write(to: result)
        try Data("png".utf8).write(to: dir.appendingPathComponent("best.png"))
        let claim = try OutputDirectoryClaim(dir)
        #expect(!FileManager.default.fileExists(atPath: result.path))
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("best.png").path))
        claim.release()
    }
}
