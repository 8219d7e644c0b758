using Syscage.Abi;
using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;

namespace Syscage.Ebpf.Elf;

/// <summary>One section header (<c>Elf64_Shdr</c>).</summary>
internal sealed record ElfSection(int Index, string Name, uint Type, ulong Flags, ulong Offset, ulong Size, uint Link, uint Info, ulong EntrySize)
{
    public const uint SHT_PROGBITS = (uint)Uapi.SHT_PROGBITS, SHT_SYMTAB = (uint)Uapi.SHT_SYMTAB, SHT_STRTAB = (uint)Uapi.SHT_STRTAB, SHT_RELA = (uint)Uapi.SHT_RELA, SHT_NOBITS = (uint)Uapi.SHT_NOBITS, SHT_REL = (uint)Uapi.SHT_REL;
    public const ulong SHF_WRITE = Uapi.SHF_WRITE, SHF_ALLOC = Uapi.SHF_ALLOC, SHF_EXECINSTR = Uapi.SHF_EXECINSTR;

    public bool IsExecutable => Type == SHT_PROGBITS && (Flags & SHF_EXECINSTR) != 0;
}

/// <summary>One symbol (<c>Elf64_Sym</c>).</summary>
internal sealed record ElfSymbol(int Index, string Name, byte Info, ushort SectionIndex, ulong Value, ulong Size)
{
    public const byte STT_NOTYPE = (byte)Uapi.STT_NOTYPE, STT_OBJECT = (byte)Uapi.STT_OBJECT, STT_FUNC = (byte)Uapi.STT_FUNC, STT_SECTION = (byte)Uapi.STT_SECTION;
    public const ushort SHN_UNDEF = (ushort)Uapi.SHN_UNDEF, SHN_LORESERVE = (ushort)Uapi.SHN_LORESERVE;

    public byte Type => (byte)(Info & 0xf);
    public byte Binding => (byte)(Info >> 4);
}

/// <summary>One relocation (<c>Elf64_Rel</c>).</summary>
internal readonly record struct ElfRelocation(ulong Offset, int Symbol, uint Type);

/// <summary>
/// Reads the parts of an ELF64 little-endian relocatable object that BPF loading needs: the header, section
/// headers with names, the symbol table and <c>SHT_REL</c> relocations. Every offset and size is checked against
/// the file before use, so a malformed file gives an error message (Try methods), never an out-of-range read.
/// </summary>
internal sealed class ElfReader
{
    private const ushort ET_REL = (ushort)Uapi.ET_REL;
    private const ushort EM_BPF = 247;
    private readonly byte[] _data;
    private readonly FirstError<string> _errors = new();

    public IReadOnlyList<ElfSection> Sections { get; private set; } = [];
    public IReadOnlyList<ElfSymbol> Symbols { get; private set; } = [];

    private ILookup<int, ElfSymbol>? _bySection;

    /// <summary>
    /// The symbols defined in section <paramref name="section"/>, in table order: grouped once, so that a loader asking
    /// per section stays linear in the file however many sections and symbols it has.
    /// </summary>
    public IEnumerable<ElfSymbol> SymbolsIn(int section) => (_bySection ??= Symbols.ToLookup(y => (int)y.SectionIndex))[section];

    private ElfReader(byte[] data) => _data = data;

    /// <summary>Reads the header, the section headers and the symbol table; on failure <paramref name="error"/> says what is wrong first.</summary>
    public static bool TryRead(byte[] data, [NotNullWhen(true)] out ElfReader? reader, [NotNullWhen(false)] out string? error)
    {
        var read = new ElfReader(data);
        (reader, error) = (null, null);
        if (!read.ReadHeaders())
        {
            error = read._errors.Error;
            return false;
        }
        reader = read;
        return true;
    }

    private bool Fail(string message) => _errors.Fail(message);

    private bool ReadHeaders()
    {
        var data = _data;
        // e_ident: 0x7f 'E' 'L' 'F', EI_CLASS = ELFCLASS64 (2), EI_DATA = ELFDATA2LSB (1).
        if (data.Length < 64 || data[0] != 0x7f || data[1] != (byte)'E' || data[2] != (byte)'L' || data[3] != (byte)'F')
            return Fail("not an ELF file (bad magic)");
        if (data[4] != 2)
            return Fail("not a 64-bit ELF file (EI_CLASS must be ELFCLASS64)");
        if (data[5] != 1)
            return Fail("not a little-endian ELF file (EI_DATA must be ELFDATA2LSB; compile with -target bpf or bpfel)");
        ushort type = U16(16), machine = U16(18);
        if (type != ET_REL)
            return Fail(Inv($"ELF type {type} is not ET_REL: load the object file from 'clang -c', not a linked file"));
        if (machine != EM_BPF)
            return Fail(Inv($"ELF machine {machine} is not EM_BPF (247): compile with 'clang -target bpf'"));
        ulong shoff = U64(40);
        ushort shentsize = U16(58), shnum = U16(60), shstrndx = U16(62);
        if (shnum == 0)
            return Fail("ELF file has no section headers (or uses extended section numbering, which is not supported)");
        if (shentsize != 64)
            return Fail(Inv($"ELF section header size {shentsize} is not 64"));
        if (!Check(shoff, (ulong)shnum * 64, "section header table"))
            return false;
        if (shstrndx >= shnum)
            return Fail(Inv($"section name table index {shstrndx} is out of range ({shnum} sections)"));

        var raw = new (uint Name, uint Type, ulong Flags, ulong Offset, ulong Size, uint Link, uint Info, ulong EntSize)[shnum];
        for (int i = 0; i < shnum; i++)
        {
            int h = (int)shoff + i * 64;
            raw[i] = (U32(h), U32(h + 4), U64(h + 8), U64(h + 24), U64(h + 32), U32(h + 40), U32(h + 44), U64(h + 56));
            if (raw[i].Type != ElfSection.SHT_NOBITS && raw[i].Type != 0 && !Check(raw[i].Offset, raw[i].Size, Inv($"section {i}")))
                return false;
        }
        var shstr = raw[shstrndx];
        if (shstr.Type != ElfSection.SHT_STRTAB)
            return Fail("section name table is not a string table");
        var sections = new ElfSection[shnum];
        for (int i = 0; i < shnum; i++)
        {
            var r = raw[i];
            string name = "";
            if (i != 0 && !String(shstr.Offset, shstr.Size, r.Name, Inv($"name of section {i}"), out name))
                return false;
            sections[i] = new ElfSection(i, name, r.Type, r.Flags, r.Offset, r.Size, r.Link, r.Info, r.EntSize);
        }
        Sections = sections;

        var symtabs = sections.Where(s => s.Type == ElfSection.SHT_SYMTAB).ToList();
        if (symtabs.Count > 1)
            return Fail("ELF file has more than one symbol table");
        return symtabs.Count == 0 || ReadSymbols(symtabs[0]);
    }

