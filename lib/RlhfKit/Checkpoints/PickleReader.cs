using System.Numerics;
using System.Text;

namespace RlhfKit.Checkpoints;

/// <summary>A global (class or function) a pickle named; produced only for names the caller's resolver allowed.</summary>
internal sealed record PickleGlobal(string Module, string Name)
{
    public string FullName => $"{Module}.{Name}";
}

/// <summary>A pickled dict (or OrderedDict), insertion order kept.</summary>
internal sealed class PickleDict
{
    public List<KeyValuePair<object?, object?>> Items { get; } = [];
}

/// <summary>
/// A small, closed pickle reader: it knows the opcodes PyTorch state dicts use (protocols 0-5 binary forms), builds
/// plain values (long/BigInteger, double, string, byte[], bool, null, object?[] tuples, List lists, PickleDict), and
/// hands every GLOBAL to <see cref="ResolveGlobal"/> (which refuses names outside the whitelist), every REDUCE to
/// <see cref="Reduce"/> and every persistent id to <see cref="PersistentLoad"/>. It never calls anything by name,
/// reads iteratively (no recursion) and checks every length against the bytes left, so a hostile or damaged file ends
/// in a <see cref="InvalidDataException"/>, not a crash, a hang or a huge allocation.
/// </summary>
internal sealed class PickleReader
{
    readonly Stream _stream;
    readonly string _file;
    readonly long _end;

    public required Func<string, string, object> ResolveGlobal { get; init; }
    public required Func<object, object?[], object?> Reduce { get; init; }
    public Func<object?, object?>? PersistentLoad { get; init; }
    /// <summary>BUILD (setting an object's state); the default refuses it.</summary>
    public Action<object?, object?>? Build { get; init; }

    public PickleReader(Stream stream, string file, long? end = null)
    {
        _stream = stream;
        _file = file;
        _end = end ?? (stream.CanSeek ? stream.Length : long.MaxValue);
    }

    sealed class Mark
    {
        public static readonly Mark Instance = new();
    }

    InvalidDataException Error(string message, long at) =>
        CheckpointError.Format(_file, $"pickle: {message} (at byte {at})");

    long Position => _stream.CanSeek ? _stream.Position : -1;
    long Remaining => _stream.CanSeek ? _end - _stream.Position : long.MaxValue;

    int ReadByteOrThrow()
    {
        var b = Position < _end || !_stream.CanSeek ? _stream.ReadByte() : -1;
        if (b < 0) throw Error("unexpected end of file inside a pickle (truncated?)", Position);
        return b;
    }

    byte[] ReadBytes(long count)
    {
        if (count < 0 || count > Remaining || count > Array.MaxLength)
            throw Error($"a length of {count} bytes runs past the end of the data ({Math.Max(0, Remaining)} bytes left; truncated?)", Position);
        var buffer = new byte[count];
        try { _stream.ReadExactly(buffer); }
        catch (EndOfStreamException) { throw Error("unexpected end of file inside a pickle", Position); }
        return buffer;
    }

    string ReadLine()
    {
        var sb = new StringBuilder();
        while (true)
        {
            var b = ReadByteOrThrow();
            if (b == '\n') return sb.ToString();
            if (sb.Length > 4096) throw Error("text line longer than 4096 bytes", Position);
            sb.Append((char)b);
        }
    }

    /// <summary>Reads one pickle (up to its STOP) and returns its value.</summary>
    public object? Load()
    {
        var stack = new List<object?>();
        var marks = new Stack<int>();
        var memo = new Dictionary<long, object?>();

