using System.Buffers.Binary;
using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.Json;
using Syscage.Abi;
using Syscage.Ebpf.Btf;
using Syscage.Ebpf.Maps;
using Syscage.Ebpf.Seccomp;

namespace Syscage.Supervision;

/// <summary>Why a map's JSON entries could not be read: the JSON path of the member at fault and what is wrong.</summary>
/// <param name="Path">The path (<c>getppid</c>, <c>42.comm</c>, <c>7[3]</c>), in the style of the OCI loader's errors.</param>
/// <param name="Message">What is wrong.</param>
internal sealed record MapEntryError(string Path, string Message)
{
    public override string ToString() => Path.Length > 0 ? $"{Path}: {Message}" : Message;
}

/// <summary>
/// One map of one program as typed JSON, both ways: an object whose members are the entries — each member's name a key,
/// its value the map's value — as <c>--map NAME=FILE.json</c> files, <c>syscage maps dump</c> and <c>maps update</c>
/// write and read them. Types come from the map's BTF definition (<c>__type(key, T)</c>, <c>__type(value, T)</c>):
/// <list type="bullet">
/// <item>integers and enums: JSON numbers, or strings holding a decimal, negative or <c>0x</c> hexadecimal number; a
/// value must fit its type (signed types take negative values, unsigned ones do not);</item>
/// <item>structs: objects member by member (absent members are zero; bitfields can't be written); arrays: lists (absent
/// elements are zero); <c>char</c> arrays: strings; pointers: numbers; unions, floats and what BTF can't describe: a
/// hex string of the type's exact size;</item>
/// <item>keys are member names, so they are strings: an integer key as a number in a string (<c>"110"</c>), or a syscall
/// name of the native architecture (<c>"getppid"</c>) when the map is keyed by syscall numbers — its name contains
/// <c>syscall</c>, or a name in its key type's typedef chain contains <c>syscall</c>, is <c>nr</c> or ends with
/// <c>_nr</c> or <c>_nr_t</c>; an array's index must be below its <c>max_entries</c>; a struct key as its JSON
/// text;</item>
/// <item>global-data maps (<c>.bss</c>, <c>.data</c>) are keyed by their variables' names.</item>
/// </list>
/// Without BTF (legacy <c>maps</c>), keys and values of 1, 2, 4 or 8 bytes are integers and others hex strings.
/// </summary>
internal sealed class MapCodec
{
    private const int MaxDepth = 16;
    private readonly BtfInfo? _btf;
    private readonly BtfValueFormatter? _formatter;
    private readonly int? _keyType, _valueType;
    private readonly List<(string Name, int Offset, int Size, int Type)> _variables = [];

    public MapCodec(SeccompEbpfProgram program, EbpfMap map)
    {
        ArgumentNullException.ThrowIfNull(program);
        ArgumentNullException.ThrowIfNull(map);
        Program = program;
        Map = map;
        _btf = program.Object?.Btf;
        _formatter = _btf is null ? null : new BtfValueFormatter(_btf);
        var def = map.Definition;
        IsGlobals = def.InitialValue is not null || def.Name.StartsWith('.');
        if (IsGlobals)
        {
            var types = new Dictionary<string, int>(StringComparer.Ordinal);
            if (_btf?.FindDatasec(def.Name) is { } datasec)
                foreach (var m in datasec.Members)
                    if (_btf.TryGet(m.Type, out var v, out _) && v.Kind == BtfKind.Var)
                        types[v.Name] = (int)v.SizeOrType;
            if (program.Object is { } obj)
                foreach (var g in obj.Globals.Where(g => g.Section == def.Name).OrderBy(g => g.Offset))
                    if (g.Offset >= 0 && g.Size > 0 && g.Offset + g.Size <= def.ValueSize)
                        _variables.Add((g.Name, g.Offset, g.Size, types.GetValueOrDefault(g.Name)));
        }
        else
            (_keyType, _valueType) = MapTypes(_btf, def.Name);
        SyscallKeys = !IsGlobals && def.KeySize is 4 or 8 && (def.Name.Contains("syscall", StringComparison.OrdinalIgnoreCase)
            || (_keyType is int k && _formatter!.AnyNameInChain(k, IsSyscallTypeName)));
    }

