/// The parts of a SentencePiece model file (`spiece.model`, a `ModelProto` protobuf) that a Unigram tokenizer
/// needs, read by a minimal protobuf wire-format reader: the pieces (string, score, type), `trainer_spec`'s
/// `model_type`, `unk_id` and `byte_fallback`, and `normalizer_spec`'s `precompiled_charsmap`. Unknown fields are
/// skipped; proto2 defaults apply to absent ones. Limits: no groups (deprecated wire types 3/4 are errors).
public struct SentencePieceModelFile: Sendable {
    /// `ModelProto.SentencePiece.Type`.
    public enum PieceType: Int, Sendable {
        case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    public struct Piece: Sendable, Equatable {
        public var piece: String
        public var score: Float
        public var type: PieceType
    }

    public var pieces: [Piece] = []
    /// `trainer_spec.model_type`: 1 unigram (the default), 2 BPE, 3 word, 4 char.
    public var modelType = 1
    public var unknownID = 0
    public var byteFallback = false
    /// `normalizer_spec.precompiled_charsmap`, nil when absent or empty (no normalisation).
    public var precompiledCharsMap: [UInt8]?

    /// Why the bytes are not a model file this reader understands; `offset` is where in the file.
    public struct FormatError: Error, Equatable, CustomStringConvertible {
        public var offset: Int
        public var problem: String
        public var description: String { "byte \(offset): \(problem)" }
    }

    public init(_ bytes: [UInt8]) throws(FormatError) {
        var reader = ProtobufReader(bytes[...])
        while let (field, value) = try reader.next() {
            switch (field, value) {
            case (1, .bytes(let b)): pieces.append(try Self.piece(b))
            case (2, .bytes(let b)): try readTrainerSpec(b)
            case (3, .bytes(let b)): try readNormalizerSpec(b)
            default: break
            }
        }
    }

    private static func piece(_ bytes: ArraySlice<UInt8>) throws(FormatError) -> Piece {
        var reader = ProtobufReader(bytes)
        var p = Piece(piece: "", score: 0, type: .normal)
        while let (field, value) = try reader.next() {
            switch (field, value) {
            case (1, .bytes(let b)):
                guard let s = String(validating: b, as: UTF8.self) else {
                    throw FormatError(offset: b.startIndex, problem: "a piece is not UTF-8")
                }
                p.piece = s
            case (2, .fixed32(let bits)): p.score = Float(bitPattern: bits)
            case (3, .varint(let v)):
                guard let t = PieceType(rawValue: Int(truncatingIfNeeded: v)) else {
                    throw FormatError(offset: bytes.startIndex, problem: "piece \"\(p.piece)\" has unknown type \(v)")
                }
                p.type = t
            default: break
            }
        }
        return p
    }

    private mutating func readTrainerSpec(_ bytes: ArraySlice<UInt8>) throws(FormatError) {
        var reader = ProtobufReader(bytes)
        while let (field, value) = try reader.next() {
            switch (field, value) {
            case (3, .varint(let v)): modelType = Int(truncatingIfNeeded: v)
            case (35, .varint(let v)): byteFallback = v != 0
            case (40, .varint(let v)): unknownID = Int(Int32(truncatingIfNeeded: v))
            default: break
            }
        }
    }

    private mutating func readNormalizerSpec(_ bytes: ArraySlice<UInt8>) throws(FormatError) {
        var reader = ProtobufReader(bytes)
        while let (field, value) = try reader.next() {
            if case (2, .bytes(let b)) = (field, value) { precompiledCharsMap = b.isEmpty ? nil : Array(b) }
        }
    }
}

/// Protobuf wire format: a sequence of (field number, value) records.
struct ProtobufReader {
    enum Value {
        case varint(UInt64)
        case fixed64(UInt64)
        case bytes(ArraySlice<UInt8>)
        case fixed32(UInt32)
    }

    private let data: ArraySlice<UInt8>
    private var position: Int

    init(_ data: ArraySlice<UInt8>) {
        self.data = data
        position = data.startIndex
    }

    /// The next record, or nil at the end.
    mutating func next() throws(SentencePieceModelFile.FormatError) -> (Int, Value)? {
        guard position < data.endIndex else { return nil }
        let at = position
        let key = try varint()
        let field = Int(key >> 3)
        guard field > 0 else { throw .init(offset: at, problem: "field number 0") }
        switch key & 7 {
        case 0: return (field, .varint(try varint()))
        case 1:
            let b = try take(8)
            var v: UInt64 = 0
            for (i, x) in b.enumerated() { v |= UInt64(x) << (8 * UInt64(i)) }
            return (field, .fixed64(v))
        case 2:
            let n = try varint()
            guard n <= UInt64(data.endIndex - position) else {
                throw .init(offset: at, problem: "field \(field) claims \(n) bytes, \(data.endIndex - position) remain")
            }
            return (field, .bytes(try take(Int(n))))
        case 5:
            let b = try take(4)
            var v: UInt32 = 0
            for (i, x) in b.enumerated() { v |= UInt32(x) << (8 * UInt32(i)) }
            return (field, .fixed32(v))
        default:
            throw .init(offset: at, problem: "field \(field) has unsupported wire type \(key & 7)")
        }
    }

    private mutating func varint() throws(SentencePieceModelFile.FormatError) -> UInt64 {
        var v: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < data.endIndex else { throw .init(offset: position, problem: "truncated varint") }
            guard shift < 64 else { throw .init(offset: position, problem: "varint longer than 10 bytes") }
            let b = data[position]
            position += 1
            v |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return v }
            shift += 7
        }
    }

    private mutating func take(_ n: Int) throws(SentencePieceModelFile.FormatError) -> ArraySlice<UInt8> {
        guard n <= data.endIndex - position else {
            throw .init(offset: position, problem: "truncated: \(n) bytes needed, \(data.endIndex - position) remain")
        }
        defer { position += n }
        return data[position..<(position + n)]
    }
}
