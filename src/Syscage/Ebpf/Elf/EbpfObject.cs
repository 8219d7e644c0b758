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
public sealed record EbpfObjectProgram(string Name, string Section, ImmutableArray<EbpfInstruction> Instructions, string? License);

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
/// appended to the program) relocations. <c>.BTF.ext</c> is not read (it holds line info and CO-RE relocations,
/// neither needed here; CO-RE field relocations are not supported). Globals can be set before verifying with
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
    }

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
        try
        {
            return Load(bytes);
        }
        catch (EbpfLoadException e)
        {
            throw new EbpfLoadException($"{path}: {e.Message}");
        }
    }

    /// <summary>Loads an object from its bytes; throws <see cref="EbpfLoadException"/> when it is malformed or unsupported.</summary>
    public static EbpfObject Load(byte[] elf)
    {
        ArgumentNullException.ThrowIfNull(elf);
        return new Loader(elf).Run();
    }

    /// <summary>Loads an object, reporting failure as the error message instead of an exception.</summary>
    public static bool TryLoad(byte[] elf, [NotNullWhen(true)] out EbpfObject? obj, [NotNullWhen(false)] out string? error)
    {
        try
        {
            obj = Load(elf);
            error = null;
            return true;
        }
        catch (EbpfLoadException e)
        {
            obj = null;
            error = e.Message;
            return false;
        }
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
            (Suggest.Closest(name, Globals.Select(g => g.Name)) is { } s ? $"; did you mean '{s}'?" : ""));

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    /// <summary>One load: the ELF file and the tables built from it.</summary>
    private sealed class Loader(byte[] data)
    {
        private readonly ElfReader _elf = new(data);
        private readonly List<MapDefinition> _maps = [];
        private readonly Dictionary<(int Section, ulong Offset), int> _mapBySymbol = [];
        private readonly Dictionary<int, int> _dataMapBySection = [];
        private readonly Dictionary<int, Dictionary<int, ElfRelocation>> _relocs = [];
        private BtfInfo? _btf;
        private long _mapMemory;

        public EbpfObject Run()
        {
            var btfSection = _elf.Sections.FirstOrDefault(s => s.Name == ".BTF");
            if (btfSection is not null)
                _btf = BtfInfo.Parse(_elf.Contents(btfSection));
            string? license = null;
            if (_elf.Sections.FirstOrDefault(s => s.Name == "license") is { } lic)
            {
                var bytes = _elf.Contents(lic);
                int end = Array.IndexOf(bytes, (byte)0);
                license = Encoding.UTF8.GetString(bytes, 0, end < 0 ? bytes.Length : end);
            }
            foreach (var s in _elf.Sections)
            {
                if (s.Name == ".maps")
                    ReadBtfMaps(s);
                else if (s.Name == "maps")
                    ReadLegacyMaps(s);
                else if (IsDataSection(s))
                {
                    // Accounted before its contents are read: a .bss section declares its size without bytes in the file.
                    Account(s.Name, MapDefinition.MemoryOf(MapType.Array, 4, (long)Math.Min(s.Size, long.MaxValue), 1));
                    _dataMapBySection[s.Index] = _maps.Count;
                    _maps.Add(new MapDefinition(s.Name, MapType.Array, 4, (int)s.Size, 1,
                        s.Name.StartsWith(".rodata", StringComparison.Ordinal) ? MapDefinition.BPF_F_RDONLY_PROG : 0, _elf.Contents(s)));
                }
            }
            ReadRelocations();
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
                foreach (var entry in EntryPoints(s))
                    programs.Add(new EbpfObjectProgram(entry.Name, s.Name, Link(entry), license));
            }
            if (programs.Count == 0)
                throw new EbpfLoadException("object has no program sections (executable sections other than .text)");
            return new EbpfObject(programs.ToImmutable(), _maps, globals, license, _btf);
        }

        private static bool IsDataSection(ElfSection s) =>
            s.Type is ElfSection.SHT_PROGBITS or ElfSection.SHT_NOBITS && (s.Flags & ElfSection.SHF_ALLOC) != 0 && !s.IsExecutable && s.Size > 0
            && (s.Name is ".data" or ".bss" or ".rodata"
                || s.Name.StartsWith(".data.", StringComparison.Ordinal) || s.Name.StartsWith(".bss.", StringComparison.Ordinal)
                || s.Name.StartsWith(".rodata.", StringComparison.Ordinal));

        private void ReadRelocations()
        {
            foreach (var rel in _elf.Sections.Where(s => s.Type is ElfSection.SHT_REL or ElfSection.SHT_RELA))
            {
                if (rel.Info >= _elf.Sections.Count)
                    throw new EbpfLoadException($"relocation section '{rel.Name}' targets a section that does not exist");
                var target = _elf.Sections[(int)rel.Info];
                if (target.IsExecutable)
                {
                    var byPc = new Dictionary<int, ElfRelocation>();
                    foreach (var r in _elf.Relocations(rel))
                    {
                        if (r.Offset % EbpfInstruction.Size != 0 || r.Offset >= target.Size)
                            throw new EbpfLoadException(Inv($"section '{target.Name}': relocation at offset {r.Offset} is not on an instruction"));
                        if (!byPc.TryAdd((int)(r.Offset / EbpfInstruction.Size), r))
                            throw new EbpfLoadException(Inv($"section '{target.Name}': two relocations at pc {r.Offset / EbpfInstruction.Size}"));
                    }
                    _relocs[target.Index] = byPc;
                }
                else if (_dataMapBySection.ContainsKey(target.Index) && _elf.Relocations(rel).Any(r => r.Type != R_BPF_NONE))
                {
                    var r = _elf.Relocations(rel).First(r => r.Type != R_BPF_NONE);
                    throw new EbpfLoadException(Inv($"section '{target.Name}': relocation {RelocName(r.Type)} at offset {r.Offset} (a global holding an address) is not supported"));
                }
            }
        }

        private void ReadBtfMaps(ElfSection section)
        {
            if (_btf is null)
                throw new EbpfLoadException("section '.maps' needs BTF type information, but the object has no .BTF section (compile with -g)");
            var datasec = _btf.FindDatasec(".maps") ?? throw new EbpfLoadException("section '.maps': no DATASEC '.maps' in .BTF");
            var byName = new Dictionary<string, ElfSymbol>(StringComparer.Ordinal);
            foreach (var y in _elf.SymbolsIn(section.Index))
                byName.TryAdd(y.Name, y);
            foreach (var entry in datasec.Members)
            {
                var v = _btf.Get(entry.Type);
                if (v.Kind != BtfKind.Var)
                    throw new EbpfLoadException(Inv($"section '.maps': DATASEC entry type {entry.Type} is not a VAR"));
                var sym = byName.GetValueOrDefault(v.Name)
                    ?? throw new EbpfLoadException($"section '.maps': map '{v.Name}' has no symbol");
                _mapBySymbol[(section.Index, sym.Value)] = _maps.Count;
                _maps.Add(Accounted(ReadBtfMap(v.Name, _btf.SkipModifiers((int)v.SizeOrType))));
            }
        }

        private MapDefinition ReadBtfMap(string name, BtfType def)
        {
            if (def.Kind != BtfKind.Struct)
                throw new EbpfLoadException($"map '{name}': definition is a {def.Kind}, not a struct");
            long? type = null, maxEntries = null, keySize = null, valueSize = null;
            long flags = 0;
            foreach (var m in def.Members)
            {
                switch (m.Name)
                {
                    case "type": type = UintMember(name, m); break;
                    case "max_entries": maxEntries = UintMember(name, m); break;
                    case "map_flags": flags = UintMember(name, m); break;
                    case "key_size": keySize = UintMember(name, m); break;
                    case "value_size": valueSize = UintMember(name, m); break;
                    case "key": keySize = PointeeSize(name, m); break;
                    case "value": valueSize = PointeeSize(name, m); break;
                    case "pinning":
                        if (UintMember(name, m) != 0)
                            throw new EbpfLoadException($"map '{name}': pinning is not supported");
                        break;
                    default:
                        throw new EbpfLoadException($"map '{name}': member '{m.Name}' is not supported (supported: type, key, value, key_size, value_size, max_entries, map_flags)");
                }
            }
            if (type is null)
                throw new EbpfLoadException($"map '{name}': no 'type' member");
            return MakeMap(name, type.Value, keySize ?? 0, valueSize ?? 0, maxEntries ?? 0, flags);
        }

        /// <summary><c>__uint(name, N)</c> is <c>int (*name)[N]</c>: a pointer to an array whose length is the value.</summary>
        private long UintMember(string map, BtfMember m)
        {
            var ptr = _btf!.SkipModifiers(m.Type);
            var array = ptr.Kind == BtfKind.Ptr ? _btf.SkipModifiers((int)ptr.SizeOrType) : null;
            if (array?.Kind != BtfKind.Array)
                throw new EbpfLoadException($"map '{map}': member '{m.Name}' is not encoded as __uint (a pointer to an array)");
            return array.ArrayLength;
        }

        /// <summary><c>__type(name, T)</c> is <c>typeof(T) *name</c>: the size is the pointee's.</summary>
        private long PointeeSize(string map, BtfMember m)
        {
            var ptr = _btf!.SkipModifiers(m.Type);
            if (ptr.Kind != BtfKind.Ptr)
                throw new EbpfLoadException($"map '{map}': member '{m.Name}' is not encoded as __type (a pointer)");
            return _btf.SizeOf((int)ptr.SizeOrType);
        }

        private void ReadLegacyMaps(ElfSection section)
        {
            var syms = _elf.SymbolsIn(section.Index).Where(y => y.Type != ElfSymbol.STT_SECTION && y.Name.Length > 0)
                .OrderBy(y => y.Value).ToList();
            if (syms.Count == 0)
                return;
            ulong defSize = section.Size / (ulong)syms.Count;
            if (defSize < 16 || section.Size % (ulong)syms.Count != 0)
                throw new EbpfLoadException(Inv($"section 'maps': {section.Size} bytes for {syms.Count} maps is not a whole number of struct bpf_map_def (at least 16 bytes)"));
            var bytes = _elf.Contents(section);
            foreach (var y in syms)
            {
                if (y.Value % defSize != 0 || y.Value + defSize > section.Size)
                    throw new EbpfLoadException($"section 'maps': map '{y.Name}' is not at a struct bpf_map_def boundary");
                int at = (int)y.Value, len = (int)defSize;
                // struct bpf_map_def { unsigned int type, key_size, value_size, max_entries, map_flags; }
                uint Field(int i) => len >= 4 * (i + 1) ? BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at + 4 * i)) : 0;
                for (int i = 5; i < len / 4; i++)
                    if (Field(i) != 0)
                        throw new EbpfLoadException($"map '{y.Name}': struct bpf_map_def fields beyond map_flags (inner maps, numa node) are not supported");
                _mapBySymbol[(section.Index, y.Value)] = _maps.Count;
                _maps.Add(Accounted(MakeMap(y.Name, Field(0), Field(1), Field(2), Field(3), Field(4))));
            }
        }

        /// <summary>Adds <paramref name="bytes"/> of map <paramref name="name"/> to the object's map memory, within <see cref="InputLimits.MaxMapMemoryBytes"/>.</summary>
        private void Account(string name, long bytes)
        {
            if (MapDefinition.MemoryLimitError(name, bytes, _mapMemory) is { } error)
                throw new EbpfLoadException(error);
            _mapMemory += bytes;
        }

        private MapDefinition Accounted(MapDefinition map)
        {
            Account(map.Name, map.MemoryBytes);
            return map;
        }

        private static MapDefinition MakeMap(string name, long type, long keySize, long valueSize, long maxEntries, long flags)
        {
            if (!Enum.IsDefined(typeof(MapType), (int)type) || type > int.MaxValue)
                throw new EbpfLoadException(Inv($"map '{name}': map type {type} is not supported (supported: hash 1, array 2, lru_hash 9, ringbuf 27, task_storage 29)"));
            var t = (MapType)(int)type;
            if (maxEntries is <= 0 or > int.MaxValue && t != MapType.TaskStorage)
                throw new EbpfLoadException(Inv($"map '{name}': max_entries {maxEntries} is out of range"));
            if (keySize is < 0 or > 512 || valueSize is < 0 or > (1 << 20))
                throw new EbpfLoadException(Inv($"map '{name}': key size {keySize} or value size {valueSize} is out of range"));
            switch (t)
            {
                case MapType.RingBuf:
                    if (keySize != 0 || valueSize != 0)
                        throw new EbpfLoadException($"map '{name}': a ring buffer has no key or value");
                    if ((maxEntries & (maxEntries - 1)) != 0 || maxEntries % 4096 != 0)
                        throw new EbpfLoadException(Inv($"map '{name}': ring buffer size {maxEntries} is not a power of two and a multiple of 4096"));
                    break;
                case MapType.Array:
                    if (keySize != 4 || valueSize == 0)
                        throw new EbpfLoadException(Inv($"map '{name}': an array needs a 4-byte key and a value (key {keySize}, value {valueSize})"));
                    break;
                default:
                    if (keySize == 0 || valueSize == 0)
                        throw new EbpfLoadException(Inv($"map '{name}': key size {keySize} and value size {valueSize} must not be zero"));
                    break;
            }
            if (flags is < 0 or > uint.MaxValue)
                throw new EbpfLoadException(Inv($"map '{name}': flags {flags} are out of range"));
            return new MapDefinition(name, t, (int)keySize, (int)valueSize, (int)maxEntries, (uint)flags);
        }

        /// <summary>
        /// A code unit: one function (or a whole section without function symbols). <c>Global</c>: the function's
        /// symbol is global (or weak), an entry point when a section has any.
        /// </summary>
        private sealed record Unit(ElfSection Section, string Name, int Start, int Count, bool Global = false);

        private readonly Dictionary<int, List<Unit>> _functions = [];

        /// <summary>The code units of a section, worked out once per section (calls into it ask again).</summary>
        private List<Unit> Functions(ElfSection s)
        {
            if (!_functions.TryGetValue(s.Index, out var units))
                _functions[s.Index] = units = ReadFunctions(s);
            return units;
        }

        private List<Unit> ReadFunctions(ElfSection s)
        {
            int total = (int)(s.Size / EbpfInstruction.Size);
            if (s.Size % EbpfInstruction.Size != 0)
                throw new EbpfLoadException(Inv($"section '{s.Name}': size {s.Size} is not a whole number of 8-byte instructions"));
            var funcs = _elf.SymbolsIn(s.Index).Where(y => y.Type == ElfSymbol.STT_FUNC).OrderBy(y => y.Value).ToList();
            var global = funcs.Where(y => y.Binding != 0).Select(y => y.Name).ToHashSet(StringComparer.Ordinal);
            if (funcs.Count == 0)
                return [new Unit(s, s.Name, 0, total)];
            var units = new List<Unit>();
            for (int k = 0; k < funcs.Count; k++)
            {
                var f = funcs[k];
                if (f.Value % EbpfInstruction.Size != 0 || f.Value > s.Size || f.Size > s.Size - f.Value || f.Size % EbpfInstruction.Size != 0)
                    throw new EbpfLoadException($"section '{s.Name}': function '{f.Name}' has a bad address or size");
                int start = (int)(f.Value / EbpfInstruction.Size), count = (int)(f.Size / EbpfInstruction.Size);
                if (count == 0) // hand-written assembly often has no sizes: run to the next function or the section's end
                    count = (k + 1 < funcs.Count ? (int)Math.Min(funcs[k + 1].Value / EbpfInstruction.Size, (ulong)total) : total) - start;
                if (count <= 0)
                    continue;
                units.Add(new Unit(s, f.Name, start, count, global.Contains(f.Name)));
            }
            return units;
        }

        private IEnumerable<Unit> EntryPoints(ElfSection s)
        {
            var funcs = Functions(s);
            var globals = funcs.Where(u => u.Global).ToList();
            return globals.Count > 0 ? globals : funcs;
        }

        /// <summary>Copies the entry function, applies relocations, and appends every subprogram it reaches by calls.</summary>
        private ImmutableArray<EbpfInstruction> Link(Unit entry)
        {
            var output = new List<EbpfInstruction>();
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
                var code = _elf.Contents(s);
                _relocs.TryGetValue(s.Index, out var relocs);
                int baseOut = output.Count;
                if (baseOut + unit.Count > 1_000_000)
                    throw new EbpfLoadException($"program '{entry.Name}' is too large");
                for (int i = 0; i < unit.Count; i++)
                    output.Add(EbpfInstruction.Read(code.AsSpan((unit.Start + i) * EbpfInstruction.Size, EbpfInstruction.Size)));
                for (int i = 0; i < unit.Count; i++)
                {
                    int local = unit.Start + i, outPc = baseOut + i;
                    var insn = output[outPc];
                    ElfRelocation? reloc = relocs is not null && relocs.TryGetValue(local, out var r) ? r : null;
                    bool isCall = insn.Opcode == (BPF_JMP | BPF_CALL);
                    if (reloc is { } rr && rr.Type != R_BPF_NONE)
                    {
                        var sym = _elf.Symbols[rr.Symbol];
                        string where = Inv($"section '{s.Name}': relocation {RelocName(rr.Type)} against '{SymbolName(sym)}' at pc {local}");
                        if (rr.Type == R_BPF_64_64)
                        {
                            if (!IsWide(insn.Opcode) || i + 1 >= unit.Count)
                                throw new EbpfLoadException($"{where}: the instruction is not an lddw");
                            ApplyDataReloc(output, outPc, sym, where);
                        }
                        else if (rr.Type == R_BPF_64_32 && isCall && insn.Src == BPF_PSEUDO_CALL)
                        {
                            var target = TargetSection(sym, where);
                            if (!target.IsExecutable)
                                throw new EbpfLoadException($"{where}: the call target is not in a code section");
                            long targetLocal = (long)(sym.Value / EbpfInstruction.Size) + insn.Imm + 1;
                            fixups.Add((outPc, Place(target, targetLocal, where, bases, queue, ref nextBase), (int)targetLocal));
                        }
                        else if (rr.Type == R_BPF_64_32 && isCall)
                            throw new EbpfLoadException($"{where}: a call to an external function (kfunc or extern) is not supported");
                        else
                            throw new EbpfLoadException($"{where}: relocation type is not supported on this instruction");
                    }
                    else if (isCall && insn.Src == BPF_PSEUDO_CALL)
                    {
                        long targetLocal = (long)local + insn.Imm + 1;
                        string where = Inv($"section '{s.Name}': call at pc {local}");
                        fixups.Add((outPc, Place(s, targetLocal, where, bases, queue, ref nextBase), (int)targetLocal));
                    }
                    else if (IsWide(insn.Opcode) && insn.Src != 0)
                        throw new EbpfLoadException(Inv($"section '{s.Name}': lddw with pseudo source {insn.Src} at pc {local} has no relocation"));
                    if (IsWide(insn.Opcode))
                        i++;
                }
            }
            foreach (var (outPc, target, targetLocal) in fixups)
            {
                long imm = (long)bases[target] + (targetLocal - target.Start) - (outPc + 1);
                output[outPc] = output[outPc] with { Imm = (int)imm };
            }
            return [.. output];
        }

        /// <summary>The unit holding <paramref name="targetLocal"/> in <paramref name="section"/>, queued for appending if new.</summary>
        private Unit Place(ElfSection section, long targetLocal, string where, Dictionary<Unit, int> bases, Queue<Unit> queue, ref int nextBase)
        {
            // Units are in address order: the one that can hold the target is the last starting at or before it.
            var units = Functions(section);
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
            var unit = last >= 0 && targetLocal < units[last].Start + units[last].Count ? units[last]
                : throw new EbpfLoadException(Inv($"{where}: call target {targetLocal} is outside every function of '{section.Name}'"));
            if (!bases.ContainsKey(unit))
            {
                // Units are appended in the order they are queued.
                bases[unit] = nextBase;
                nextBase += unit.Count;
                queue.Enqueue(unit);
            }
            return unit;
        }

        private void ApplyDataReloc(List<EbpfInstruction> output, int pc, ElfSymbol sym, string where)
        {
            var insn = output[pc];
            var target = TargetSection(sym, where);
            // A map's own symbol gives its offset in the section; a section symbol leaves it in the immediate.
            ulong mapOffset = sym.Type == ElfSymbol.STT_SECTION ? (ulong)(long)insn.Imm : sym.Value;
            if (_mapBySymbol.TryGetValue((target.Index, mapOffset), out int mapIndex))
            {
                output[pc] = insn with { Src = BPF_PSEUDO_MAP_FD, Imm = mapIndex };
                output[pc + 1] = output[pc + 1] with { Imm = 0 };
            }
            else if (_dataMapBySection.TryGetValue(target.Index, out int dataMap))
            {
                // A variable's symbol gives its offset; a section symbol leaves it in the lddw immediate.
                long offset = (long)(sym.Type == ElfSymbol.STT_SECTION ? 0 : sym.Value) + insn.Imm;
                if (offset < 0 || offset >= (long)target.Size)
                    throw new EbpfLoadException(Inv($"{where}: offset {offset} is outside '{target.Name}' ({target.Size} bytes)"));
                output[pc] = insn with { Src = BPF_PSEUDO_MAP_VALUE, Imm = dataMap };
                output[pc + 1] = output[pc + 1] with { Imm = (int)offset };
            }
            else if (target.IsExecutable)
                throw new EbpfLoadException($"{where}: taking the address of a function (callbacks) is not supported");
            else if (target.Name is ".maps" or "maps")
                throw new EbpfLoadException($"{where}: the symbol is not at the start of a map definition");
            else
                throw new EbpfLoadException($"{where}: references section '{target.Name}', which is neither a map nor global data");
        }

        private ElfSection TargetSection(ElfSymbol sym, string where)
        {
            if (sym.SectionIndex == ElfSymbol.SHN_UNDEF)
                throw new EbpfLoadException($"{where}: the symbol is undefined (extern variables, kconfig and ksyms are not supported)");
            if (sym.SectionIndex >= ElfSymbol.SHN_LORESERVE || sym.SectionIndex >= _elf.Sections.Count)
                throw new EbpfLoadException($"{where}: the symbol is not in a section (common or absolute symbols are not supported)");
            return _elf.Sections[sym.SectionIndex];
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
