using System.Buffers.Binary;
using Syscage.Ebpf;
using Syscage.Ebpf.Elf;
using Syscage.Ebpf.Helpers;
using Syscage.Ebpf.Isa;
using Syscage.Ebpf.Maps;
using Syscage.Ebpf.Verifier;
using static Syscage.Ebpf.Isa.EbpfOpcode;
using Syscage.Abi;

namespace Syscage.EbpfLoader.Tests;

public class LoaderTests
{
    private static EbpfObject Load(string sample) => EbpfObject.Load(Clang.Sample(sample));

    private static int MapIndex(EbpfObject o, string name) => o.Maps.Select((m, i) => (m, i)).Single(x => x.m.Name == name).i;

    [Fact]
    public void Pure_filter_has_no_maps_and_calls_no_helpers()
    {
        var o = Load("pure_filter");
        var p = Assert.Single(o.Programs);
        Assert.Equal(("pure_filter", "seccomp"), (p.Name, p.Section));
        Assert.Empty(o.Maps);
        var v = o.Verify(p);
        Assert.Empty(v.Facts!.HelpersCalled);
        Assert.Empty(v.Facts.MapsUsed);
        Assert.Equal(ContextDescription.SeccompData, v.Context);
    }

    [Fact]
    public void Btf_hash_map_is_read_from_dot_maps()
    {
        var o = Load("syscall_count");
        var m = Assert.Single(o.Maps);
        Assert.Equal(new MapDefinition("counts", MapType.Hash, 4, 8, 1024), m);
        var v = o.Verify(o.GetProgram("count_syscalls"));
        Assert.Equal([HelperIds.BPF_FUNC_map_lookup_elem, HelperIds.BPF_FUNC_map_update_elem], v.Facts!.HelpersCalled.ToArray());
        // Every lddw of the map now says "map 0".
        var lddw = v.Instructions.Where(i => IsWide(i.Opcode) && i.Src == BPF_PSEUDO_MAP_FD).ToList();
        Assert.NotEmpty(lddw);
        Assert.All(lddw, i => Assert.Equal(0, i.Imm));
    }

    [Fact]
    public void Array_map_and_bss_global()
    {
        var o = Load("exec_once");
        Assert.Equal(new MapDefinition("exec_seen", MapType.Array, 4, 4, 1), o.Maps[MapIndex(o, "exec_seen")]);
        var bss = o.Maps[MapIndex(o, ".bss")];
        Assert.Equal((MapType.Array, 4, 8, 1, 0u), (bss.Type, bss.KeySize, bss.ValueSize, bss.MaxEntries, bss.Flags));
        Assert.Equal(new byte[8], bss.InitialValue);
        var g = Assert.Single(o.Globals);
        Assert.Equal(new GlobalVariable("refused", ".bss", MapIndex(o, ".bss"), 0, 8), g);
        var p = Assert.Single(o.Programs);
        var valueRefs = p.Instructions.Where(i => IsWide(i.Opcode) && i.Src == BPF_PSEUDO_MAP_VALUE).ToList();
        Assert.Single(valueRefs);
        Assert.Equal(MapIndex(o, ".bss"), valueRefs[0].Imm);
        o.Verify(p);
    }

    [Fact]
    public void Const_volatile_knobs_are_rodata_and_settable_before_load()
    {
        var o = Load("fault_inject");
        var rodata = o.Maps[MapIndex(o, ".rodata")];
        Assert.True(rodata.ReadOnlyForProgram);
        Assert.Equal(16, rodata.ValueSize);
        Assert.Equal(["error", "nth", "one_in", "target_nr"], o.Globals.Select(g => g.Name).Order());
        Assert.Equal(257u, BinaryPrimitives.ReadUInt32LittleEndian(o.GetGlobal("target_nr")));
        Assert.Equal(3u, BinaryPrimitives.ReadUInt32LittleEndian(o.GetGlobal("nth")));

        var before = o.Verify(o.Programs[0]);
        o.SetGlobal("nth", 5);
        o.SetGlobal("target_nr", 39);
        Assert.Equal(5u, BinaryPrimitives.ReadUInt32LittleEndian(o.GetGlobal("nth")));
        var after = o.Verify(o.Programs[0]);
        // Verified programs keep the values they were verified with.
        var nthOffset = o.Globals.Single(g => g.Name == "nth").Offset;
        Assert.Equal(3, before.Maps[MapIndex(o, ".rodata")].InitialValue![nthOffset]);
        Assert.Equal(5, after.Maps[MapIndex(o, ".rodata")].InitialValue![nthOffset]);

        var e = Assert.Throws<EbpfLoadException>(() => o.SetGlobal("nht", 1));
        Assert.Contains("did you mean 'nth'", e.Message);
        Assert.Throws<EbpfLoadException>(() => o.SetGlobal("nth", 1UL << 40));
    }

