using System.Diagnostics;
using Syscage.Kernel;
using Xunit.Abstractions;

namespace Syscage.Kernel.Tests;

/// <summary>A multi-threaded .NET process sandboxes itself with TSYNC (in a child process, never the test runner).</summary>
public sealed class SelfSandboxTests(ITestOutputHelper output)
{
    [Fact]
    public void EveryThreadOfTheProcessIsFiltered()
    {
        string host = Path.Combine(AppContext.BaseDirectory, "Syscage.SandboxHost.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { host, "16", "110" /* getppid */, "77" })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd();
        string stderr = p.StandardError.ReadToEnd();
        Assert.True(p.WaitForExit(60_000));
        output.WriteLine(stdout);
        Assert.True(p.ExitCode == 0, $"exit {p.ExitCode}\n{stdout}\n{stderr}");
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("mode 2", lines);
        Assert.Equal(16, lines.Count(l => l.StartsWith("thread ", StringComparison.Ordinal) && l.EndsWith(" errno 77", StringComparison.Ordinal) && !l.Contains("late", StringComparison.Ordinal)));
        Assert.Contains("thread late errno 77", lines);
        Assert.Contains("main errno 77", lines);
    }

    [Fact]
    public void FeatureQueriesAnswer()
    {
        // Queries only: nothing is installed.
        Assert.True(Seccomp.IsActionAvailable(0x7fc0_0000));
        Assert.True(Seccomp.AreFlagsSupported(FilterFlags.Tsync | FilterFlags.Log));
        Assert.False(Seccomp.AreFlagsSupported((FilterFlags)(1u << 20)));
        var sizes = Seccomp.GetNotifSizes();
        Assert.Equal(64, sizes.Data);
        Assert.Equal(0, Seccomp.CurrentMode());
    }
}

/// <summary>Unprivileged use: the launcher sets no_new_privs, so a user without CAP_SYS_ADMIN can install filters.</summary>
public sealed class UnprivilegedTests
{
    [Fact]
    public void AnUnprivilegedUserCanRunUnderAFilter()
    {
        string setpriv = Syscage.Testing.NativeBuild.FindOnPath("setpriv") ?? throw new InvalidOperationException("setpriv (util-linux) is missing");
        // ERRNO(42) for the unused syscall 1000, everything else allowed.
        var policy = Sandboxed.PolicyFor(Sandboxed.Unused, Syscage.Bpf.SeccompAction.Errno(42));
        string filter = Path.Combine(Path.GetTempPath(), $"syscage-unpriv-{Guid.NewGuid():N}.bpf");
        File.WriteAllBytes(filter, Syscage.Policy.Compiler.PolicyCompiler.Compile(policy).ToBytes());
        File.SetUnixFileMode(filter, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        // The built helper sits in a 0700 directory of root's: give nobody a copy it can execute.
        string shared = Path.Combine(Path.GetTempPath(), $"syscage-unpriv-{Guid.NewGuid():N}");
        Directory.CreateDirectory(shared, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
            UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        string helper = Path.Combine(shared, "syscall_helper");
        File.Copy(Sandboxed.Helper, helper);
        try
        {
            var psi = new ProcessStartInfo(setpriv) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in new[] { "--reuid=65534", "--regid=65534", "--clear-groups", "--",
                         SandboxedProcess.LauncherPath, filter, "0", "/dev/null", helper, "syscall_helper", "call", "1000" })
                psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            string stdout = p.StandardOutput.ReadToEnd();
            string stderr = p.StandardError.ReadToEnd();
            p.WaitForExit();
            Assert.True(p.ExitCode == 0, $"exit {p.ExitCode}: {stdout} {stderr}");
            Assert.Equal("ret -1 errno 42", stdout.Trim());
        }
        finally
        {
            File.Delete(filter);
            Directory.Delete(shared, recursive: true);
        }
    }
}
