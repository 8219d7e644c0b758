using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Syscage.Ebpf.Btf;

/// <summary>
/// Writes bytes as the BTF type describing them says, as JSON: integers and enums as numbers, <c>char</c> arrays as
/// strings (up to the first NUL), other arrays as lists, structs as objects (member by member), pointers as
/// <c>"0x..."</c> strings. What BTF can't describe exactly — unions, bitfields, floats, data too short for its type —
/// is a hex string.
/// </summary>
internal sealed class BtfValueFormatter
{
    private const int MaxDepth = 16;
    private readonly BtfInfo _btf;

    /// <summary>Creates a formatter for the types of <paramref name="btf"/>.</summary>
    public BtfValueFormatter(BtfInfo btf)
    {
        ArgumentNullException.ThrowIfNull(btf);
        _btf = btf;
    }

    /// <summary>The type information used.</summary>
    public BtfInfo Btf => _btf;

    /// <summary>Writes <paramref name="data"/> as a value of type <paramref name="typeId"/>.</summary>
    public void WriteJson(Utf8JsonWriter writer, int typeId, ReadOnlySpan<byte> data)
    {
        ArgumentNullException.ThrowIfNull(writer);
        Write(writer, typeId, data, 0);
    }

    /// <summary>The value as compact JSON text (<c>{"pid":12,"comm":"cat"}</c>, <c>5</c>).</summary>
    public string Format(int typeId, ReadOnlySpan<byte> data)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            Write(w, typeId, data, 0);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>The type's name as C would spell it after typedefs are kept: <c>__u32</c>, <c>struct open_event</c>.</summary>
    public string TypeName(int typeId)
    {
        // Hostile type information (a chain to a missing id) reads as "?", never as an exception.
        if (!_btf.TryGet(typeId, out var t, out _))
            return "?";
        for (int i = 0; i < MaxDepth && t.Kind is BtfKind.Const or BtfKind.Volatile or BtfKind.Restrict or BtfKind.TypeTag; i++)
            if (!_btf.TryGet((int)t.SizeOrType, out t, out _))
                return "?";
        return t.Kind switch
        {
            BtfKind.Struct => "struct " + (t.Name.Length > 0 ? t.Name : "(anonymous)"),
            BtfKind.Union => "union " + (t.Name.Length > 0 ? t.Name : "(anonymous)"),
            BtfKind.Enum or BtfKind.Enum64 => "enum " + t.Name,
            BtfKind.Ptr => "pointer",
            BtfKind.Array => string.Create(CultureInfo.InvariantCulture, $"{TypeName(t.ArrayElementType)}[{t.ArrayLength}]"),
            _ => t.Name.Length > 0 ? t.Name : t.Kind.ToString().ToLowerInvariant(),
        };
    }

