namespace Syscage.Cli.Tests;

/// <summary>Bad input gets one line on stderr naming the position, a non-zero exit, and no stack trace.</summary>
public sealed class MalformedInputTests
{
    private static void AssertOneLineError(CliRunner.Result r, string expectedFragment, int exitCode = 3)
    {
        Assert.True(r.ExitCode == exitCode, r.ToString());
        var lines = r.Stderr.TrimEnd('\n').Split('\n');
        Assert.True(lines.Length == 1, "expected one line on stderr:\n" + r);
        Assert.Contains(expectedFragment, lines[0], StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", r.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", r.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void TruncatedProgram()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("t.bpf"), [0x06, 0, 0, 0, 0, 0, 0xff, 0x7f, 0x20, 0, 0]);
        foreach (var verb in new[] { "disasm", "check" })
            AssertOneLineError(CliRunner.Run(verb, dir.File("t.bpf")), "t.bpf: truncated program: 11 bytes is not a whole number of 8-byte instructions (3 stray bytes at byte offset 8, after pc 0)");
        AssertOneLineError(CliRunner.Run("emu", dir.File("t.bpf"), "read"), "byte offset 8");
    }

    [Fact]
    public void BadMnemonic()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("b.asm"), "A = sys_number\nretrun ALLOW\n");
        AssertOneLineError(CliRunner.Run("asm", dir.File("b.asm")), "b.asm:2:1: unknown instruction 'retrun'; did you mean 'return'?");
        File.WriteAllText(dir.File("c.asm"), "A = sys_number\nreturn ALOW\n");
        AssertOneLineError(CliRunner.Run("asm", dir.File("c.asm")), "c.asm:2:8: unknown action 'ALOW'; did you mean 'ALLOW'?");
        File.WriteAllText(dir.File("d.asm"), "A = sys_number\nA =+ 3\nreturn ALLOW\n");
        AssertOneLineError(CliRunner.Run("asm", dir.File("d.asm")), "d.asm:2:4: unexpected character '+'");
    }

    [Fact]
    public void JumpOutOfRange()
    {
        using var dir = new TempDir();
        var text = "A = sys_number\nif (A == read) goto far\n" + string.Concat(Enumerable.Repeat("A = 1\n", 300)) + "far: return ALLOW\n";
        File.WriteAllText(dir.File("j.asm"), text);
        AssertOneLineError(CliRunner.Run("asm", dir.File("j.asm")), "j.asm:2:21: jump out of range: 'far' is 300 instructions ahead of pc 1");

        File.WriteAllText(dir.File("k.asm"), "top: A = sys_number\nif (A == read) goto top\nreturn ALLOW\n");
        AssertOneLineError(CliRunner.Run("asm", dir.File("k.asm")), "k.asm:2:21: jump to 'top' goes backward");

        // A raw program whose jump leaves the program: the validator names the pc.
        File.WriteAllBytes(dir.File("r.bpf"), [0x15, 0, 5, 0, 0, 0, 0, 0, 0x06, 0, 0, 0, 0, 0, 0xff, 0x7f]);
        AssertOneLineError(CliRunner.Run("emu", dir.File("r.bpf"), "read"), "r.bpf: jump out of range at pc 0");
        var check = CliRunner.Run("check", dir.File("r.bpf"));
        Assert.Equal(1, check.ExitCode);
        Assert.Contains("jump out of range at pc 0", check.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownSyscallName()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("u.asm"), "A = sys_number\nif (A == opnat) goto ok\nreturn KILL_PROCESS\nok: return ALLOW\n");
        AssertOneLineError(CliRunner.Run("asm", dir.File("u.asm")), "u.asm:2:10: unknown syscall 'opnat' on x86_64; did you mean 'openat'?");
        File.WriteAllText(dir.File("ok.asm"), "return ALLOW\n");
        AssertOneLineError(CliRunner.Run("emu", dir.File("ok.asm"), "opneat"), "unknown syscall 'opneat' on x86_64; did you mean 'openat'?");
    }

    [Fact]
    public void UsageErrorsAndMissingFiles()
    {
        var r = CliRunner.Run("disasm", "/nonexistent/x.bpf");
        AssertOneLineError(r, "/nonexistent/x.bpf: no such file", exitCode: 4);
        r = CliRunner.Run("emu");
        Assert.Equal(2, r.ExitCode);
        r = CliRunner.Run("emu", "x.bpf", "read", "--arch", "vax");
        AssertOneLineError(r, "unknown architecture 'vax'", exitCode: 2);
    }

    [Fact]
    public void EndlessInputIsRefusedAtTheLimitWithoutReadingOn()
    {
        // /dev/zero never ends: each reader stops one byte past its limit, whatever the verb and the file's kind.
        using var dir = new TempDir();
        foreach (var name in new[] { "z.json", "z.o", "z.asm", "z.s" })
            File.CreateSymbolicLink(dir.File(name), "/dev/zero");
        var sw = System.Diagnostics.Stopwatch.StartNew();
        AssertOneLineError(CliRunner.Run("compile", "/dev/zero"), "/dev/zero:1:1: cannot read the policy: larger than 1 MiB");
        AssertOneLineError(CliRunner.Run("explain", "/dev/zero", "read"), "/dev/zero:1:1: cannot read the policy: larger than 1 MiB");
        AssertOneLineError(CliRunner.Run("disasm", "/dev/zero"), "/dev/zero: larger than 16 MiB, the most Syscage reads of binary input");
        AssertOneLineError(CliRunner.Run("ebpf", "disasm", "/dev/zero"), "/dev/zero: larger than 16 MiB");
        AssertOneLineError(CliRunner.Run("compile", dir.File("z.json")), "z.json: larger than 1 MiB, the most Syscage reads of text");
        AssertOneLineError(CliRunner.Run("compile", dir.File("z.o")), "z.o: larger than 16 MiB");
        AssertOneLineError(CliRunner.Run("ebpf", "verify", dir.File("z.o")), "z.o: larger than 16 MiB");
        AssertOneLineError(CliRunner.Run("asm", dir.File("z.asm")), "z.asm: larger than 1 MiB");
        AssertOneLineError(CliRunner.Run("ebpf", "asm", dir.File("z.s")), "z.s: larger than 1 MiB");
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(20), $"refusing endless input took {sw.Elapsed}");
    }

    [Fact]
    public void AFileJustOverTheLimitIsRefusedAndOneAtTheLimitIsRead()
    {
        using var dir = new TempDir();
        // A comment line padded to exactly 1 MiB parses (and then lacks a default action); one more byte is refused.
        string policy = "default ALLOW\n#";
        string atLimit = policy + new string('x', InputLimits.MaxTextBytes - policy.Length);
        File.WriteAllText(dir.File("at.policy"), atLimit);
        Assert.Equal(0, CliRunner.Run("compile", dir.File("at.policy"), "-f", "pfc").ExitCode);
        File.WriteAllText(dir.File("over.policy"), atLimit + "x");
        AssertOneLineError(CliRunner.Run("compile", dir.File("over.policy"), "-f", "pfc"), "over.policy:1:1: cannot read the policy: larger than 1 MiB");
        File.WriteAllText(dir.File("inc.policy"), "default ALLOW\ninclude \"over.policy\"\n");
        AssertOneLineError(CliRunner.Run("compile", dir.File("inc.policy"), "-f", "pfc"), "inc.policy:2:9: cannot include 'over.policy': larger than 1 MiB");
    }

    public static TheoryData<string, string> WrongTypedProfiles => new()
    {
        // Each value of the wrong JSON type is an error at its own position, never an internal error.
        { """{"defaultAction": 5}""", "t.json:1:19: defaultAction: expected a string, found the number 5" },
        { """{"defaultAction": ["SCMP_ACT_ALLOW"]}""", "t.json:1:19: defaultAction: expected a string, found an array" },
        { """{"defaultAction": {"x": 1}}""", "t.json:1:19: defaultAction: expected a string, found an object" },
        { """{"defaultAction": true}""", "t.json:1:19: defaultAction: expected a string, found true" },
        { """{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"name": 7, "action": "SCMP_ACT_ERRNO"}]}""",
          "t.json:1:59: syscalls[0].name: expected a string, found the number 7" },
        { "{\"defaultAction\": \"SCMP_ACT_ALLOW\",\n  \"syscalls\": [{\"names\": [\"read\", null], \"action\": \"SCMP_ACT_ERRNO\"}]}",
          "t.json:2:35: syscalls[0].names[1]: expected a string, found null" },
        { """{"defaultAction": "SCMP_ACT_ALLOW", "architectures": "SCMP_ARCH_X86"}""",
          "t.json:1:54: architectures: expected an array, found the string \"SCMP_ARCH_X86\"" },
        { """{"defaultAction": "SCMP_ACT_ALLOW", "archMap": {"architecture": "SCMP_ARCH_X86_64"}}""",
          "t.json:1:48: archMap: expected an array, found an object" },
        { """{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": "read", "action": "SCMP_ACT_ERRNO"}]}""",
          "t.json:1:60: syscalls[0].names: expected an array, found the string \"read\"" },
        { """{"defaultAction": "SCMP_ACT_ALLOW", "archMap": [{"architecture": 3}]}""",
          "t.json:1:66: archMap[0].architecture: expected a string, found the number 3" },
        { """{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "includes": {"minKernel": 4.8}}]}""",
          "t.json:1:124: syscalls[0].includes.minKernel: expected a string, found the number 4.8" },
        { """{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": 1}]}""",
          "t.json:1:80: syscalls[0].action: expected a string, found the number 1" },
        // Invalid UTF-8: in a value, in a key, on a later line after a character outside the BMP (two columns).
        // (Characters U+0080..U+00FF stand for single bytes: the file is written as Latin-1.)
        { "{\"defaultAction\": \"SCMP_ACT_\u00ff\"}", "t.json:1:29: not valid UTF-8: byte 0xff" },
        { "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"\u00fe\": 1}", "t.json:1:38: not valid UTF-8: byte 0xfe" },
        { "{\"defaultAction\": \"SCMP_ACT_ALLOW\",\n \"syscalls\": [{\"names\": [\"\u00f0\u009f\u0098\u0080\", \"re\u00c3d\"]}]}",
          "t.json:2:35: not valid UTF-8: byte 0xc3" },
    };

    [Theory]
    [MemberData(nameof(WrongTypedProfiles))]
    public void WrongTypedProfileValuesAreBadInputAtFileLineColumn(string json, string expected)
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("t.json"), System.Text.Encoding.Latin1.GetBytes(json));
        var r = CliRunner.Run("compile", dir.File("t.json"), "-f", "pfc");
        AssertOneLineError(r, dir.File(expected));
    }

    /// <summary>An eBPF seccomp program with an array map of <paramref name="entries"/> 64-byte values; it touches one.</summary>
    internal static string ArrayMapProgram(string entries) => $$"""
        #include "common.h"
        struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, {{entries}}); __type(key, __u32); __type(value, char[64]); } huge SEC(".maps");
        SEC("seccomp")
        int touch_one(struct seccomp_data *ctx) { __u32 k = ctx->nr & 7; char *v = bpf_map_lookup_elem(&huge, &k); if (v) v[0]++; return SECCOMP_RET_ALLOW; }
        char LICENSE[] SEC("license") = "GPL";
        """;

    [Fact]
    public void AMapOfFourGibibytesIsRefusedByEveryVerbNamingIt()
    {
        using var dir = new TempDir();
        string obj = Samples.CompileSource(dir, "huge_map", ArrayMapProgram("1 << 26"));
        string expected = $"{obj}: map 'huge' needs 4 GiB: more than the 128 MiB Syscage gives the maps of one object";
        AssertOneLineError(CliRunner.Run("ebpf", "run", obj, "--ctx", "read"), expected);
        AssertOneLineError(CliRunner.Run("ebpf", "split", obj), expected);
        AssertOneLineError(CliRunner.Run("ebpf", "verify", obj), expected);
        AssertOneLineError(CliRunner.Run("compile", obj), expected);
        AssertOneLineError(CliRunner.Run("run", "--ebpf", obj, "--", "/bin/true"), expected);

        // A map of 4 MiB runs, and keeps what the program wrote.
        string small = Samples.CompileSource(dir, "small_map", ArrayMapProgram("1 << 16"));
        var r = CliRunner.Run("ebpf", "run", small, "--ctx", "read", "-n", "3", "--maps");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("#   00000000 = 03000000", r.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void TheRealToolPrintsNoStackTrace()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("b.asm"), "A = sys_number\nif (A == read goto x\n");
        var r = CliRunner.RunProcess("asm", dir.File("b.asm"));
        AssertOneLineError(r, "b.asm:2:15: expected ')', found 'goto'");
    }
}
