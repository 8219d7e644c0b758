using Syscage.Abi;
using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;
using Syscage.Ebpf.Btf;
using Syscage.Ebpf.Isa;
using Syscage.Ebpf.Maps;
using static Syscage.Ebpf.Isa.EbpfOpcode;

namespace Syscage.Ebpf.Elf;

/// <summary>One program found in an object: its entry function with every bpf-to-bpf subprogram it calls appended.</summary>
/// <param name="Name">The function's symbol name (or the section name when the section has no function symbols).</param>
/// <param name="Section">The ELF section (<c>seccomp</c>, <c>seccomp/NAME</c>, ...).</param>
/// <param name="Instructions">The linked instructions. <c>lddw</c> map references carry an index into <see cref="EbpfObject.Maps"/>.</param>
/// <param name="License">The object's <c>license</c> string, or null.</param>
public sealed record EbpfObjectProgram(string Name, string Section, ImmutableArray<EbpfInstruction> Instructions, string? License)
{
    /// <summary>
    /// Per instruction slot, the C source line it was compiled from (clang's <c>.BTF.ext</c> line information: each slot
    /// takes the last line record at or before it in its function), or null; empty when the object has no line information.
    /// </summary>
    public ImmutableArray<SourceLine?> Lines { get; init; } = [];

    /// <summary>The source line of slot <paramref name="pc"/>, or null when the object does not say.</summary>
    public SourceLine? SourceAt(int pc) => pc >= 0 && pc < Lines.Length ? Lines[pc] : null;
}

/// <summary>A global variable in a global-data map (<c>.data</c>, <c>.bss</c>, <c>.rodata</c>...).</summary>
/// <param name="Name">The variable's symbol name.</param>
/// <param name="Section">The data section it lives in.</param>
/// <param name="MapIndex">Index of the section's map in <see cref="EbpfObject.Maps"/>.</param>
/// <param name="Offset">Byte offset in the map value.</param>
/// <param name="Size">Size in bytes.</param>
public sealed record GlobalVariable(string Name, string Section, int MapIndex, int Offset, int Size);

/// <summary>
/// A BPF ELF object as produced by <c>clang -O2 -g -target bpf -c</c>: 64-bit little-endian <c>ET_REL</c>. The
/// loader reads program sections and their function symbols, the <c>license</c> section, BTF-defined maps
/// (<c>.maps</c>), legacy <c>maps</c> (<c>struct bpf_map_def</c>), global data (<c>.data</c>, <c>.bss</c>,
/// <c>.rodata</c>, <c>.rodata.*</c> as single-element array maps), and applies <c>R_BPF_64_64</c> (map and global
/// references in <c>lddw</c>) and <c>R_BPF_64_32</c> (bpf-to-bpf calls: the called <c>.text</c> functions are
/// appended to the program) relocations. <c>.BTF.ext</c> gives each instruction its C source line
/// (<see cref="EbpfObjectProgram.Lines"/>), for the verifier's messages and listings; its CO-RE field relocations are
/// not supported. <see cref="Warnings"/> says what the kernel would mind but Syscage accepts. Globals can be set before verifying with
/// <see cref="SetGlobal(string, ulong)"/> — that is how <c>const volatile</c> knobs are configured.
/// </summary>
public sealed class EbpfObject
{
    private const uint R_BPF_NONE = (uint)Uapi.R_BPF_NONE, R_BPF_64_64 = (uint)Uapi.R_BPF_64_64, R_BPF_64_ABS64 = (uint)Uapi.R_BPF_64_ABS64, R_BPF_64_ABS32 = (uint)Uapi.R_BPF_64_ABS32, R_BPF_64_NODYLD32 = (uint)Uapi.R_BPF_64_NODYLD32, R_BPF_64_32 = (uint)Uapi.R_BPF_64_32;
    private readonly List<MapDefinition> _maps;

    private EbpfObject(ImmutableArray<EbpfObjectProgram> programs, List<MapDefinition> maps, ImmutableArray<GlobalVariable> globals, string? license, BtfInfo? btf)
    {
        Programs = programs;
        _maps = maps;
        Globals = globals;
        License = license;
        Btf = btf;
        var warnings = new List<string>();
        foreach (var p in programs)
            if (!IsSeccompSection(p.Section))
                warnings.Add($"program '{p.Name}' is in section '{p.Section}', not 'seccomp' or 'seccomp/NAME': it is verified and run as a seccomp filter all the same");
        if (license is null)
            warnings.Add("the object has no license (char LICENSE[] SEC(\"license\") = \"GPL\";): the kernel refuses GPL-only helpers such as bpf_trace_printk and bpf_probe_read_user to it");
        Warnings = [.. warnings];
    }

