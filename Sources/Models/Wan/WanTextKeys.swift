import Foundation
import TensorCore

/// The text keys of the cross-attentions with the padding collapsed. WanPipeline zero-pads each prompt's UMT5
/// states to `max_sequence_length` (512), so a row's trailing states are identical, and so are their projected
/// states, keys and values. Softmax attention over `n` identical keys equals attention over one of them with
/// `log n` added to its score; `collapse` keeps each batch row's states up to the first of its trailing run of
/// identical states and returns the additive mask doing that (`−∞` on filler keys of rows that kept fewer).
/// The text embedder and every block's key/value projections then run on the kept rows only. Exact up to float
/// rounding, for any input (only bitwise-identical trailing rows are collapsed).
struct WanTextKeys {
    /// `[B, Lk, text_dim]`, `Lk` = the most rows any batch row kept.
    let states: Tensor
    /// `[B, queries, Lk]`, nil when nothing was collapsed (then `states` is the input).
    let mask: Tensor?

    /// Collapses each batch row's run of identical trailing rows of `states` `[B, L, C]` when it is at least
    /// `max(2, L/8)` rows long, for attention from `queries` query rows; nothing is collapsed when the batch would
    /// still keep more than `L − L/8` rows (the mask, `B·queries·Lk` floats, would cost more than it saves).
    static func collapse(_ states: Tensor, queries: Int) -> WanTextKeys {
        let (b, l, c) = (states.shape[0], states.shape[1], states.shape[2])
        let minimumRun = max(2, l / 8)
        // Per batch row: rows kept (the run's first row last), and the run's length.
        var kept = [Int](repeating: l, count: b), runs = [Int](repeating: 1, count: b)
        states.scalars.withUnsafeBufferPointer { s in
            for row in 0..<b {
                let base = row * l * c
                let last = UnsafeBufferPointer(rebasing: s[(base + (l - 1) * c) ..< (base + l * c)])
                var first = l - 1
                while first > 0 {
                    let previous = base + (first - 1) * c
                    var same = true
                    for k in 0..<c where s[previous + k].bitPattern != last[k].bitPattern { same = false; break }
                    if !same { break }
                    first -= 1
                }
                if l - first >= minimumRun { kept[row] = first + 1; runs[row] = l - first }
            }
        }
        let lk = kept.max() ?? l
        if runs.allSatisfy({ $0 == 1 }) || lk > l - max(1, l / 8) { return WanTextKeys(states: states, mask: nil) }
        var out = [Float](repeating: 0, count: b * lk * c)
        var mask = [Float](repeating: 0, count: b * queries * lk)
        for row in 0..<b {
            let n = kept[row]
            for j in 0..<lk {
                // Filler rows repeat the run's state (never attended: −∞).
                let src = (row * l + min(j, n - 1)) * c
                for k in 0..<c { out[(row * lk + j) * c + k] = states.scalars[src + k] }
            }
            var keyBias = [Float](repeating: -.infinity, count: lk)
            for j in 0..<n { keyBias[j] = 0 }
            keyBias[n - 1] = Float(Foundation.log(Double(runs[row])))
            for q in 0..<queries {
                let at = (row * queries + q) * lk
                for j in 0..<lk { mask[at + j] = keyBias[j] }
            }
        }
        return WanTextKeys(states: Tensor(shape: [b, lk, c], scalars: out), mask: Tensor(shape: [b, queries, lk], scalars: mask))
    }
}
