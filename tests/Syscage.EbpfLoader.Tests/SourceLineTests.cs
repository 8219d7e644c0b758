using System.Buffers.Binary;
using Syscage.Cli;
using Syscage.Ebpf;
using Syscage.Ebpf.Elf;
using Syscage.Ebpf.Isa;
using Syscage.Ebpf.Verifier;

namespace Syscage.EbpfLoader.Tests;

/// <summary>
/// Messages with source (issue 16): clang's <c>.BTF.ext</c> line information names the C line of a rejection and of
/// each instruction in <c>syscage ebpf disasm</c>; helpers are named as the kernel's log names them
/// (<c>bpf_map_lookup_elem#1</c>); a program outside a seccomp section or without a license gets a warning; a misspelt
/// <c>--set</c> knob a did-you-mean. Objects are compiled by the real clang.
/// </summary>
public class SourceLineTests
{
    private static (int Code, string Out, string Err) Cli(params string[] args)
    {
        var o = new StringWriter { NewLine = "\n" };
        var e = new StringWriter { NewLine = "\n" };
        int code = CliApp.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    private static string WriteObject(string name, byte[] bytes)
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("syscage-src-").FullName, name + ".o");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>The 1-based line of <paramref name="source"/> that contains <paramref name="marker"/>.</summary>
    private static int LineOf(string source, string marker) =>
        Array.FindIndex(source.Split('\n'), l => l.Contains(marker, StringComparison.Ordinal)) + 1;

    // The deliberate bug: the map value is read without the null check the verifier asks for.
    private const string Buggy = """
        #include "common.h"

        struct {
        	__uint(type, BPF_MAP_TYPE_ARRAY);
        	__uint(max_entries, 1);
        	__type(key, __u32);
        	__type(value, __u32);
        } counts SEC(".maps");

        SEC("seccomp")
        int buggy(struct seccomp_data *ctx)
        {
        	__u32 zero = 0;
        	__u32 *n = bpf_map_lookup_elem(&counts, &zero);
        	return *n ? SECCOMP_RET_ALLOW : SECCOMP_RET_ERRNO | EPERM; /* BUG */
        }

        char LICENSE[] SEC("license") = "GPL";
        """;

    [Fact]
    public void A_rejection_of_a_deliberate_bug_names_the_C_file_and_line()
    {
        var obj = EbpfObject.Load(Clang.Compile(Buggy));
        var program = obj.Programs.Single();
        Assert.False(obj.TryVerify(program, out _, out var error));
        Assert.NotNull(error.Source);
        Assert.EndsWith(".c", error.Source.File, StringComparison.Ordinal);
        Assert.Equal(LineOf(Buggy, "/* BUG */"), error.Source.Line);
        Assert.True(error.Source.Column > 0);
        Assert.Contains("return *n ?", error.Source.Text, StringComparison.Ordinal);
        // prog.c:15:9: <reason> at pc N: <instruction>
        Assert.Matches($@"^\S+\.c:{error.Source.Line}:{error.Source.Column}: possible null pointer dereference.* at pc {error.Pc}: ldxw ", error.ToString());
        // The throwing twin says the same.
        Assert.Equal(error.ToString(), Assert.Throws<EbpfVerificationException>(() => obj.Verify(program)).Message);
    }

    [Fact]
    public void The_command_line_shows_the_file_line_and_the_source_text()
    {
        var path = WriteObject("buggy", Clang.Compile(Buggy));
        int line = LineOf(Buggy, "/* BUG */");
        var (code, stdout, _) = Cli("ebpf", "verify", path);
        Assert.Equal((int)ExitCode.Rejected, code);
        Assert.Matches($@"rejected: \S+\.c:{line}:\d+: possible null pointer dereference.* at pc \d+: ldxw", stdout);
        Assert.Contains($"{line} | \treturn *n ?", stdout, StringComparison.Ordinal);

        // syscage run --ebpf refuses to start with the same position, in its one line.
        var run = Cli("run", "--ebpf", path, "--", "/bin/true");
        Assert.NotEqual(0, run.Code);
        Assert.Matches($@"^syscage: \S+: buggy: rejected by the verifier: \S+\.c:{line}:\d+: possible null pointer dereference.* at pc \d+: ldxw .*\n$", run.Err);
    }

