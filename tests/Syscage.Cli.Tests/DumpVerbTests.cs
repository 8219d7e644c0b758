using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Syscage.Policy.Builtin;
using Syscage.Policy.Compiler;
using Syscage.Testing;

namespace Syscage.Cli.Tests;

/// <summary>
/// <c>syscage dump PID</c> on a command running under <c>syscage run</c>: the kernel gives back the filters as they were
/// installed, byte for byte, and what it writes goes straight into <c>emu</c>, <c>check</c> and <c>explain</c>.
/// </summary>
public sealed class DumpVerbTests
{
    /// <summary><c>syscage run --policy POLICY -- sleep 600</c> in a real process (the published tool), and the pid of the sleep under it.</summary>
    private sealed class Sandboxed : IDisposable
    {
        private readonly Process _run;

        public Sandboxed(string policy)
        {
            var psi = SyscageTool.StartInfo("run", "--policy", policy, "--", "/bin/sleep", "600");
            psi.RedirectStandardOutput = psi.RedirectStandardError = true;
            _run = Process.Start(psi)!;
            // The command is under its filters once it is sleep: the launcher installs them, then executes it.
            var until = DateTime.UtcNow.AddSeconds(60);
            while ((Pid = FindSleep(_run.Id)) == 0)
            {
                Assert.True(DateTime.UtcNow < until && !_run.HasExited, $"the sandboxed sleep did not appear: {(_run.HasExited ? _run.StandardError.ReadToEnd() : "still starting")}");
                Thread.Sleep(50);
            }
        }

        public int Pid { get; }

        public void Dispose()
        {
            try
            {
                _run.Kill(entireProcessTree: true);
                _run.WaitForExit();
            }
            catch (InvalidOperationException)
            {
            }
            _run.Dispose();
        }

        /// <summary>A descendant of <paramref name="root"/> whose command is sleep, or 0.</summary>
        private static int FindSleep(int root)
        {
            var parent = new Dictionary<int, int>();
            var comm = new Dictionary<int, string>();
            foreach (string dir in Directory.GetDirectories("/proc"))
            {
                if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
                    continue;
                try
                {
                    string stat = File.ReadAllText(Path.Combine(dir, "stat"));
                    int close = stat.LastIndexOf(')');
                    comm[pid] = stat[(stat.IndexOf('(') + 1)..close];
                    parent[pid] = int.Parse(stat[(close + 2)..].Split(' ')[1], CultureInfo.InvariantCulture);
                }
                catch (IOException)
                {
                }
            }
            foreach (var (pid, name) in comm)
            {
                if (name != "sleep")
                    continue;
                for (int p = pid; parent.TryGetValue(p, out int pp) && p > 1; p = pp)
                    if (pp == root)
                        return pid;
            }
            return 0;
        }
    }

