using Syscage.Abi;
using Syscage.Bpf;
using Syscage.Policy;
using Syscage.Policy.Compiler;
using static Syscage.Bpf.Opcode;

namespace Syscage.Compiler.Tests;

/// <summary>
/// The disassembly of a filter names what the kernel will compare on each path: the syscalls of the architecture
/// checked on the way (s390x's 288 is openat, x86_64's 288 is accept4), the argument halves in that architecture's
/// byte order, and the argument a load reads where the call is known; and it re-assembles to the same bytes.
/// </summary>
public sealed class DisassemblyTests
{
    private static int Nr(Architecture arch, string name) =>
        arch.Syscalls.TryGetNumber(name, out int nr) ? nr : throw new InvalidOperationException($"{arch} has no {name}");

    private static string Line(string text, string contains) =>
        text.Split('\n').FirstOrDefault(l => l.Contains(contains, StringComparison.Ordinal)) ?? throw new InvalidOperationException($"no line with '{contains}' in\n{text}");

    [Fact]
    public void EachPathIsNamedWithItsArchitecturesTableAndByteOrder()
    {
        Architecture[] arches = [Architecture.X86_64, Architecture.S390x, Architecture.Mips, Architecture.Ppc64le];
        var b = new PolicyBuilder(SeccompAction.Errno(1), arches) { BadArchAction = SeccompAction.KillProcess };
        for (int i = 0; i < arches.Length; i++)
        {
            // openat(dirfd, pathname, flags, mode): flags is an int (the low half). Each architecture tests other
            // bits, so that no test is shared between paths and each path's loads can be named.
            var arch = arches[i];
            b.Add(arch, Nr(arch, "openat"), new Rule(Condition.Of(new ArgPredicate(2, ComparisonOp.MaskedEq, 0, 3UL << (2 * i), Width: 32)), SeccompAction.Allow));
            b.Add(arch, Nr(arch, "read"), new Rule(Condition.Of(new ArgPredicate(2, ComparisonOp.Le, 0x1_0000_0000 + (ulong)i)), SeccompAction.Allow));
        }
        var program = PolicyCompiler.Compile(b.Build(), new CompileOptions { Optimize = false });
        string text = Disassembler.ToText(program.Instructions.AsSpan(), Architecture.X86_64);

        foreach (var arch in arches)
            Assert.Contains($"A {(arch == Architecture.Ppc64le ? "!=" : "==")} {arch.AuditArchName})", text, StringComparison.Ordinal);
        // 288 is openat on s390x and accept4 on x86_64: each compare is named by its own path's table.
        Assert.Equal(4, text.Split('\n').Count(l => l.Contains("A == openat)", StringComparison.Ordinal) || l.Contains("A != openat)", StringComparison.Ordinal)));
        Assert.DoesNotContain("accept4", text, StringComparison.Ordinal);
        Assert.DoesNotContain("4288", text.Split('\n').Select(l => l.Split('#')[0]), StringComparer.Ordinal);   // mips o32's openat, by name

        // args[2]'s low half is the word at 32 on little-endian paths and at 36 on big-endian ones, its high half the
        // other; either is named by the half, and annotated with the argument (no test is shared between paths here).
        var lines = text.Split('\n');
        bool Has(string load, uint k) => lines.Any(l => l.Contains(load, StringComparison.Ordinal) && l.EndsWith($"0x{k:x8}", StringComparison.Ordinal));
        Assert.True(Has("A = args[2]  # openat(flags)", 32), text);         // x86_64, ppc64le
        Assert.True(Has("A = args[2]  # openat(flags)", 36), text);         // s390x, mips
        Assert.True(Has("A = args[2] >> 32  # read(count)", 36), text);     // x86_64, ppc64le
        Assert.True(Has("A = args[2] >> 32  # read(count)", 32), text);     // s390x
        Assert.True(Has("A = args[2]  # read(count)", 36), text);           // s390x's low half, and mips's only one
        Assert.DoesNotContain(lines, l => l.Contains("args[2]", StringComparison.Ordinal) && !l.Contains("# openat(flags)", StringComparison.Ordinal) && !l.Contains("# read(count)", StringComparison.Ordinal));

        Assert.True(Assembler.TryAssemble(text, out var back, out var error, defaultArchitecture: Architecture.X86_64), error?.ToString());
        Assert.True(program.Instructions.AsSpan().SequenceEqual(back.Instructions), text);
    }

