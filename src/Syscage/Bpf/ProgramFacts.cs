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

/// <summary>Facts about one instruction's inputs, used to print and read names (syscalls, architectures, arguments).</summary>
/// <param name="A">What A holds before the instruction runs.</param>
/// <param name="ArgIndex">For <see cref="AccumulatorContent.ArgLow"/>/<see cref="AccumulatorContent.ArgHigh"/>, which argument.</param>
/// <param name="Architecture">
/// The architecture every path to this instruction has checked <c>seccomp_data.arch</c> against, or the
/// analysis' default architecture when paths disagree or none checked.
/// </param>
/// <param name="ArchKnown">True when <paramref name="Architecture"/> comes from a check in the program.</param>
/// <param name="BigEndian">
/// The byte order of <c>seccomp_data</c> here: the one every path's checked architecture has (paths may disagree on
/// the architecture and still agree on it), else the default architecture's. It says which word of a 64-bit field
/// a load at its offset reads.
/// </param>
/// <param name="Syscall">The system call every path to here has narrowed <c>seccomp_data.nr</c> to, in <paramref name="Architecture"/>'s table; null when not one.</param>
internal readonly record struct InstructionFacts(AccumulatorContent A, int ArgIndex, Architecture Architecture, bool ArchKnown, bool BigEndian, Syscall? Syscall);

/// <summary>
/// A forward analysis over a classic program (any program; invalid jumps are ignored) that the assembler
/// and disassembler share, so that a name printed by one is read back as the same number by the other: after
/// <c>A = arch; if (A == AUDIT_ARCH_I386) ...</c> the taken branch compares i386 numbers, and on a big-endian
/// architecture <c>args[0]</c> names the word at offset 20. It also follows the tests on <c>nr</c>, so that the
/// argument loads of a known call can be named.
/// </summary>
internal static class ProgramFacts
{
    /// <summary>The state on entry to an instruction: A's content, the checked arch and byte order, the range <c>nr</c> is known to lie in.</summary>
    private readonly record struct State(AccumulatorContent A, int Arg, uint? Arch, bool? Big, uint NrLow, uint NrHigh, bool Reached);

    private static readonly State Entry = new(AccumulatorContent.Unknown, 0, null, null, 0, uint.MaxValue, true);

    /// <summary>Computes the facts for every instruction.</summary>
    public static InstructionFacts[] Analyze(ReadOnlySpan<Instruction> insns, Architecture defaultArchitecture)
    {
        int n = insns.Length;
        var states = new State[n];
        var facts = new InstructionFacts[n];
        if (n == 0)
            return facts;
        states[0] = Entry;
        for (int pc = 0; pc < n; pc++)
        {
            var s = states[pc];
            if (!s.Reached)
                s = Entry;
            var arch = s.Arch is uint aa ? Architecture.FromAuditArch(aa) : null;
            var effective = arch ?? defaultArchitecture;
            bool big = s.Big ?? defaultArchitecture.IsBigEndian;
            var syscall = s.NrLow == s.NrHigh ? effective.SyscallOf(s.NrLow) : null;
            facts[pc] = new InstructionFacts(s.A, s.Arg, effective, arch is not null, big, syscall);

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
                            // The word at the argument's offset is its low half on a little-endian machine.
                            A = ((ins.K & 4) == 0) != big ? AccumulatorContent.ArgLow : AccumulatorContent.ArgHigh,
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
                    var (taken, notTaken) = (s, s);
                    if (Src(c) == BPF_K && s.A == AccumulatorContent.Arch && Op(c) == BPF_JEQ)
                        taken = s with { Arch = ins.K, Big = Architecture.IsBigEndianAuditArch(ins.K) };
                    else if (Src(c) == BPF_K && s.A == AccumulatorContent.SyscallNumber)
                        (taken, notTaken) = Narrow(s, Op(c), ins.K);
                    Flow(states, pc + 1 + ins.Jt, taken);
                    Flow(states, pc + 1 + ins.Jf, notTaken);
                    continue;
                case var c when Class(c) is BPF_ALU or BPF_LD || c == (BPF_MISC | BPF_TXA):
                    next = s with { A = AccumulatorContent.Unknown };
                    break;
            }
            Flow(states, pc + 1, next);
        }
        return facts;
    }

    /// <summary>The range of <c>nr</c> on each branch of a test of it against <paramref name="k"/>.</summary>
    private static (State Taken, State NotTaken) Narrow(State s, ushort op, uint k)
    {
        uint lo = s.NrLow, hi = s.NrHigh;
        return op switch
        {
            BPF_JEQ => (s with { NrLow = k, NrHigh = k },
                        k == lo && lo < hi ? s with { NrLow = lo + 1 } : k == hi && lo < hi ? s with { NrHigh = hi - 1 } : s),
            BPF_JGT => (k == uint.MaxValue ? s : s with { NrLow = Math.Max(lo, k + 1) }, s with { NrHigh = Math.Min(hi, k) }),
            BPF_JGE => (s with { NrLow = Math.Max(lo, k) }, k == 0 ? s : s with { NrHigh = Math.Min(hi, k - 1) }),
            _ => (s, s),
        };
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
            t.Big == s.Big ? t.Big : null,
            Math.Min(t.NrLow, s.NrLow),
            Math.Max(t.NrHigh, s.NrHigh),
            true);
    }
}
