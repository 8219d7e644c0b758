using System.Collections.Immutable;
using System.Globalization;
using Syscage.Bpf;
using Syscage.Kernel;
using Syscage.Policy.Compiler;
using static Syscage.Bpf.Opcode;

namespace Syscage.Supervision;

/// <summary>
/// The guard (<see cref="SupervisorGuard"/>) compiled once, with placeholders for the values of a launch — the pids it
/// protects and the marker — and the instructions where each placeholder landed, so that a launch puts its own values
/// in without compiling: the guard needs the launcher's pid, which exists only once the launcher runs.
/// </summary>
/// <remarks>
/// <para>
/// A template is sound when the guard's code does not depend on these values, only on where they are compared. The
/// guard compares them for equality only (a pid against <c>kill</c>'s first argument, the marker against
/// <c>seccomp</c>'s fourth), and every such comparison that holds ends in the guard's refusal: no test follows one that
/// matched, so no test is ever decided by what a placeholder's value implies about another's. <see cref="Compile"/>
/// checks the first part on the compiler's output: it compiles the guard with two sets of placeholders, of different
/// values and in a different order, and takes the template only if the two programs are the same but for the
/// placeholders' <c>JEQ</c> constants, each of which is always the same placeholder. The tests check the second part:
/// templates filled with real launches' values (equal values, adjacent pids, a pid that is also a signal or a command
/// number, process group 1) agree with the guard's policy on every call it guards.
/// </para>
/// </remarks>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal sealed class GuardTemplate
{
    /// <summary>What a placeholder stands for.</summary>
    internal enum Slot : byte
    {
        SupervisorPid,
        LauncherPid,
        /// <summary>The process group, negated (<c>kill(-pgid)</c>).</summary>
        NegatedGroup,
        MarkerHigh,
        MarkerLow,
    }

    private readonly ImmutableArray<Instruction> _program;
    private readonly ImmutableArray<(int Pc, Slot Slot)> _slots;

    private GuardTemplate(ImmutableArray<Instruction> program, ImmutableArray<(int Pc, Slot Slot)> slots)
    {
        _program = program;
        _slots = slots;
    }

    /// <summary>The instructions whose constant a launch sets, and to what.</summary>
    internal IReadOnlyList<(int Pc, Slot Slot)> Slots => _slots;

    /// <summary>The guard for one launch: the template with <paramref name="context"/>'s pids and <paramref name="marker"/> put in, validated.</summary>
    public BpfProgram Instantiate(LaunchContext context, ulong marker)
    {
        var program = _program.ToArray();
        foreach (var (pc, slot) in _slots)
            program[pc] = program[pc] with { K = Value(slot, context, marker) };
        return Validator.Validate(program);
    }

    private static uint Value(Slot slot, LaunchContext context, ulong marker) => slot switch
    {
        Slot.SupervisorPid => unchecked((uint)context.SupervisorPid),
        Slot.LauncherPid => unchecked((uint)context.LauncherPid),
        Slot.NegatedGroup => unchecked((uint)-context.SupervisorProcessGroup),
        Slot.MarkerHigh => (uint)(marker >> 32),
        _ => (uint)marker,
    };

    /// <summary>
    /// Two sets of placeholders: values no pid, signal, command or syscall number takes, distinct within a set and
    /// between the sets, in another order in each (the supervisor's pid below the launcher's in the first, above in the
    /// second).
    /// </summary>
    private static readonly (LaunchContext Context, ulong Marker)[] Placeholders =
    [
        (new LaunchContext(0x15b0_0a01, 0x15b0_0a03, 0x15b0_0a02), 0x5a5a_c3c3_0f0f_9696),
        (new LaunchContext(0x1c3e_7009, 0x1c3e_7001, 0x1c3e_7005), 0x3c3c_a5a5_6969_f0f0),
    ];

    /// <summary>Compiles the template of the guard (supervised or not).</summary>
    /// <exception cref="InvalidOperationException">The guard's code depends on the values of a launch (see the remarks).</exception>
    public static GuardTemplate Compile(bool supervised)
    {
        var (a, b) = (Placeholders[0], Placeholders[1]);
        var first = PolicyCompiler.Compile(SupervisorGuard.Policy(a.Context, supervised, a.Marker));
        var second = PolicyCompiler.Compile(SupervisorGuard.Policy(b.Context, supervised, b.Marker));
        return FromPair(first.Instructions, second.Instructions, supervised)
            ?? throw new InvalidOperationException("the guard's code depends on the pids or the marker of a launch: it can't be made from a template");
    }

    /// <summary>The template the two compilations make, or null when they differ in anything but the placeholders.</summary>
    internal static GuardTemplate? FromPair(ImmutableArray<Instruction> first, ImmutableArray<Instruction> second, bool supervised)
    {
        if (first.Length != second.Length)
            return null;
        var slots = ImmutableArray.CreateBuilder<(int, Slot)>();
        for (int pc = 0; pc < first.Length; pc++)
        {
            Instruction x = first[pc], y = second[pc];
            if (x.Code != y.Code || x.Jt != y.Jt || x.Jf != y.Jf)
                return null;
            if (x.K == y.K)
            {
                if (SlotOf(x.K, 0) is not null || SlotOf(x.K, 1) is not null)
                    return null; // a placeholder that did not move with its set
                continue;
            }
            if (x.Code != (BPF_JMP | BPF_JEQ | BPF_K) || SlotOf(x.K, 0) is not { } slot || SlotOf(y.K, 1) != slot)
                return null;
            slots.Add((pc, slot));
        }
        var template = new GuardTemplate(first, slots.ToImmutable());
        return template.Complete(supervised) ? template : null;
    }

    /// <summary>The placeholder of set <paramref name="set"/> that <paramref name="k"/> is, if any.</summary>
    private static Slot? SlotOf(uint k, int set)
    {
        var (context, marker) = Placeholders[set];
        foreach (var slot in Enum.GetValues<Slot>())
            if (Value(slot, context, marker) == k)
                return slot;
        return null;
    }

    /// <summary>Whether every value a launch sets has a place: the pids and the group always, the marker when supervised.</summary>
    private bool Complete(bool supervised)
    {
        bool Has(Slot s) => _slots.Any(p => p.Slot == s);
        return Has(Slot.SupervisorPid) && Has(Slot.LauncherPid) && Has(Slot.NegatedGroup) && Has(Slot.MarkerHigh) == supervised && Has(Slot.MarkerLow) == supervised;
    }

    /// <summary>The template as one line: the program's bytes in base64, a tab, then <c>pc:slot</c> pairs.</summary>
    public string ToText() =>
        Convert.ToBase64String(SockFilter.Write(_program.AsSpan())) + "\t" +
        string.Join(",", _slots.Select(s => string.Create(CultureInfo.InvariantCulture, $"{s.Pc}:{(int)s.Slot}")));

    /// <summary>
    /// A template read back from <see cref="ToText"/>: null unless the program passes the validator and every slot is
    /// the constant of a <c>JEQ</c>, named once, with the values of a guard (supervised or not) all placed.
    /// </summary>
    public static GuardTemplate? FromText(string text, bool supervised)
    {
        string[] parts = text.Split('\t');
        if (parts.Length != 2)
            return null;
        ImmutableArray<Instruction> program;
        try
        {
            program = BpfProgram.FromBytes(Convert.FromBase64String(parts[0])).Instructions;
        }
        catch (Exception e) when (e is FormatException or SyscageException)
        {
            return null;
        }
        var slots = ImmutableArray.CreateBuilder<(int, Slot)>();
        var seen = new HashSet<int>();
        foreach (string pair in parts[1].Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] fields = pair.Split(':');
            if (fields.Length != 2 || !int.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out int pc) ||
                !byte.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out byte slot) || slot > (byte)Slot.MarkerLow ||
                pc >= program.Length || program[pc].Code != (BPF_JMP | BPF_JEQ | BPF_K) || !seen.Add(pc))
                return null;
            slots.Add((pc, (Slot)slot));
        }
        var template = new GuardTemplate(program, slots.ToImmutable());
        return template.Complete(supervised) ? template : null;
    }
}
