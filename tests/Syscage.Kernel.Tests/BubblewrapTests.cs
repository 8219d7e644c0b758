using System.Diagnostics;
using Syscage.Bpf;
using Syscage.Policy;
using Syscage.Policy.Compiler;
using Syscage.Abi;
using Syscage.Testing;

namespace Syscage.Kernel.Tests;

/// <summary>Compiled output works in a real client: bubblewrap's <c>--seccomp FD</c> reads raw sock_filter bytes.</summary>
public sealed class BubblewrapTests
{
    [Fact]
    public void BwrapEnforcesACompiledFilter()
    {
        string bwrap = NativeBuild.FindOnPath("bwrap") ?? throw new InvalidOperationException("bwrap is not installed: apt-get install bubblewrap (scripts/ensure-deps.sh does)");
        // Everything allowed but mkdir/mkdirat, which get EACCES.
        var b = new PolicyBuilder(SeccompAction.Allow, Architecture.X86_64, Architecture.X86, Architecture.X32);
        b.Add("mkdir", new Rule(Condition.True, SeccompAction.Errno(13)));
        b.Add("mkdirat", new Rule(Condition.True, SeccompAction.Errno(13)));
        string filter = Path.Combine(Path.GetTempPath(), $"syscage-bwrap-{Guid.NewGuid():N}.bpf");
        File.WriteAllBytes(filter, PolicyCompiler.Compile(b.Build()).ToBytes());
        try
        {
            var psi = new ProcessStartInfo("/bin/sh") { RedirectStandardOutput = true, RedirectStandardError = true };
            psi.ArgumentList.Add("-c");
            psi.ArgumentList.Add($"exec {bwrap} --ro-bind / / --tmpfs /tmp --dev /dev --seccomp 3 /bin/sh -c 'mkdir /tmp/x; echo mkdir=$?; echo hello' 3<{filter}");
            using var p = Process.Start(psi)!;
            string stdout = p.StandardOutput.ReadToEnd();
            string stderr = p.StandardError.ReadToEnd();
            p.WaitForExit();
            Assert.True(p.ExitCode == 0, $"bwrap exited {p.ExitCode}: {stderr}");
            Assert.Contains("mkdir=1", stdout, StringComparison.Ordinal);
            Assert.Contains("hello", stdout, StringComparison.Ordinal);
            Assert.Contains("Permission denied", stderr, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(filter);
        }
    }
}
