import Foundation

/// The SentencePiece Unigram tokenizer of T5 and UMT5 text encoders (FLUX.1's `tokenizer_2`, Wan's `tokenizer`),
/// computing ids as transformers 5.24's `T5TokenizerFast` (= `T5Tokenizer`, tokenizers-backed) does when called
/// `tokenizer(texts, padding="max_length", max_length=L, truncation=True)`.
///
/// Pipeline (the `tokenizers` library's order):
///  1. added tokens (`<pad>`, `</s>`, `<unk>`, `<extra_id_N>`, …) are split out of the raw text (leftmost, longest;
///     those marked `normalized` are matched after step 2 instead);
///  2. each piece between them is normalised (`TextNormalizer`: SentencePiece's precompiled charsmap, …);
///  3. pre-tokenised (`PreTokenizer`: whitespace split, Metaspace "▁");
///  4. segmented by the Unigram model (`UnigramModel`: Viterbi over the scores, unknown characters fused into
///     `<unk>`, or `<0xNN>` byte pieces with byte fallback);
///  5. truncated to L − (number of template tokens), then the template added (T5: `… </s>`), then padded with
///     `<pad>` to L; the attention mask is 1 on tokens, 0 on padding.
///
/// How a file's pipeline is taken (`Interpretation`):
/// - `.transformers` (the default) is what transformers 5.24's `T5Tokenizer` builds from the files, whatever
///   else tokenizer.json says: its vocabulary, added tokens and precompiled charsmap, then normaliser = the
///   charsmap alone (other normalizers of a `Sequence` dropped), pre-tokeniser = WhitespaceSplit + Metaspace("▁",
///   prepend always, split), `unk_id` 2, no byte fallback, template `$A </s>`. From a spiece.model alone it appends
///   `extra_ids` (tokenizer_config.json, default 100) pieces `<extra_id_{N-1}>` … `<extra_id_0>` to the pieces.
/// - `.asWritten` runs tokenizer.json's own normalizer, pre-tokenizer, `unk_id`, `byte_fallback` and
///   post-processor, as tokenizers' `Tokenizer.from_file` (and transformers 4.x's `T5TokenizerFast`) did.
/// Files saved by transformers 5.24 from a spiece.model give the same ids either way when the model has no byte
/// fallback.
///
/// Supported tokenizer.json parts: model `Unigram`; normalizers `Precompiled`, `Replace`, `Strip`, `Sequence`;
/// pre-tokenizers `WhitespaceSplit`, `Metaspace`, `Sequence`; post-processor `TemplateProcessing`; added tokens
/// without `lstrip` / `rstrip` / `single_word`. Anything else is a `T5TokenizerError.unsupported` naming the file
/// and field. No decoding (ids → text).
public struct T5Tokenizer: Sendable {
    /// How tokenizer.json's pipeline is read; see the type's comment.
    public enum Interpretation: Sendable {
        case transformers
        case asWritten
    }

    /// A token matched in the text before the model sees it.
    public struct AddedToken: Sendable, Equatable {
        public var content: String
        public var id: Int
        /// Matched in the normalised text rather than the raw text.
        public var normalized: Bool
        public var special: Bool

        public init(content: String, id: Int, normalized: Bool = false, special: Bool = true) {
            self.content = content
            self.id = id
            self.normalized = normalized
            self.special = special
        }
    }

    public let model: UnigramModel
    public let normalizer: TextNormalizer?
    public let preTokenizer: PreTokenizer?
    public let addedTokens: [AddedToken]
    /// The template's tokens before and after the text (T5: none and `</s>`).
    public let prefixIDs: [Int]
    public let suffixIDs: [Int]
    public let padTokenID: Int

    private let rawMatcher: AddedTokenMatcher<Unicode.Scalar>
    private let normalizedMatcher: AddedTokenMatcher<Unicode.Scalar>

    public init(model: UnigramModel, normalizer: TextNormalizer?, preTokenizer: PreTokenizer?, addedTokens: [AddedToken],
                prefixIDs: [Int], suffixIDs: [Int], padTokenID: Int) {
        self.model = model
        self.normalizer = normalizer
        self.preTokenizer = preTokenizer
        self.addedTokens = addedTokens
        self.prefixIDs = prefixIDs
        self.suffixIDs = suffixIDs
        self.padTokenID = padTokenID
        rawMatcher = AddedTokenMatcher(addedTokens.filter { !$0.normalized }.map { (Array($0.content.unicodeScalars), $0.id) })
        normalizedMatcher = AddedTokenMatcher(addedTokens.filter(\.normalized).map { token in
            (Array((normalizer?.apply(to: token.content) ?? token.content).unicodeScalars), token.id)
        })
    }

    /// Template tokens added around every text.
    public var specialTokenCount: Int { prefixIDs.count + suffixIDs.count }

    /// The ids of `text` without the template's tokens, untruncated (transformers' `add_special_tokens=False`).
    public func tokenize(_ text: String) -> [Int] {
        let input = Array(text.unicodeScalars)
        var ids: [Int] = []
        ids.reserveCapacity(input.count / 2 + 4)
        rawMatcher.split(input, segment: { range in
            var segment = NormalizedText(Array(input[range]), origins: Array(range), originStart: range.lowerBound)
            if let normalizer { segment = normalizer.apply(segment) }
            normalizedMatcher.split(segment.scalars, segment: { r in
                // tokenizers re-slices every piece after normalising, which re-anchors its start.
                let piece = segment.slice(r)
                for word in preTokenizer?.apply([piece]) ?? [piece] where !word.isEmpty {
                    model.encode(word.string, into: &ids)
                }
            }, token: { ids.append($0) })
        }, token: { ids.append($0) })
        return ids
    }

    /// The template around the first `maxLength − specialTokenCount` ids of `text` (all of them when `maxLength` is
    /// nil), padded with `padTokenID` to `maxLength` when `padToMaxLength`; mask 1 on tokens, 0 on padding.
    /// `maxLength` must leave room for the template's tokens.
    public func encode(_ text: String, maxLength: Int?, padToMaxLength: Bool = true) -> (ids: [Int], attentionMask: [Int]) {
        var body = tokenize(text)
        if let maxLength {
            precondition(maxLength >= specialTokenCount,
                         "T5Tokenizer.encode: maxLength \(maxLength) leaves no room for \(specialTokenCount) template tokens")
            body = Array(body.prefix(maxLength - specialTokenCount))
        }
        var ids = prefixIDs + body + suffixIDs
        var mask = [Int](repeating: 1, count: ids.count)
        if let maxLength, padToMaxLength, ids.count < maxLength {
            mask += repeatElement(0, count: maxLength - ids.count)
            ids += repeatElement(padTokenID, count: maxLength - ids.count)
        }
        return (ids, mask)
    }

    /// A batch, each text as `encode(_:maxLength:)` padded to `maxLength`.
    public func encode(_ texts: [String], maxLength: Int) -> (ids: [[Int]], attentionMask: [[Int]]) {
        let rows = texts.map { encode($0, maxLength: maxLength) }
        return (rows.map(\.ids), rows.map(\.attentionMask))
    }
}

/// Why a T5 tokenizer could not be loaded: the cases (and messages, naming the file and field) of the CLIP
/// tokenizer's errors.
public typealias T5TokenizerError = CLIPTokenizerError