    [Fact]
    public void Bpf_to_bpf_call_appends_the_subprogram_and_fixes_the_offset()
    {
        var o = Load("fault_inject");
        var p = Assert.Single(o.Programs);
        var calls = p.Instructions.Select((i, pc) => (i, pc)).Where(x => x.i.Opcode == (BPF_JMP | BPF_CALL) && x.i.Src == BPF_PSEUDO_CALL).ToList();
        var call = Assert.Single(calls);
        int target = call.pc + call.i.Imm + 1;
        Assert.True(target > call.pc && target < p.Instructions.Length);
        // The subprogram (bump) starts by storing its argument on the stack: *(u32 *)(r10 - 4) = r1.
        Assert.Equal(new EbpfInstruction(BPF_STX | BPF_MEM | BPF_W, 10, 1, -4, 0), p.Instructions[target]);
        Assert.Equal(BPF_JMP | BPF_EXIT, p.Instructions[target - 1].Opcode);
    }

    [Fact]
    public void Ring_buffer_map()
    {
        var o = Load("open_logger");
        Assert.Equal(new MapDefinition("events", MapType.RingBuf, 0, 0, 256 * 1024), o.Maps[MapIndex(o, "events")]);
        var v = o.Verify(o.Programs[0]);
        Assert.Contains(HelperIds.BPF_FUNC_ringbuf_reserve, v.Facts!.HelpersCalled);
        Assert.Contains(HelperIds.BPF_FUNC_probe_read_user_str, v.Facts.HelpersCalled);
    }

    [Fact]
    public void Legacy_maps_section_and_named_program_section()
    {
        var o = Load("uid_rule");
        Assert.Equal(new MapDefinition("denials", MapType.LruHash, 4, 8, 256), o.Maps[MapIndex(o, "denials")]);
        var p = o.GetProgram("seccomp/uid_rule");
        Assert.Equal("uid_rule", p.Name);
        o.Verify(p);
        Assert.Contains("did you mean 'uid_rule'", Assert.Throws<EbpfLoadException>(() => o.GetProgram("uid_rul")).Message);
    }

    [Fact]
    public void Known_syscall_number_shows_which_paths_touch_maps_and_helpers()
    {
        // The supervisor's question: for syscall N, does the program need maps or helpers?
        var o = Load("fault_inject");
        var p = o.Programs[0];
        var getppid = o.Verify(p, new VerifierOptions { ContextAssumptions = new Dictionary<(int, int), ulong> { [(0, 4)] = 110 } });
        Assert.Empty(getppid.Facts!.HelpersCalled);
        var openat = o.Verify(p, new VerifierOptions { ContextAssumptions = new Dictionary<(int, int), ulong> { [(0, 4)] = 257 } });
        Assert.Contains(HelperIds.BPF_FUNC_map_lookup_elem, openat.Facts!.HelpersCalled);
        // one_in = 0 is a frozen .rodata value: the prandom path is dead.
        Assert.DoesNotContain(HelperIds.BPF_FUNC_get_prandom_u32, openat.Facts.HelpersCalled);
        o.SetGlobal("one_in", 10);
        var random = o.Verify(p, new VerifierOptions { ContextAssumptions = new Dictionary<(int, int), ulong> { [(0, 4)] = 257 } });
        Assert.Contains(HelperIds.BPF_FUNC_get_prandom_u32, random.Facts!.HelpersCalled);
    }

