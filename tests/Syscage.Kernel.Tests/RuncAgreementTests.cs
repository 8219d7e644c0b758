using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Syscage.Abi;
using Syscage.Policy.Oci;
using Syscage.Testing;
using Xunit.Abstractions;

namespace Syscage.Kernel.Tests;

/// <summary>
/// runc itself as the judge of what a profile means for syscalls newer than it: the same calls are made in a runc
/// container under the profile (as Docker hands it to runc: <c>archMap</c> resolved, <c>includes</c>/<c>excludes</c>
/// applied) and under Syscage's filter for it, by the same program (tests/native/syscall_helper.c, static in the
/// container), and must end the same way. The calls are chosen so that the answer shows who gave it: numbers no
/// syscall has, x32 numbers (the x32 ABI is off here, so the kernel alone would say ENOSYS), refused syscalls, with
/// defaults of EPERM and KILL_PROCESS.
/// </summary>
/// <remarks>
/// Two differences are known and checked as such: numbers between the newest syscall the profile names to Syscage
/// (its tables) and to runc (libseccomp's resolver) — the tables know different syscalls — and -1 on x86_64 when the
/// profile does not cover x32: runc's stub tests the x32 bit alone and leaves -1 to libseccomp, which gives it the
/// bad-arch action; Syscage keeps -1 with x86_64 (the x32 rule) and answers ENOSYS
/// (docs/libseccomp-differences.md).
/// </remarks>
public sealed class RuncAgreementTests(ITestOutputHelper output)
{
    private static readonly string DockerDefault = Path.Combine(NativeProbe.RepositoryRoot, "samples", "profiles", "docker-default.json");
    private static readonly OciOptions Host = new() { NativeArchitecture = Architecture.X86_64, KernelVersion = OciOptions.CurrentKernelRelease() };
    private static readonly uint X32 = Architecture.X32.SyscallNumberBit;

    public static TheoryData<string> Variants => ["docker", "docker-kill", "docker-x86_64-only-kill"];

    [Theory]
    [MemberData(nameof(Variants))]
    public void RuncAndSyscageAnswerTheSameToSyscallsNewerThanTheProfile(string variant)
    {
        _ = (RuncContainer.Runc, RuncContainer.Busybox);   // both needed: each says how to get it
        var json = JsonNode.Parse(File.ReadAllText(DockerDefault))!.AsObject();
        if (variant.Contains("kill", StringComparison.Ordinal))
            json["defaultAction"] = "SCMP_ACT_KILL_PROCESS";
        if (variant.Contains("x86_64-only", StringComparison.Ordinal))
        {
            json.Remove("archMap");
            json["architectures"] = new JsonArray("SCMP_ARCH_X86_64");
        }
        var profile = OciProfileLoader.Parse(json.ToJsonString(), Host);
        var newer = profile.Policy.Newer!;

        // Calls: numbers past the newest syscall (to either), far past it, refused ones, x32's.
        var names = profile.Entries.SelectMany(e => e.Names).Distinct().ToList();
        uint RuncNewest(Architecture a) => (uint)Math.Max(0, names.Max(n => Libseccomp.Resolve(LibseccompProfile.Token(a), n)));
        var calls = new SortedSet<uint> { 1000, 5000, 0x3fff_ffff, 0x8000_0000, 0xffff_ffff, X32 + 1000, X32 + 0x3fff_ffff };
        foreach (var arch in new[] { Architecture.X86_64, Architecture.X32 })
        {
            calls.Add((uint)(arch.Syscalls.TryGetNumber("kexec_load", out int kexec) ? kexec : throw new InvalidOperationException()));
            if (newer.NewestOn(arch) is uint mine)
                calls.Add(mine + 1);
            calls.Add(RuncNewest(arch) + 1);
        }

        // Every syscall newer than Linux 6.1, made for real: those numbered past 6.1's newest on x86_64
        // (set_mempolicy_home_node) and uretprobe (Linux 6.11, numbered in a hole of the table).
        var newerThan61 = new SortedSet<uint>();
        int linux61Newest = Architecture.X86_64.Syscalls.TryGetNumber("set_mempolicy_home_node", out int smhn) ? smhn : throw new InvalidOperationException();
        foreach (var call in Architecture.X86_64.Syscalls.All)
            if (call.Number > linux61Newest || call.Name == "uretprobe")
                newerThan61.Add((uint)call.Number);
        Assert.True(newerThan61.Count >= 15, $"only {newerThan61.Count} syscalls newer than Linux 6.1");
        calls.UnionWith(newerThan61);

        var inRunc = RunInRunc(ForRunc(json, profile), calls);
        var failures = new List<string>();
        var report = new StringBuilder();
        foreach (uint nr in calls)
        {
            var sandboxed = Sandboxed.Run(profile.Policy, "call", unchecked((int)nr).ToString(CultureInfo.InvariantCulture));
            string mine = $"{sandboxed.Stdout.Trim()} status {sandboxed.Exit.ShellStatus}".Trim();
            string theirs = inRunc[nr];
            var arch = Architecture.Of(AuditArch.AUDIT_ARCH_X86_64, unchecked((int)nr))!;
            bool covered = profile.Architectures.Contains(arch);
            uint? syscageNewest = newer.NewestOn(arch), runcNewest = covered ? RuncNewest(arch) : null;
            string why = "";
            if (syscageNewest is uint s && runcNewest is uint r && nr > Math.Min(s, r) && nr <= Math.Max(s, r))
                why = "between the newest syscall the profile names to Syscage and to runc";
            else if (newerThan61.Contains(nr) && Libseccomp.Resolve(LibseccompProfile.Token(arch), arch.Syscalls.TryGetName(unchecked((int)nr), out var n) ? n : "") != unchecked((int)nr))
                why = "a syscall libseccomp 2.5.4 does not know: runc cannot add the profile's rule for it";
            else if (nr == uint.MaxValue && !profile.Architectures.Contains(Architecture.X32))
                why = "-1 without x32: runc leaves it to libseccomp";
            report.AppendLine(CultureInfo.InvariantCulture, $"0x{nr:x8}: runc '{theirs}', Syscage '{mine}'{(why.Length > 0 ? $" ({why})" : "")}");
            if (why.Length == 0 && mine != theirs)
                failures.Add($"0x{nr:x8}: runc '{theirs}', Syscage '{mine}'");
            if (why.StartsWith("-1", StringComparison.Ordinal))
            {
                Assert.Equal("ret -1 errno 38 status 0", mine);
                Assert.Equal("status 159", theirs);   // SIGSYS: libseccomp's bad-arch action, KILL_THREAD
            }
        }
        output.WriteLine($"{variant}:\n{report}");
        Assert.True(failures.Count == 0, $"{variant}: runc and Syscage disagree:\n{string.Join("\n", failures)}\n\nall calls:\n{report}");
    }

