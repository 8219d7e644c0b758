using Syscage.Abi;
using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;

namespace Syscage.Ebpf.Btf;

/// <summary>
/// The type information of a <c>.BTF</c> section (format: <c>Documentation/bpf/btf.rst</c>): a header, a type
/// section and a string section. Every kind is decoded or at least skipped by its documented size, so unknown
/// details never desynchronise the type list. <c>.BTF.ext</c> (function and line information) is read by
/// <see cref="BtfExt"/>, whose strings are in this section.
/// </summary>
public sealed class BtfInfo
{
    private const ushort BTF_MAGIC = (ushort)Uapi.BTF_MAGIC;
    private const int MaxResolveDepth = 32;
    private readonly List<BtfType> _types;
    private readonly byte[] _strings;

    private BtfInfo(List<BtfType> types, byte[] strings)
    {
        _types = types;
        _strings = strings;
    }

    /// <summary>All types by id; index 0 is <c>void</c>.</summary>
    public IReadOnlyList<BtfType> Types => _types;

    /// <summary>Parses a <c>.BTF</c> section; throws <see cref="EbpfLoadException"/> when it is malformed.</summary>
    public static BtfInfo Parse(ReadOnlySpan<byte> data) =>
        TryParse(data, out var btf, out var error) ? btf : EbpfLoadException.Throw<BtfInfo>(error);

    /// <summary>Parses a <c>.BTF</c> section; on failure <paramref name="error"/> says what is wrong first.</summary>
    internal static bool TryParse(ReadOnlySpan<byte> data, [NotNullWhen(true)] out BtfInfo? btf, [NotNullWhen(false)] out string? error)
    {
        btf = null;
        if (data.Length < 24)
            return Fail("section '.BTF': truncated header", out error);
        if (BinaryPrimitives.ReadUInt16LittleEndian(data) != BTF_MAGIC)
            return Fail("section '.BTF': bad magic (expected 0xeb9f, little endian)", out error);
        if (data[2] != 1)
            return Fail(Inv($"section '.BTF': unsupported version {data[2]}"), out error);
        uint hdrLen = U32(data, 4), typeOff = U32(data, 8), typeLen = U32(data, 12), strOff = U32(data, 16), strLen = U32(data, 20);
        if (hdrLen < 24 || hdrLen > (uint)data.Length)
            return Fail("section '.BTF': bad header length", out error);
        var body = data[(int)hdrLen..];
        if ((ulong)typeOff + typeLen > (ulong)body.Length || (ulong)strOff + strLen > (ulong)body.Length)
            return Fail("section '.BTF': type or string section lies outside the section", out error);
        var strings = body.Slice((int)strOff, (int)strLen);
        var typeData = body.Slice((int)typeOff, (int)typeLen);

        var types = new List<BtfType> { new(0, BtfKind.Void, "void", 0, []) };
        int p = 0;
        while (p < typeData.Length)
        {
            int id = types.Count;
            if (typeData.Length - p < 12)
                return Fail(Inv($"section '.BTF': type {id} is truncated"), out error);
            if (!Str(strings, U32(typeData, p), out string name, out error))
                return false;
            uint info = U32(typeData, p + 4);
            uint sizeOrType = U32(typeData, p + 8);
            int vlen = (int)(info & 0xffff);
            var kind = (BtfKind)((info >> 24) & 0x1f);
            p += 12;
            int? extraSize = kind switch
            {
                BtfKind.Int or BtfKind.Var or BtfKind.DeclTag => 4,
                BtfKind.Array => 12,
                BtfKind.Struct or BtfKind.Union or BtfKind.Datasec or BtfKind.Enum64 => 12 * vlen,
                BtfKind.Enum or BtfKind.FuncProto => 8 * vlen,
                BtfKind.Ptr or BtfKind.Fwd or BtfKind.Typedef or BtfKind.Volatile or BtfKind.Const or BtfKind.Restrict
                    or BtfKind.Func or BtfKind.Float or BtfKind.TypeTag => 0,
                _ => null,
            };
            if (extraSize is not int extra)
                return Fail(Inv($"section '.BTF': type {id} has unknown kind {(int)kind}"), out error);
            if (typeData.Length - p < extra)
                return Fail(Inv($"section '.BTF': type {id} ({kind}) is truncated"), out error);
            var extraData = typeData.Slice(p, extra);
            var members = new List<BtfMember>();
            int elemType = 0;
            uint nelems = 0;
            string memberName;
            switch (kind)
            {
                case BtfKind.Array:
                    elemType = (int)U32(extraData, 0);
                    nelems = U32(extraData, 8);
                    break;
                case BtfKind.Struct or BtfKind.Union:
                    bool bitfieldOffsets = (info & 0x8000_0000) != 0;
                    for (int i = 0; i < vlen; i++)
                    {
                        uint off = U32(extraData, i * 12 + 8);
                        if (!Str(strings, U32(extraData, i * 12), out memberName, out error))
                            return false;
                        // With kind_flag set, the offset holds the bitfield size in its top 8 bits.
                        members.Add(new BtfMember(memberName, (int)U32(extraData, i * 12 + 4), bitfieldOffsets ? off & 0xffffff : off, 0));
                    }
                    break;
                case BtfKind.Datasec:
                    for (int i = 0; i < vlen; i++)
                        members.Add(new BtfMember("", (int)U32(extraData, i * 12), U32(extraData, i * 12 + 4), U32(extraData, i * 12 + 8)));
                    break;
                case BtfKind.FuncProto:
                    for (int i = 0; i < vlen; i++)
                    {
                        if (!Str(strings, U32(extraData, i * 8), out memberName, out error))
                            return false;
                        members.Add(new BtfMember(memberName, (int)U32(extraData, i * 8 + 4), 0, 0));
                    }
                    break;
            }
            p += extra;
            types.Add(new BtfType(id, kind, name, sizeOrType, members, elemType, nelems));
        }
        btf = new BtfInfo(types, strings.ToArray());
        error = null;
        return true;
    }

