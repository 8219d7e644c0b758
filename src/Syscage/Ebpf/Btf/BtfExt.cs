using Syscage.Abi;
using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Syscage.Ebpf.Btf;

/// <summary>A position in the C source of a program, from clang's <c>.BTF.ext</c> line information.</summary>
/// <param name="File">The file name as clang recorded it (as given on its command line: relative or absolute).</param>
/// <param name="Line">1-based line.</param>
/// <param name="Column">1-based column; 0 when clang recorded none.</param>
/// <param name="Text">The source line's text as clang recorded it (trailing blanks removed); may be empty.</param>
public sealed record SourceLine(string File, int Line, int Column, string Text)
{
    /// <summary><c>file:line:col</c> (<c>file:line</c> without a column), as compilers print positions.</summary>
    public override string ToString() => Column > 0
        ? string.Create(CultureInfo.InvariantCulture, $"{File}:{Line}:{Column}")
        : string.Create(CultureInfo.InvariantCulture, $"{File}:{Line}");
}

/// <summary>
/// The function and line information of a <c>.BTF.ext</c> section (format: <c>Documentation/bpf/btf.rst</c>, "BTF.ext
/// section", and libbpf's <c>struct btf_ext_header</c>): a header (<c>magic</c>, <c>version</c>, <c>flags</c>,
/// <c>hdr_len</c>, then offset and length of the <c>func_info</c> and <c>line_info</c> subsections, relative to the end
/// of the header; later fields such as CO-RE relocations are skipped by <c>hdr_len</c>). Each subsection starts with
/// its record size, then per ELF section: the section's name (an offset into <c>.BTF</c>'s strings), the number of
/// records, the records. A <c>bpf_func_info</c> record is <c>insn_off, type_id</c>; a <c>bpf_line_info</c> record is
/// <c>insn_off, file_name_off, line_off, line_col</c>. In the object file <c>insn_off</c> counts bytes of the section
/// (libbpf turns it into an instruction index when it loads). Records larger than the ones known are read by their
/// known prefix, as libbpf does.
/// </summary>
internal sealed class BtfExt
{
    private const int HeaderSize = 24; // magic..line_info_len: the fields every version has
    private const int FuncInfoSize = 8, LineInfoSize = 16;

    private BtfExt(Dictionary<string, List<(int Offset, int TypeId)>> functions, Dictionary<string, List<(int Offset, SourceLine Line)>> lines)
    {
        Functions = functions;
        Lines = lines;
    }

    /// <summary>Per ELF section: the byte offset of each function's first instruction and its <c>FUNC</c> type id.</summary>
    public IReadOnlyDictionary<string, List<(int Offset, int TypeId)>> Functions { get; }

    /// <summary>Per ELF section: the byte offset where each source line's instructions start, in section order.</summary>
    public IReadOnlyDictionary<string, List<(int Offset, SourceLine Line)>> Lines { get; }

    /// <summary>Parses a <c>.BTF.ext</c> section whose strings are in <paramref name="btf"/>; <paramref name="error"/> says what is wrong first.</summary>
    public static bool TryParse(ReadOnlySpan<byte> data, BtfInfo btf, [NotNullWhen(true)] out BtfExt? ext, [NotNullWhen(false)] out string? error)
    {
        ext = null;
        if (data.Length < HeaderSize)
            return Fail("section '.BTF.ext': truncated header", out error);
        if (BinaryPrimitives.ReadUInt16LittleEndian(data) != (ushort)Uapi.BTF_MAGIC)
            return Fail("section '.BTF.ext': bad magic (expected 0xeb9f, little endian)", out error);
        if (data[2] != Uapi.BTF_VERSION)
            return Fail(Inv($"section '.BTF.ext': unsupported version {data[2]}"), out error);
        uint hdrLen = U32(data, 4);
        if (hdrLen < HeaderSize || hdrLen > (uint)data.Length)
            return Fail("section '.BTF.ext': bad header length", out error);
        var body = data[(int)hdrLen..];
        var functions = new Dictionary<string, List<(int, int)>>(StringComparer.Ordinal);
        var lines = new Dictionary<string, List<(int, SourceLine)>>(StringComparer.Ordinal);
        if (!Subsection(body, U32(data, 8), U32(data, 12), "func_info", FuncInfoSize, btf, out error, (section, r) =>
            {
                Add(functions, section, ((int)U32(r, 0), (int)U32(r, 4)));
                return null;
            }))
            return false;
        if (!Subsection(body, U32(data, 16), U32(data, 20), "line_info", LineInfoSize, btf, out error, (section, r) =>
            {
                if (!btf.TryString(U32(r, 4), out string file, out var e) || !btf.TryString(U32(r, 8), out string text, out e))
                    return $"section '.BTF.ext': line_info of '{section}': {e}";
                uint lineCol = U32(r, 12);
                Add(lines, section, ((int)U32(r, 0), new SourceLine(file, BpfLineInfo.Line(lineCol), BpfLineInfo.Column(lineCol), text.TrimEnd())));
                return null;
            }))
            return false;
        ext = new BtfExt(functions, lines);
        return true;
    }

    private static void Add<T>(Dictionary<string, List<T>> table, string section, T item)
    {
        if (!table.TryGetValue(section, out var list))
            table[section] = list = [];
        list.Add(item);
    }

    /// <summary>
    /// Walks one subsection: the record size, then per section its name, count and records; <paramref name="record"/>
    /// gets each record's known prefix and returns an error or null.
    /// </summary>
    private static bool Subsection(ReadOnlySpan<byte> body, uint offset, uint length, string what, int minRecord, BtfInfo btf,
        [NotNullWhen(false)] out string? error, Func<string, byte[], string?> record)
    {
        error = null;
        if (length == 0)
            return true;
        if ((ulong)offset + length > (ulong)body.Length)
            return Fail($"section '.BTF.ext': the {what} subsection lies outside the section", out error);
        var sub = body.Slice((int)offset, (int)length);
        if (sub.Length < 4)
            return Fail($"section '.BTF.ext': the {what} subsection has no record size", out error);
        uint recordSize = U32(sub, 0);
        if (recordSize < minRecord || recordSize > 1024)
            return Fail(Inv($"section '.BTF.ext': {what} record size {recordSize} is out of range (at least {minRecord})"), out error);
        int p = 4;
        while (p < sub.Length)
        {
            if (sub.Length - p < 8)
                return Fail($"section '.BTF.ext': a {what} section header is truncated", out error);
            if (!btf.TryString(U32(sub, p), out string section, out error))
                return Fail($"section '.BTF.ext': {what}: {error}", out error);
            uint count = U32(sub, p + 4);
            p += 8;
            if (count > (uint)(sub.Length - p) / recordSize)
                return Fail(Inv($"section '.BTF.ext': {what} of '{section}' has {count} records, more than the subsection holds"), out error);
            for (int i = 0; i < count; i++, p += (int)recordSize)
                if (record(section, sub.Slice(p, minRecord).ToArray()) is { } message)
                    return Fail(message, out error);
        }
        return true;
    }

    private static bool Fail(string message, out string error)
    {
        error = message;
        return false;
    }

    private static uint U32(ReadOnlySpan<byte> d, int at) => BinaryPrimitives.ReadUInt32LittleEndian(d[at..]);
    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