    /// <summary>The profile as Docker gives it to runc: architectures instead of archMap, only the entries that apply, no includes/excludes.</summary>
    private static JsonObject ForRunc(JsonObject docker, OciProfile profile)
    {
        var seccomp = new JsonObject
        {
            ["defaultAction"] = docker["defaultAction"]!.DeepClone(),
            ["architectures"] = new JsonArray(profile.Architectures.Select(a => (JsonNode)("SCMP_ARCH_" + a.Name.ToUpperInvariant())).ToArray()),
        };
        if (docker["defaultErrnoRet"] is { } der)
            seccomp["defaultErrnoRet"] = der.DeepClone();
        var syscalls = new JsonArray();
        var all = docker["syscalls"]!.AsArray();
        foreach (var entry in profile.Entries)
        {
            var copy = all[entry.Index]!.DeepClone().AsObject();
            copy.Remove("includes");
            copy.Remove("excludes");
            copy.Remove("comment");
            syscalls.Add(copy);
        }
        seccomp["syscalls"] = syscalls;
        return seccomp;
    }

    /// <summary>Makes each call in a runc container under <paramref name="seccomp"/>; per number, what it printed and its status.</summary>
    private static Dictionary<uint, string> RunInRunc(JsonObject seccomp, IEnumerable<uint> calls)
    {
        string dir = Directory.CreateTempSubdirectory("syscage-runc-").FullName;
        try
        {
            var script = new StringBuilder();
            foreach (uint nr in calls)
                script.Append(CultureInfo.InvariantCulture, $"echo \"nr {nr}\"; /bin/helper call {unchecked((int)nr)}; echo \"status $?\"; ");
            string id = "syscage-" + Guid.NewGuid().ToString("N")[..12];
            string bundle = RuncContainer.Bundle(dir, id, seccomp, ["/bin/sh", "-c", script.ToString()], ["sh"],
                new Dictionary<string, string> { ["/bin/helper"] = NativeBuild.Compile("syscall_helper_static.c", "the runc agreement tests", "-static", "-pthread") });
            var run = RuncContainer.Run(dir, bundle, id, TimeSpan.FromSeconds(120));
            Assert.True(run.Code == 0, run.ToString());
            var result = new Dictionary<uint, string>();
            uint? current = null;
            var printed = new StringBuilder();
            foreach (string line in run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                if (line.StartsWith("nr ", StringComparison.Ordinal))
                {
                    current = uint.Parse(line[3..], CultureInfo.InvariantCulture);
                    printed.Clear();
                }
                else if (line.StartsWith("status ", StringComparison.Ordinal) && current is uint nr)
                    result[nr] = $"{printed}{line}".Trim();
                else
                    printed.Append(line.Trim()).Append(' ');
            }
            return result;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
