using System.Globalization;
using Syscage.Abi;
using Syscage.Bpf;
using Syscage.Policy.Compiler;
using Syscage.Policy.Language;
using Syscage.Testing;
using Xunit.Abstractions;

namespace Syscage.Policy.Tests;

/// <summary>
/// The policy vectors (<see cref="PolicyVectors"/>) in the kernel: every <c>&gt;&gt;&gt;</c> call of the native
/// architecture is made for real under the case's compiled filter, optimised and not, in a fresh child of the native
/// probe (never in the test runner), and what the call shows must be what the expected action does.
/// </summary>
/// <remarks>
/// <para>Which calls run. A vector's arguments are made up, and the probe's child shares the probe's memory, so a call
/// is made only when that is harmless (<see cref="WhyNotRun"/>):</para>
/// <list type="bullet">
/// <item>A call whose expected action refuses it (ERRNO, KILL_*, TRAP, TRACE, USER_NOTIF) always: the kernel answers
/// for the filter without making the call, and the outcome is the refusal's (<see cref="ActionOutcomes.Refusal"/>).</item>
/// <item>A call whose expected action lets it run (ALLOW, LOG) only when the call can do nothing: a number from 1000 to
/// 0x3fffffff, which no syscall has (the kernel answers ENOSYS), or one of <see cref="PathCalls"/> with its path in
/// the first page (a null or tiny pointer): the kernel copies the path in before it does anything else, no process
/// maps that page (the probe doesn't; <c>vm.mmap_min_addr</c> keeps unprivileged ones from it), and the call fails
/// with EFAULT. And only when that answer is no refusal of the same policy (no <c>ERRNO(EFAULT)</c>; no
/// <c>ERRNO(ENOSYS)</c>, TRACE or USER_NOTIF), so that "the call ran" and "the filter refused it" can't look alike.</item>
/// </list>
/// <para>Every other call (an ALLOW of <c>clone</c>, <c>read</c> or <c>socket</c> with made-up arguments) is left to
/// the evaluator and the interpreter (<see cref="VectorTests"/>) and counted in the test's output. Only a wrong filter
/// lets a refused call run with the vector's arguments, and then the test fails.</para>
/// </remarks>
public sealed class VectorKernelTests(ITestOutputHelper output)
{
    /// <summary>
    /// Calls that may run under ALLOW or LOG: each copies in the path at the given argument before anything else
    /// (<c>getname</c>, <c>user_path_at</c>), so a path in the first page fails it with EFAULT and nothing happens.
    /// </summary>
    private static readonly Dictionary<string, int> PathCalls = new(StringComparer.Ordinal)
    {
        ["open"] = 0, ["creat"] = 0, ["openat"] = 1,
        ["chmod"] = 0, ["fchmodat"] = 1,
        ["mkdir"] = 0, ["mkdirat"] = 1, ["rmdir"] = 0,
        ["unlink"] = 0, ["unlinkat"] = 1, ["rename"] = 0,
    };

    /// <summary>The first page: nothing is mapped there.</summary>
    private const ulong FirstPage = 4096;

    /// <summary>Syscall numbers no syscall has on the native architectures Syscage runs on: x86_64's, aarch64's and riscv64's tables end below 500, x32's numbers start at 0x40000000.</summary>
    private const int FirstFreeNumber = 1000, LastFreeNumber = 0x3fff_ffff;

    /// <summary>The most calls one probe job makes (<c>MAX_CALLS</c> in seccomp_probe.c).</summary>
    private const int CallsPerJob = 16;

    /// <summary>
    /// Why a native call is not made in the kernel, or null when it is; <paramref name="expected"/> is then what it
    /// shows: the refusal of its expected action, or the answer of a call that ran and could do nothing.
    /// </summary>
    internal static string? WhyNotRun(SeccompPolicy policy, VectorCall call, out CallOutcome expected)
    {
        if (ActionOutcomes.Refusal(call.Expected) is { } refusal)
        {
            expected = refusal;
            return null;
        }
        int nr = call.Data.Nr;
        if (nr is >= FirstFreeNumber and <= LastFreeNumber)
            expected = CallOutcome.Returned(-1, Errno.ENOSYS);
        else if (call.Architecture.Syscalls.TryGetName(nr, out var name) && PathCalls.TryGetValue(name, out int pathArg) && call.Data.Arg(pathArg) < FirstPage)
            expected = CallOutcome.Returned(-1, Errno.EFAULT);
        else
        {
            expected = default;
            return "an allowed call that could do something";
        }
        var ran = expected;
        var actions = policy.Rules.Select(r => r.Action).Append(policy.DefaultAction).Append(policy.BadArchAction);
        return actions.Any(a => ActionOutcomes.Refusal(a) == ran) ? $"an allowed call that would look like a refusal of the policy ({ran})" : null;
    }

