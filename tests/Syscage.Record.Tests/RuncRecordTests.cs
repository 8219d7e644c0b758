using System.Diagnostics;
using System.Text.Json.Nodes;
using Syscage.Testing;
using Xunit.Abstractions;

namespace Syscage.Record.Tests;

/// <summary>
/// The OCI profile <c>syscage record --format oci</c> writes, in a real runc container (busybox rootfs and the static
/// program of <see cref="RecordKernelTests"/>): with runc's own calls merged in (samples/policies/runc-init.policy)
/// the program runs to the same output; without them runc itself is refused before it executes the program, which
/// is why the sample exists.
/// </summary>
public sealed class RuncRecordTests(ITestOutputHelper output)
{
    private static string Runc => RuncContainer.Runc;

    private static (int Code, string Stdout, string Stderr) RunInRunc(string dir, string profileJson)
    {
        string id = "syscage-rec-" + Guid.NewGuid().ToString("N")[..12];
        string bundle = RuncContainer.Bundle(dir, id, JsonNode.Parse(profileJson)!, ["/bin/workload"], ["sh"],
            new Dictionary<string, string> { ["/bin/workload"] = RecordKernelTests.StaticWorkload });
        var (code, stdout, stderr) = RuncContainer.Run(dir, bundle, id, TimeSpan.FromSeconds(120));
        return (code, stdout, stderr);
    }

    [Fact]
    public void A_recorded_OCI_profile_runs_the_program_in_a_runc_container()
    {
        Assert.True(File.Exists(Runc), "runc is needed (scripts/ensure-deps.sh installs it)");
        Assert.True(File.Exists("/bin/busybox"), "busybox-static is needed (scripts/ensure-deps.sh installs it)");
        using var dir = new TempDir();
        string runcInit = Path.Combine(NativeProbe.RepositoryRoot, "samples", "policies", "runc-init.policy");
        string merged = dir.File("merged.json"), alone = dir.File("alone.json");
        var recorded = SyscageProcess.Run(["record", "--merge", runcInit, "--format", "oci", "-o", merged, "--", RecordKernelTests.StaticWorkload]);
        Assert.True(recorded.ExitCode == 0, recorded.ToString());
        Assert.Equal(0, SyscageProcess.Run(["record", "--format", "oci", "-o", alone, "--", RecordKernelTests.StaticWorkload]).ExitCode);
        output.WriteLine(File.ReadAllText(merged));

        var (code, stdout, stderr) = RunInRunc(dir.Path, File.ReadAllText(merged));
        Assert.True(code == 0, $"runc exit {code}\nstdout: {stdout}\nstderr: {stderr}");
        Assert.Equal(RecordKernelTests.StaticOutput, stdout);

        // runc's own calls after it installs the profile (close, openat, fstatfs ...) are not the program's.
        var (code2, stdout2, stderr2) = RunInRunc(dir.Path, File.ReadAllText(alone));
        output.WriteLine($"without runc-init.policy: runc exit {code2}: {stderr2.Trim()}");
        Assert.NotEqual(0, code2);
        Assert.DoesNotContain("static workload", stdout2, StringComparison.Ordinal);
    }
}