    /// <summary>
    /// True when the typedef chain of <paramref name="typeId"/> (or the type itself) has a name matching
    /// <paramref name="predicate"/> — e.g. <c>syscall_nr_t</c> → <c>__u32</c> → <c>unsigned int</c>.
    /// </summary>
    public bool AnyNameInChain(int typeId, Func<string, bool> predicate)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        if (!_btf.TryGet(typeId, out var t, out _))
            return false;
        for (int i = 0; i < MaxDepth; i++)
        {
            if (t.Name.Length > 0 && predicate(t.Name))
                return true;
            if (t.Kind is not (BtfKind.Typedef or BtfKind.Const or BtfKind.Volatile or BtfKind.Restrict or BtfKind.TypeTag))
                return false;
            if (!_btf.TryGet((int)t.SizeOrType, out t, out _))
                return false;
        }
        return false;
    }

    private void Write(Utf8JsonWriter w, int id, ReadOnlySpan<byte> d, int depth)
    {
        long size = 0;
        if (!_btf.TrySkipModifiers(id, out var t, out _) || (t.Kind != BtfKind.Void && !_btf.TrySizeOf(t.Id, out size, out _))
            || depth > MaxDepth || size > d.Length || size <= 0)
        {
            Hex(w, d);
            return;
        }
        d = d[..(int)size];
        switch (t.Kind)
        {
            case BtfKind.Int when size is 1 or 2 or 4 or 8:
                WriteInteger(w, d, IsSigned(t.Name));
                return;
            case BtfKind.Enum or BtfKind.Enum64 when size is 1 or 2 or 4 or 8:
                WriteInteger(w, d, signed: size == 4);
                return;
            case BtfKind.Ptr:
                w.WriteStringValue(string.Create(CultureInfo.InvariantCulture, $"0x{BinaryPrimitives.ReadUInt64LittleEndian(d):x}"));
                return;
            case BtfKind.Array:
            {
                if (!_btf.TrySkipModifiers(t.ArrayElementType, out var element, out _))
                {
                    Hex(w, d);
                    return;
                }
                if (element.Kind == BtfKind.Int && element.SizeOrType == 1 && element.Name is "char" or "signed char")
                {
                    int nul = d.IndexOf((byte)0);
                    w.WriteStringValue(Encoding.UTF8.GetString(nul < 0 ? d : d[..nul]));
                    return;
                }
                long elementSize = t.ArrayLength == 0 ? 0 : size / t.ArrayLength;
                w.WriteStartArray();
                for (long i = 0; i < t.ArrayLength && elementSize > 0; i++)
                    Write(w, t.ArrayElementType, d.Slice((int)(i * elementSize), (int)elementSize), depth + 1);
                w.WriteEndArray();
                return;
            }
            case BtfKind.Struct:
            {
                w.WriteStartObject();
                int anonymous = 0;
                foreach (var m in t.Members)
                {
                    w.WritePropertyName(m.Name.Length > 0 ? m.Name : string.Create(CultureInfo.InvariantCulture, $"_{anonymous++}"));
                    long memberSize = _btf.TrySizeOf(m.Type, out long known, out _) ? known : -1;
                    // Bit offsets that are not whole bytes are bitfields, whose widths this BTF reader does not keep.
                    if (m.Offset % 8 != 0 || memberSize < 0 || m.Offset / 8 + memberSize > size)
                        w.WriteNullValue();
                    else
                        Write(w, m.Type, d.Slice((int)(m.Offset / 8), (int)memberSize), depth + 1);
                }
                w.WriteEndObject();
                return;
            }
            default:
                Hex(w, d);
                return;
        }
    }

    /// <summary>BTF_KIND_INT's encoding bits are not kept by the reader, so signedness comes from the C name.</summary>
    private static bool IsSigned(string name) => !name.Contains("unsigned", StringComparison.Ordinal) && name is not "_Bool" and not "bool";

    private static void WriteInteger(Utf8JsonWriter w, ReadOnlySpan<byte> d, bool signed)
    {
        switch (d.Length)
        {
            case 1: if (signed) w.WriteNumberValue((sbyte)d[0]); else w.WriteNumberValue(d[0]); break;
            case 2: if (signed) w.WriteNumberValue(BinaryPrimitives.ReadInt16LittleEndian(d)); else w.WriteNumberValue(BinaryPrimitives.ReadUInt16LittleEndian(d)); break;
            case 4: if (signed) w.WriteNumberValue(BinaryPrimitives.ReadInt32LittleEndian(d)); else w.WriteNumberValue(BinaryPrimitives.ReadUInt32LittleEndian(d)); break;
            default: if (signed) w.WriteNumberValue(BinaryPrimitives.ReadInt64LittleEndian(d)); else w.WriteNumberValue(BinaryPrimitives.ReadUInt64LittleEndian(d)); break;
        }
    }

    private static void Hex(Utf8JsonWriter w, ReadOnlySpan<byte> d) => w.WriteStringValue(Convert.ToHexStringLower(d));
}
