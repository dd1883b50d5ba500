using System.Text;

namespace RlhfKit.Tokenization;

/// <summary>
/// Reads the parts of a SentencePiece <c>ModelProto</c> (protobuf) that the kit needs (the pieces and the special ids
/// of <c>TrainerSpec</c>) and can rewrite <c>trainer_spec.bos_id</c>: Microsoft.ML.Tokenizers 2.0.1 fails on a model
/// without BOS (bos_id = -1, T5's convention). A small hand-written wire-format reader; every other field is copied
/// byte for byte.
/// </summary>
internal sealed class SentencePieceModelFile
{
    // sentencepiece_model.proto
    const int ModelPiecesField = 1, ModelTrainerSpecField = 2;
    const int PieceTextField = 1, PieceTypeField = 3;
    const int TrainerUnkIdField = 40, TrainerBosIdField = 41, TrainerEosIdField = 42, TrainerPadIdField = 43;
    const int WireVarint = 0, WireFixed64 = 1, WireLengthDelimited = 2, WireFixed32 = 5;

    public enum PieceType { Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 }

    public required byte[] Bytes { get; init; }
    public required IReadOnlyList<string> Pieces { get; init; }
    public required IReadOnlyList<PieceType> Types { get; init; }
    public int UnkId { get; init; }
    public int BosId { get; init; }
    public int EosId { get; init; }
    public int PadId { get; init; }