    /// <summary>The type with this id; throws <see cref="EbpfLoadException"/> when there is none.</summary>
    public BtfType Get(int id) => TryGet(id, out var type, out var error) ? type : EbpfLoadException.Throw<BtfType>(error);

    /// <summary>The type with this id; <paramref name="error"/> when there is none.</summary>
    internal bool TryGet(int id, [NotNullWhen(true)] out BtfType? type, [NotNullWhen(false)] out string? error)
    {
        (type, error) = (null, null);
        if (id >= 0 && id < _types.Count)
        {
            type = _types[id];
            return true;
        }
        return Fail(Inv($"section '.BTF': type id {id} is out of range"), out error);
    }

    /// <summary>Follows typedefs and CONST/VOLATILE/RESTRICT/TYPE_TAG modifiers to the underlying type.</summary>
    public BtfType SkipModifiers(int id) => TrySkipModifiers(id, out var type, out var error) ? type : EbpfLoadException.Throw<BtfType>(error);

    /// <summary>Like <see cref="SkipModifiers"/>; <paramref name="error"/> for a bad id or a chain too deep (a cycle).</summary>
    internal bool TrySkipModifiers(int id, [NotNullWhen(true)] out BtfType? type, [NotNullWhen(false)] out string? error)
    {
        if (!TryGet(id, out type, out error))
            return false;
        for (int depth = 0; type.Kind is BtfKind.Typedef or BtfKind.Const or BtfKind.Volatile or BtfKind.Restrict or BtfKind.TypeTag; depth++)
        {
            if (depth > MaxResolveDepth)
            {
                type = null;
                return Fail(Inv($"section '.BTF': type {id} nests modifiers too deeply (a cycle?)"), out error);
            }
            if (!TryGet((int)type.SizeOrType, out type, out error))
                return false;
        }
        return true;
    }

    /// <summary>The size in bytes of a type, through typedefs, modifiers, arrays and VARs.</summary>
    public long SizeOf(int id) => TrySizeOf(id, out long size, out var error) ? size : EbpfLoadException.Throw<long>(error);

    /// <summary>Like <see cref="SizeOf"/>; <paramref name="error"/> for a type without a size, a bad id or a chain too deep.</summary>
    internal bool TrySizeOf(int id, out long size, [NotNullWhen(false)] out string? error) => TrySizeOf(id, 0, out size, out error);

    private bool TrySizeOf(int id, int depth, out long size, [NotNullWhen(false)] out string? error)
    {
        size = 0;
        if (depth > MaxResolveDepth)
            return Fail(Inv($"section '.BTF': type {id} nests too deeply (a cycle?)"), out error);
        if (!TryGet(id, out var t, out error))
            return false;
        switch (t.Kind)
        {
            case BtfKind.Int or BtfKind.Struct or BtfKind.Union or BtfKind.Enum or BtfKind.Enum64 or BtfKind.Datasec or BtfKind.Float:
                size = t.SizeOrType;
                return true;
            case BtfKind.Ptr:
                size = 8;
                return true;
            case BtfKind.Array:
                if (!TrySizeOf(t.ArrayElementType, depth + 1, out long elementSize, out error))
                    return false;
                if (elementSize != 0 && t.ArrayLength > int.MaxValue / elementSize)
                    return Fail(Inv($"section '.BTF': array type {t.Id} is too large"), out error);
                size = t.ArrayLength * elementSize;
                return true;
            case BtfKind.Typedef or BtfKind.Const or BtfKind.Volatile or BtfKind.Restrict or BtfKind.TypeTag or BtfKind.Var:
                return TrySizeOf((int)t.SizeOrType, depth + 1, out size, out error);
            default:
                return Fail(Inv($"section '.BTF': type {id} ({t.Kind} '{t.Name}') has no size"), out error);
        }
    }

    /// <summary>
    /// The string at <paramref name="offset"/> of the string section (names, and in <c>.BTF.ext</c> records the file names
    /// and source lines); <paramref name="error"/> when the offset is outside it or the string has no end.
    /// </summary>
    internal bool TryString(uint offset, out string value, [NotNullWhen(false)] out string? error) => Str(_strings, offset, out value, out error);

    /// <summary>The DATASEC with this name (<c>.maps</c>, <c>.data</c>, ...), or null.</summary>
    public BtfType? FindDatasec(string name) => _types.FirstOrDefault(t => t.Kind == BtfKind.Datasec && t.Name == name);

    private static bool Str(ReadOnlySpan<byte> strings, uint off, out string value, [NotNullWhen(false)] out string? error)
    {
        (value, error) = ("", null);
        if (off >= strings.Length)
            return off == 0 || Fail(Inv($"section '.BTF': string offset {off} is out of range"), out error);
        var s = strings[(int)off..];
        int end = s.IndexOf((byte)0);
        if (end < 0)
            return Fail("section '.BTF': string is not NUL-terminated", out error);
        value = Encoding.UTF8.GetString(s[..end]);
        return true;
    }

    /// <summary>Sets <paramref name="error"/> to <paramref name="message"/>; false, for <c>return Fail(..., out error)</c>.</summary>
    private static bool Fail(string message, out string error)
    {
        error = message;
        return false;
    }

    private static uint U32(ReadOnlySpan<byte> d, int at) => BinaryPrimitives.ReadUInt32LittleEndian(d[at..]);
    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
