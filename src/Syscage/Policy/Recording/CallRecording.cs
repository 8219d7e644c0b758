using Syscage.Abi;

namespace Syscage.Policy.Recording;

/// <summary>
/// The calls a recorded command made, as the kernel reported them (<c>struct seccomp_data</c>): per architecture and
/// syscall number, how many, and — at <see cref="ArgumentRecording.Stable"/> or <see cref="ArgumentRecording.All"/> —
/// which values the arguments of <see cref="RecordedArguments"/> took. Safe to use from several threads.
/// </summary>
/// <remarks>
/// Only registers are kept, never the caller's memory: what the kernel hands the filter is what the command did, and the
/// command cannot make it say anything else. Memory is bounded whatever the command does: at most
/// <see cref="InputLimits.MaxSyscallsPerArchitecture"/> syscall numbers per architecture (past that the recording is
/// <see cref="Incomplete"/> and no policy is made from it), at most <see cref="MaxCombinations"/> argument combinations
/// per syscall (past that the syscall is recorded by name only), and the count of tasks stops at
/// <see cref="MaxTasks"/>.
/// </remarks>
public sealed class CallRecording
{
    /// <summary>Different argument combinations kept per syscall; past this the syscall is written by name only.</summary>
    public const int MaxCombinations = 256;

    /// <summary>Different tasks (threads) counted; past this the count says "at least".</summary>
    public const int MaxTasks = 65536;

    private readonly Lock _lock = new();
    private readonly Dictionary<(uint Arch, int Nr), Entry> _entries = [];
    private readonly Dictionary<Architecture, int> _perArchitecture = [];
    private readonly HashSet<int> _tasks = [];
    private long _calls, _unknownArchitecture, _beyondLimit;

    /// <summary>Creates an empty recording that keeps the arguments of <paramref name="arguments"/>.</summary>
    public CallRecording(ArgumentRecording arguments = ArgumentRecording.None)
    {
        if (!Enum.IsDefined(arguments))
            throw new ArgumentOutOfRangeException(nameof(arguments), arguments, "not an argument level");
        Arguments = arguments;
    }

    /// <summary>Which arguments are kept.</summary>
    public ArgumentRecording Arguments { get; }

    /// <summary>Calls recorded.</summary>
    public long Calls { get { lock (_lock) return _calls; } }

    /// <summary>Different tasks (threads of every process) that made them, up to <see cref="MaxTasks"/>.</summary>
    public int Tasks { get { lock (_lock) return _tasks.Count; } }

    /// <summary>Calls from an architecture the tables don't know (its <c>AUDIT_ARCH_*</c> value is not one Syscage has).</summary>
    public long UnknownArchitectureCalls { get { lock (_lock) return _unknownArchitecture; } }

    /// <summary>
    /// True when the command made calls of more than <see cref="InputLimits.MaxSyscallsPerArchitecture"/> different
    /// numbers on one architecture: those past the limit were not kept, so no policy can be made from this recording.
    /// </summary>
    public bool Incomplete { get { lock (_lock) return _beyondLimit > 0; } }

    /// <summary>Records one call; <paramref name="task"/> is the calling thread's id (0 when not known).</summary>
    public void Record(in SeccompData data, int task = 0)
    {
        var arch = Architecture.Of(data.Arch, data.Nr);
        lock (_lock)
        {
            _calls++;
            if (task > 0 && _tasks.Count < MaxTasks)
                _tasks.Add(task);
            if (arch is null)
            {
                _unknownArchitecture++;
                return;
            }
            if (!_entries.TryGetValue((data.Arch, data.Nr), out var entry))
            {
                _perArchitecture.TryGetValue(arch, out int count);
                if (count >= InputLimits.MaxSyscallsPerArchitecture)
                {
                    _beyondLimit++;
                    return;
                }
                _perArchitecture[arch] = count + 1;
                entry = new Entry(arch, data.Nr, [.. RecordedArguments.For(arch, data.Nr, Arguments).Select(t => t.Index)]);
                _entries[(data.Arch, data.Nr)] = entry;
            }
            entry.Count++;
            if (entry.Indices.Length == 0 || entry.Overflow)
                return;
            var key = entry.Key(data);
            if (entry.Combinations.TryGetValue(key, out long n))
                entry.Combinations[key] = n + 1;
            else if (entry.Combinations.Count < MaxCombinations)
                entry.Combinations[key] = 1;
            else
                entry.Overflow = true;
        }
    }

