@testable import Remote
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

/// The split follows measured speed: an endpoint answering three times as fast gets three times the rows; one
/// that is down gets none.
@Suite struct EndpointBookTests {
    @Test func fasterEndpointsGetMoreRowsAndDownOnesNone() {
        let book = EndpointBook([InferenceEndpoint(host: "a", port: 1, model: "m"), InferenceEndpoint(host: "b", port: 1, model: "m")])
        #expect(book.plan(rows: 16).map(\.rows) == [0..<8, 8..<16])   // unmeasured: even
        book.recordSuccess(0, rows: 30, seconds: 1, serverSeconds: nil)
        book.recordSuccess(1, rows: 10, seconds: 1, serverSeconds: nil)
        let plan = book.plan(rows: 16)
        #expect(plan.map(\.endpoint) == [0, 1] && plan.map(\.rows) == [0..<12, 12..<16])
        book.markDown(0)
        #expect(book.plan(rows: 16).map(\.endpoint) == [1] && book.plan(rows: 16).map(\.rows) == [0..<16])
        #expect(book.statistics.map(\.rows) == [30, 10] && book.statistics[0].down)
    }
}
