using Syscage.Bpf;
using Syscage.Ebpf.Helpers;
using Syscage.Policy;
using Syscage.Abi;
using Syscage.Ebpf;
using Syscage.Ebpf.Seccomp;

namespace Syscage.Supervision;

/// <summary>
/// What a process is filtered by: eBPF seccomp programs, optionally under a policy. A policy rule hands calls to a
/// program with the action <c>EBPF(name)</c> (in the IR: <c>USER_NOTIF</c> with a <see cref="ProgramRoute"/>); such a
/// program sees only those calls. Every other program is <i>stacked</i>: it sees every call, as a filter installed
/// after the policy would, and the kernel's precedence picks the verdict.
/// </summary>
/// <remarks>
/// <see cref="Decide"/> is the reference semantics — what the kernel would do if it ran eBPF seccomp filters — and
/// the supervisor's: the hybrid filter from <see cref="Compile"/> decides a call in the kernel only where that gives
/// the same verdict without running anything that has state.
/// </remarks>
public sealed class EbpfFilterSet : IDisposable
{
    private readonly Dictionary<string, SeccompEbpfProgram> _byName = new(StringComparer.Ordinal);
    private readonly SeccompEbpfProgram[] _stacked;

    /// <summary>Creates the set; a policy rule naming a program that is not given is an error.</summary>
    public EbpfFilterSet(IEnumerable<SeccompEbpfProgram> programs, SeccompPolicy? policy = null)
    {
        ArgumentNullException.ThrowIfNull(programs);
        Programs = [.. programs];
        Policy = policy;
        foreach (var p in Programs)
            if (!_byName.TryAdd(p.Name, p))
                throw new SyscageException($"two eBPF programs are named '{p.Name}'; name them with NAME=FILE.o");
        var referenced = new HashSet<string>(StringComparer.Ordinal);
        if (policy is not null)
            foreach (var rule in policy.Rules)
                if (rule.Route is ProgramRoute { Name: var name })
                {
                    if (!_byName.ContainsKey(name))
                        throw new SyscageException($"{rule.Source?.ToString() ?? policy.Name}: EBPF({name}): no eBPF program named '{name}' was given" +
                            (Programs.Count > 0 ? $" (given: {string.Join(", ", Programs.Select(p => p.Name))})" : ""));
                    referenced.Add(name);
                }
        Stacked = _stacked = [.. Programs.Where(p => !referenced.Contains(p.Name))];
        Routed = [.. Programs.Where(p => referenced.Contains(p.Name))];
        if (Programs.Count == 0 && policy is null)
            throw new ArgumentException("neither programs nor a policy", nameof(programs));
    }

    /// <summary>The one program that decides every call, when the set is just that (no policy, one program): run directly.</summary>
    internal SeccompEbpfProgram? Single => Policy is null && _stacked.Length == 1 ? _stacked[0] : null;

    /// <summary>The policy, when there is one.</summary>
    public SeccompPolicy? Policy { get; }

    /// <summary>All programs, in the order given (the order they are installed in).</summary>
    public IReadOnlyList<SeccompEbpfProgram> Programs { get; }

    /// <summary>The programs that see every call.</summary>
    public IReadOnlyList<SeccompEbpfProgram> Stacked { get; }

    /// <summary>True when some program reads the calling task (<see cref="SeccompEbpfProgram.ReadsTask"/>): each call then needs its task bound.</summary>
    public bool ReadsTask => Programs.Any(p => p.ReadsTask);

    /// <summary>The programs that see only the calls the policy's <c>EBPF(name)</c> rules hand them.</summary>
    public IReadOnlyList<SeccompEbpfProgram> Routed { get; }

    /// <summary>
    /// True when the policy sends calls to <c>NOTIFY</c> handlers of its own (such as <c>log</c>), which may block: the
    /// supervisor then needs more than one worker.
    /// </summary>
    public bool HasBlockingHandlers => Policy?.UsesHandlers ?? false;

