import Remote
import Testing

@Suite struct RowSplitTests {
    @Test func equalSpeedsSplitEvenly() {
        #expect(splitRows(16, speeds: [1, 1]) == [8, 8])
        #expect(splitRows(7, speeds: [1, 1, 1]) == [3, 2, 2])
        #expect(splitRows(16, speeds: [0, 0]) == [8, 8])   // nothing measured yet
    }

    @Test func slowerEndpointsGetLessButAtLeastOneRow() {
        #expect(splitRows(16, speeds: [3, 1]) == [12, 4])
        #expect(splitRows(16, speeds: [100, 1]) == [15, 1])
        #expect(splitRows(1, speeds: [1, 5]) == [0, 1])
    }

    @Test func countsAlwaysAddUp() {
        for rows in 0...40 {
            for speeds in [[1.0], [1, 2], [0.3, 7, 2], [5, 5, 5, 5]] {
                let s = splitRows(rows, speeds: speeds)
                #expect(s.reduce(0, +) == rows && s.allSatisfy { $0 >= 0 })
            }
        }
    }
}
