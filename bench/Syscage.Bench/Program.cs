using BenchmarkDotNet.Running;

namespace Syscage.Bench;

/// <summary>
/// Entry point.
/// <list type="bullet">
/// <item><c>filter-cost [PROFILE]</c>: instructions executed per syscall number by Syscage's and libseccomp's filters for a profile.</item>
/// <item><c>notify-latency [CALLS] [ROUNDS]</c>: user-notification round trip, C# supervisor against a minimal C loop, with and without SYNC_WAKE_UP.</item>
/// <item><c>ebpf-overhead [N]</c>: issue #7, eBPF seccomp programs under <c>syscage run --ebpf</c> against plain classic BPF, <c>strace</c> fault injection and <c>strace -c</c>.</item>
/// <item><c>record-overhead [N]</c>: issue #15, <c>syscage record</c> against <c>strace -f -c</c> on the same workloads, against the workload alone.</item>
/// <item><c>getpid [CALLS] [ROUNDS]</c>: issue 16, the patch set's benchmark shape (a <c>.bss</c> counter on getpid) under <c>syscage run --ebpf</c> against a minimal C notification loop.</item>
/// <item>anything else: BenchmarkDotNet (e.g. <c>--filter '*Compile*'</c>).</item>
/// </list>
/// </summary>
public static class Program
{
    /// <summary>Runs the benchmark named on the command line.</summary>
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "filter-cost")
            return FilterCost.Run(args.Skip(1).ToArray());
        if (args.Length > 0 && args[0] == "notify-latency")
            return NotifyLatency.Run(args.Skip(1).ToArray());
        if (args.Length > 0 && args[0] == "ebpf-overhead")
            return EbpfOverhead.Run(args.Skip(1).ToArray());
        if (args.Length > 0 && args[0] == "record-overhead")
            return RecordOverhead.Run(args.Skip(1).ToArray());
        if (args.Length > 0 && args[0] == "getpid")
            return GetpidBench.Run(args.Skip(1).ToArray());
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }

    /// <summary>The repository root (the folder with Syscage.slnx above the running program).</summary>
    public static string RepositoryRoot
    {
        get
        {
            for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
                if (File.Exists(Path.Combine(d.FullName, "Syscage.slnx")))
                    return d.FullName;
            return Directory.GetCurrentDirectory();
        }
    }

    /// <summary>Docker's default profile, from shared/ beside the repository.</summary>
    public static string DockerDefault => Path.Combine(RepositoryRoot, "..", "shared", "profiles", "docker-default.json");
}