    /// <summary>Hand-written text means the same halves: args[0] is the low half on either byte order, data[k] the word at k.</summary>
    [Fact]
    public void AssemblerTextNamesHalvesNotOffsets()
    {
        const string Source = """
            A = arch
            if (A == AUDIT_ARCH_S390X) goto be
            A = args[0]
            A = args[0] >> 32
            A = instruction_pointer
            return ALLOW
            be:
            A = args[0]
            A = args[0] >> 32
            A = instruction_pointer >> 32
            A = data[16]
            if (A == openat) goto be2
            be2:
            return KILL_PROCESS
            """;
        var insns = Assembler.Assemble(Source, defaultArchitecture: Architecture.X86_64);
        Assert.Equal([16u, 20u, 8u], insns[2..5].Select(i => i.K));
        Assert.Equal([20u, 16u, 8u, 16u], insns[6..10].Select(i => i.K));
        Assert.Equal((uint)Nr(Architecture.S390x, "openat"), insns[10].K);
        string text = Disassembler.ToText(insns, Architecture.X86_64);
        Assert.Equal(insns, Assembler.Assemble(text, defaultArchitecture: Architecture.X86_64));
        Assert.Contains("A = args[0] >> 32", Line(text, "# 0007: "), StringComparison.Ordinal);   // offset 16 on s390x
        // With a big-endian default and no arch check, the default's order holds.
        var beDefault = Assembler.Assemble("A = args[1]\nreturn ALLOW\n", defaultArchitecture: Architecture.Ppc64);
        Assert.Equal(28u, beDefault[0].K);
    }

    /// <summary>Any program whose constants are the architectures' values and argument offsets round-trips, whatever paths it has.</summary>
    [Fact]
    public void RandomProgramsOverEveryArchitectureRoundTrip()
    {
        var rng = new Random(23);
        var audit = Architecture.All.Select(a => a.AuditArch).Distinct().ToArray();
        ushort[] codes = [BPF_LD | BPF_W | BPF_ABS, BPF_JMP | BPF_JEQ | BPF_K, BPF_JMP | BPF_JGE | BPF_K, BPF_JMP | BPF_JGT | BPF_K, BPF_RET | BPF_K, BPF_JMP | BPF_JSET | BPF_K];
        for (int n = 0; n < 2000; n++)
        {
            int len = rng.Next(2, 16);
            var insns = new Instruction[len];
            for (int i = 0; i < len; i++)
            {
                ushort code = codes[rng.Next(codes.Length)];
                uint k = code == (BPF_LD | BPF_W | BPF_ABS) ? (uint)(4 * rng.Next(16))
                    : rng.Next(3) == 0 ? audit[rng.Next(audit.Length)]
                    : (uint)Architecture.All[rng.Next(Architecture.All.Count)].Syscalls.All[0].Number + (uint)rng.Next(400);
                byte jt = (byte)rng.Next(len - i), jf = (byte)rng.Next(len - i);
                bool jump = Class(code) == BPF_JMP;
                insns[i] = jump ? new Instruction(code, jt, jf, k) : new Instruction(code, 0, 0, k);
            }
            var arch = Architecture.All[rng.Next(Architecture.All.Count)];
            string text = Disassembler.ToText(insns, arch);
            Assert.True(Assembler.TryAssemble(text, out var result, out var error, defaultArchitecture: arch), $"{error}\n{text}");
            Assert.True(insns.AsSpan().SequenceEqual(result.Instructions), $"default {arch}:\n{text}");
        }
    }
}