    [Fact]
    public void The_policy_filter_comes_back_byte_for_byte()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("p.policy"), "default ERRNO(EPERM)\nALLOW @runtime, @basic-io, @file-system, @memory, @signal, @process, @time\nKILL_PROCESS ptrace\n");
        using var run = new Sandboxed(dir.File("p.policy"));
        var r = CliRunner.Run("dump", run.Pid.ToString(CultureInfo.InvariantCulture), "-f", "raw", "-o", dir.File("dumped.bpf"));
        Assert.True(r.ExitCode == 0, r.ToString());
        // The guard filter goes in first, then the policy's: two files.
        Assert.Contains("dumped.0.bpf: filter 0 of process", r.Stderr, StringComparison.Ordinal);
        Assert.Contains("dumped.1.bpf: filter 1 of process", r.Stderr, StringComparison.Ordinal);
        Assert.Equal(0, CliRunner.Run("compile", dir.File("p.policy"), "-o", dir.File("compiled.bpf")).ExitCode);
        Assert.Equal(File.ReadAllBytes(dir.File("compiled.bpf")), File.ReadAllBytes(dir.File("dumped.1.bpf")));

        // The status lines and the text form.
        var text = CliRunner.Run("dump", run.Pid.ToString(CultureInfo.InvariantCulture));
        Assert.StartsWith($"# pid {run.Pid}: Seccomp: filter, Seccomp_filters: 2\n# filter 0 of 2 (the first installed):", text.Stdout, StringComparison.Ordinal);
        // asm that assembles back to the same bytes, for one filter.
        Assert.Equal(0, CliRunner.Run("dump", run.Pid.ToString(CultureInfo.InvariantCulture), "--index", "1", "-o", dir.File("dumped.asm")).ExitCode);
        Assert.Equal(0, CliRunner.Run("asm", dir.File("dumped.asm"), "-o", dir.File("again.bpf")).ExitCode);
        Assert.Equal(File.ReadAllBytes(dir.File("compiled.bpf")), File.ReadAllBytes(dir.File("again.bpf")));

        // Ready for check, emu and explain.
        Assert.Equal(0, CliRunner.Run("check", dir.File("dumped.0.bpf")).ExitCode);
        Assert.Equal(0, CliRunner.Run("check", dir.File("dumped.1.bpf")).ExitCode);
        Assert.Equal("KILL_PROCESS", CliRunner.Run("emu", dir.File("dumped.1.bpf"), "ptrace").LastLine);
        Assert.Equal("ERRNO(1)", CliRunner.Run("emu", dir.File("dumped.1.bpf"), "mount").LastLine);
        var explain = CliRunner.Run("explain", dir.File("dumped.1.bpf"), "read", "0", "0", "10");
        Assert.True(explain.ExitCode == 0, explain.ToString());
        Assert.StartsWith("read(0, NULL, 10) on x86_64: nr 0\n", explain.Stdout, StringComparison.Ordinal);
        Assert.Matches(@"^decision: ALLOW, returned at pc \d{4}$", explain.LastLine);

        // JSON: the same bytes in base64.
        var json = JsonDocument.Parse(CliRunner.Run("dump", run.Pid.ToString(CultureInfo.InvariantCulture), "--json").Stdout).RootElement;
        Assert.Equal("filter", json.GetProperty("mode").GetString());
        var filters = json.GetProperty("filters").EnumerateArray().ToList();
        Assert.Equal(2, filters.Count);
        Assert.Equal(File.ReadAllBytes(dir.File("compiled.bpf")), filters[1].GetProperty("raw").GetBytesFromBase64());
        Assert.False(filters[1].GetProperty("log").GetBoolean());
    }

    [Fact]
    public void The_built_in_policy_as_run_installs_it()
    {
        using var dir = new TempDir();
        using var run = new Sandboxed("default");
        Assert.Equal(0, CliRunner.Run("dump", run.Pid.ToString(CultureInfo.InvariantCulture), "--index", "1", "-f", "raw", "-o", dir.File("d.bpf")).ExitCode);
        Assert.Equal(PolicyCompiler.Compile(BuiltinPolicies.Load("default")).ToBytes(), File.ReadAllBytes(dir.File("d.bpf")));
    }

    [Fact]
    public void Without_CAP_SYS_ADMIN_the_kernel_refuses_and_dump_says_what_it_needs()
    {
        using var run = new Sandboxed("default");
        // root without CAP_SYS_ADMIN: ptrace is allowed (CAP_SYS_PTRACE), PTRACE_SECCOMP_GET_FILTER is not.
        var psi = new ProcessStartInfo("setpriv") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in (string[])["--bounding-set", "-sys_admin", "--inh-caps", "-sys_admin", CliRunner.Tool, "dump", run.Pid.ToString(CultureInfo.InvariantCulture)])
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd(), stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 4, $"exit {p.ExitCode}\n{stdout}{stderr}");
        Assert.Contains("PTRACE_SECCOMP_GET_FILTER", stderr, StringComparison.Ordinal);
        Assert.Contains("EACCES", stderr, StringComparison.Ordinal);
        Assert.Contains("needs CAP_SYS_ADMIN", stderr, StringComparison.Ordinal);
        // The process was released: it still runs, and a privileged dump still reads it.
        Assert.Equal(0, CliRunner.Run("dump", run.Pid.ToString(CultureInfo.InvariantCulture)).ExitCode);
    }

    [Fact]
    public void A_process_without_filters_and_one_that_is_gone()
    {
        var self = CliRunner.Run("dump", Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        Assert.True(self.ExitCode == 0, self.ToString());
        Assert.Contains("is under no seccomp filter", self.Stdout, StringComparison.Ordinal);
        var gone = CliRunner.Run("dump", "999999999");
        Assert.NotEqual(0, gone.ExitCode);
        Assert.Contains("999999999", gone.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", gone.Stderr, StringComparison.Ordinal);
    }
}