    [Fact]
    public void A_fault_in_a_called_function_names_that_functions_line()
    {
        const string source = """
            #include "common.h"

            static __attribute__((noinline)) int second_arg(struct seccomp_data *ctx)
            {
            	return *(int *)((char *)ctx + 64); /* OUT OF BOUNDS */
            }

            SEC("seccomp")
            int outer(struct seccomp_data *ctx)
            {
            	if (ctx->nr == 39)
            		return second_arg(ctx);
            	return SECCOMP_RET_ALLOW;
            }

            char LICENSE[] SEC("license") = "GPL";
            """;
        var obj = EbpfObject.Load(Clang.Compile(source));
        Assert.False(obj.TryVerify(obj.GetProgram("outer"), out _, out var error));
        Assert.Equal(LineOf(source, "/* OUT OF BOUNDS */"), error.Source?.Line);
        // Every slot of the linked program has the line of the function it came from: the callee's slots come after the caller's.
        var program = obj.GetProgram("outer");
        Assert.Equal(program.Instructions.Length, program.Lines.Length);
        int calleeStart = program.Lines.ToList().FindIndex(l => l?.Line == LineOf(source, "/* OUT OF BOUNDS */"));
        Assert.True(calleeStart > 0);
        Assert.All(program.Lines.Take(calleeStart).Where(l => l is not null), l => Assert.InRange(l!.Line, LineOf(source, "int outer"), LineOf(source, "return SECCOMP_RET_ALLOW") + 1)); // to its closing brace
    }

    public static TheoryData<string> Samples => [.. Clang.SampleNames];

    [Theory]
    [MemberData(nameof(Samples))]
    public void Disasm_of_an_object_interleaves_its_source_lines_and_reassembles_to_the_same_bytes(string sample)
    {
        var path = WriteObject(sample, Clang.Sample(sample));
        var obj = EbpfObject.LoadFile(path);
        var (code, stdout, stderr) = Cli("ebpf", "disasm", path);
        Assert.True(code == 0, stderr);
        string cFile = Path.Combine(Clang.SamplesDir, sample + ".c");
        string[] cLines = File.ReadAllLines(cFile);
        // Each program's listing starts with its header; source lines are comments naming the sample and quoting it.
        var listings = stdout.Split("# program ", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(obj.Programs.Length, listings.Length);
        for (int k = 0; k < listings.Length; k++)
        {
            var p = obj.Programs[k];
            var comments = listings[k].Split('\n').Where(l => l.StartsWith("# ", StringComparison.Ordinal)).ToList();
            Assert.NotEmpty(comments);
            foreach (var c in comments)
            {
                var m = System.Text.RegularExpressions.Regex.Match(c, $@"^# {System.Text.RegularExpressions.Regex.Escape(cFile)}:(\d+)(:\d+)?: (.*)$");
                Assert.True(m.Success, c);
                Assert.Equal(cLines[int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) - 1].Trim(), m.Groups[3].Value);
            }
            Assert.Equal(p.Instructions, EbpfAssembler.Assemble(listings[k][listings[k].IndexOf('\n', StringComparison.Ordinal)..]));
        }
    }

