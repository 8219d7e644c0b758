using Syscage.Abi;
using static Syscage.Bpf.Opcode;

namespace Syscage.Bpf;

/// <summary>What the accumulator holds at an instruction, as far as a forward analysis can tell.</summary>
internal enum AccumulatorContent
{
    /// <summary>Not known.</summary>
    Unknown,
    /// <summary><c>seccomp_data.nr</c>.</summary>
    SyscallNumber,
    /// <summary><c>seccomp_data.arch</c>.</summary>
    Arch,
    /// <summary>The low 32 bits of an argument (see <see cref="InstructionFacts.ArgIndex"/>).</summary>
    ArgLow,
    /// <summary>The high 32 bits of an argument.</summary>
    ArgHigh,
}

/// <summary>Facts about one instruction's inputs, used to print and read names (syscalls, architectures).</summary>
/// <param name="A">What A holds before the instruction runs.</param>
/// <param name="ArgIndex">For <see cref="AccumulatorContent.ArgLow"/>/<see cref="AccumulatorContent.ArgHigh"/>, which argument.</param>
/// <param name="Architecture">
/// The architecture every path to this instruction has checked <c>seccomp_data.arch</c> against, or the
/// analysis' default architecture when paths disagree or none checked.
/// </param>
/// <param name="ArchKnown">True when <paramref name="Architecture"/> comes from a check in the program.</param>
internal readonly record struct InstructionFacts(AccumulatorContent A, int ArgIndex, Architecture Architecture, bool ArchKnown);

/// <summary>
/// A forward analysis over a classic program (any program; invalid jumps are ignored) that the assembler
/// and disassembler share, so that a syscall name printed by one is read back as the same number by the
/// other: after <c>A = arch; if (A == AUDIT_ARCH_I386) ...</c> the taken branch compares i386 numbers.
/// </summary>
internal static class ProgramFacts
{
    private readonly record struct State(AccumulatorContent A, int Arg, uint? Arch, bool Reached);

    /// <summary>Computes the facts for every instruction.</summary>
    public static InstructionFacts[] Analyze(ReadOnlySpan<Instruction> insns, Architecture defaultArchitecture)
    {
        int n = insns.Length;
        var states = new State[n];
        var facts = new InstructionFacts[n];
        if (n == 0)
            return facts;
        states[0] = new State(AccumulatorContent.Unknown, 0, null, true);
        for (int pc = 0; pc < n; pc++)
        {
            var s = states[pc];
            if (!s.Reached)
                s = new State(AccumulatorContent.Unknown, 0, null, true);
            var arch = s.Arch is uint aa ? Architecture.FromAuditArch(aa) : null;
            facts[pc] = new InstructionFacts(s.A, s.Arg, arch ?? defaultArchitecture, arch is not null);

            var ins = insns[pc];
            var next = s;
            switch (ins.Code)
            {
                case BPF_LD | BPF_W | BPF_ABS:
                    next = ins.K switch
                    {
                        SeccompData.NrOffset => s with { A = AccumulatorContent.SyscallNumber },
                        SeccompData.ArchOffset => s with { A = AccumulatorContent.Arch },
                        >= SeccompData.ArgsOffset and < SeccompData.Size when (ins.K & 3) == 0 => s with
                        {
                            A = (ins.K & 4) == 0 ? AccumulatorContent.ArgLow : AccumulatorContent.ArgHigh,
                            Arg = (int)(ins.K - SeccompData.ArgsOffset) / 8,
                        },
                        _ => s with { A = AccumulatorContent.Unknown },
                    };
                    break;
                case BPF_RET | BPF_K:
                case BPF_RET | BPF_A:
                    continue;
                case BPF_JMP | BPF_JA:
                    Flow(states, pc + 1 + (long)ins.K, s);
                    continue;
                case var c when IsConditionalJump(c):
                    var taken = s;
                    if (c == (BPF_JMP | BPF_JEQ | BPF_K) && s.A == AccumulatorContent.Arch)
                        taken = s with { Arch = ins.K };
                    Flow(states, pc + 1 + ins.Jt, taken);
                    Flow(states, pc + 1 + ins.Jf, s);
                    continue;
                case var c when Class(c) is BPF_ALU or BPF_LD || c == (BPF_MISC | BPF_TXA):
                    next = s with { A = AccumulatorContent.Unknown };
                    break;
            }
            Flow(states, pc + 1, next);
        }
        return facts;
    }

    private static void Flow(State[] states, long target, State s)
    {
        if (target >= states.Length)
            return;
        ref var t = ref states[target];
        if (!t.Reached)
        {
            t = s;
            return;
        }
        t = new State(
            t.A == s.A && (t.Arg == s.Arg || t.A is not (AccumulatorContent.ArgLow or AccumulatorContent.ArgHigh)) ? t.A : AccumulatorContent.Unknown,
            t.Arg,
            t.Arch == s.Arch ? t.Arch : null,
            true);
    }

}