    /// <summary>The program whose map it is.</summary>
    public SeccompEbpfProgram Program { get; }

    /// <summary>The map.</summary>
    public EbpfMap Map { get; }

    /// <summary>True for a global-data map (<c>.bss</c>, <c>.data</c>, <c>.rodata</c>): its entries are variables.</summary>
    public bool IsGlobals { get; }

    /// <summary>True when integer keys are syscall numbers of the native architecture (see the class remarks).</summary>
    public bool SyscallKeys { get; }

    /// <summary>The map's kind as people say it: <c>hash</c>, <c>array</c>, <c>global variables</c> ...</summary>
    public string Kind => IsGlobals ? "global variables" : Map.Definition.Type switch
    {
        MapType.Hash => "hash",
        MapType.LruHash => "LRU hash",
        MapType.Array => "array",
        MapType.RingBuf => "ring buffer",
        MapType.TaskStorage => "task storage",
        _ => Map.Definition.Type.ToString(),
    };

    /// <summary>The key type's C name (<c>__u32</c>, <c>syscall_nr_t</c>), or null when BTF does not say.</summary>
    public string? KeyTypeName => _keyType is int k ? _formatter!.TypeName(k) : null;

    /// <summary>The value type's C name, or null when BTF does not say.</summary>
    public string? ValueTypeName => _valueType is int v ? _formatter!.TypeName(v) : null;

    /// <summary>The global variables, for a global-data map.</summary>
    public IEnumerable<string> VariableNames => _variables.Select(v => v.Name);

    /// <summary>Null when user space may write the map; else why not.</summary>
    public string? WhyReadOnly
    {
        get
        {
            var def = Map.Definition;
            if (def.ReadOnlyForProgram)
                return $"map '{def.Name}' is read-only to the program, and the verifier and the split took its values as constants: set its const volatile knobs with --set";
            if (Map.IsFrozen)
                return $"map '{def.Name}' is frozen";
            return def.Type switch
            {
                MapType.RingBuf => $"map '{def.Name}' is a ring buffer: programs write it, user space consumes it",
                MapType.TaskStorage => $"map '{def.Name}' is task storage: its entries belong to tasks, which only programs name",
                _ => null,
            };
        }
    }

    /// <summary>Whether a name in a key type's typedef chain says the key is a syscall number.</summary>
    public static bool IsSyscallTypeName(string name) =>
        name.Contains("syscall", StringComparison.OrdinalIgnoreCase) || name == "nr" || name.EndsWith("_nr", StringComparison.Ordinal) || name.EndsWith("_nr_t", StringComparison.Ordinal);

    /// <summary>The key and value types of a BTF-defined map (<c>__type(key, T)</c> is a member <c>T *key</c>).</summary>
    public static (int? Key, int? Value) MapTypes(BtfInfo? btf, string mapName)
    {
        if (btf?.FindDatasec(".maps") is not { } datasec)
            return (null, null);
        // Type information the loader did not need may be broken: then the types are unknown.
        foreach (var entry in datasec.Members)
        {
            if (!btf.TryGet(entry.Type, out var v, out _))
                return (null, null);
            if (v.Kind != BtfKind.Var || v.Name != mapName)
                continue;
            if (!btf.TrySkipModifiers((int)v.SizeOrType, out var definition, out _))
                return (null, null);
            int? key = null, value = null;
            foreach (var m in definition.Members)
            {
                if (!btf.TrySkipModifiers(m.Type, out var ptr, out _))
                    return (null, null);
                if (ptr.Kind != BtfKind.Ptr)
                    continue;
                if (m.Name == "key")
                    key = (int)ptr.SizeOrType;
                else if (m.Name == "value")
                    value = (int)ptr.SizeOrType;
            }
            return (key, value);
        }
        return (null, null);
    }