    /// <summary>The program called <paramref name="name"/>.</summary>
    public SeccompEbpfProgram this[string name] => _byName[name];

    /// <summary>
    /// The verdict for one call, running the programs that see it: the policy's (a routed program's, for an
    /// <c>EBPF(name)</c> rule; ALLOW without a policy), then each stacked program from the last installed to the
    /// first, keeping the value of lowest precedence rank (the kernel's <c>seccomp_run_filters</c>: a later value
    /// replaces the kept one only when its action ranks strictly lower).
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public unsafe uint Decide(in SeccompData data, HelperContext helpers) => DecideOnKernelData(data, null, helpers);

    /// <summary>
    /// <see cref="Decide"/>, the programs reading <paramref name="raw"/> when it is not
    /// null: the call's <c>struct seccomp_data</c> as the kernel wrote it, which must be what a program sees (a 64-bit ABI
    /// on a little-endian machine: <see cref="TakesRawData(in SeccompData)"/>). With <paramref name="raw"/>, only the
    /// <see cref="Policy"/> reads <paramref name="data"/>: a set without one may be given <c>default</c>.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    internal unsafe uint DecideOnKernelData(in SeccompData data, byte* raw, HelperContext helpers)
    {
        ArgumentNullException.ThrowIfNull(helpers);
        uint verdict = SeccompAction.Allow.Value;
        bool first = true;
        var stacked = _stacked;
        for (int i = stacked.Length - 1; i >= 0; i--)
        {
            uint v = raw is null ? stacked[i].Run(data, helpers) : stacked[i].RunOnKernelData(raw, helpers);
            verdict = first ? v : SeccompAction.Precede(verdict, v);
            first = false;
        }
        return Policy is null ? verdict : WithPolicy(verdict, first, data, raw, helpers);
    }

    /// <summary>The policy's verdict (or its routed program's), with the stacked programs' <paramref name="verdict"/> by precedence.</summary>
    private unsafe uint WithPolicy(uint verdict, bool first, in SeccompData data, byte* raw, HelperContext helpers)
    {
        var decision = Policy!.Evaluate(data);
        uint v = decision.Rule is { } rule && rule.Route is ProgramRoute { Name: var name }
            ? raw is null ? _byName[name].Run(data, helpers) : _byName[name].RunOnKernelData(raw, helpers)
            : decision.Action.Value;
        return first ? v : SeccompAction.Precede(verdict, v);
    }

    /// <summary>The <c>AUDIT_ARCH_*</c> value whose calls the kernel writes exactly as programs read them, or 0 (see <see cref="TakesRawData(in SeccompData)"/>).</summary>
    private static readonly uint RawArch = BitConverter.IsLittleEndian && Architecture.Native.Is64Bit ? Architecture.Native.AuditArch : 0;

    /// <summary>
    /// True when the kernel's <c>struct seccomp_data</c> of <paramref name="data"/> is byte for byte what the programs
    /// read (<see cref="SeccompEbpfProgram.Run(in SeccompData, HelperContext)"/>: little-endian, as the syscall sees it):
    /// a call of the machine's own 64-bit ABI (x32's share it: their registers are 64 bits too) on a little-endian machine.
    /// A 32-bit ABI's arguments must be cut to their low halves first.
    /// </summary>
    internal static bool TakesRawData(in SeccompData data) => TakesRawData(data.Arch);

    /// <summary><see cref="TakesRawData(in SeccompData)"/> for a call of architecture <paramref name="arch"/> (<c>AUDIT_ARCH_*</c>).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    internal static bool TakesRawData(uint arch) => arch == RawArch && RawArch != 0;

    /// <summary>Compiles the kernel half (see <see cref="HybridCompiler"/>).</summary>
    public HybridFilter Compile(HybridOptions? options = null) => HybridCompiler.Compile(this, options);

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var p in Programs)
            p.Dispose();
    }
}