    /// <summary>True for the sections eBPF seccomp programs are written in: <c>seccomp</c> and <c>seccomp/NAME</c>.</summary>
    public static bool IsSeccompSection(string section)
    {
        ArgumentNullException.ThrowIfNull(section);
        return section == "seccomp" || section.StartsWith("seccomp/", StringComparison.Ordinal);
    }

    /// <summary>
    /// What the object does that Syscage accepts but the eBPF-seccomp patch set's loader would mind: a program outside a
    /// <c>seccomp</c> section, no <c>license</c>. One sentence each, without a prefix.
    /// </summary>
    public ImmutableArray<string> Warnings { get; }

    /// <summary>The programs, in section order, then symbol order.</summary>
    public ImmutableArray<EbpfObjectProgram> Programs { get; }

    /// <summary>The maps; program <c>lddw</c> immediates index this list. Reflects <see cref="SetGlobal(string, ulong)"/>.</summary>
    public IReadOnlyList<MapDefinition> Maps => _maps;

    /// <summary>Named global variables in global-data maps.</summary>
    public ImmutableArray<GlobalVariable> Globals { get; }

    /// <summary>The <c>license</c> section's string, or null when there is none.</summary>
    public string? License { get; }

    /// <summary>The parsed <c>.BTF</c> section, or null when the object has none.</summary>
    public BtfInfo? Btf { get; }

    /// <summary>
    /// Reads and loads an object file of at most <see cref="InputLimits.MaxBinaryBytes"/>; the message of an
    /// <see cref="EbpfLoadException"/> starts with <paramref name="path"/>.
    /// </summary>
    /// <exception cref="InputTooLargeException">The file is larger.</exception>
    public static EbpfObject LoadFile(string path)
    {
        byte[] bytes = InputFile.ReadBinary(path);
        return TryLoad(bytes, out var obj, out var error) ? obj : EbpfLoadException.Throw<EbpfObject>($"{path}: {error}");
    }

    /// <summary>Loads an object from its bytes; throws <see cref="EbpfLoadException"/> when it is malformed or unsupported.</summary>
    public static EbpfObject Load(byte[] elf) =>
        TryLoad(elf, out var obj, out var error) ? obj : EbpfLoadException.Throw<EbpfObject>(error);

    /// <summary>Loads an object, reporting failure as the error message instead of an exception.</summary>
    public static bool TryLoad(byte[] elf, [NotNullWhen(true)] out EbpfObject? obj, [NotNullWhen(false)] out string? error)
    {
        ArgumentNullException.ThrowIfNull(elf);
        obj = null;
        return ElfReader.TryRead(elf, out var reader, out error) && new Loader(reader).TryRun(out obj, out error);
    }

    /// <summary>The program whose name or section is <paramref name="nameOrSection"/>; throws when there is none.</summary>
    public EbpfObjectProgram GetProgram(string nameOrSection) =>
        Programs.FirstOrDefault(p => p.Name == nameOrSection) ?? Programs.FirstOrDefault(p => p.Section == nameOrSection)
        ?? throw new EbpfLoadException($"no program named '{nameOrSection}'" +
            (Suggest.Closest(nameOrSection, Programs.Select(p => p.Name)) is { } s ? $"; did you mean '{s}'?" : ""));

    /// <summary>Sets a global variable (typically a <c>const volatile</c> knob in <c>.rodata</c>) to a little-endian integer of its size.</summary>
    public void SetGlobal(string name, ulong value)
    {
        var g = FindGlobal(name);
        if (g.Size > 8)
            throw new EbpfLoadException(Inv($"global '{name}' is {g.Size} bytes; set it with a byte array"));
        if (g.Size < 8 && value >> (g.Size * 8) != 0 && (long)value >> (g.Size * 8 - 1) != -1)
            throw new EbpfLoadException(Inv($"value {value} does not fit global '{name}' ({g.Size} bytes)"));
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
        SetGlobal(name, bytes[..g.Size]);
    }

    /// <summary>Sets a global variable's bytes; the length must equal the variable's size.</summary>
    public void SetGlobal(string name, ReadOnlySpan<byte> value)
    {
        var g = FindGlobal(name);
        if (value.Length != g.Size)
            throw new EbpfLoadException(Inv($"global '{name}' is {g.Size} bytes, not {value.Length}"));
        var map = _maps[g.MapIndex];
        var bytes = (byte[])map.InitialValue!.Clone();
        value.CopyTo(bytes.AsSpan(g.Offset));
        // A fresh definition and array: programs verified earlier keep the values they were verified with.
        _maps[g.MapIndex] = map with { InitialValue = bytes };
    }

    /// <summary>Reads a global variable's current bytes.</summary>
    public byte[] GetGlobal(string name)
    {
        var g = FindGlobal(name);
        return _maps[g.MapIndex].InitialValue.AsSpan(g.Offset, g.Size).ToArray();
    }