        object? Pop(long at)
        {
            if (stack.Count == 0 || (marks.Count > 0 && stack.Count <= marks.Peek())) throw Error("stack underflow", at);
            var v = stack[^1];
            stack.RemoveAt(stack.Count - 1);
            return v;
        }
        object? Top(long at)
        {
            if (stack.Count == 0 || (marks.Count > 0 && stack.Count <= marks.Peek())) throw Error("stack underflow", at);
            return stack[^1];
        }
        List<object?> PopMark(long at)
        {
            if (marks.Count == 0) throw Error("no MARK on the stack", at);
            var start = marks.Pop();
            var items = stack.GetRange(start, stack.Count - start);
            stack.RemoveRange(start, stack.Count - start);
            return items;
        }
        object? Get(long key, long at) =>
            memo.TryGetValue(key, out var v) ? v : throw Error($"memo key {key} was never stored", at);
        void SetItems(object? target, List<object?> kv, long at)
        {
            if (target is not PickleDict dict) throw Error($"SETITEM(S) on a {Describe(target)}, not a dict", at);
            if (kv.Count % 2 != 0) throw Error("SETITEMS with an odd number of items", at);
            for (int i = 0; i < kv.Count; i += 2) dict.Items.Add(new(kv[i], kv[i + 1]));
        }
        void Append(object? target, IEnumerable<object?> items, long at)
        {
            if (target is not List<object?> list) throw Error($"APPEND(S) on a {Describe(target)}, not a list", at);
            list.AddRange(items);
        }

        while (true)
        {
            var at = Position;
            var op = ReadByteOrThrow();
            switch (op)
            {
                case 0x80: // PROTO
                    var proto = ReadByteOrThrow();
                    if (proto > 5) throw Error($"pickle protocol {proto} is newer than 5", at);
                    break;
                case 0x95: ReadBytes(8); break; // FRAME: a length hint only
                case '.': // STOP
                    if (marks.Count != 0) throw Error("STOP with an open MARK", at);
                    if (stack.Count != 1) throw Error($"STOP with {stack.Count} values on the stack", at);
                    return stack[0];
                case '(': marks.Push(stack.Count); break; // MARK
                case ')': stack.Add(Array.Empty<object?>()); break; // EMPTY_TUPLE
                case 't': stack.Add(PopMark(at).ToArray()); break; // TUPLE
                case 0x85: stack.Add(new[] { Pop(at) }); break; // TUPLE1
                case 0x86: { var b = Pop(at); var a = Pop(at); stack.Add(new[] { a, b }); break; } // TUPLE2
                case 0x87: { var c = Pop(at); var b = Pop(at); var a = Pop(at); stack.Add(new[] { a, b, c }); break; } // TUPLE3
                case ']': stack.Add(new List<object?>()); break; // EMPTY_LIST
                case 'l': stack.Add(PopMark(at)); break; // LIST
                case 'a': { var v = Pop(at); Append(Top(at), [v], at); break; } // APPEND
                case 'e': { var items = PopMark(at); Append(Top(at), items, at); break; } // APPENDS
                case '}': stack.Add(new PickleDict()); break; // EMPTY_DICT
                case 'd': { var d = new PickleDict(); var kv = PopMark(at); stack.Add(d); SetItems(d, kv, at); break; } // DICT
                case 's': { var v = Pop(at); var k = Pop(at); SetItems(Top(at), [k, v], at); break; } // SETITEM
                case 'u': { var kv = PopMark(at); SetItems(Top(at), kv, at); break; } // SETITEMS
                case 'N': stack.Add(null); break; // NONE
                case 0x88: stack.Add(true); break; // NEWTRUE
                case 0x89: stack.Add(false); break; // NEWFALSE
                case 'J': stack.Add((long)BitConverter.ToInt32(ReadBytes(4))); break; // BININT
                case 'K': stack.Add((long)ReadByteOrThrow()); break; // BININT1
                case 'M': stack.Add((long)BitConverter.ToUInt16(ReadBytes(2))); break; // BININT2
                case 0x8A: stack.Add(Long(ReadBytes(ReadByteOrThrow()))); break; // LONG1
                case 0x8B: // LONG4
                    {
                        var n = BitConverter.ToInt32(ReadBytes(4));
                        if (n > 1024) throw Error($"LONG4 of {n} bytes is not a value a state dict holds", at);
                        stack.Add(Long(ReadBytes(n)));
                        break;
                    }
                case 'G': // BINFLOAT (big-endian)
                    {
                        var b = ReadBytes(8);
                        if (BitConverter.IsLittleEndian) Array.Reverse(b);
                        stack.Add(BitConverter.ToDouble(b));
                        break;
                    }
                case 'X': stack.Add(Utf8(ReadBytes(BitConverter.ToUInt32(ReadBytes(4))), at)); break; // BINUNICODE
                case 0x8C: stack.Add(Utf8(ReadBytes(ReadByteOrThrow()), at)); break; // SHORT_BINUNICODE
                case 0x8D: stack.Add(Utf8(ReadBytes(BitConverter.ToInt64(ReadBytes(8))), at)); break; // BINUNICODE8
                case 'T': stack.Add(Encoding.Latin1.GetString(ReadBytes(BitConverter.ToInt32(ReadBytes(4))))); break; // BINSTRING
                case 'U': stack.Add(Encoding.Latin1.GetString(ReadBytes(ReadByteOrThrow()))); break; // SHORT_BINSTRING
                case 'B': stack.Add(ReadBytes(BitConverter.ToUInt32(ReadBytes(4)))); break; // BINBYTES
                case 'C': stack.Add(ReadBytes(ReadByteOrThrow())); break; // SHORT_BINBYTES
                case 'c': // GLOBAL
                    {
                        var module = ReadLine();
                        var name = ReadLine();
                        stack.Add(ResolveGlobal(module, name));
                        break;
                    }
                case 0x93: // STACK_GLOBAL
                    {
                        var name = Pop(at) as string;
                        var module = Pop(at) as string;
                        if (module is null || name is null) throw Error("STACK_GLOBAL needs two strings", at);
                        stack.Add(ResolveGlobal(module, name));
                        break;
                    }
                case 'q': memo[ReadByteOrThrow()] = Top(at); break; // BINPUT
                case 'r': memo[BitConverter.ToUInt32(ReadBytes(4))] = Top(at); break; // LONG_BINPUT
                case 0x94: memo[memo.Count] = Top(at); break; // MEMOIZE
                case 'p': memo[ParseInt(ReadLine(), at)] = Top(at); break; // PUT
                case 'h': stack.Add(Get(ReadByteOrThrow(), at)); break; // BINGET
                case 'j': stack.Add(Get(BitConverter.ToUInt32(ReadBytes(4)), at)); break; // LONG_BINGET
                case 'g': stack.Add(Get(ParseInt(ReadLine(), at), at)); break; // GET
                case 'Q': // BINPERSID
                    {
                        var pid = Pop(at);
                        if (PersistentLoad is null) throw Error("persistent id in a pickle that should have none", at);
                        stack.Add(PersistentLoad(pid));
                        break;
                    }
                case 'R': // REDUCE
                    {
                        var args = Pop(at);
                        var callable = Pop(at);
                        if (args is not object?[] tuple) throw Error($"REDUCE with arguments that are a {Describe(args)}, not a tuple", at);
                        if (callable is null) throw Error("REDUCE of None", at);
                        stack.Add(Reduce(callable, tuple));
                        break;
                    }
                case 'b': // BUILD
                    {
                        var state = Pop(at);
                        var target = Top(at);
                        if (Build is null) throw Error($"BUILD (setting the state of a {Describe(target)}) is not allowed here", at);
                        Build(target, state);
                        break;
                    }
                default:
                    throw Error($"opcode 0x{op:x2} ('{(op is >= 32 and < 127 ? (char)op : '?')}') is not one a state dict uses", at);
            }
        }
    }