    // ---------------------------------------------------------------- map → JSON

    /// <summary>
    /// Writes the entries as one JSON object (the form <see cref="TryParse"/> reads back), sorted by key; array entries
    /// that are all zero are left out. A ring buffer or task storage gives an empty object.
    /// </summary>
    public void WriteEntries(Utf8JsonWriter w)
    {
        ArgumentNullException.ThrowIfNull(w);
        w.WriteStartObject();
        foreach (var (name, value, type) in Entries())
        {
            w.WritePropertyName(name);
            WriteValue(w, type, value);
        }
        w.WriteEndObject();
    }

    /// <summary>The entries as (member name, value bytes, value type), in key order; zero array entries left out.</summary>
    public List<(string Name, byte[] Value, int? Type)> Entries()
    {
        var rows = new List<(string Name, byte[] Value, int? Type, ulong Order)>();
        if (IsGlobals)
        {
            byte[] all = Map.Lookup(new byte[Map.Definition.KeySize]) ?? [];
            foreach (var (name, offset, size, type) in _variables)
                rows.Add((name, all.AsSpan(offset, size).ToArray(), type > 0 ? type : null, (ulong)offset));
        }
        else if (Map.Definition.Type is not (MapType.RingBuf or MapType.TaskStorage))
        {
            foreach (var (key, value) in Map.Entries())
            {
                if (Map.Definition.Type == MapType.Array && !value.AsSpan().ContainsAnyExcept((byte)0))
                    continue;
                rows.Add((KeyName(key), value, _valueType, key.Length is 1 or 2 or 4 or 8 ? Unsigned(key) : 0));
            }
        }
        rows.Sort((a, b) => a.Order != b.Order ? a.Order.CompareTo(b.Order) : string.CompareOrdinal(a.Name, b.Name));
        return [.. rows.Select(r => (r.Name, r.Value, r.Type))];
    }

    /// <summary>A key as a member name: a syscall name, a number, or the key's JSON text.</summary>
    public string KeyName(byte[] key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (SyscallKeys)
        {
            long nr = key.Length == 4 ? BinaryPrimitives.ReadInt32LittleEndian(key) : BinaryPrimitives.ReadInt64LittleEndian(key);
            if (nr is >= int.MinValue and <= int.MaxValue && Architecture.Native.Syscalls.TryGetName((int)nr, out var name))
                return name;
            return nr.ToString(CultureInfo.InvariantCulture);
        }
        if (_keyType is int k && _formatter is not null)
        {
            string text = _formatter.Format(k, key);
            if (text.Length > 1 && text[0] == '"')
            {
                using var doc = JsonDocument.Parse(text);
                return doc.RootElement.GetString()!;
            }
            return text;
        }
        return key.Length is 1 or 2 or 4 or 8 ? Unsigned(key).ToString(CultureInfo.InvariantCulture) : Convert.ToHexStringLower(key);
    }

    private void WriteValue(Utf8JsonWriter w, int? type, ReadOnlySpan<byte> value)
    {
        if (type is int t && _formatter is not null)
            _formatter.WriteJson(w, t, value);
        else if (value.Length is 1 or 2 or 4 or 8)
            w.WriteNumberValue(Unsigned(value));
        else
            w.WriteStringValue(Convert.ToHexStringLower(value));
    }

    // ---------------------------------------------------------------- JSON → map