    private GlobalVariable FindGlobal(string name) => Globals.FirstOrDefault(g => g.Name == name)
        ?? throw new EbpfLoadException($"no global variable named '{name}'" +
            (SuggestGlobal(name) is { } s ? $"; did you mean '{s}'?" : ""));

    /// <summary>The global variable whose name is closest to the misspelt <paramref name="name"/>, or null when none is close.</summary>
    public string? SuggestGlobal(string name) => Suggest.Closest(name, Globals.Select(g => g.Name));

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// One load: the ELF file and the tables built from it. Try-first: a step that finds the object wrong records the
    /// message (<see cref="Fail"/>) and returns false, and so does every caller.
    /// </summary>
    private sealed class Loader(ElfReader elf)
    {
        private readonly FirstError<string> _errors = new();
        private readonly ElfReader _elf = elf;
        private readonly List<MapDefinition> _maps = [];
        private readonly Dictionary<(int Section, ulong Offset), int> _mapBySymbol = [];
        private readonly Dictionary<int, int> _dataMapBySection = [];
        private readonly Dictionary<int, Dictionary<int, ElfRelocation>> _relocs = [];
        private BtfInfo? _btf;
        private BtfExt? _btfExt;
        private long _mapMemory;

        public bool TryRun([NotNullWhen(true)] out EbpfObject? obj, [NotNullWhen(false)] out string? error) =>
            _errors.Outcome(Run(out obj), out error);

        private bool Fail(string message) => _errors.Fail(message);

        private bool Run([NotNullWhen(true)] out EbpfObject? obj)
        {
            obj = null;
            var btfSection = _elf.Sections.FirstOrDefault(s => s.Name == ".BTF");
            if (btfSection is not null)
            {
                if (!Contents(btfSection, out var btf))
                    return false;
                if (!BtfInfo.TryParse(btf, out _btf, out var btfError))
                    return Fail(btfError);
                if (_elf.Sections.FirstOrDefault(s => s.Name == ".BTF.ext") is { } extSection)
                {
                    if (!Contents(extSection, out var ext))
                        return false;
                    if (!BtfExt.TryParse(ext, _btf, out _btfExt, out var extError))
                        return Fail(extError);
                }
            }
            string? license = null;
            if (_elf.Sections.FirstOrDefault(s => s.Name == "license") is { } lic)
            {
                if (!Contents(lic, out var bytes))
                    return false;
                int end = Array.IndexOf(bytes, (byte)0);
                license = Encoding.UTF8.GetString(bytes, 0, end < 0 ? bytes.Length : end);
            }
            foreach (var s in _elf.Sections)
            {
                if (s.Name == ".maps")
                {
                    if (!ReadBtfMaps(s))
                        return false;
                }
                else if (s.Name == "maps")
                {
                    if (!ReadLegacyMaps(s))
                        return false;
                }
                else if (IsDataSection(s))
                {
                    // Accounted before its contents are read: a .bss section declares its size without bytes in the file.
                    if (!Account(s.Name, MapDefinition.MemoryOf(MapType.Array, 4, (long)Math.Min(s.Size, long.MaxValue), 1)) || !Contents(s, out var initial))
                        return false;
                    _dataMapBySection[s.Index] = _maps.Count;
                    _maps.Add(new MapDefinition(s.Name, MapType.Array, 4, (int)s.Size, 1,
                        s.Name.StartsWith(".rodata", StringComparison.Ordinal) ? MapDefinition.BPF_F_RDONLY_PROG : 0, initial));
                }
            }
            if (!ReadRelocations())
                return false;
            var globals = _elf.Symbols
                .Where(y => y.Name.Length > 0 && y.Type is ElfSymbol.STT_OBJECT or ElfSymbol.STT_NOTYPE && _dataMapBySection.ContainsKey(y.SectionIndex))
                .Where(y => y.Value + y.Size <= _elf.Sections[y.SectionIndex].Size && y.Size is > 0 and <= int.MaxValue)
                .Select(y => new GlobalVariable(y.Name, _elf.Sections[y.SectionIndex].Name, _dataMapBySection[y.SectionIndex], (int)y.Value, (int)y.Size))
                .ToImmutableArray();

            var programs = ImmutableArray.CreateBuilder<EbpfObjectProgram>();
            foreach (var s in _elf.Sections)
            {
                if (!s.IsExecutable || s.Name == ".text" || s.Size == 0)
                    continue;
                if (!EntryPoints(s, out var entries))
                    return false;
                foreach (var entry in entries)
                {
                    if (!Link(entry, out var code, out var lines))
                        return false;
                    programs.Add(new EbpfObjectProgram(entry.Name, s.Name, code, license) { Lines = lines });
                }
            }
            if (programs.Count == 0)
                return Fail("object has no program sections (executable sections other than .text)");
            obj = new EbpfObject(programs.ToImmutable(), _maps, globals, license, _btf);
            return true;
        }