    /// <summary>LONG1/LONG4's little-endian two's-complement integer: a <c>long</c> when it fits (sizes, offsets and
    /// element counts past 2^31 are written this way), a <see cref="BigInteger"/> only beyond.</summary>
    static object Long(byte[] bytes)
    {
        if (bytes.Length == 0) return 0L;
        var value = new BigInteger(bytes, isUnsigned: false, isBigEndian: false);
        // Both branches boxed as object: with `? (long)value : value` the conditional's type would be BigInteger and
        // every value, however small, would come back as a BigInteger.
        return value >= long.MinValue && value <= long.MaxValue ? (object)(long)value : value;
    }

    string Utf8(byte[] bytes, long at)
    {
        try { return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes); }
        catch (DecoderFallbackException) { throw Error("string is not valid UTF-8", at); }
    }

    long ParseInt(string text, long at) =>
        long.TryParse(text, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var v)
            ? v : throw Error($"'{text}' is not an integer", at);

    internal static string Describe(object? value) => value switch
    {
        null => "None",
        string => "str",
        long or BigInteger => "int",
        double => "float",
        bool => "bool",
        byte[] => "bytes",
        object?[] => "tuple",
        List<object?> => "list",
        PickleDict => "dict",
        PickleGlobal g => g.FullName,
        _ => value.GetType().Name,
    };
}