    [Fact]
    public void Facts_keep_register_types_per_instruction()
    {
        var o = Load("pure_filter");
        var v = o.Verify(o.Programs[0]);
        var first = v.Facts!.Instructions[0]!;
        Assert.Equal(RegisterType.PtrToCtx, first.Registers[1].State.Type);
        Assert.Equal(RegisterType.PtrToStack, first.Registers[10].State.Type);
        Assert.Equal(RegisterType.NotInit, first.Registers[0].State.Type);
        Assert.True(v.Facts.IsReachable(v.Instructions.Length - 1));
    }

    [Fact]
    public void Not_an_elf_file_is_a_clear_error()
    {
        Assert.Equal("not an ELF file (bad magic)", Assert.Throws<EbpfLoadException>(() => EbpfObject.Load(new byte[100])).Message);
        var obj = Clang.Sample("pure_filter").ToArray();
        obj[18] = 62; // EM_X86_64
        Assert.Contains("EM_BPF", Assert.Throws<EbpfLoadException>(() => EbpfObject.Load(obj)).Message);
    }

    /// <summary>Where the header of section <paramref name="name"/> of an ELF object is in the file (the test's own small reader).</summary>
    private static int SectionHeader(byte[] elf, string name)
    {
        int headers = (int)BinaryPrimitives.ReadUInt64LittleEndian(elf.AsSpan(40)), count = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(60));
        int Header(int i) => headers + 64 * i;
        int names = (int)BinaryPrimitives.ReadUInt64LittleEndian(elf.AsSpan(Header(BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(62))) + 24));
        for (int i = 0; i < count; i++)
        {
            int at = names + (int)BinaryPrimitives.ReadUInt32LittleEndian(elf.AsSpan(Header(i)));
            if (System.Text.Encoding.ASCII.GetString(elf, at, elf.AsSpan(at).IndexOf((byte)0)) == name)
                return Header(i);
        }
        throw new InvalidOperationException($"no section {name}");
    }

    /// <summary>Where section <paramref name="name"/> starts in the file.</summary>
    private static int SectionOffset(byte[] elf, string name) => (int)BinaryPrimitives.ReadUInt64LittleEndian(elf.AsSpan(SectionHeader(elf, name) + 24));

    public static TheoryData<string, string> MalformedObjects => new()
    {
        { "not ELF", "not an ELF file (bad magic)" },
        { "x86-64", "ELF machine 62 is not EM_BPF (247): compile with 'clang -target bpf'" },
        { "bad BTF", "section '.BTF': bad magic (expected 0xeb9f, little endian)" },
        // Two problems: the map is read (and found too large) before the program's relocations.
        { "huge map and extern", "map 'huge' needs 4 GiB: more than the 128 MiB Syscage gives the maps of one object (maps are allocated whole when the program is loaded)" },
    };

    private static byte[] Malformed(string what)
    {
        var obj = Clang.Sample("pure_filter").ToArray();
        switch (what)
        {
            case "not ELF":
                return new byte[100];
            case "x86-64":
                obj[18] = 62; // EM_X86_64
                return obj;
            case "bad BTF":
                obj[SectionOffset(obj, ".BTF")] ^= 0xff;
                return obj;
            default:
                return Clang.Compile("""
                    #include "common.h"
                    struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1 << 26); __type(key, __u32); __type(value, char[64]); } huge SEC(".maps");
                    extern int some_kernel_symbol __attribute__((weak));
                    SEC("seccomp")
                    int prog(struct seccomp_data *ctx) { __u32 k = 0; char *v = bpf_map_lookup_elem(&huge, &k); if (v) v[0]++; return &some_kernel_symbol ? SECCOMP_RET_ALLOW : SECCOMP_RET_KILL_PROCESS; }
                    char LICENSE[] SEC("license") = "GPL";
                    """);
        }
    }

    [Theory]
    [MemberData(nameof(MalformedObjects))]
    public void Malformed_objects_fail_alike_through_TryLoad_Load_and_LoadFile(string what, string message)
    {
        var bytes = Malformed(what);
        Assert.False(EbpfObject.TryLoad(bytes, out var obj, out var error));
        Assert.Null(obj);
        Assert.Equal(message, error);
        Assert.Equal(message, Assert.Throws<EbpfLoadException>(() => EbpfObject.Load(bytes)).Message);
        string path = Path.Combine(Path.GetTempPath(), $"syscage-malformed-{Environment.ProcessId}-{what.Replace(' ', '-')}.o");
        try
        {
            File.WriteAllBytes(path, bytes);
            Assert.Equal($"{path}: {message}", Assert.Throws<EbpfLoadException>(() => EbpfObject.LoadFile(path)).Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void A_section_of_no_type_is_read_only_within_the_file()
    {
        // SHT_NULL sections are not checked with the headers (they hold nothing), but one may be called .BTF: reading it
        // past the end of the file was an internal error (exit 70).
        var obj = Clang.Sample("pure_filter").ToArray();
        int header = SectionHeader(obj, ".BTF");
        BinaryPrimitives.WriteUInt32LittleEndian(obj.AsSpan(header + 4), 0);             // sh_type = SHT_NULL
        BinaryPrimitives.WriteUInt64LittleEndian(obj.AsSpan(header + 24), 0x7fff_fff0);   // sh_offset far past the end
        Assert.False(EbpfObject.TryLoad(obj, out _, out var error));
        Assert.Matches($@"^section \d+ \(offset {0x7fff_fff0}, size \d+\) lies outside the file \({obj.Length} bytes\)$", error);
    }

    [Fact]
    public void Type_information_fails_through_its_throwing_methods_with_the_loader_exception()
    {
        Assert.Equal("section '.BTF': truncated header", Assert.Throws<EbpfLoadException>(() => Syscage.Ebpf.Btf.BtfInfo.Parse(new byte[3])).Message);
        var btf = Load("syscall_count").Btf!;
        Assert.Equal("section '.BTF': type id -1 is out of range", Assert.Throws<EbpfLoadException>(() => btf.Get(-1)).Message);
        Assert.Equal("section '.BTF': type id -1 is out of range", Assert.Throws<EbpfLoadException>(() => btf.SkipModifiers(-1)).Message);
        Assert.Equal("section '.BTF': type id -1 is out of range", Assert.Throws<EbpfLoadException>(() => btf.SizeOf(-1)).Message);
    }

    private static string MapProgram(string maps, string map) => $$"""
        #include "common.h"
        {{maps}}
        SEC("seccomp")
        int touch(struct seccomp_data *ctx) { __u32 k = ctx->nr & 7; char *v = bpf_map_lookup_elem(&{{map}}, &k); if (v) v[0]++; return SECCOMP_RET_ALLOW; }
        char LICENSE[] SEC("license") = "GPL";
        """;

    private static string ArrayMap(string name, string entries, int valueSize) =>
        $"struct {{ __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, {entries}); __type(key, __u32); __type(value, char[{valueSize}]); }} {name} SEC(\".maps\");";

    [Fact]
    public void Maps_larger_than_the_limit_are_refused_at_load_naming_the_map()
    {
        // 2^26 values of 64 bytes: 4 GiB, which the VM used to allocate (and zero) whole.
        var e = Assert.Throws<EbpfLoadException>(() => EbpfObject.Load(Clang.Compile(MapProgram(ArrayMap("huge", "1 << 26", 64), "huge"))));
        Assert.Equal("map 'huge' needs 4 GiB: more than the 128 MiB Syscage gives the maps of one object (maps are allocated whole when the program is loaded)", e.Message);

        // Exactly the limit loads; the limit is on all maps of the object together, so a second map over it is named.
        var atLimit = EbpfObject.Load(Clang.Compile(MapProgram(ArrayMap("full", "1 << 21", 64), "full")));
        Assert.Equal(InputLimits.MaxMapMemoryBytes, atLimit.Maps.Single().MemoryBytes);
        e = Assert.Throws<EbpfLoadException>(() => EbpfObject.Load(Clang.Compile(MapProgram(ArrayMap("first", "1 << 20", 64) + ArrayMap("second", "1 << 20", 72), "second"))));
        Assert.Matches(@"^map '(first|second)' needs (64|72) MiB, and (64|72) MiB for the maps before it: more than the 128 MiB", e.Message);

        // Global data counts too, before its bytes are made: a .bss section has a size and no contents in the file.
        e = Assert.Throws<EbpfLoadException>(() => EbpfObject.Load(Clang.Compile("""
            #include "common.h"
            char buffer[1 << 28];
            SEC("seccomp")
            int touch(struct seccomp_data *ctx) { buffer[ctx->nr & 7]++; return SECCOMP_RET_ALLOW; }
            char LICENSE[] SEC("license") = "GPL";
            """)));
        Assert.StartsWith("map '.bss' needs 256 MiB: more than the 128 MiB", e.Message);
    }

    [Fact]
    public void Map_sets_made_from_definitions_are_held_to_the_same_limit()
    {
        MapDefinition Hash(string name, int entries) => new(name, MapType.Hash, 8, 56, entries);
        // A hash entry costs its value slot, its key and the bookkeeping: 128 bytes here.
        Assert.Equal(128L << 20, Hash("h", 1 << 20).MemoryBytes);
        var e = Assert.Throws<SyscageException>(() => EbpfMapSet.Create([Hash("small", 16), Hash("h", 1 << 20)]));
        Assert.StartsWith("map 'h' needs 128 MiB, and 2 KiB for the maps before it", e.Message);
        Assert.StartsWith("map 'big' needs 4 GiB", Assert.Throws<SyscageException>(() => EbpfMap.Create(new MapDefinition("big", MapType.Array, 4, 64, 1 << 26))).Message);
        using var fits = EbpfMapSet.Create([Hash("small", 16), new MapDefinition("ring", MapType.RingBuf, 0, 0, 1 << 20)]);
        Assert.Equal(2, fits.Count);
    }

    /// <summary>
    /// An ELF object with <paramref name="sections"/> code sections, all over the same one instruction, and
    /// <paramref name="symbols"/> global function symbols spread over them: within the size limit, and the shape that
    /// made the loader scan every symbol once per section and once per function (hours for 65,000 × 300,000).
    /// </summary>
    private static byte[] ManySectionsAndSymbols(int sections, int symbols)
    {
        byte[] shstrtab = "\0seccomp\0.symtab\0.strtab\0.shstrtab\0"u8.ToArray();
        byte[] strtab = "\0f\0"u8.ToArray();
        int code = 64, names = code + 8, strings = names + shstrtab.Length;
        int symtab = (strings + strtab.Length + 7) & ~7, headers = symtab + 24 * symbols;
        int total = sections + 3; // the null section, the code sections, .symtab, .strtab, .shstrtab
        var elf = new byte[headers + 64 * (total + 1)];
        var span = elf.AsSpan();
        // Elf64_Ehdr: ELFCLASS64, little endian, ET_REL, EM_BPF, section headers at 'headers'.
        "\u007fELF"u8.CopyTo(span);
        elf[4] = 2; elf[5] = 1; elf[6] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(span[16..], 1);
        BinaryPrimitives.WriteUInt16LittleEndian(span[18..], 247);
        BinaryPrimitives.WriteUInt64LittleEndian(span[40..], (ulong)headers);
        BinaryPrimitives.WriteUInt16LittleEndian(span[52..], 64);
        BinaryPrimitives.WriteUInt16LittleEndian(span[58..], 64);
        BinaryPrimitives.WriteUInt16LittleEndian(span[60..], (ushort)(total + 1));
        BinaryPrimitives.WriteUInt16LittleEndian(span[62..], (ushort)total);
        elf[code] = BPF_JMP | BPF_EXIT;
        shstrtab.CopyTo(span[names..]);
        strtab.CopyTo(span[strings..]);
        for (int i = 1; i < symbols; i++)
        {
            // Elf64_Sym: name "f", STB_GLOBAL | STT_FUNC, in code section 1 + i % sections, value 0, size 8.
            var sym = span[(symtab + 24 * i)..];
            BinaryPrimitives.WriteUInt32LittleEndian(sym, 1);
            sym[4] = 0x12;
            BinaryPrimitives.WriteUInt16LittleEndian(sym[6..], (ushort)(1 + i % sections));
            BinaryPrimitives.WriteUInt64LittleEndian(sym[16..], 8);
        }
        void Section(int index, uint name, uint type, ulong flags, int offset, int size, uint link = 0, uint info = 0, ulong entrySize = 0)
        {
            var h = elf.AsSpan(headers + 64 * index);
            BinaryPrimitives.WriteUInt32LittleEndian(h, name);
            BinaryPrimitives.WriteUInt32LittleEndian(h[4..], type);
            BinaryPrimitives.WriteUInt64LittleEndian(h[8..], flags);
            BinaryPrimitives.WriteUInt64LittleEndian(h[24..], (ulong)offset);
            BinaryPrimitives.WriteUInt64LittleEndian(h[32..], (ulong)size);
            BinaryPrimitives.WriteUInt32LittleEndian(h[40..], link);
            BinaryPrimitives.WriteUInt32LittleEndian(h[44..], info);
            BinaryPrimitives.WriteUInt64LittleEndian(h[56..], entrySize);
        }
        for (int i = 1; i <= sections; i++)
            Section(i, 1, 1 /* SHT_PROGBITS */, 0x6 /* SHF_ALLOC | SHF_EXECINSTR */, code, 8);
        Section(sections + 1, 9, 2 /* SHT_SYMTAB */, 0, symtab, 24 * symbols, link: (uint)sections + 2, info: 1, entrySize: 24);
        Section(sections + 2, 17, 3 /* SHT_STRTAB */, 0, strings, strtab.Length);
        Section(sections + 3, 25, 3, 0, names, shstrtab.Length);
        return elf;
    }

    [Fact]
    public void An_object_of_many_sections_and_symbols_loads_in_time_linear_in_its_size()
    {
        byte[] elf = ManySectionsAndSymbols(sections: 60_000, symbols: 300_000);
        Assert.True(elf.Length < InputLimits.MaxBinaryBytes);
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var o = EbpfObject.Load(elf);
        Assert.Equal(299_999, o.Programs.Length);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(20), $"loading took {sw.Elapsed}");
    }

    [Fact]
    public void Unsupported_features_name_the_section_and_pc()
    {
        var src = """
            #include "common.h"
            extern int some_kernel_symbol __attribute__((weak));
            SEC("seccomp")
            int prog(struct seccomp_data *ctx) { return &some_kernel_symbol ? SECCOMP_RET_ALLOW : SECCOMP_RET_KILL_PROCESS; }
            char LICENSE[] SEC("license") = "GPL";
            """;
        var e = Assert.Throws<EbpfLoadException>(() => EbpfObject.Load(Clang.Compile(src)));
        Assert.Matches(@"section 'seccomp': relocation R_BPF_64_64 against 'some_kernel_symbol' at pc \d+: the symbol is undefined", e.Message);
    }

    [Fact]
    public void Several_programs_in_one_section_and_generic_section_names()
    {
        var src = """
            #include "common.h"
            static __noinline int helper(int x) { return x + 1; }
            SEC("seccomp") int first(struct seccomp_data *ctx) { return ctx->nr == 1 ? SECCOMP_RET_KILL_PROCESS : SECCOMP_RET_ALLOW; }
            SEC("seccomp") int second(struct seccomp_data *ctx) { return helper(ctx->nr) == 2 ? SECCOMP_RET_KILL_PROCESS : SECCOMP_RET_ALLOW; }
            SEC("classifier/other") int third(struct seccomp_data *ctx) { return helper(0); }
            char LICENSE[] SEC("license") = "Dual BSD/GPL";
            """;
        var o = EbpfObject.Load(Clang.Compile(src));
        Assert.Equal(["first", "second", "third"], o.Programs.Select(p => p.Name));
        Assert.Equal("classifier/other", o.GetProgram("third").Section);
        Assert.Equal("Dual BSD/GPL", o.License);
        foreach (var p in o.Programs)
            o.Verify(p);
    }

    [Fact]
    public void Globals_holding_addresses_are_refused_with_the_relocation()
    {
        var src = """
            #include "common.h"
            static char name[] = "openat";
            char *name_ptr = name;
            SEC("seccomp") int prog(struct seccomp_data *ctx) { return name_ptr[0] == ctx->nr ? SECCOMP_RET_KILL_PROCESS : SECCOMP_RET_ALLOW; }
            char LICENSE[] SEC("license") = "GPL";
            """;
        var e = Assert.Throws<EbpfLoadException>(() => EbpfObject.Load(Clang.Compile(src)));
        Assert.Matches(@"section '\.data': relocation R_BPF_64_ABS64 at offset \d+ \(a global holding an address\) is not supported", e.Message);
    }
}