        private static bool IsDataSection(ElfSection s) =>
            s.Type is ElfSection.SHT_PROGBITS or ElfSection.SHT_NOBITS && (s.Flags & ElfSection.SHF_ALLOC) != 0 && !s.IsExecutable && s.Size > 0
            && (s.Name is ".data" or ".bss" or ".rodata"
                || s.Name.StartsWith(".data.", StringComparison.Ordinal) || s.Name.StartsWith(".bss.", StringComparison.Ordinal)
                || s.Name.StartsWith(".rodata.", StringComparison.Ordinal));

        // The reader's and the type information's Try methods, with their errors recorded here.

        private bool Contents(ElfSection section, out byte[] bytes)
        {
            bytes = [];
            if (!_elf.TryContents(section, out var contents, out var error))
                return Fail(error);
            bytes = contents;
            return true;
        }

        private bool Relocations(ElfSection rel, out List<ElfRelocation> relocations)
        {
            relocations = [];
            if (!_elf.TryRelocations(rel, out var read, out var error))
                return Fail(error);
            relocations = read;
            return true;
        }

        private bool SkipModifiers(int id, [NotNullWhen(true)] out BtfType? type) =>
            _btf!.TrySkipModifiers(id, out type, out var error) || Fail(error);

        private bool ReadRelocations()
        {
            foreach (var rel in _elf.Sections.Where(s => s.Type is ElfSection.SHT_REL or ElfSection.SHT_RELA))
            {
                if (rel.Info >= _elf.Sections.Count)
                    return Fail($"relocation section '{rel.Name}' targets a section that does not exist");
                var target = _elf.Sections[(int)rel.Info];
                if (target.IsExecutable)
                {
                    if (!Relocations(rel, out var relocations))
                        return false;
                    var byPc = new Dictionary<int, ElfRelocation>();
                    foreach (var r in relocations)
                    {
                        if (r.Offset % EbpfInstruction.Size != 0 || r.Offset >= target.Size)
                            return Fail(Inv($"section '{target.Name}': relocation at offset {r.Offset} is not on an instruction"));
                        if (!byPc.TryAdd((int)(r.Offset / EbpfInstruction.Size), r))
                            return Fail(Inv($"section '{target.Name}': two relocations at pc {r.Offset / EbpfInstruction.Size}"));
                    }
                    _relocs[target.Index] = byPc;
                }
                else if (_dataMapBySection.ContainsKey(target.Index))
                {
                    if (!Relocations(rel, out var relocations))
                        return false;
                    int k = relocations.FindIndex(r => r.Type != R_BPF_NONE);
                    if (k >= 0)
                        return Fail(Inv($"section '{target.Name}': relocation {RelocName(relocations[k].Type)} at offset {relocations[k].Offset} (a global holding an address) is not supported"));
                }
            }
            return true;
        }

        private bool ReadBtfMaps(ElfSection section)
        {
            if (_btf is null)
                return Fail("section '.maps' needs BTF type information, but the object has no .BTF section (compile with -g)");
            if (_btf.FindDatasec(".maps") is not { } datasec)
                return Fail("section '.maps': no DATASEC '.maps' in .BTF");
            var byName = new Dictionary<string, ElfSymbol>(StringComparer.Ordinal);
            foreach (var y in _elf.SymbolsIn(section.Index))
                byName.TryAdd(y.Name, y);
            foreach (var entry in datasec.Members)
            {
                if (!_btf.TryGet(entry.Type, out var v, out var error))
                    return Fail(error);
                if (v.Kind != BtfKind.Var)
                    return Fail(Inv($"section '.maps': DATASEC entry type {entry.Type} is not a VAR"));
                if (byName.GetValueOrDefault(v.Name) is not { } sym)
                    return Fail($"section '.maps': map '{v.Name}' has no symbol");
                _mapBySymbol[(section.Index, sym.Value)] = _maps.Count;
                if (!SkipModifiers((int)v.SizeOrType, out var def) || !ReadBtfMap(v.Name, def, out var map) || !Accounted(map))
                    return false;
                _maps.Add(map);
            }
            return true;
        }

