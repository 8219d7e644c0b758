using System.Collections.Immutable;

namespace Syscage.Ebpf.Verifier;

/// <summary>
/// What the verifier learned about one instruction, joined over every path that reached it: the registers of the
/// frame executing it, before it runs. Types differing between paths show as <see cref="RegisterFact.Mixed"/>.
/// </summary>
/// <param name="Visits">How many times a path reached the instruction (pruned arrivals not counted).</param>
/// <param name="Registers">r0..r10 before the instruction.</param>
/// <param name="Frames">The deepest call depth seen here (1 = the program's own frame).</param>
internal sealed record InstructionFacts(int Visits, ImmutableArray<RegisterFact> Registers, int Frames);

/// <summary>One register at one instruction, joined over paths.</summary>
/// <param name="State">The joined state (its <see cref="RegisterState.Range"/> covers every path).</param>
/// <param name="Mixed">True when paths disagree on the type (the state then says NotInit).</param>
internal readonly record struct RegisterFact(RegisterState State, bool Mixed);

/// <summary>
/// The verifier's per-program findings, kept with the verified program for later analysis (the seccomp supervisor
/// asks which paths reach helpers and maps): per-instruction register facts, reachability, helpers called, maps used.
/// </summary>
public sealed class VerifierFacts
{
    internal VerifierFacts(ImmutableArray<InstructionFacts?> instructions, ImmutableArray<int> helpers, ImmutableArray<int> maps, int processed, int statesStored, int maxStackDepth)
    {
        Instructions = instructions;
        HelpersCalled = helpers;
        MapsUsed = maps;
        InstructionsProcessed = processed;
        StatesStored = statesStored;
        MaxStackDepth = maxStackDepth;
    }

    /// <summary>Facts per instruction slot; null for unreachable slots (and the second slot of <c>lddw</c>).</summary>
    internal ImmutableArray<InstructionFacts?> Instructions { get; }

    /// <summary>True when some path reaches the instruction.</summary>
    public bool IsReachable(int pc) => pc >= 0 && pc < Instructions.Length && Instructions[pc] is not null;

    /// <summary>Helper ids called on some reachable path, sorted.</summary>
    public ImmutableArray<int> HelpersCalled { get; }

    /// <summary>Indexes of maps referenced (by a reachable <c>lddw</c>), sorted.</summary>
    public ImmutableArray<int> MapsUsed { get; }

    /// <summary>Instructions simulated over all paths.</summary>
    public int InstructionsProcessed { get; }

    /// <summary>States kept for pruning.</summary>
    public int StatesStored { get; }

    /// <summary>Deepest stack byte used by any frame (0..512).</summary>
    public int MaxStackDepth { get; }
}