    /// <summary>
    /// Reads an object of entries (see the class remarks) into (key, value) pairs; on failure <paramref name="error"/> has
    /// the path of the member at fault below <paramref name="path"/> ("" for the object itself). Nothing is written.
    /// </summary>
    public bool TryParse(JsonElement entries, string path, out List<(byte[] Key, byte[] Value)> result, out MapEntryError? error)
    {
        result = [];
        error = null;
        if (entries.ValueKind != JsonValueKind.Object)
            return Fail(path, $"expected an object whose members are the entries of map '{Map.Name}', found {Describe(entries)}", out error);
        if (WhyReadOnly is { } readOnly)
            return Fail(path, readOnly, out error);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var member in entries.EnumerateObject())
        {
            string at = path.Length == 0 ? member.Name : $"{path}.{member.Name}";
            if (!TryKey(member.Name, at, out var key, out int? valueType, out int valueSize, out error))
                return false;
            if (!seen.Add(Convert.ToHexString(key)))
                return Fail(at, "this key is given twice", out error);
            var value = new byte[valueSize];
            if (!TryEncode(valueType, member.Value, at, value, 0, out error))
                return false;
            result.Add((key, value));
        }
        var def = Map.Definition;
        if (def.Type == MapType.Hash)
        {
            int adding = result.Count(e => Map.Lookup(e.Key) is null);
            int present = Map.Entries().Count();
            if (present + adding > def.MaxEntries)
                return Fail(path, string.Create(CultureInfo.InvariantCulture, $"map '{def.Name}' holds at most {def.MaxEntries} entries: it has {present}, and {adding} would be added"), out error);
        }
        return true;
    }

    /// <summary>
    /// Writes parsed entries into the map: a global-data map's variables in place, other maps by
    /// <see cref="EbpfMap.Update"/>. Programs may run meanwhile: each value is a plain copy, as a kernel map update is.
    /// </summary>
    public void Apply(IEnumerable<(byte[] Key, byte[] Value)> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        foreach (var (key, value) in entries)
        {
            if (IsGlobals)
            {
                var (_, offset, _, _) = _variables[BinaryPrimitives.ReadInt32LittleEndian(key)];
                value.CopyTo(((ArrayMap)Map).ValueSpan(0)[offset..]);
            }
            else
                Map.Update(key, value);
        }
    }

    /// <summary>Reads keys named by <paramref name="names"/> (for <c>maps delete</c>).</summary>
    public bool TryParseKeys(IEnumerable<string> names, out List<byte[]> keys, out MapEntryError? error)
    {
        keys = [];
        error = null;
        if (IsGlobals || Map.Definition.Type == MapType.Array)
            return Fail("", $"map '{Map.Name}' is {(IsGlobals ? "global data" : "an array")}: its entries always exist (update them to zero instead)", out error);
        if (WhyReadOnly is { } readOnly)
            return Fail("", readOnly, out error);
        foreach (var name in names)
        {
            if (!TryKey(name, name, out var key, out _, out _, out error))
                return false;
            keys.Add(key);
        }
        return true;
    }

    /// <summary>The key a member name gives, with the value's type and size for it.</summary>
    private bool TryKey(string name, string at, out byte[] key, out int? valueType, out int valueSize, out MapEntryError? error)
    {
        var def = Map.Definition;
        key = [];
        error = null;
        valueType = _valueType;
        valueSize = def.ValueSize;
        if (IsGlobals)
        {
            int index = _variables.FindIndex(v => v.Name == name);
            if (index < 0)
                return Fail(at, $"map '{def.Name}' has no variable '{name}'" +
                    (Suggest.Closest(name, _variables.Select(v => v.Name)) is { } near ? $"; did you mean '{near}'?" : "") +
                    (_variables.Count > 0 ? $" (its variables: {string.Join(", ", _variables.Select(v => v.Name))})" : ""), out error);
            key = new byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(key, index);
            valueType = _variables[index].Type > 0 ? _variables[index].Type : null;
            valueSize = _variables[index].Size;
            return true;
        }
        key = new byte[def.KeySize];
        bool integer = IsIntegerLike(_keyType, def.KeySize);
        if (integer && TryInteger(name, out BigInteger number))
        {
            if (!TryStoreInteger(_keyType, number, key, 0, def.KeySize, at, out error))
                return false;
        }
        else if (integer && SyscallKeys && Architecture.Native.Syscalls.TryGetNumber(name, out int nr))
        {
            if (def.KeySize == 4)
                BinaryPrimitives.WriteInt32LittleEndian(key, nr);
            else
                BinaryPrimitives.WriteInt64LittleEndian(key, nr);
        }
        else if (integer)
        {
            string hint = SyscallKeys
                ? (Architecture.Native.Syscalls.SuggestNames(name).FirstOrDefault() is { } s ? $"; did you mean '{s}'?" : $": neither a number nor a syscall name of {Architecture.Native.Name}")
                : Architecture.Native.Syscalls.TryGetNumber(name, out _)
                    ? $": map '{def.Name}' is not keyed by syscall numbers (a map is when its name, or a name in its key type's typedef chain, says 'syscall' or ends in '_nr'); write the number"
                    : "";
            return Fail(at, $"key '{name}' is not a number{hint}", out error);
        }
        else
        {
            JsonDocument doc;
            try
            {
                doc = JsonDocument.Parse(name, new JsonDocumentOptions { MaxDepth = MaxDepth });
            }
            catch (JsonException)
            {
                return Fail(at, $"key '{name}' is not the JSON text of a {KeyTypeName ?? Inv($"{def.KeySize}-byte key")}", out error);
            }
            using (doc)
                if (!TryEncode(_keyType, doc.RootElement, at, key, 0, out error))
                    return false;
        }
        if (def.Type == MapType.Array && BinaryPrimitives.ReadUInt32LittleEndian(key) >= (uint)def.MaxEntries)
            return Fail(at, Inv($"key {BinaryPrimitives.ReadUInt32LittleEndian(key)} is out of range: array '{def.Name}' has {def.MaxEntries} entries (0 to {def.MaxEntries - 1})"), out error);
        return true;
    }

    private bool IsIntegerLike(int? type, int size)
    {
        if (type is not int t || _btf is null)
            return size is 1 or 2 or 4 or 8;
        return _btf.TrySkipModifiers(t, out var resolved, out _) && resolved.Kind is BtfKind.Int or BtfKind.Enum or BtfKind.Enum64;
    }

    /// <summary>Encodes <paramref name="e"/> as a value of <paramref name="type"/> into <paramref name="destination"/> at <paramref name="offset"/> (its size is the rest, or the type's).</summary>
    private bool TryEncode(int? type, JsonElement e, string at, byte[] destination, int offset, out MapEntryError? error, int depth = 0)
    {
        error = null;
        int size = destination.Length - offset;
        if (depth > MaxDepth)
            return Fail(at, "nested too deeply", out error);
        if (type is not int id || _btf is null || !_btf.TrySkipModifiers(id, out var t, out _))
        {
            if (size is 1 or 2 or 4 or 8)
                return TryInteger(e, at, null, destination, offset, size, out error);
            return TryHex(e, at, destination, offset, size, out error);
        }
        long typeSize = 0;
        if (t.Kind != BtfKind.Void && (!_btf.TrySizeOf(t.Id, out typeSize, out _) || typeSize > size || typeSize <= 0))
            return TryHex(e, at, destination, offset, size, out error);
        size = (int)typeSize;
        string name = _formatter!.TypeName(id); // as declared: __u32, not unsigned int
        switch (t.Kind)
        {
            case BtfKind.Int when size is 1 or 2 or 4 or 8:
                if (e.ValueKind is JsonValueKind.True or JsonValueKind.False && t.Name is "_Bool" or "bool")
                {
                    destination[offset] = e.ValueKind == JsonValueKind.True ? (byte)1 : (byte)0;
                    return true;
                }
                return TryInteger(e, at, id, destination, offset, size, out error);
            case BtfKind.Enum or BtfKind.Enum64 when size is 1 or 2 or 4 or 8:
            case BtfKind.Ptr:
                return TryInteger(e, at, id, destination, offset, size, out error);
            case BtfKind.Array:
            {
                if (!_btf.TrySkipModifiers(t.ArrayElementType, out var element, out _) || !_btf.TrySizeOf(t.ArrayElementType, out long elementSize, out _) || elementSize <= 0)
                    return TryHex(e, at, destination, offset, size, out error);
                if (element.Kind == BtfKind.Int && elementSize == 1 && element.Name is "char" or "signed char" && e.ValueKind == JsonValueKind.String)
                {
                    byte[] text = Encoding.UTF8.GetBytes(e.GetString()!);
                    if (text.Length > size)
                        return Fail(at, Inv($"the string is {text.Length} bytes; {name} holds {size}"), out error);
                    Array.Clear(destination, offset, size);
                    text.CopyTo(destination, offset);
                    return true;
                }
                if (e.ValueKind != JsonValueKind.Array)
                    return Fail(at, $"expected a list for {name}, found {Describe(e)}", out error);
                int count = e.GetArrayLength();
                if (count > t.ArrayLength)
                    return Fail(at, Inv($"{count} elements given; {name} has {t.ArrayLength}"), out error);
                Array.Clear(destination, offset, size);
                int i = 0;
                foreach (var item in e.EnumerateArray())
                {
                    var slot = new byte[elementSize];
                    if (!TryEncode(t.ArrayElementType, item, Inv($"{at}[{i}]"), slot, 0, out error, depth + 1))
                        return false;
                    slot.CopyTo(destination, offset + (int)(i * elementSize));
                    i++;
                }
                return true;
            }
            case BtfKind.Struct:
            {
                if (e.ValueKind != JsonValueKind.Object)
                    return Fail(at, $"expected an object for {name}, found {Describe(e)}", out error);
                Array.Clear(destination, offset, size);
                var names = new List<string>();
                int anonymous = 0;
                foreach (var m in t.Members)
                    names.Add(m.Name.Length > 0 ? m.Name : Inv($"_{anonymous++}"));
                var given = new HashSet<string>(StringComparer.Ordinal);
                foreach (var p in e.EnumerateObject())
                {
                    string memberAt = $"{at}.{p.Name}";
                    int k = names.IndexOf(p.Name);
                    if (k < 0)
                        return Fail(memberAt, $"{name} has no member '{p.Name}'" +
                            (Suggest.Closest(p.Name, names) is { } near ? $"; did you mean '{near}'?" : $" (its members: {string.Join(", ", names)})"), out error);
                    if (!given.Add(p.Name))
                        return Fail(memberAt, "this member is given twice", out error);
                    var m = t.Members[k];
                    if (m.Offset % 8 != 0 || !_btf.TrySizeOf(m.Type, out long memberSize, out _) || m.Offset / 8 + memberSize > size)
                        return Fail(memberAt, $"member '{p.Name}' of {name} is a bitfield, which can't be written here", out error);
                    var slot = new byte[memberSize];
                    if (!TryEncode(m.Type, p.Value, memberAt, slot, 0, out error, depth + 1))
                        return false;
                    slot.CopyTo(destination, offset + (int)(m.Offset / 8));
                }
                return true;
            }
            default:
                return TryHex(e, at, destination, offset, size, out error);
        }
    }

    /// <summary>An integer (JSON number, or a string with a decimal, negative or 0x number) that fits <paramref name="type"/>.</summary>
    private bool TryInteger(JsonElement e, string at, int? type, byte[] destination, int offset, int size, out MapEntryError? error)
    {
        error = null;
        BigInteger value;
        if (e.ValueKind == JsonValueKind.Number)
        {
            if (!TryInteger(e.GetRawText(), out value))
                return Fail(at, $"{e.GetRawText()} is not an integer", out error);
        }
        else if (e.ValueKind == JsonValueKind.String)
        {
            if (!TryInteger(e.GetString()!, out value))
                return Fail(at, $"'{e.GetString()}' is not a number (decimal, or hexadecimal after 0x)", out error);
        }
        else
            return Fail(at, $"expected a number for {(type is int t ? _formatter!.TypeName(t) : Inv($"a {size}-byte integer"))}, found {Describe(e)}", out error);
        return TryStoreInteger(type, value, destination, offset, size, at, out error);
    }

    private bool TryStoreInteger(int? type, BigInteger value, byte[] destination, int offset, int size, string at, out MapEntryError? error)
    {
        error = null;
        // Signedness as the formatter reads it: INT by its C name, enums of 4 bytes signed; untyped values take either.
        bool? signed = null;
        if (type is int id && _btf is not null && _btf.TrySkipModifiers(id, out var t, out _))
            signed = t.Kind switch
            {
                BtfKind.Int => !t.Name.Contains("unsigned", StringComparison.Ordinal) && t.Name is not "_Bool" and not "bool",
                BtfKind.Ptr => false,
                _ => null,
            };
        int bits = size * 8;
        BigInteger unsignedMax = (BigInteger.One << bits) - 1, signedMin = -(BigInteger.One << (bits - 1)), signedMax = (BigInteger.One << (bits - 1)) - 1;
        bool fits = signed switch
        {
            true => value >= signedMin && value <= signedMax,
            false => value >= 0 && value <= unsignedMax,
            null => value >= signedMin && value <= unsignedMax,
        };
        if (!fits)
        {
            string range = signed switch
            {
                true => Inv($"{signedMin} to {signedMax}"),
                false => Inv($"0 to {unsignedMax}"),
                null => Inv($"{signedMin} to {unsignedMax}"),
            };
            string what = type is int tt ? _formatter!.TypeName(tt) : Inv($"a {size}-byte integer");
            return Fail(at, Inv($"{value} does not fit {what} ({range})"), out error);
        }
        ulong bitsValue = (ulong)(value & ulong.MaxValue);
        Span<byte> le = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(le, bitsValue);
        le[..size].CopyTo(destination.AsSpan(offset, size));
        return true;
    }

    private static bool TryHex(JsonElement e, string at, byte[] destination, int offset, int size, out MapEntryError? error)
    {
        error = null;
        string? text = e.ValueKind == JsonValueKind.String ? e.GetString() : null;
        if (text is null || text.Length != size * 2 || !text.All(char.IsAsciiHexDigit))
            return Fail(at, Inv($"expected a hex string of {size} bytes ({size * 2} hex digits), found {Describe(e)}"), out error);
        Convert.FromHexString(text).CopyTo(destination, offset);
        return true;
    }

    /// <summary>Parses a decimal (optionally negative) or 0x hexadecimal integer.</summary>
    public static bool TryInteger(string text, out BigInteger value)
    {
        value = default;
        if (string.IsNullOrEmpty(text) || text.Length > 40)
            return false;
        bool negative = text[0] == '-';
        string digits = negative ? text[1..] : text;
        bool ok = digits.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? digits.Length > 2 && digits[2..].All(char.IsAsciiHexDigit) && BigInteger.TryParse("0" + digits[2..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value)
            : digits.Length > 0 && digits.All(char.IsAsciiDigit) && BigInteger.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out value);
        if (ok && negative)
            value = -value;
        return ok;
    }

    private static string Describe(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => $"the string \"{Truncate(e.GetString()!)}\"",
        JsonValueKind.Number => $"the number {Truncate(e.GetRawText())}",
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "a list",
        JsonValueKind.True or JsonValueKind.False => e.GetRawText(),
        _ => "null",
    };

    private static string Truncate(string s) => s.Length <= 40 ? s : s[..40] + "...";

    private static ulong Unsigned(ReadOnlySpan<byte> b) => b.Length switch
    {
        1 => b[0],
        2 => BinaryPrimitives.ReadUInt16LittleEndian(b),
        4 => BinaryPrimitives.ReadUInt32LittleEndian(b),
        _ => BinaryPrimitives.ReadUInt64LittleEndian(b),
    };

    private static bool Fail(string path, string message, out MapEntryError? error)
    {
        error = new MapEntryError(path, message);
        return false;
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
