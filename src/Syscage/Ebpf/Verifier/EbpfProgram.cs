using System.Collections.Immutable;
using Syscage.Ebpf.Isa;
using Syscage.Ebpf.Maps;

namespace Syscage.Ebpf.Verifier;

/// <summary>
/// An eBPF program that the verifier has accepted. Like <see cref="Bpf.BpfProgram"/>, instances come only from
/// the verifier, so the interpreter and the JIT run nothing unchecked. Map references in <c>lddw</c>
/// (<see cref="EbpfOpcode.BPF_PSEUDO_MAP_FD"/>, <see cref="EbpfOpcode.BPF_PSEUDO_MAP_VALUE"/>) carry an index
/// into <see cref="Maps"/> in their immediate.
/// </summary>
public sealed class EbpfProgram
{
    internal EbpfProgram(ImmutableArray<EbpfInstruction> instructions, ImmutableArray<MapDefinition> maps, ContextDescription context, string name)
    {
        Instructions = instructions;
        Maps = maps;
        Context = context;
        Name = name;
    }

    /// <summary>The instruction slots (an <c>lddw</c> takes two).</summary>
    public ImmutableArray<EbpfInstruction> Instructions { get; }

    /// <summary>The maps the program refers to, by index.</summary>
    public ImmutableArray<MapDefinition> Maps { get; }

    /// <summary>What <c>r1</c> points to at entry.</summary>
    public ContextDescription Context { get; }

    /// <summary>The program's name (its ELF section or symbol).</summary>
    public string Name { get; }

    /// <summary>What the verifier learned: per-instruction register facts, helpers called, maps used (null only for programs not made by the verifier).</summary>
    public Verifier.VerifierFacts? Facts { get; internal init; }

    /// <summary>
    /// TEST ONLY — wraps instructions WITHOUT verifying them, for the VM's own tests (conformance suite, differential
    /// tests) until the verifier is on this branch. Nothing outside tests may call it: the VM trusts the verifier's
    /// guarantees (memory accesses in bounds, no uninitialised reads, bounded loops).
    /// </summary>
    internal static EbpfProgram Unverified(IEnumerable<EbpfInstruction> instructions, ContextDescription context,
        IEnumerable<MapDefinition>? maps = null, string name = "test") =>
        new([.. instructions], maps is null ? [] : [.. maps], context, name);
}
