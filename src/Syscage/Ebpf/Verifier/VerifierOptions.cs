using Syscage.Ebpf.Btf;
using System.Collections.Immutable;
using System.Globalization;
using Syscage.Ebpf.Helpers;
using Syscage.Ebpf.Isa;
using Syscage.Ebpf.Maps;

namespace Syscage.Ebpf.Verifier;

/// <summary>What the verifier checks a program against, and its limits.</summary>
public sealed record VerifierOptions
{
    /// <summary>What <c>r1</c> points to at entry; by default read-only <c>struct seccomp_data</c>.</summary>
    public ContextDescription Context { get; init; } = ContextDescription.SeccompData;

    /// <summary>The maps <c>lddw</c> map references index.</summary>
    public ImmutableArray<MapDefinition> Maps { get; init; } = [];

    /// <summary>The helpers the program may call, by id.</summary>
    public IReadOnlyDictionary<int, HelperPrototype> Helpers { get; init; } = HelperPrototypes.Default;

    /// <summary>When true, <c>r2</c> holds the context size at entry (the conformance suite's calling convention).</summary>
    public bool ContextSizeInR2 { get; init; }

    /// <summary>
    /// Known values of context fields, by (offset, size): loads of exactly that field give the constant, so a caller
    /// can ask "what does the program do for syscall N" (e.g. <c>{(0, 4): 59}</c>) and read the answer from
    /// <see cref="EbpfProgram.Facts"/>. The hybrid split does not use it: it explores the program symbolically.
    /// </summary>
    public IReadOnlyDictionary<(int Offset, int Size), ulong>? ContextAssumptions { get; init; }

    /// <summary>The name given to the verified program.</summary>
    public string Name { get; init; } = "program";

    /// <summary>Most instructions a program may have (the kernel's limit for privileged programs is 1,000,000).</summary>
    public int MaxProgramLength { get; init; } = 1_000_000;

    /// <summary>Most instructions the verifier simulates over all paths before giving up (the kernel's <c>BPF_COMPLEXITY_LIMIT_INSNS</c>).</summary>
    public int MaxInstructionsProcessed { get; init; } = 1_000_000;

    /// <summary>Most explored states kept per instruction for pruning.</summary>
    public int MaxStatesPerInstruction { get; init; } = 256;

    /// <summary>Most explored states kept in all (bounds memory).</summary>
    public int MaxStatesTotal { get; init; } = 32_000;

    /// <summary>Most pending branches at once (the kernel's <c>BPF_COMPLEXITY_LIMIT_JMP_SEQ</c> is 8192).</summary>
    public int MaxPendingBranches { get; init; } = 8192;

    /// <summary>Deepest bpf-to-bpf call chain, counting the program itself (the kernel's <c>MAX_CALL_FRAMES</c>).</summary>
    public int MaxCallDepth { get; init; } = 8;
}

/// <summary>Why the verifier rejected a program: the first error found, at the instruction where it happens.</summary>
/// <param name="Reason">What is wrong.</param>
/// <param name="Pc">The instruction at fault, or -1 for a fault of the whole program.</param>
/// <param name="Instruction">The instruction at <paramref name="Pc"/>, when there is one.</param>
/// <param name="Text">The instruction as <see cref="EbpfDisassembler.Format"/> prints it (<c>.raw 0x...</c> when no mnemonic spells it).</param>
public sealed record VerificationError(string Reason, int Pc, EbpfInstruction? Instruction, string? Text)
{
    /// <summary>
    /// The C source line of the instruction at fault, when the program came from an object with line information
    /// (<see cref="ObjectVerification"/> sets it from <see cref="Elf.EbpfObjectProgram.Lines"/>).
    /// </summary>
    public SourceLine? Source { get; init; }

    /// <summary>
    /// <c>&lt;reason&gt; at pc &lt;n&gt;: &lt;instruction&gt;</c>, after <c>file:line:col: </c> when the source line is
    /// known (<c>prog.c:14:9: invalid mem access 'map_value_or_null' at pc 12: ldxw %r2, [%r1]</c>).
    /// </summary>
    public override string ToString()
    {
        string where = Source is { } source ? source + ": " : "";
        return Pc < 0
            ? where + Reason
            : string.Create(CultureInfo.InvariantCulture, $"{where}{Reason} at pc {Pc}: {Text}");
    }
}

/// <summary>Raised by <see cref="EbpfVerifier.Verify"/>; carries the <see cref="VerificationError"/>.</summary>
public sealed class EbpfVerificationException : SyscageException
{
    /// <summary>Wraps a verification error.</summary>
    public EbpfVerificationException(VerificationError error) : base(error.ToString()) => Error = error;

    /// <summary>The error.</summary>
    public VerificationError Error { get; }
}
