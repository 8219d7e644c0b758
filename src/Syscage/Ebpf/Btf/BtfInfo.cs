using Syscage.Abi;
using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace Syscage.Ebpf.Btf;

/// <summary>
/// The type information of a <c>.BTF</c> section (format: <c>Documentation/bpf/btf.rst</c>): a header, a type
/// section and a string section. Every kind is decoded or at least skipped by its documented size, so unknown
/// details never desynchronise the type list. <c>.BTF.ext</c> (line and CO-RE information) is not read.
/// </summary>
public sealed class BtfInfo
{
    private const ushort BTF_MAGIC = (ushort)Uapi.BTF_MAGIC;
    private const int MaxResolveDepth = 32;
    private readonly List<BtfType> _types;

    private BtfInfo(List<BtfType> types) => _types = types;

    /// <summary>All types by id; index 0 is <c>void</c>.</summary>
    public IReadOnlyList<BtfType> Types => _types;

    /// <summary>Parses a <c>.BTF</c> section; throws <see cref="EbpfLoadException"/> when it is malformed.</summary>
    public static BtfInfo Parse(ReadOnlySpan<byte> data)
    {
        if (data.Length < 24)
            throw new EbpfLoadException("section '.BTF': truncated header");
        if (BinaryPrimitives.ReadUInt16LittleEndian(data) != BTF_MAGIC)
            throw new EbpfLoadException("section '.BTF': bad magic (expected 0xeb9f, little endian)");
        if (data[2] != 1)
            throw new EbpfLoadException(Inv($"section '.BTF': unsupported version {data[2]}"));
        uint hdrLen = U32(data, 4), typeOff = U32(data, 8), typeLen = U32(data, 12), strOff = U32(data, 16), strLen = U32(data, 20);
        if (hdrLen < 24 || hdrLen > (uint)data.Length)
            throw new EbpfLoadException("section '.BTF': bad header length");
        var body = data[(int)hdrLen..];
        if ((ulong)typeOff + typeLen > (ulong)body.Length || (ulong)strOff + strLen > (ulong)body.Length)
            throw new EbpfLoadException("section '.BTF': type or string section lies outside the section");
        var strings = body.Slice((int)strOff, (int)strLen);
        var typeData = body.Slice((int)typeOff, (int)typeLen);

        var types = new List<BtfType> { new(0, BtfKind.Void, "void", 0, []) };
        int p = 0;
        while (p < typeData.Length)
        {
            int id = types.Count;
            if (typeData.Length - p < 12)
                throw new EbpfLoadException(Inv($"section '.BTF': type {id} is truncated"));
            string name = Str(strings, U32(typeData, p));
            uint info = U32(typeData, p + 4);
            uint sizeOrType = U32(typeData, p + 8);
            int vlen = (int)(info & 0xffff);
            var kind = (BtfKind)((info >> 24) & 0x1f);
            p += 12;
            int extra = kind switch
            {
                BtfKind.Int or BtfKind.Var or BtfKind.DeclTag => 4,
                BtfKind.Array => 12,
                BtfKind.Struct or BtfKind.Union or BtfKind.Datasec or BtfKind.Enum64 => 12 * vlen,
                BtfKind.Enum or BtfKind.FuncProto => 8 * vlen,
                BtfKind.Ptr or BtfKind.Fwd or BtfKind.Typedef or BtfKind.Volatile or BtfKind.Const or BtfKind.Restrict
                    or BtfKind.Func or BtfKind.Float or BtfKind.TypeTag => 0,
                _ => throw new EbpfLoadException(Inv($"section '.BTF': type {id} has unknown kind {(int)kind}")),
            };
            if (typeData.Length - p < extra)
                throw new EbpfLoadException(Inv($"section '.BTF': type {id} ({kind}) is truncated"));
            var extraData = typeData.Slice(p, extra);
            var members = new List<BtfMember>();
            int elemType = 0;
            uint nelems = 0;
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
                        // With kind_flag set, the offset holds the bitfield size in its top 8 bits.
                        members.Add(new BtfMember(Str(strings, U32(extraData, i * 12)), (int)U32(extraData, i * 12 + 4), bitfieldOffsets ? off & 0xffffff : off, 0));
                    }
                    break;
                case BtfKind.Datasec:
                    for (int i = 0; i < vlen; i++)
                        members.Add(new BtfMember("", (int)U32(extraData, i * 12), U32(extraData, i * 12 + 4), U32(extraData, i * 12 + 8)));
                    break;
                case BtfKind.FuncProto:
                    for (int i = 0; i < vlen; i++)
                        members.Add(new BtfMember(Str(strings, U32(extraData, i * 8)), (int)U32(extraData, i * 8 + 4), 0, 0));
                    break;
            }
            p += extra;
            types.Add(new BtfType(id, kind, name, sizeOrType, members, elemType, nelems));
        }
        return new BtfInfo(types);
    }

    /// <summary>The type with this id; throws <see cref="EbpfLoadException"/> when there is none.</summary>
    public BtfType Get(int id) => id >= 0 && id < _types.Count
        ? _types[id]
        : throw new EbpfLoadException(Inv($"section '.BTF': type id {id} is out of range"));

    /// <summary>Follows typedefs and CONST/VOLATILE/RESTRICT/TYPE_TAG modifiers to the underlying type.</summary>
    public BtfType SkipModifiers(int id)
    {
        var t = Get(id);
        for (int depth = 0; t.Kind is BtfKind.Typedef or BtfKind.Const or BtfKind.Volatile or BtfKind.Restrict or BtfKind.TypeTag; depth++)
        {
            if (depth > MaxResolveDepth)
                throw new EbpfLoadException(Inv($"section '.BTF': type {id} nests modifiers too deeply (a cycle?)"));
            t = Get((int)t.SizeOrType);
        }
        return t;
    }

    /// <summary>The size in bytes of a type, through typedefs, modifiers, arrays and VARs.</summary>
    public long SizeOf(int id) => SizeOf(id, 0);

    private long SizeOf(int id, int depth)
    {
        if (depth > MaxResolveDepth)
            throw new EbpfLoadException(Inv($"section '.BTF': type {id} nests too deeply (a cycle?)"));
        var t = Get(id);
        return t.Kind switch
        {
            BtfKind.Int or BtfKind.Struct or BtfKind.Union or BtfKind.Enum or BtfKind.Enum64 or BtfKind.Datasec or BtfKind.Float => t.SizeOrType,
            BtfKind.Ptr => 8,
            BtfKind.Array => ArraySize(t, SizeOf(t.ArrayElementType, depth + 1)),
            BtfKind.Typedef or BtfKind.Const or BtfKind.Volatile or BtfKind.Restrict or BtfKind.TypeTag or BtfKind.Var => SizeOf((int)t.SizeOrType, depth + 1),
            _ => throw new EbpfLoadException(Inv($"section '.BTF': type {id} ({t.Kind} '{t.Name}') has no size")),
        };
    }

    private static long ArraySize(BtfType array, long elementSize) => elementSize != 0 && array.ArrayLength > int.MaxValue / elementSize
        ? throw new EbpfLoadException(Inv($"section '.BTF': array type {array.Id} is too large"))
        : array.ArrayLength * elementSize;

    /// <summary>The DATASEC with this name (<c>.maps</c>, <c>.data</c>, ...), or null.</summary>
    public BtfType? FindDatasec(string name) => _types.FirstOrDefault(t => t.Kind == BtfKind.Datasec && t.Name == name);

    private static string Str(ReadOnlySpan<byte> strings, uint off)
    {
        if (off >= strings.Length)
            return off == 0 ? "" : throw new EbpfLoadException(Inv($"section '.BTF': string offset {off} is out of range"));
        var s = strings[(int)off..];
        int end = s.IndexOf((byte)0);
        if (end < 0)
            throw new EbpfLoadException("section '.BTF': string is not NUL-terminated");
        return Encoding.UTF8.GetString(s[..end]);
    }

    private static uint U32(ReadOnlySpan<byte> d, int at) => BinaryPrimitives.ReadUInt32LittleEndian(d[at..]);
    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