    [Theory]
    [InlineData("default ERRNO(EPERM)\nALLOW openat, clone, 1000", ">>> x86_64 openat 0 0 0 = ALLOW", "returned -1 errno 14")]
    [InlineData("default ERRNO(EPERM)\nALLOW openat, clone, 1000", ">>> x86_64 openat 0 4096 0 = ALLOW", null)]
    [InlineData("default ERRNO(EPERM)\nALLOW openat, clone, 1000", ">>> x86_64 clone 0x11 = ALLOW", null)]
    [InlineData("default ERRNO(EPERM)\nALLOW openat, clone, 1000", ">>> x86_64 1000 = ALLOW", "returned -1 errno 38")]
    [InlineData("default ERRNO(EPERM)\nALLOW openat, clone, 1000", ">>> x86_64 clone 0x11 0 = ERRNO(EPERM)", "returned -1 errno 1")]
    [InlineData("default KILL_PROCESS\nALLOW openat", ">>> x86_64 clone 0x11 = KILL_PROCESS", "killed by signal 31")]
    [InlineData("default ERRNO(EFAULT)\nALLOW openat", ">>> x86_64 openat 0 0 0 = ALLOW", null)]
    [InlineData("default ERRNO(EPERM)\nTRACE(1) ptrace\nALLOW 1000", ">>> x86_64 1000 = ALLOW", null)]
    public void The_rule_makes_refused_calls_and_allowed_ones_that_can_do_nothing(string policyText, string line, string? expected)
    {
        Assert.True(PolicyLanguage.TryParse(policyText, out var policy, out var error, "t.policy"), error?.ToString());
        var call = Assert.IsType<VectorCall>(Assert.Single(Assert.Single(PolicyVectors.Parse("t.vectors", ["### t", line])).Expectations));
        string? why = WhyNotRun(policy, call, out var outcome);
        Assert.Equal(expected, why is null ? outcome.ToString() : null);
    }

    private sealed record Planned(VectorCall Call, CallOutcome Expected, BpfProgram Program, string Kind);

    [Fact]
    public void Native_calls_do_in_the_kernel_what_the_vectors_expect()
    {
        var native = Architecture.Native;
        var jobs = new List<RunJob>();
        var plans = new List<List<Planned>>();
        var notRun = new SortedDictionary<string, List<string>>(StringComparer.Ordinal);
        var filesRun = new SortedSet<string>(StringComparer.Ordinal);
        var filesWithNativeCalls = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var c in PolicyVectors.All())
        {
            var calls = c.Calls.Where(k => k.Architecture == native).ToList();
            if (calls.Count > 0)
                filesWithNativeCalls.Add(c.File);
            if (calls.Count == 0 || !PolicyLanguage.TryParse(c.Policy, out var policy, out var error, "t.policy"))
                continue; // the error cases: VectorTests checks them
            var chosen = new List<(VectorCall Call, CallOutcome Expected)>();
            foreach (var call in calls)
            {
                if (WhyNotRun(policy, call, out var expected) is { } why)
                    (notRun.TryGetValue(why, out var list) ? list : notRun[why] = []).Add(call.Where);
                else
                    chosen.Add((call, expected));
            }
            if (chosen.Count > 0)
                filesRun.Add(c.File);
            foreach (var (program, kind) in new[] { (PolicyCompiler.Compile(policy), "optimised"), (PolicyCompiler.Compile(policy, new CompileOptions { Optimize = false }), "unoptimised") })
            {
                // One child per run of calls: a call that kills ends it, and a child makes at most 16.
                List<Planned>? plan = null;
                foreach (var (call, expected) in chosen)
                {
                    if (plan is null || plan.Count == CallsPerJob || plan[^1].Expected.Kind == CallOutcomeKind.Killed)
                        plans.Add(plan = []);
                    plan.Add(new Planned(call, expected, program, kind));
                }
            }
        }
        foreach (var plan in plans)
            jobs.Add(new RunJob([.. plan[0].Program.Instructions],
                [.. plan.Select(p => new ProbeCall(p.Call.Data.Nr, [.. Enumerable.Range(0, 6).Select(p.Call.Data.Arg)]))]));

        var outcomes = NativeProbe.Run(jobs);
        var failures = new List<string>();
        int made = 0;
        for (int j = 0; j < jobs.Count; j++)
        {
            if (!outcomes[j].Install.Accepted)
            {
                failures.Add($"{plans[j][0].Call.Where}: the kernel refused the {plans[j][0].Kind} filter: {outcomes[j].Install}");
                continue;
            }
            for (int k = 0; k < plans[j].Count; k++)
            {
                var p = plans[j][k];
                var got = outcomes[j].Calls[k];
                made++;
                if (got != p.Expected)
                    failures.Add(string.Create(CultureInfo.InvariantCulture,
                        $"{p.Call.Where}: {p.Call.Call} = {p.Call.Expected}: expected '{p.Expected}', the kernel under the {p.Kind} filter: '{got}'\n{Disassembler.ToText(p.Program.Instructions.AsSpan())}"));
            }
        }
        output.WriteLine($"{made} calls made in the kernel ({string.Join(", ", filesRun)})");
        foreach (var (why, wheres) in notRun)
            output.WriteLine($"not made, {why}: {wheres.Count} ({string.Join(", ", wheres.Select(w => w[(w.LastIndexOf('/') + 1)..]))})");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
        // Every file with native calls (language.vectors and widths.vectors today) has calls the rule makes: a parser
        // or a rule that silently runs nothing fails here.
        Assert.True(filesWithNativeCalls.Count >= 2, $"native calls in only {string.Join(", ", filesWithNativeCalls)}");
        Assert.Equal(filesWithNativeCalls, filesRun);
        Assert.True(made >= 80, $"only {made} calls made in the kernel");
    }
}
