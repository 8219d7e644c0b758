using System.Text.Json.Nodes;
using Syscage.Abi;
using Syscage.Ebpf.Helpers;
using Syscage.Ebpf.Seccomp;
using Syscage.Policy.Oci;
using Syscage.Supervision;
using static Syscage.EbpfSeccomp.Tests.Harness;

namespace Syscage.EbpfSeccomp.Tests;

/// <summary>
/// <c>syscage compile OBJ --format oci</c> (<see cref="HybridOciProfile"/>): the profile plus the agent decide every named
/// call as the program does. A differential test runs each sample directly and through the profile — its entries as runc +
/// libseccomp apply them on x86_64 (whole-register comparisons, disjoint entries), the agent's program for
/// SCMP_ACT_NOTIFY — on every named syscall of the covered architectures with interesting argument values.
/// </summary>
public sealed class OciProfileTests
{
    /// <summary>Tests of arguments the profile can hold: a 64-bit count, a 32-bit family (as a masked equality), and one it can't (a narrow argument compared whole).</summary>
    private const string ArgsRule = """
        #include "common.h"
        #define NR_socket 41
        SEC("seccomp") int args_rule(struct seccomp_data *ctx)
        {
        	if (ctx->arch != AUDIT_ARCH_X86_64)
        		return SECCOMP_RET_KILL_PROCESS;
        	if (ctx->nr == NR_read && ctx->args[2] > 4096)
        		return SECCOMP_RET_ERRNO | E2BIG;
        	if (ctx->nr == NR_socket && (__u32)ctx->args[0] == 40)
        		return SECCOMP_RET_ERRNO | EAFNOSUPPORT;
        	if (ctx->nr == NR_kill && ctx->args[1] != 0)
        		return SECCOMP_RET_ERRNO | EPERM;
        	return SECCOMP_RET_ALLOW;
        }
        char LICENSE[] SEC("license") = "GPL";
        """;

    private sealed class FixedTask : IBpfTask
    {
        public int Pid => 4242;
        public int Tgid => 4200;
        public uint Uid => 1000;
        public uint Gid => 1000;
        public string Comm => "target";
        public bool MayReadMemory => false;
        public int ReadMemory(ulong address, Span<byte> destination) => -1;
        public object Identity => Pid;
    }

    private static readonly ulong[] Interesting = [0, 1, 40, 4096, 4097, (1UL << 32) | 40, 1UL << 32, ulong.MaxValue, 0x7fffffff, 0x80000000];

    /// <summary>What runc + libseccomp on x86_64 make of the profile's entries for one call: the action, or null for SCMP_ACT_NOTIFY.</summary>
    private static SeccompAction? Kernel(JsonNode profile, string name, in SeccompData data)
    {
        foreach (var entry in profile["syscalls"]!.AsArray())
        {
            if (!entry!["names"]!.AsArray().Any(n => (string?)n == name))
                continue;
            bool match = true;
            foreach (var a in entry["args"]?.AsArray() ?? [])
            {
                ulong arg = data.Arg((int)a!["index"]!), value = (ulong)a["value"]!;
                match &= (string?)a["op"] switch
                {
                    "SCMP_CMP_EQ" => arg == value,
                    "SCMP_CMP_NE" => arg != value,
                    "SCMP_CMP_LT" => arg < value,
                    "SCMP_CMP_LE" => arg <= value,
                    "SCMP_CMP_GT" => arg > value,
                    "SCMP_CMP_GE" => arg >= value,
                    _ => (arg & value) == (ulong)a["valueTwo"]!,
                };
            }
            if (match)
                return Action((string)entry["action"]!, (int?)entry["errnoRet"]);
        }
        return Action((string)profile["defaultAction"]!, (int?)profile["defaultErrnoRet"]);
    }

    private static SeccompAction? Action(string name, int? errnoRet) => name switch
    {
        "SCMP_ACT_NOTIFY" => null,
        "SCMP_ACT_ALLOW" => SeccompAction.Allow,
        "SCMP_ACT_LOG" => SeccompAction.Log,
        "SCMP_ACT_ERRNO" => SeccompAction.Errno((ushort)(errnoRet ?? 1)),
        "SCMP_ACT_KILL_PROCESS" => SeccompAction.KillProcess,
        "SCMP_ACT_KILL_THREAD" => SeccompAction.KillThread,
        _ => throw new InvalidOperationException(name),
    };

    public static TheoryData<string, string, string[]> Programs => new()
    {
        { "args_rule", "", ["--arch", "x86_64"] },
        { "exec_once", "sample", [] },
        { "getpid_bench", "sample", [] },
        { "pure_filter", "sample", ["--arch", "x86_64"] },
        { "fault_inject", "sample", ["--set", "target_nr=openat", "--set", "nth=3"] },
        { "uid_rule", "sample", ["--arch", "x86_64", "--kernel-action", "default=SCMP_ACT_ERRNO"] },
        { "syscall_policy", "sample", ["--kernel-action", "default=SCMP_ACT_ERRNO", "--kernel-action", "write=SCMP_ACT_ALLOW"] },
    };