    /// <summary>The syscalls recorded, by architecture and name (numbers the tables don't name last).</summary>
    public IReadOnlyList<RecordedSyscall> Syscalls
    {
        get
        {
            lock (_lock)
                return [.. _entries.Values.Select(e => e.Snapshot())
                    .OrderBy(s => Architecture.All.ToList().IndexOf(s.Architecture))
                    .ThenBy(s => s.Name is null ? 1 : 0).ThenBy(s => s.Name, StringComparer.Ordinal).ThenBy(s => (uint)s.Number)];
        }
    }

    private sealed class Entry
    {
        private readonly ulong[] _masks;

        public Entry(Architecture arch, int nr, int[] indices)
        {
            Architecture = arch;
            Number = nr;
            Indices = indices;
            arch.Syscalls.TryGet(nr, out var syscall);
            // The values are kept at the width the kernel reads them on this architecture, so bits it ignores make no
            // new combination.
            _masks = [.. indices.Select(i => ArgPredicate.WidthMask(Width(arch, syscall?.ArgWidth(i) ?? ArgPredicate.FullWidth)))];
        }

        public Architecture Architecture { get; }
        public int Number { get; }
        public int[] Indices { get; }
        public long Count;
        public bool Overflow;
        public Dictionary<ArgumentValues, long> Combinations { get; } = [];

        public ArgumentValues Key(in SeccompData data)
        {
            ulong a = _masks.Length > 0 ? data.Arg(Indices[0]) & _masks[0] : 0;
            ulong b = _masks.Length > 1 ? data.Arg(Indices[1]) & _masks[1] : 0;
            ulong c = _masks.Length > 2 ? data.Arg(Indices[2]) & _masks[2] : 0;
            return new ArgumentValues(a, b, c);
        }

        private static int Width(Architecture arch, int width) => arch.Is64Bit ? width : Math.Min(width, ArgPredicate.RegisterWidth32);

        public RecordedSyscall Snapshot()
        {
            Architecture.Syscalls.TryGetName(Number, out var name);
            return new RecordedSyscall(Architecture, Number, name, Count, Indices,
                Overflow ? null : Combinations.Select(kv => (kv.Key.Values(Indices.Length), kv.Value)).ToArray());
        }
    }
}

/// <summary>The values of up to three kept arguments of one call (the most <see cref="RecordedArguments"/> keeps of any syscall).</summary>
internal readonly record struct ArgumentValues(ulong A, ulong B, ulong C)
{
    public ulong[] Values(int count) => count switch { 0 => [], 1 => [A], 2 => [A, B], _ => [A, B, C] };
}

/// <summary>One syscall of a <see cref="CallRecording"/>.</summary>
/// <param name="Architecture">Its architecture.</param>
/// <param name="Number">Its number as the kernel sees it (x32's carry their bit).</param>
/// <param name="Name">Its name, or null when the tables have none.</param>
/// <param name="Count">How many calls.</param>
/// <param name="ArgumentIndices">The arguments kept, by index (empty when none).</param>
/// <param name="Combinations">
/// Each combination of the kept arguments' values (in the order of <paramref name="ArgumentIndices"/>) and how many
/// calls made it; null when there were more than <see cref="CallRecording.MaxCombinations"/>.
/// </param>
public sealed record RecordedSyscall(Architecture Architecture, int Number, string? Name, long Count,
                                     IReadOnlyList<int> ArgumentIndices, IReadOnlyList<(ulong[] Values, long Count)>? Combinations);
