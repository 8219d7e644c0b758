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
        Stacked = [.. Programs.Where(p => !referenced.Contains(p.Name))];
        Routed = [.. Programs.Where(p => referenced.Contains(p.Name))];
        if (Programs.Count == 0 && policy is null)
            throw new ArgumentException("neither programs nor a policy", nameof(programs));
    }

    /// <summary>The policy, when there is one.</summary>
    public SeccompPolicy? Policy { get; }

    /// <summary>All programs, in the order given (the order they are installed in).</summary>
    public IReadOnlyList<SeccompEbpfProgram> Programs { get; }

    /// <summary>The programs that see every call.</summary>
    public IReadOnlyList<SeccompEbpfProgram> Stacked { get; }

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
    public uint Decide(in SeccompData data, HelperContext helpers)
    {
        ArgumentNullException.ThrowIfNull(helpers);
        uint verdict = SeccompAction.Allow.Value;
        bool first = true;
        for (int i = Stacked.Count - 1; i >= 0; i--)
        {
            uint v = Stacked[i].Run(data, helpers);
            verdict = first ? v : SeccompAction.Precede(verdict, v);
            first = false;
        }
        if (Policy is not null)
        {
            var decision = Policy.Evaluate(data);
            uint v = decision.Rule is { } rule && rule.Route is ProgramRoute { Name: var name } ? _byName[name].Run(data, helpers) : decision.Action.Value;
            verdict = first ? v : SeccompAction.Precede(verdict, v);
        }
        return verdict;
    }

    /// <summary>Compiles the kernel half (see <see cref="HybridCompiler"/>).</summary>
    public HybridFilter Compile(HybridOptions? options = null) => HybridCompiler.Compile(this, options);

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var p in Programs)
            p.Dispose();
    }
}