    private bool ReadSymbols(ElfSection symtab)
    {
        if (symtab.Link >= Sections.Count || Sections[(int)symtab.Link].Type != ElfSection.SHT_STRTAB)
            return Fail("symbol table does not link to a string table");
        if (symtab.EntrySize != 24 || symtab.Size % 24 != 0)
            return Fail("symbol table entries are not 24 bytes (Elf64_Sym)");
        var strtab = Sections[(int)symtab.Link];
        int n = (int)(symtab.Size / 24);
        var symbols = new List<ElfSymbol>(n);
        for (int i = 0; i < n; i++)
        {
            int s = (int)symtab.Offset + i * 24;
            if (!String(strtab.Offset, strtab.Size, U32(s), Inv($"name of symbol {i}"), out string name))
                return false;
            symbols.Add(new ElfSymbol(i, name, _data[s + 4], U16(s + 6), U64(s + 8), U64(s + 16)));
        }
        Symbols = symbols;
        return true;
    }

    /// <summary>The bytes of a section (zeros for <c>SHT_NOBITS</c>); an error for one too large to hold or outside the file.</summary>
    public bool TryContents(ElfSection section, [NotNullWhen(true)] out byte[]? bytes, [NotNullWhen(false)] out string? error)
    {
        (bytes, error) = (null, null);
        if (section.Size > int.MaxValue)
            error = $"section '{section.Name}' is too large";
        // The headers were checked against the file except those of SHT_NULL sections, which hold nothing but may be named.
        else if (section.Type != ElfSection.SHT_NOBITS && !Inside(section.Offset, section.Size))
            error = Outside(Inv($"section {section.Index}"), section.Offset, section.Size);
        if (error is not null)
            return false;
        bytes = section.Type == ElfSection.SHT_NOBITS ? new byte[section.Size] : _data.AsSpan((int)section.Offset, (int)section.Size).ToArray();
        return true;
    }

    /// <summary>The <c>SHT_REL</c> entries of a relocation section; an error for a malformed one.</summary>
    public bool TryRelocations(ElfSection rel, [NotNullWhen(true)] out List<ElfRelocation>? relocations, [NotNullWhen(false)] out string? error)
    {
        (relocations, error) = (null, null);
        if (rel.Type == ElfSection.SHT_RELA)
            error = $"relocation section '{rel.Name}' is SHT_RELA; BPF objects use SHT_REL";
        else if (rel.Size % 16 != 0)
            error = $"relocation section '{rel.Name}' size is not a multiple of 16 (Elf64_Rel)";
        if (error is not null)
            return false;
        var result = new List<ElfRelocation>((int)(rel.Size / 16));
        for (ulong off = 0; off < rel.Size; off += 16)
        {
            int p = (int)(rel.Offset + off);
            ulong info = U64(p + 8);
            ulong sym = info >> 32;
            if (sym >= (ulong)Symbols.Count)
            {
                error = Inv($"relocation section '{rel.Name}': symbol index {sym} is out of range");
                return false;
            }
            result.Add(new ElfRelocation(U64(p), (int)sym, (uint)info));
        }
        relocations = result;
        return true;
    }

    private bool String(ulong tableOffset, ulong tableSize, uint offset, string what, out string value)
    {
        value = "";
        if (offset >= tableSize)
            return Fail($"{what}: string offset {offset} is outside the string table");
        var span = _data.AsSpan((int)(tableOffset + offset), (int)(tableSize - offset));
        int end = span.IndexOf((byte)0);
        if (end < 0)
            return Fail($"{what}: string is not NUL-terminated");
        value = Encoding.UTF8.GetString(span[..end]);
        return true;
    }

    private bool Check(ulong offset, ulong size, string what) => Inside(offset, size) || Fail(Outside(what, offset, size));

    private bool Inside(ulong offset, ulong size) => offset <= (ulong)_data.Length && size <= (ulong)_data.Length - offset;

    private string Outside(string what, ulong offset, ulong size) =>
        Inv($"{what} (offset {offset}, size {size}) lies outside the file ({_data.Length} bytes)");

    private ushort U16(int at) => BinaryPrimitives.ReadUInt16LittleEndian(_data.AsSpan(at));
    private uint U32(int at) => BinaryPrimitives.ReadUInt32LittleEndian(_data.AsSpan(at));
    private ulong U64(int at) => BinaryPrimitives.ReadUInt64LittleEndian(_data.AsSpan(at));
    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