    [Theory]
    [MemberData(nameof(Programs))]
    public void The_profile_and_the_agent_decide_every_named_call_as_the_program_does(string name, string kind, string[] options)
    {
        string obj = kind == "sample" ? Sample(name) : Compile(name, ArgsRule);
        var r = RunCli(["compile", obj, "--format", "oci", "--listener", "/run/agent.sock", .. options]);
        Assert.True(r.ExitCode == 0, r.ToString());
        var profile = JsonNode.Parse(r.Stdout)!;
        // runc's reading of the profile (Syscage's loader refuses what runc refuses: NOTIFY as default or for write).
        var loaded = OciProfileLoader.Parse(r.Stdout);
        Assert.Equal("/run/agent.sock", loaded.ListenerPath);
        Assert.Equal(name, loaded.ListenerMetadata);

        var knobs = new List<KeyValuePair<string, ulong>>();
        for (int i = 0; i + 1 < options.Length; i += 2)
            if (options[i] == "--set")
            {
                var kv = options[i + 1].Split('=');
                knobs.Add(new(kv[0], Architecture.Native.Syscalls.TryGetNumber(kv[1], out int nr) ? (ulong)nr : ulong.Parse(kv[1], System.Globalization.CultureInfo.InvariantCulture)));
            }
        var overridden = options.Where((o, i) => i > 0 && options[i - 1] == "--kernel-action").Select(o => o.Split('=')[0]).ToHashSet();
        using var direct = new EbpfFilterSet([SeccompEbpfProgram.Load(obj, knobs)]);
        using var agent = new EbpfFilterSet([SeccompEbpfProgram.Load(obj, knobs)]);
        var helpers = new HelperContext(new FixedTask());
        var covered = loaded.Architectures;
        int calls = 0, notified = 0;
        foreach (var arch in covered)
            foreach (var syscall in arch.Syscalls.All)
            {
                if (overridden.Contains(syscall.Name))
                    continue;
                foreach (ulong v in Interesting)
                {
                    var data = new SeccompData(syscall.Number, arch.AuditArch, 0x401000, [v, v ^ 1, v, v, v, v]);
                    uint expected = direct.Decide(data, helpers);
                    var kernel = Kernel(profile, syscall.Name, data);
                    uint got = kernel?.Value ?? agent.Decide(data, helpers);
                    notified += kernel is null ? 1 : 0;
                    calls++;
                    Assert.True(new SeccompAction(expected).Effective == new SeccompAction(got).Effective,
                        $"{name}: {arch.Name} {syscall.Name}({v:x}): program {new SeccompAction(expected)}, profile {(kernel is null ? "NOTIFY → " : "")}{new SeccompAction(got)}\n{r.Stdout}");
                }
            }
        Assert.True(calls > 1000);
        if (name is "args_rule" or "getpid_bench" or "exec_once")
            Assert.True(notified < calls / 10, $"{name}: {notified} of {calls} calls went to the agent");
        if (name == "args_rule")
        {
            // The argument tests it can hold are in the kernel; the narrow kill argument compared whole goes to the agent.
            var entries = profile["syscalls"]!.AsArray();
            Assert.Contains(entries, e => (string?)e!["names"]![0] == "read" && (int)e["args"]![0]!["index"]! == 2
                && ((string?)e["args"]![0]!["op"], (ulong)e["args"]![0]!["value"]!) is ("SCMP_CMP_GT", 4096) or ("SCMP_CMP_GE", 4097));
            Assert.Contains(entries, e => (string?)e!["names"]![0] == "socket" && (string?)e["args"]![0]!["op"] == "SCMP_CMP_MASKED_EQ" && (ulong)e["args"]![0]!["value"]! == 0xffffffff);
            Assert.Contains(entries, e => (string?)e!["action"] == "SCMP_ACT_NOTIFY" && e["names"]!.AsArray().Any(n => (string?)n == "kill"));
        }
    }

    [Fact]
    public void What_runc_cant_notify_needs_a_kernel_action_and_gets_a_warning()
    {
        var r = RunCli("compile", Sample("syscall_policy"), "--format", "oci", "--listener", "/run/a.sock");
        Assert.Equal(3, r.ExitCode);
        Assert.Contains("runc refuses SCMP_ACT_NOTIFY as the default action: say what the kernel does with them (--kernel-action default=SCMP_ACT_ERRNO, for instance)", r.Stderr, StringComparison.Ordinal);
        r = RunCli("compile", Sample("syscall_policy"), "--format", "oci", "--listener", "/run/a.sock", "--kernel-action", "default=SCMP_ACT_ERRNO");
        Assert.Contains("the program decides write in user space, and runc refuses SCMP_ACT_NOTIFY for write", r.Stderr, StringComparison.Ordinal);
        r = RunCli("compile", Sample("syscall_policy"), "--format", "oci", "--listener", "/run/a.sock", "--kernel-action", "default=SCMP_ACT_ERRNO", "--kernel-action", "write=SCMP_ACT_ALLOW");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("syscage: warning: write gets SCMP_ACT_ALLOW in the kernel, not the program's verdict", r.Stderr, StringComparison.Ordinal);
        r = RunCli("compile", Sample("pure_filter"), "--format", "oci");
        Assert.Contains("different verdicts on the covered architectures (x86_64: ALLOW, x86: KILL_PROCESS, x32: ALLOW)", r.Stderr, StringComparison.Ordinal);
        r = RunCli("compile", Sample("exec_once"), "--format", "oci", "--kernel-action", "wrte=SCMP_ACT_ALLOW");
        Assert.Contains("kernel action for 'wrte': no covered architecture has that syscall; did you mean 'write'?", r.Stderr, StringComparison.Ordinal);
        r = RunCli("compile", Sample("exec_once"), "--format", "oci", "--kernel-action", "write=ALLOW");
        Assert.Equal(2, r.ExitCode);
        r = RunCli("compile", Sample("exec_once"), "--format", "oci");
        Assert.Contains("no --listener is given", r.Stderr, StringComparison.Ordinal);
    }
}
