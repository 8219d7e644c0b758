using System.Diagnostics;
using System.Globalization;
using System.Text;
using Syscage.Testing;
using Xunit.Abstractions;

namespace Syscage.Cli.Tests;

/// <summary>
/// The inputs built to exhaust a reader — an endless file, a huge one, a map of gigabytes in a clang-compiled object,
/// nesting sixteen thousand deep, the largest inputs the limits let through — given to the real tool in a child
/// process (<c>tests/native/peak_rss.c</c>, which reads the child's peak resident memory from <c>wait4</c>). Each must
/// end with its expected exit (3 and one clear line for what is refused), within <see cref="MaxPeakKb"/> of memory
/// and <see cref="MaxTime"/>.
/// </summary>
public sealed class HostileInputTests(ITestOutputHelper output)
{
    /// <summary>512 MiB: the memory a hostile input may make the tool use, runtime included.</summary>
    private const long MaxPeakKb = 512 * 1024;

    private static readonly TimeSpan MaxTime = TimeSpan.FromSeconds(30);

    private static string PeakRss => NativeBuild.Compile("peak_rss.c", "the hostile-input tests");

    private sealed record Measured(int ExitCode, string Stderr, long PeakKb, long ElapsedMs);

    /// <summary>Runs <c>syscage ARGS</c> under peak_rss, with stdout discarded.</summary>
    private static Measured Run(TempDir dir, params string[] args)
    {
        string report = dir.File("peak.txt");
        var psi = new ProcessStartInfo(PeakRss) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in (string[])[report, CliRunner.Tool, .. args])
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.BaseStream.CopyToAsync(Stream.Null);
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit((int)MaxTime.TotalMilliseconds))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"syscage {string.Join(' ', args)}: still running after {MaxTime.TotalSeconds} s");
        }
        stdout.Wait();
        // "maxrss_kb N status S elapsed_ms T"
        string[] fields = File.ReadAllText(report).Split(' ', StringSplitOptions.TrimEntries);
        long Field(string name) => long.Parse(fields[Array.IndexOf(fields, name) + 1], CultureInfo.InvariantCulture);
        Assert.Equal(p.ExitCode, Field("status"));
        return new Measured(p.ExitCode, stderr.Result, Field("maxrss_kb"), Field("elapsed_ms"));
    }

    /// <summary>Runs the case and checks exit, message, memory and time; logs the figures.</summary>
    private void Check(TempDir dir, string name, int exitCode, string? message, params string[] args)
    {
        var m = Run(dir, args);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name,-44} exit {m.ExitCode}  peak {m.PeakKb / 1024.0,6:0.0} MiB  {m.ElapsedMs,5} ms"));
        string what = $"{name}: syscage {string.Join(' ', args)}";
        Assert.True(m.ExitCode == exitCode, $"{what}: exit {m.ExitCode}, expected {exitCode}\n{m.Stderr}");
        Assert.True(m.PeakKb < MaxPeakKb, $"{what}: peak memory {m.PeakKb / 1024} MiB");
        Assert.DoesNotContain("   at ", m.Stderr, StringComparison.Ordinal);
        if (message is not null)
        {
            var lines = m.Stderr.TrimEnd('\n').Split('\n');
            Assert.True(lines.Length == 1, $"{what}: expected one line on stderr:\n{m.Stderr}");
            Assert.Contains(message, lines[0], StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Endless_and_huge_files_are_refused_at_the_limit()
    {
        using var dir = new TempDir();
        foreach (var name in new[] { "zero.json", "zero.o", "zero.asm", "zero.s" })
            File.CreateSymbolicLink(dir.File(name), "/dev/zero");
        // Huge regular files, sparse: 1 GiB that takes no disk.
        foreach (var name in new[] { "huge.policy", "huge.json", "huge.o", "huge.bpf" })
        {
            using var f = File.Create(dir.File(name));
            f.SetLength(1L << 30);
        }
        Check(dir, "compile /dev/zero", 3, "/dev/zero:1:1: cannot read the policy: larger than 1 MiB", "compile", "/dev/zero");
        Check(dir, "compile zero.json", 3, "zero.json: larger than 1 MiB", "compile", dir.File("zero.json"));
        Check(dir, "ebpf verify zero.o", 3, "zero.o: larger than 16 MiB", "ebpf", "verify", dir.File("zero.o"));
        Check(dir, "asm zero.asm", 3, "zero.asm: larger than 1 MiB", "asm", dir.File("zero.asm"));
        Check(dir, "ebpf asm zero.s", 3, "zero.s: larger than 1 MiB", "ebpf", "asm", dir.File("zero.s"));
        Check(dir, "disasm /dev/zero", 3, "/dev/zero: larger than 16 MiB", "disasm", "/dev/zero");
        Check(dir, "ebpf disasm /dev/zero", 3, "/dev/zero: larger than 16 MiB", "ebpf", "disasm", "/dev/zero");
        Check(dir, "compile huge.policy (1 GiB)", 3, "huge.policy:1:1: cannot read the policy: larger than 1 MiB", "compile", dir.File("huge.policy"));
        Check(dir, "compile huge.json (1 GiB)", 3, "huge.json: larger than 1 MiB", "compile", dir.File("huge.json"));
        Check(dir, "run --ebpf huge.o (1 GiB)", 3, "huge.o: larger than 16 MiB", "run", "--ebpf", dir.File("huge.o"), "--", "/bin/true");
        Check(dir, "check huge.bpf (1 GiB)", 3, "huge.bpf: larger than 16 MiB", "check", dir.File("huge.bpf"));
    }

    [Fact]
    public void A_four_gibibyte_map_in_a_clang_object_is_refused_naming_it()
    {
        using var dir = new TempDir();
        string obj = Samples.CompileSource(dir, "huge_map", MalformedInputTests.ArrayMapProgram("1 << 26"));
        const string refused = "map 'huge' needs 4 GiB: more than the 128 MiB Syscage gives the maps of one object";
        Check(dir, "ebpf run huge_map.o", 3, refused, "ebpf", "run", obj, "--ctx", "read");
        Check(dir, "ebpf split huge_map.o", 3, refused, "ebpf", "split", obj);
        Check(dir, "run --ebpf huge_map.o", 3, refused, "run", "--ebpf", obj, "--", "/bin/true");
        // The largest array the limit allows, 2^21 values of 64 bytes, is allocated and runs.
        string full = Samples.CompileSource(dir, "full_map", MalformedInputTests.ArrayMapProgram("1 << 21"));
        Check(dir, "ebpf run full_map.o (128 MiB of maps)", 0, null, "ebpf", "run", full, "--ctx", "read");
    }

    [Fact]
    public void Sixteen_thousand_levels_of_nesting_are_refused()
    {
        using var dir = new TempDir();
        const int levels = 16_000;
        File.WriteAllText(dir.File("deep.policy"), "default ALLOW\nALLOW read if " + new string('(', levels) + "arg0 == 1" + new string(')', levels) + "\n");
        File.WriteAllText(dir.File("deep.json"), "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": " + new string('[', levels) + new string(']', levels) + "}");
        Check(dir, "compile deep.policy", 3, "deep.policy:2:115: nested too deeply: more than 100 levels", "compile", dir.File("deep.policy"));
        Check(dir, "compile deep.json", 3, "deep.json:1:", "compile", dir.File("deep.json"));
    }

    [Fact]
    public void Policies_that_multiply_what_they_say_stay_within_bounds()
    {
        using var dir = new TempDir();
        // Forty groups, each naming the one before twice: 2^40 syscalls if lists kept repeats.
        var groups = new StringBuilder("default ERRNO(EPERM)\ngroup @g0 = read, write\n");
        for (int i = 1; i < 40; i++)
            groups.Append(CultureInfo.InvariantCulture, $"group @g{i} = @g{i - 1}, @g{i - 1}\n");
        File.WriteAllText(dir.File("groups.policy"), groups.Append("ALLOW @g39\n").ToString());
        Check(dir, "compile groups.policy (2^40 by doubling)", 0, null, "compile", dir.File("groups.policy"), "-f", "asm");
        // Sixty thousand tests on two hundred syscalls: a copy of the condition per syscall and architecture was 5 GB.
        string condition = string.Join(" || ", Enumerable.Range(0, 60_000).Select(i => string.Create(CultureInfo.InvariantCulture, $"arg0 == {i}")));
        File.WriteAllText(dir.File("cross.policy"), "default ALLOW\nALLOW @basic-io, @file-system, @network, @process, @memory if " + condition + "\n");
        Check(dir, "compile -f pfc cross.policy (60,000 tests x 200 calls)", 3, "cross.policy:2:1: read on x86_64: the rules test its arguments more than 1024 times",
            "compile", dir.File("cross.policy"), "-f", "pfc");
        Check(dir, "explain cross.policy", 0, null, "explain", dir.File("cross.policy"), "read", "59999");
        Check(dir, "lint cross.policy", 1, null, "lint", dir.File("cross.policy"));
        // Within the compiler's limit, but hard for the lint's solver: five hundred pairs of tests on two arguments, on
        // two hundred syscalls, and five hundred rules of one syscall each testing both. The lint says "undecided" in time.
        string pairs = string.Join(" || ", Enumerable.Range(0, 500).Select(i => string.Create(CultureInfo.InvariantCulture, $"(arg0 == {i} && arg1 == {i})")));
        File.WriteAllText(dir.File("pairs.policy"), "default ALLOW\nALLOW @basic-io, @file-system, @network, @process, @memory if " + pairs + "\n" +
            string.Concat(Enumerable.Range(0, 500).Select(i => string.Create(CultureInfo.InvariantCulture, $"ERRNO(1) getpid if arg0 == {i} && arg1 == {i}\n"))));
        Check(dir, "lint pairs.policy (500 x 2 tests)", 1, null, "lint", dir.File("pairs.policy"));
    }

    [Fact]
    public void The_largest_inputs_the_limits_let_through_stay_within_bounds()
    {
        using var dir = new TempDir();
        // Just under 1 MiB each: a quarter of a million syscall names in one rule...
        var policy = new StringBuilder("default ERRNO(EPERM)\nALLOW read");
        while (policy.Length < InputLimits.MaxTextBytes - 16)
            policy.Append(", write");
        File.WriteAllText(dir.File("names.policy"), policy.Append('\n').ToString());
        Check(dir, "compile names.policy (1 MiB)", 0, null, "compile", dir.File("names.policy"), "-f", "asm");
        // ... a thousand argument tests on one syscall, then a tenth of a million more, refused at the rule past the limit...
        var rules = new StringBuilder("default ALLOW\n");
        for (int i = 0; rules.Length < InputLimits.MaxTextBytes - 64; i++)
            rules.Append(CultureInfo.InvariantCulture, $"ERRNO(1) read if arg0 == {i}\n");
        File.WriteAllText(dir.File("rules.policy"), rules.ToString());
        Check(dir, "compile rules.policy (1 MiB)", 3, "rules.policy:1026:1: read on x86_64: the rules test its arguments more than 1024 times",
            "compile", dir.File("rules.policy"), "-f", "asm");
        // ... and a profile of a quarter of a million unknown names, one line, each a warning at its own column.
        var json = new StringBuilder("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"action\": \"SCMP_ACT_ERRNO\", \"names\": [\"a\"");
        while (json.Length < InputLimits.MaxTextBytes - 64)
            json.Append(",\"a\"");
        File.WriteAllText(dir.File("names.json"), json.Append("]}]}").ToString());
        Check(dir, "compile names.json (1 MiB, one line)", 0, null, "compile", dir.File("names.json"), "-f", "asm");
    }
}
