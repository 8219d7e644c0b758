namespace Syscage.Ebpf.Verifier;

/// <summary>One call frame on one path: registers and the 512-byte stack.</summary>
internal sealed class FrameState
{
    public const byte StackInvalid = 0, StackMisc = 1, StackZero = 2, StackSpill = 3;
    public const int StackSize = 512;

    /// <summary>r0..r10.</summary>
    public readonly RegisterState[] Regs = new RegisterState[11];
    /// <summary>Per stack byte (index 0 is fp-512): invalid, written (misc), known zero, or part of an 8-byte spill.</summary>
    public readonly byte[] Kind = new byte[StackSize];
    /// <summary>The register spilled in each 8-byte slot (valid where <see cref="Kind"/> says spill); allocated at the first spill.</summary>
    public RegisterState[]? Spill;
    /// <summary>Where the caller continues when this frame exits; -1 for the program's own frame.</summary>
    public int ReturnPc = -1;

    public FrameState Clone()
    {
        var f = new FrameState { ReturnPc = ReturnPc, Spill = (RegisterState[]?)Spill?.Clone() };
        Regs.CopyTo(f.Regs, 0);
        Kind.CopyTo(f.Kind, 0);
        return f;
    }
}

/// <summary>The whole abstract state of one path: the call frames and the references held (ring-buffer reservations).</summary>
internal sealed class VerifierState
{
    public List<FrameState> Frames = [];
    public List<(int RefId, int Pc)> Refs = [];

    public FrameState Current => Frames[^1];

    public VerifierState Clone()
    {
        var s = new VerifierState { Refs = [.. Refs] };
        foreach (var f in Frames)
            s.Frames.Add(f.Clone());
        return s;
    }
}

/// <summary>A state kept at a prune point; <see cref="Branches"/> counts paths below it still being explored.</summary>
internal sealed class Checkpoint(VerifierState state, Checkpoint? parent)
{
    public VerifierState State { get; } = state;
    public Checkpoint? Parent { get; } = parent;
    public int Branches = 1;
}

/// <summary>A path waiting to be explored: its state, where it resumes, and its nearest checkpoint.</summary>
internal sealed class PendingPath(VerifierState state, int pc, Checkpoint? checkpoint)
{
    public VerifierState State = state;
    public int Pc = pc;
    public Checkpoint? Checkpoint = checkpoint;
}
