using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Syscage.Ebpf.Btf;
using Syscage.Ebpf.Maps;
using Syscage.Abi;
using Syscage.Ebpf;
using Syscage.Ebpf.Seccomp;

namespace Syscage.Supervision;

/// <summary>
/// Human- and machine-readable views of what eBPF seccomp programs leave behind: ring-buffer records as JSON lines
/// (<see cref="FormatRecord"/>) and the contents of every map as a table (<see cref="WriteMaps(TextWriter, EbpfFilterSet)"/>).
/// </summary>
/// <remarks>
/// <para><b>Record types.</b> A ring buffer has no type in BTF: a record is decoded as the named struct of the object's
/// BTF whose size is the record's length, when exactly one has that size (or exactly one of those has "event" in its
/// name); otherwise the record is shown as hex.</para>
/// <para><b>Map keys and values</b> are decoded with the types of the map's BTF definition (<c>__type(key, T)</c>);
/// global-data maps (<c>.bss</c>, <c>.data</c>, <c>.rodata</c>) are shown variable by variable; without BTF (legacy
/// <c>maps</c> section), keys and values of 1, 2, 4 or 8 bytes are unsigned little-endian integers, others hex.</para>
/// <para><b>Syscall names.</b> An integer key (4 or 8 bytes) is shown as a syscall name of the native architecture —
/// <c>getppid (110)</c> — when the map's name contains <c>syscall</c>, or a name in its key type's typedef chain
/// contains <c>syscall</c> or is <c>nr</c> or ends with <c>_nr</c> or <c>_nr_t</c> (e.g.
/// <c>typedef __u32 syscall_nr_t;</c>).</para>
/// </remarks>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public static class EbpfReport
{
    private static readonly ConditionalWeakTable<BtfInfo, ConcurrentDictionary<int, int>> RecordTypes = new();
    private static readonly JsonWriterOptions JsonOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// One record as one JSON object on one line: <c>{"program":P,"map":M,"type":"struct open_event","event":{...}}</c>
    /// when its type is found (see the remarks), else <c>{"program":P,"map":M,"size":N,"hex":"..."}</c>.
    /// </summary>
    public static string FormatRecord(EbpfRingBufRecord record)
    {
        ArgumentNullException.ThrowIfNull(record.Program);
        ArgumentNullException.ThrowIfNull(record.Data);
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, JsonOptions))
        {
            w.WriteStartObject();
            w.WriteString("program", record.Program.Name);
            w.WriteString("map", record.Map.Name);
            var btf = record.Program.Object?.Btf;
            int type = btf is null ? 0 : RecordType(btf, record.Data.Length);
            if (type > 0)
            {
                var formatter = new BtfValueFormatter(btf!);
                w.WriteString("type", formatter.TypeName(type));
                w.WritePropertyName("event");
                formatter.WriteJson(w, type, record.Data);
            }
            else
            {
                w.WriteNumber("size", record.Data.Length);
                w.WriteString("hex", Convert.ToHexStringLower(record.Data));
            }
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>Writes the maps of every program of <paramref name="set"/> (see <see cref="WriteMaps(TextWriter, SeccompEbpfProgram)"/>).</summary>
    public static void WriteMaps(TextWriter writer, EbpfFilterSet set)
    {
        ArgumentNullException.ThrowIfNull(set);
        foreach (var program in set.Programs)
            WriteMaps(writer, program);
    }

    /// <summary>
    /// Writes each map of <paramref name="program"/>: a heading (<c>map counts of count_syscalls (hash, 3 entries; key
    /// syscall_nr_t, value __u64)</c>) then one <c>key  value</c> line per entry, sorted by key; array entries that are
    /// all zero are counted, not listed.
    /// </summary>
    public static void WriteMaps(TextWriter writer, SeccompEbpfProgram program)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(program);
        foreach (var map in program.Maps)
            WriteMap(writer, program, map);
    }

    /// <summary>Writes one map of <paramref name="program"/> as <see cref="WriteMaps(TextWriter, SeccompEbpfProgram)"/> does.</summary>
    internal static void WriteMap(TextWriter writer, SeccompEbpfProgram program, EbpfMap map)
    {
        var btf = program.Object?.Btf;
        var formatter = btf is null ? null : new BtfValueFormatter(btf);
        var def = map.Definition;
        switch (map)
        {
            case RingBufMap ring:
                writer.WriteLine(Inv($"map {def.Name} of {program.Name} (ring buffer, {def.MaxEntries} bytes): records are printed as events; {ring.Pending} bytes not consumed"));
                return;
            case TaskStorageMap storage:
            {
                var entries = storage.TaskEntries();
                writer.WriteLine(Inv($"map {def.Name} of {program.Name} (task storage, {entries.Count} {(entries.Count == 1 ? "entry" : "entries")})"));
                foreach (var (task, value) in entries)
                    writer.WriteLine($"  {(task is NotifiedTask.TaskIdentity id ? Inv($"task {id.Pid}") : task.ToString())}  {FormatBytes(formatter, ValueType(btf, def.Name), value)}");
                return;
            }
        }
        if (def.InitialValue is not null || def.Name.StartsWith('.'))
        {
            WriteGlobals(writer, program, map, btf, formatter);
            return;
        }
        var (keyType, valueType) = MapCodec.MapTypes(btf, def.Name);
        bool syscallKeys = def.KeySize is 4 or 8 && (def.Name.Contains("syscall", StringComparison.OrdinalIgnoreCase)
            || (keyType is int k && formatter!.AnyNameInChain(k, MapCodec.IsSyscallTypeName)));
        var rows = new List<(ulong Order, string Key, string Value)>();
        int zero = 0;
        foreach (var (key, value) in map.Entries())
        {
            if (def.Type == MapType.Array && !value.AsSpan().ContainsAnyExcept((byte)0))
            {
                zero++;
                continue;
            }
            ulong order = key.Length is 1 or 2 or 4 or 8 ? Unsigned(key) : 0;
            string keyText = syscallKeys ? SyscallName(key) : FormatBytes(formatter, keyType, key);
            rows.Add((order, keyText, FormatBytes(formatter, valueType, value)));
        }
        rows.Sort((a, b) => a.Order != b.Order ? a.Order.CompareTo(b.Order) : string.CompareOrdinal(a.Key, b.Key));
        string types = keyType is int kt && valueType is int vt ? $"; key {formatter!.TypeName(kt)}, value {formatter.TypeName(vt)}" : "";
        string kind = def.Type switch
        {
            MapType.Hash => "hash",
            MapType.LruHash => "LRU hash",
            MapType.Array => "array",
            _ => def.Type.ToString(),
        };
        writer.WriteLine(Inv($"map {def.Name} of {program.Name} ({kind}, {rows.Count + zero} {(rows.Count + zero == 1 ? "entry" : "entries")}{types})"));
        int width = rows.Count == 0 ? 0 : rows.Max(r => r.Key.Length);
        foreach (var (_, key, value) in rows)
            writer.WriteLine($"  {key.PadRight(width)}  {value}");
        if (zero > 0)
            writer.WriteLine(Inv($"  ({zero} {(zero == 1 ? "entry is" : "entries are")} all zero)"));
    }

    private static void WriteGlobals(TextWriter writer, SeccompEbpfProgram program, EbpfMap map, BtfInfo? btf, BtfValueFormatter? formatter)
    {
        writer.WriteLine($"map {map.Name} of {program.Name} (global variables)");
        byte[] value = map.Lookup(new byte[4]) ?? [];
        // Offsets and sizes come from the symbol table: in an unloaded object the DATASEC's offsets are still 0 (libbpf
        // fills them in at load time), so BTF only gives each variable's type, by name.
        var types = new Dictionary<string, int>(StringComparer.Ordinal);
        if (btf?.FindDatasec(map.Name) is { } datasec)
        {
            foreach (var m in datasec.Members)
            {
                if (btf.TryGet(m.Type, out var v, out _) && v.Kind == BtfKind.Var)
                    types[v.Name] = (int)v.SizeOrType;
            }
        }
        var vars = program.Object is { } obj
            ? obj.Globals.Where(g => g.Section == map.Name).Select(g => (g.Name, g.Offset, g.Size, Type: types.GetValueOrDefault(g.Name))).ToList()
            : [];
        foreach (var (name, offset, size, type) in vars.OrderBy(v => v.Offset))
        {
            if (offset < 0 || size <= 0 || offset + size > value.Length)
                continue;
            writer.WriteLine($"  {name} = {FormatBytes(type > 0 ? formatter : null, type > 0 ? type : null, value.AsSpan(offset, size))}");
        }
    }

    private static string SyscallName(byte[] key)
    {
        long nr = key.Length == 4 ? BinaryPrimitives.ReadInt32LittleEndian(key) : BinaryPrimitives.ReadInt64LittleEndian(key);
        return nr is >= int.MinValue and <= int.MaxValue && Architecture.Native.Syscalls.TryGetName((int)nr, out var name)
            ? Inv($"{name} ({nr})") : Inv($"{nr}");
    }

    private static string FormatBytes(BtfValueFormatter? formatter, int? type, ReadOnlySpan<byte> bytes)
    {
        if (formatter is not null && type is int t)
            return formatter.Format(t, bytes);
        return bytes.Length is 1 or 2 or 4 or 8 ? Unsigned(bytes).ToString(CultureInfo.InvariantCulture) : Convert.ToHexStringLower(bytes);
    }

    private static ulong Unsigned(ReadOnlySpan<byte> b) => b.Length switch
    {
        1 => b[0],
        2 => BinaryPrimitives.ReadUInt16LittleEndian(b),
        4 => BinaryPrimitives.ReadUInt32LittleEndian(b),
        _ => BinaryPrimitives.ReadUInt64LittleEndian(b),
    };

    private static int? ValueType(BtfInfo? btf, string mapName) => MapCodec.MapTypes(btf, mapName).Value;

    private static int RecordType(BtfInfo btf, int length) => RecordTypes.GetOrCreateValue(btf).GetOrAdd(length, len =>
    {
        var candidates = new List<BtfType>();
        foreach (var t in btf.Types)
            if (t.Kind == BtfKind.Struct && t.Name.Length > 0 && t.SizeOrType == len)
                candidates.Add(t);
        if (candidates.Count == 1)
            return candidates[0].Id;
        var events = candidates.Where(t => t.Name.Contains("event", StringComparison.OrdinalIgnoreCase)).ToList();
        return events.Count == 1 ? events[0].Id : 0;
    });

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