    [Fact]
    public void Helpers_are_named_as_the_kernel_log_names_them()
    {
        var obj = EbpfObject.Load(Clang.Sample("exec_once"));
        string text = EbpfDisassembler.ToText(obj.Programs[0].Instructions.AsSpan());
        Assert.Contains("call bpf_map_lookup_elem#1\n", text, StringComparison.Ordinal);
        // The name assembles back to the id, a misspelt one gets a hint, an unnamed id stays a number.
        Assert.Equal(1, EbpfAssembler.Assemble("call bpf_map_lookup_elem#1\nexit")[0].Imm);
        Assert.Equal(14, EbpfAssembler.Assemble("call bpf_get_current_pid_tgid\nexit")[0].Imm);
        var e = Assert.Throws<SyscageException>(() => EbpfAssembler.Assemble("call bpf_map_lookup_elm\nexit"));
        Assert.Contains("unknown helper 'bpf_map_lookup_elm' (did you mean 'bpf_map_lookup_elem'?)", e.Message, StringComparison.Ordinal);
        Assert.Equal("call 99999", EbpfDisassembler.Format(new EbpfInstruction(EbpfOpcode.BPF_JMP | EbpfOpcode.BPF_CALL, 0, 0, 0, 99999)));

        // A helper the kernel has but seccomp programs may not call is named, with the ones they may.
        var reject = Assert.Throws<EbpfVerificationException>(() => EbpfVerifier.Verify(EbpfAssembler.Assemble("call bpf_get_stack\nexit")));
        Assert.StartsWith("helper bpf_get_stack#67 is not available to seccomp programs (they may call bpf_map_lookup_elem#1, ", reject.Error.Reason, StringComparison.Ordinal);

        // ebpf verify lists the helpers a program calls by name.
        var (_, stdout, _) = Cli("ebpf", "verify", WriteObject("exec_once", Clang.Sample("exec_once")));
        Assert.Contains("helpers bpf_map_lookup_elem#1", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void A_program_outside_a_seccomp_section_or_without_a_license_is_warned_about()
    {
        const string noLicense = """
            #include "common.h"
            SEC("xdp") int elsewhere(struct seccomp_data *ctx) { return SECCOMP_RET_ALLOW; }
            """;
        var obj = EbpfObject.Load(Clang.Compile(noLicense));
        Assert.Equal(2, obj.Warnings.Length);
        Assert.Contains(obj.Warnings, w => w.Contains("program 'elsewhere' is in section 'xdp', not 'seccomp'", StringComparison.Ordinal));
        Assert.Contains(obj.Warnings, w => w.StartsWith("the object has no license", StringComparison.Ordinal));
        var path = WriteObject("elsewhere", Clang.Compile(noLicense));
        var (code, _, stderr) = Cli("ebpf", "verify", path);
        Assert.Equal(0, code);
        Assert.Contains($"syscage: warning: {path}: program 'elsewhere' is in section 'xdp'", stderr, StringComparison.Ordinal);
        Assert.Contains($"syscage: warning: {path}: the object has no license", stderr, StringComparison.Ordinal);
        var run = Cli("run", "--ebpf", path, "--", "/bin/true");
        Assert.Equal(0, run.Code);
        Assert.Contains("no license", run.Err, StringComparison.Ordinal);

        // The samples are written as the patch set wants: no warnings.
        foreach (var sample in Clang.SampleNames)
            Assert.Empty(EbpfObject.Load(Clang.Sample(sample)).Warnings);
    }

    [Fact]
    public void A_misspelt_knob_gets_a_did_you_mean()
    {
        var path = WriteObject("fault_inject", Clang.Sample("fault_inject"));
        var run = Cli("run", "--ebpf", path, "--set", "target_nrr=257", "--", "/bin/true");
        Assert.Equal((int)ExitCode.Usage, run.Code);
        Assert.Contains("--set target_nrr: no --ebpf program has a global named 'target_nrr'; did you mean 'target_nr'?", run.Err, StringComparison.Ordinal);
        var verify = Cli("ebpf", "verify", path, "--set", "nht=3");
        Assert.NotEqual(0, verify.Code);
        Assert.Contains("did you mean 'nth'?", verify.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void Malformed_line_information_is_a_clear_error()
    {
        byte[] elf = Clang.Compile(Buggy);
        int ext = FindSection(elf, ".BTF.ext");
        // The line_info subsection's record size (first word of the subsection) made absurd.
        int hdrLen = (int)BinaryPrimitives.ReadUInt32LittleEndian(elf.AsSpan(ext + 4));
        int lineOff = (int)BinaryPrimitives.ReadUInt32LittleEndian(elf.AsSpan(ext + 16));
        var bad = (byte[])elf.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(bad.AsSpan(ext + hdrLen + lineOff), 3);
        Assert.False(EbpfObject.TryLoad(bad, out _, out var error));
        Assert.Equal("section '.BTF.ext': line_info record size 3 is out of range (at least 16)", error);
        // A record count past the end.
        bad = (byte[])elf.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(bad.AsSpan(ext + hdrLen + lineOff + 8), 0x10000000);
        Assert.False(EbpfObject.TryLoad(bad, out _, out error));
        Assert.Contains("records, more than the subsection holds", error, StringComparison.Ordinal);
    }

    /// <summary>The file offset of a section's contents, from the section headers.</summary>
    private static int FindSection(byte[] elf, string name)
    {
        var d = elf.AsSpan();
        long shoff = BinaryPrimitives.ReadInt64LittleEndian(d[0x28..]);
        int shentsize = BinaryPrimitives.ReadUInt16LittleEndian(d[0x3a..]), shnum = BinaryPrimitives.ReadUInt16LittleEndian(d[0x3c..]), shstrndx = BinaryPrimitives.ReadUInt16LittleEndian(d[0x3e..]);
        long Header(int i) => shoff + (long)i * shentsize;
        long strOff = BinaryPrimitives.ReadInt64LittleEndian(d[(int)(Header(shstrndx) + 0x18)..]);
        for (int i = 0; i < shnum; i++)
        {
            int nameOff = BinaryPrimitives.ReadInt32LittleEndian(d[(int)Header(i)..]);
            int start = (int)strOff + nameOff, end = Array.IndexOf(elf, (byte)0, start);
            if (System.Text.Encoding.ASCII.GetString(elf, start, end - start) == name)
                return (int)BinaryPrimitives.ReadInt64LittleEndian(d[(int)(Header(i) + 0x18)..]);
        }
        throw new InvalidOperationException($"no section {name}");
    }
}