        private bool ReadBtfMap(string name, BtfType def, [NotNullWhen(true)] out MapDefinition? map)
        {
            map = null;
            if (def.Kind != BtfKind.Struct)
                return Fail($"map '{name}': definition is a {def.Kind}, not a struct");
            long? type = null, maxEntries = null, keySize = null, valueSize = null;
            long flags = 0;
            foreach (var m in def.Members)
            {
                long value;
                switch (m.Name)
                {
                    case "type" or "max_entries" or "map_flags" or "key_size" or "value_size" or "pinning":
                        if (!UintMember(name, m, out value))
                            return false;
                        break;
                    case "key" or "value":
                        if (!PointeeSize(name, m, out value))
                            return false;
                        break;
                    default:
                        return Fail($"map '{name}': member '{m.Name}' is not supported (supported: type, key, value, key_size, value_size, max_entries, map_flags)");
                }
                switch (m.Name)
                {
                    case "type": type = value; break;
                    case "max_entries": maxEntries = value; break;
                    case "map_flags": flags = value; break;
                    case "key_size" or "key": keySize = value; break;
                    case "value_size" or "value": valueSize = value; break;
                    default:
                        if (value != 0) // pinning
                            return Fail($"map '{name}': pinning is not supported");
                        break;
                }
            }
            if (type is null)
                return Fail($"map '{name}': no 'type' member");
            return MakeMap(name, type.Value, keySize ?? 0, valueSize ?? 0, maxEntries ?? 0, flags, out map);
        }

        /// <summary><c>__uint(name, N)</c> is <c>int (*name)[N]</c>: a pointer to an array whose length is the value.</summary>
        private bool UintMember(string map, BtfMember m, out long value)
        {
            value = 0;
            if (!SkipModifiers(m.Type, out var ptr))
                return false;
            BtfType? array = null;
            if (ptr.Kind == BtfKind.Ptr && !SkipModifiers((int)ptr.SizeOrType, out array))
                return false;
            if (array?.Kind != BtfKind.Array)
                return Fail($"map '{map}': member '{m.Name}' is not encoded as __uint (a pointer to an array)");
            value = array.ArrayLength;
            return true;
        }

        /// <summary><c>__type(name, T)</c> is <c>typeof(T) *name</c>: the size is the pointee's.</summary>
        private bool PointeeSize(string map, BtfMember m, out long size)
        {
            size = 0;
            if (!SkipModifiers(m.Type, out var ptr))
                return false;
            if (ptr.Kind != BtfKind.Ptr)
                return Fail($"map '{map}': member '{m.Name}' is not encoded as __type (a pointer)");
            return _btf!.TrySizeOf((int)ptr.SizeOrType, out size, out var error) || Fail(error);
        }