    /// <summary>Parses <paramref name="bytes"/>; <see cref="InvalidDataException"/> (naming <paramref name="path"/>) when it is
    /// not a SentencePiece model.</summary>
    public static SentencePieceModelFile Parse(byte[] bytes, string path)
    {
        if (bytes.Length == 0) throw new InvalidDataException($"SentencePiece model '{path}' is empty (0 bytes).");
        var pieces = new List<string>();
        var types = new List<PieceType>();
        int unk = 0, bos = 1, eos = 2, pad = -1; // proto defaults
        try
        {
            var reader = new Reader(bytes, 0, bytes.Length);
            while (!reader.AtEnd)
            {
                var (field, wire) = reader.Tag();
                if (field == ModelPiecesField && wire == WireLengthDelimited)
                {
                    var (start, length) = reader.Bytes();
                    var piece = new Reader(bytes, start, length);
                    string? text = null;
                    var type = PieceType.Normal;
                    while (!piece.AtEnd)
                    {
                        var (f, w) = piece.Tag();
                        if (f == PieceTextField && w == WireLengthDelimited)
                        {
                            var (s, l) = piece.Bytes();
                            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes, s, l);
                        }
                        else if (f == PieceTypeField && w == WireVarint) type = (PieceType)(int)piece.Varint();
                        else piece.Skip(w);
                    }
                    pieces.Add(text ?? throw new InvalidDataException($"piece {pieces.Count} has no text"));
                    types.Add(type);
                }
                else if (field == ModelTrainerSpecField && wire == WireLengthDelimited)
                {
                    var (start, length) = reader.Bytes();
                    var spec = new Reader(bytes, start, length);
                    while (!spec.AtEnd)
                    {
                        var (f, w) = spec.Tag();
                        if (w == WireVarint && f is TrainerUnkIdField or TrainerBosIdField or TrainerEosIdField or TrainerPadIdField)
                        {
                            var value = (int)spec.Varint(); // int32: negative values are sign-extended to 64 bits
                            switch (f)
                            {
                                case TrainerUnkIdField: unk = value; break;
                                case TrainerBosIdField: bos = value; break;
                                case TrainerEosIdField: eos = value; break;
                                default: pad = value; break;
                            }
                        }
                        else spec.Skip(w);
                    }
                }
                else reader.Skip(wire);
            }
        }
        catch (Exception e) when (e is InvalidDataException or DecoderFallbackException or IndexOutOfRangeException)
        {
            throw new InvalidDataException($"'{path}' is not a valid SentencePiece model (protobuf): {e.Message}", e);
        }
        if (pieces.Count == 0)
            throw new InvalidDataException($"'{path}' is not a valid SentencePiece model: it holds no pieces.");
        return new SentencePieceModelFile { Bytes = bytes, Pieces = pieces, Types = types, UnkId = unk, BosId = bos, EosId = eos, PadId = pad };
    }

    /// <summary>The model bytes with <c>trainer_spec.bos_id</c> set to <paramref name="bosId"/> (every other byte kept).</summary>
    public byte[] WithBosId(int bosId)
    {
        var output = new MemoryStream(Bytes.Length + 16);
        var reader = new Reader(Bytes, 0, Bytes.Length);
        bool sawSpec = false;
        while (!reader.AtEnd)
        {
            var fieldStart = reader.Position;
            var (field, wire) = reader.Tag();
            if (field == ModelTrainerSpecField && wire == WireLengthDelimited && !sawSpec)
            {
                sawSpec = true;
                var (start, length) = reader.Bytes();
                var spec = new MemoryStream(length + 16);
                var inner = new Reader(Bytes, start, length);
                while (!inner.AtEnd)
                {
                    var s = inner.Position;
                    var (f, w) = inner.Tag();
                    inner.Skip(w);
                    if (f != TrainerBosIdField) spec.Write(Bytes, s, inner.Position - s);
                }
                WriteVarint(spec, (ulong)((TrainerBosIdField << 3) | WireVarint));
                WriteVarint(spec, unchecked((ulong)(long)bosId));
                WriteVarint(output, (ulong)((ModelTrainerSpecField << 3) | WireLengthDelimited));
                WriteVarint(output, (ulong)spec.Length);
                spec.WriteTo(output);
            }
            else
            {
                reader.Skip(wire);
                output.Write(Bytes, fieldStart, reader.Position - fieldStart);
            }
        }
        if (!sawSpec)
        {
            var spec = new MemoryStream();
            WriteVarint(spec, (ulong)((TrainerBosIdField << 3) | WireVarint));
            WriteVarint(spec, unchecked((ulong)(long)bosId));
            WriteVarint(output, (ulong)((ModelTrainerSpecField << 3) | WireLengthDelimited));
            WriteVarint(output, (ulong)spec.Length);
            spec.WriteTo(output);
        }
        return output.ToArray();
    }

    static void WriteVarint(Stream s, ulong v)
    {
        while (v >= 0x80) { s.WriteByte((byte)(v | 0x80)); v >>= 7; }
        s.WriteByte((byte)v);
    }

    struct Reader(byte[] data, int start, int length)
    {
        readonly int _end = start + length;
        public int Position { get; private set; } = start;
        public readonly bool AtEnd => Position >= _end;

        public ulong Varint()
        {
            ulong result = 0;
            for (int shift = 0; shift < 70; shift += 7)
            {
                if (Position >= _end) throw new InvalidDataException($"truncated varint at byte {Position}");
                var b = data[Position++];
                result |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80) return result;
            }
            throw new InvalidDataException($"malformed varint ending at byte {Position}");
        }

        public (int Field, int Wire) Tag()
        {
            var at = Position;
            var tag = Varint();
            var field = tag >> 3;
            if (field == 0 || field > int.MaxValue) throw new InvalidDataException($"invalid field number {field} at byte {at}");
            return ((int)field, (int)(tag & 7));
        }

        public (int Start, int Length) Bytes()
        {
            var length = Varint();
            if (length > (ulong)(_end - Position)) throw new InvalidDataException($"field of {length} bytes at byte {Position} runs past the end of its message");
            var s = Position;
            Position += (int)length;
            return (s, (int)length);
        }

        public void Skip(int wire)
        {
            switch (wire)
            {
                case WireVarint: Varint(); break;
                case WireFixed64: Advance(8); break;
                case WireLengthDelimited: Bytes(); break;
                case WireFixed32: Advance(4); break;
                default: throw new InvalidDataException($"unsupported protobuf wire type {wire} before byte {Position}");
            }
        }

        void Advance(int n)
        {
            if (_end - Position < n) throw new InvalidDataException($"truncated field at byte {Position}");
            Position += n;
        }
    }
}