        private bool ReadLegacyMaps(ElfSection section)
        {
            var syms = _elf.SymbolsIn(section.Index).Where(y => y.Type != ElfSymbol.STT_SECTION && y.Name.Length > 0)
                .OrderBy(y => y.Value).ToList();
            if (syms.Count == 0)
                return true;
            ulong defSize = section.Size / (ulong)syms.Count;
            if (defSize < 16 || section.Size % (ulong)syms.Count != 0)
                return Fail(Inv($"section 'maps': {section.Size} bytes for {syms.Count} maps is not a whole number of struct bpf_map_def (at least 16 bytes)"));
            if (!Contents(section, out var bytes))
                return false;
            foreach (var y in syms)
            {
                if (y.Value % defSize != 0 || y.Value + defSize > section.Size)
                    return Fail($"section 'maps': map '{y.Name}' is not at a struct bpf_map_def boundary");
                int at = (int)y.Value, len = (int)defSize;
                // struct bpf_map_def { unsigned int type, key_size, value_size, max_entries, map_flags; }
                uint Field(int i) => len >= 4 * (i + 1) ? BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at + 4 * i)) : 0;
                for (int i = 5; i < len / 4; i++)
                    if (Field(i) != 0)
                        return Fail($"map '{y.Name}': struct bpf_map_def fields beyond map_flags (inner maps, numa node) are not supported");
                _mapBySymbol[(section.Index, y.Value)] = _maps.Count;
                if (!MakeMap(y.Name, Field(0), Field(1), Field(2), Field(3), Field(4), out var map) || !Accounted(map))
                    return false;
                _maps.Add(map);
            }
            return true;
        }

        /// <summary>Adds <paramref name="bytes"/> of map <paramref name="name"/> to the object's map memory, within <see cref="InputLimits.MaxMapMemoryBytes"/>.</summary>
        private bool Account(string name, long bytes)
        {
            if (MapDefinition.MemoryLimitError(name, bytes, _mapMemory) is { } error)
                return Fail(error);
            _mapMemory += bytes;
            return true;
        }

        private bool Accounted(MapDefinition map) => Account(map.Name, map.MemoryBytes);

        private bool MakeMap(string name, long type, long keySize, long valueSize, long maxEntries, long flags, [NotNullWhen(true)] out MapDefinition? map)
        {
            map = null;
            if (!Enum.IsDefined(typeof(MapType), (int)type) || type > int.MaxValue)
                return Fail(Inv($"map '{name}': map type {type} is not supported (supported: hash 1, array 2, lru_hash 9, ringbuf 27, task_storage 29)"));
            var t = (MapType)(int)type;
            if (maxEntries is <= 0 or > int.MaxValue && t != MapType.TaskStorage)
                return Fail(Inv($"map '{name}': max_entries {maxEntries} is out of range"));
            if (keySize is < 0 or > 512 || valueSize is < 0 or > (1 << 20))
                return Fail(Inv($"map '{name}': key size {keySize} or value size {valueSize} is out of range"));
            switch (t)
            {
                case MapType.RingBuf:
                    if (keySize != 0 || valueSize != 0)
                        return Fail($"map '{name}': a ring buffer has no key or value");
                    if ((maxEntries & (maxEntries - 1)) != 0 || maxEntries % 4096 != 0)
                        return Fail(Inv($"map '{name}': ring buffer size {maxEntries} is not a power of two and a multiple of 4096"));
                    break;
                case MapType.Array:
                    if (keySize != 4 || valueSize == 0)
                        return Fail(Inv($"map '{name}': an array needs a 4-byte key and a value (key {keySize}, value {valueSize})"));
                    break;
                default:
                    if (keySize == 0 || valueSize == 0)
                        return Fail(Inv($"map '{name}': key size {keySize} and value size {valueSize} must not be zero"));
                    break;
            }
            if (flags is < 0 or > uint.MaxValue)
                return Fail(Inv($"map '{name}': flags {flags} are out of range"));
            map = new MapDefinition(name, t, (int)keySize, (int)valueSize, (int)maxEntries, (uint)flags);
            return true;
        }

        /// <summary>
        /// A code unit: one function (or a whole section without function symbols). <c>Global</c>: the function's
        /// symbol is global (or weak), an entry point when a section has any.
        /// </summary>
        private sealed record Unit(ElfSection Section, string Name, int Start, int Count, bool Global = false);

        private readonly Dictionary<int, List<Unit>> _functions = [];

        /// <summary>The code units of a section, worked out once per section (calls into it ask again).</summary>
        private bool Functions(ElfSection s, out List<Unit> units)
        {
            if (_functions.TryGetValue(s.Index, out var known))
            {
                units = known;
                return true;
            }
            if (!ReadFunctions(s, out units))
                return false;
            _functions[s.Index] = units;
            return true;
        }

        private bool ReadFunctions(ElfSection s, out List<Unit> units)
        {
            units = [];
            int total = (int)(s.Size / EbpfInstruction.Size);
            if (s.Size % EbpfInstruction.Size != 0)
                return Fail(Inv($"section '{s.Name}': size {s.Size} is not a whole number of 8-byte instructions"));
            var funcs = _elf.SymbolsIn(s.Index).Where(y => y.Type == ElfSymbol.STT_FUNC).OrderBy(y => y.Value).ToList();
            var global = funcs.Where(y => y.Binding != 0).Select(y => y.Name).ToHashSet(StringComparer.Ordinal);
            if (funcs.Count == 0)
            {
                units.Add(new Unit(s, s.Name, 0, total));
                return true;
            }
            for (int k = 0; k < funcs.Count; k++)
            {
                var f = funcs[k];
                if (f.Value % EbpfInstruction.Size != 0 || f.Value > s.Size || f.Size > s.Size - f.Value || f.Size % EbpfInstruction.Size != 0)
                    return Fail($"section '{s.Name}': function '{f.Name}' has a bad address or size");
                int start = (int)(f.Value / EbpfInstruction.Size), count = (int)(f.Size / EbpfInstruction.Size);
                if (count == 0) // hand-written assembly often has no sizes: run to the next function or the section's end
                    count = (k + 1 < funcs.Count ? (int)Math.Min(funcs[k + 1].Value / EbpfInstruction.Size, (ulong)total) : total) - start;
                if (count <= 0)
                    continue;
                units.Add(new Unit(s, f.Name, start, count, global.Contains(f.Name)));
            }
            return true;
        }

        private bool EntryPoints(ElfSection s, out List<Unit> entries)
        {
            if (!Functions(s, out var funcs))
            {
                entries = [];
                return false;
            }
            var globals = funcs.Where(u => u.Global).ToList();
            entries = globals.Count > 0 ? globals : funcs;
            return true;
        }

        /// <summary>Copies the entry function, applies relocations, and appends every subprogram it reaches by calls.</summary>
        private bool Link(Unit entry, out ImmutableArray<EbpfInstruction> code, out ImmutableArray<SourceLine?> lines)
        {
            code = [];
            lines = [];
            var output = new List<EbpfInstruction>();
            var layout = new List<(Unit Unit, int Base)>();
            var bases = new Dictionary<Unit, int>();
            int nextBase = entry.Count;
            var queue = new Queue<Unit>();
            var fixups = new List<(int OutPc, Unit Target, int TargetLocal)>();
            bases[entry] = 0;
            queue.Enqueue(entry);
            while (queue.Count > 0)
            {
                var unit = queue.Dequeue();
                var s = unit.Section;
                if (!Contents(s, out var bytes))
                    return false;
                _relocs.TryGetValue(s.Index, out var relocs);
                int baseOut = output.Count;
                layout.Add((unit, baseOut));
                if (baseOut + unit.Count > 1_000_000)
                    return Fail($"program '{entry.Name}' is too large");
                for (int i = 0; i < unit.Count; i++)
                    output.Add(EbpfInstruction.Read(bytes.AsSpan((unit.Start + i) * EbpfInstruction.Size, EbpfInstruction.Size)));
                for (int i = 0; i < unit.Count; i++)
                {
                    int local = unit.Start + i, outPc = baseOut + i;
                    var insn = output[outPc];
                    ElfRelocation? reloc = relocs is not null && relocs.TryGetValue(local, out var r) ? r : null;
                    bool isCall = insn.Opcode == (BPF_JMP | BPF_CALL);
                    Unit? placed;
                    if (reloc is { } rr && rr.Type != R_BPF_NONE)
                    {
                        var sym = _elf.Symbols[rr.Symbol];
                        string where = Inv($"section '{s.Name}': relocation {RelocName(rr.Type)} against '{SymbolName(sym)}' at pc {local}");
                        if (rr.Type == R_BPF_64_64)
                        {
                            if (!IsWide(insn.Opcode) || i + 1 >= unit.Count)
                                return Fail($"{where}: the instruction is not an lddw");
                            if (!ApplyDataReloc(output, outPc, sym, where))
                                return false;
                        }
                        else if (rr.Type == R_BPF_64_32 && isCall && insn.Src == BPF_PSEUDO_CALL)
                        {
                            if (!TargetSection(sym, where, out var target))
                                return false;
                            if (!target.IsExecutable)
                                return Fail($"{where}: the call target is not in a code section");
                            long targetLocal = (long)(sym.Value / EbpfInstruction.Size) + insn.Imm + 1;
                            if (!Place(target, targetLocal, where, bases, queue, ref nextBase, out placed))
                                return false;
                            fixups.Add((outPc, placed, (int)targetLocal));
                        }
                        else if (rr.Type == R_BPF_64_32 && isCall)
                            return Fail($"{where}: a call to an external function (kfunc or extern) is not supported");
                        else
                            return Fail($"{where}: relocation type is not supported on this instruction");
                    }
                    else if (isCall && insn.Src == BPF_PSEUDO_CALL)
                    {
                        long targetLocal = (long)local + insn.Imm + 1;
                        string where = Inv($"section '{s.Name}': call at pc {local}");
                        if (!Place(s, targetLocal, where, bases, queue, ref nextBase, out placed))
                            return false;
                        fixups.Add((outPc, placed, (int)targetLocal));
                    }
                    else if (IsWide(insn.Opcode) && insn.Src != 0)
                        return Fail(Inv($"section '{s.Name}': lddw with pseudo source {insn.Src} at pc {local} has no relocation"));
                    if (IsWide(insn.Opcode))
                        i++;
                }
            }
            foreach (var (outPc, target, targetLocal) in fixups)
            {
                long imm = (long)bases[target] + (targetLocal - target.Start) - (outPc + 1);
                output[outPc] = output[outPc] with { Imm = (int)imm };
            }
            code = [.. output];
            lines = SourceLines(layout, output.Count);
            return true;
        }

        /// <summary>
        /// Each output slot's source line: a line record covers its slot and the ones after it, up to the next record
        /// or the end of its function (a unit copied whole from its section at <c>Base</c>).
        /// </summary>
        private ImmutableArray<SourceLine?> SourceLines(List<(Unit Unit, int Base)> placed, int length)
        {
            if (_btfExt is null)
                return [];
            var lines = new SourceLine?[length];
            bool any = false;
            foreach (var (unit, baseOut) in placed)
            {
                if (!_btfExt.Lines.TryGetValue(unit.Section.Name, out var records))
                    continue;
                int start = unit.Start * EbpfInstruction.Size, end = (unit.Start + unit.Count) * EbpfInstruction.Size;
                SourceLine? current = null;
                int next = 0;
                var ordered = records.Where(r => r.Offset >= start && r.Offset < end && r.Offset % EbpfInstruction.Size == 0).OrderBy(r => r.Offset).ToList();
                for (int i = 0; i < unit.Count; i++)
                {
                    int offset = (unit.Start + i) * EbpfInstruction.Size;
                    // Line 0 marks code that comes from no line (clang's spills and the like): no source, not the line before.
                    while (next < ordered.Count && ordered[next].Offset <= offset)
                        current = ordered[next++].Line is { Line: > 0 } line ? line : null;
                    lines[baseOut + i] = current;
                    any |= current is not null;
                }
            }
            return any ? [.. lines] : [];
        }

        /// <summary>The unit holding <paramref name="targetLocal"/> in <paramref name="section"/>, queued for appending if new.</summary>
        private bool Place(ElfSection section, long targetLocal, string where, Dictionary<Unit, int> bases, Queue<Unit> queue, ref int nextBase,
            [NotNullWhen(true)] out Unit? unit)
        {
            unit = null;
            // Units are in address order: the one that can hold the target is the last starting at or before it.
            if (!Functions(section, out var units))
                return false;
            int lo = 0, hi = units.Count - 1, last = -1;
            while (lo <= hi)
            {
                int mid = lo + ((hi - lo) >> 1);
                if (units[mid].Start <= targetLocal)
                {
                    last = mid;
                    lo = mid + 1;
                }
                else
                    hi = mid - 1;
            }
            if (last < 0 || targetLocal >= units[last].Start + units[last].Count)
                return Fail(Inv($"{where}: call target {targetLocal} is outside every function of '{section.Name}'"));
            unit = units[last];
            if (!bases.ContainsKey(unit))
            {
                // Units are appended in the order they are queued.
                bases[unit] = nextBase;
                nextBase += unit.Count;
                queue.Enqueue(unit);
            }
            return true;
        }

        private bool ApplyDataReloc(List<EbpfInstruction> output, int pc, ElfSymbol sym, string where)
        {
            var insn = output[pc];
            if (!TargetSection(sym, where, out var target))
                return false;
            // A map's own symbol gives its offset in the section; a section symbol leaves it in the immediate.
            ulong mapOffset = sym.Type == ElfSymbol.STT_SECTION ? (ulong)(long)insn.Imm : sym.Value;
            if (_mapBySymbol.TryGetValue((target.Index, mapOffset), out int mapIndex))
            {
                output[pc] = insn with { Src = BPF_PSEUDO_MAP_FD, Imm = mapIndex };
                output[pc + 1] = output[pc + 1] with { Imm = 0 };
                return true;
            }
            if (_dataMapBySection.TryGetValue(target.Index, out int dataMap))
            {
                // A variable's symbol gives its offset; a section symbol leaves it in the lddw immediate.
                long offset = (long)(sym.Type == ElfSymbol.STT_SECTION ? 0 : sym.Value) + insn.Imm;
                if (offset < 0 || offset >= (long)target.Size)
                    return Fail(Inv($"{where}: offset {offset} is outside '{target.Name}' ({target.Size} bytes)"));
                output[pc] = insn with { Src = BPF_PSEUDO_MAP_VALUE, Imm = dataMap };
                output[pc + 1] = output[pc + 1] with { Imm = (int)offset };
                return true;
            }
            if (target.IsExecutable)
                return Fail($"{where}: taking the address of a function (callbacks) is not supported");
            if (target.Name is ".maps" or "maps")
                return Fail($"{where}: the symbol is not at the start of a map definition");
            return Fail($"{where}: references section '{target.Name}', which is neither a map nor global data");
        }

        private bool TargetSection(ElfSymbol sym, string where, [NotNullWhen(true)] out ElfSection? section)
        {
            section = null;
            if (sym.SectionIndex == ElfSymbol.SHN_UNDEF)
                return Fail($"{where}: the symbol is undefined (extern variables, kconfig and ksyms are not supported)");
            if (sym.SectionIndex >= ElfSymbol.SHN_LORESERVE || sym.SectionIndex >= _elf.Sections.Count)
                return Fail($"{where}: the symbol is not in a section (common or absolute symbols are not supported)");
            section = _elf.Sections[sym.SectionIndex];
            return true;
        }

        private string SymbolName(ElfSymbol sym) => sym.Name.Length > 0 ? sym.Name
            : sym.SectionIndex < _elf.Sections.Count ? _elf.Sections[sym.SectionIndex].Name : Inv($"symbol {sym.Index}");
    }

    private static string RelocName(uint type) => type switch
    {
        R_BPF_NONE => "R_BPF_NONE",
        R_BPF_64_64 => "R_BPF_64_64",
        R_BPF_64_ABS64 => "R_BPF_64_ABS64",
        R_BPF_64_ABS32 => "R_BPF_64_ABS32",
        R_BPF_64_NODYLD32 => "R_BPF_64_NODYLD32",
        R_BPF_64_32 => "R_BPF_64_32",
        _ => Inv($"type {type}"),
    };
}
