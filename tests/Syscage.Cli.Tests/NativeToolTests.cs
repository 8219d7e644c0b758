using System.Runtime.CompilerServices;
using Syscage.Policy.Builtin;
using Syscage.Policy.Compiler;

namespace Syscage.Cli.Tests;

/// <summary>
/// What the NativeAOT build changes: the eBPF engine it runs, the built-in policies compiled when the tool is built,
/// the launcher it carries inside, the parse of one verb at a time.
/// </summary>
public sealed class NativeToolTests
{
    [Fact]
    public void Doctor_names_the_eBPF_engine_each_runtime_runs()
    {
        // This test runs on the JIT runtime; the published tool cannot compile code at run time.
        Assert.True(RuntimeFeature.IsDynamicCodeSupported);
        var here = CliRunner.Run("doctor");
        Assert.Contains("ebpf engine      JIT", here.Stdout, StringComparison.Ordinal);
        var native = CliRunner.RunProcess("doctor");
        Assert.True(native.ExitCode == 0, native.ToString());
        Assert.Contains("ebpf engine      interpreter", native.Stdout, StringComparison.Ordinal);
        Assert.Contains("(the copy built into syscage, in a sealed memfd)", native.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void The_native_tool_refuses_jit_with_a_usage_error_and_interprets_by_default()
    {
        using var dir = new TempDir();
        string obj = Samples.Compile(dir, "fault_inject");
        string[] call = ["ebpf", "run", obj, "--ctx", "openat", "--set", "nth=2", "--set", "error=13", "-n", "3"];
        var jit = CliRunner.RunProcess([.. call, "--jit"]);
        Assert.Equal((int)ExitCode.Usage, jit.ExitCode);
        Assert.Contains("--jit: this syscage is a native (NativeAOT) build", jit.Stderr, StringComparison.Ordinal);
        // The native tool's interpreter and this runtime's JIT give the same verdicts, run by run.
        var native = CliRunner.RunProcess(call);
        Assert.True(native.ExitCode == 0, native.ToString());
        var here = CliRunner.Run([.. call, "--jit"]);
        Assert.True(here.ExitCode == 0, here.ToString());
        Assert.Equal(here.Stdout, native.Stdout);
        Assert.Contains("ERRNO(13)", native.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Each_cached_builtin_program_is_what_the_compiler_makes_of_the_policy_now()
    {
        // The cache is made by the build from the same .policy text; were it stale, run would enforce an old policy.
        int cached = 0;
        foreach (string name in BuiltinPolicies.Names)
        {
            if (!BuiltinPrograms.TryGet(name, out var program))
                continue;
            cached++;
            Assert.Equal(PolicyCompiler.Compile(PolicyLoader.Load(name)).ToBytes(), program.ToBytes());
        }
        Assert.True(BuiltinPrograms.TryGet("default", out _), "the default policy is not in the build's cache");
        Assert.True(cached >= 1);
        // A key is a whole first field: no prefix, no other field, nothing across a tab or a line.
        foreach (string notAName in (string[])["defaul", "default\t", "x86_64,x86,x32", "guards", "\ndefault", "default\tx86_64,x86,x32"])
            Assert.False(BuiltinPrograms.TryGet(notAName, out _), notAName);
    }

    [Fact]
    public void The_guards_compiled_with_the_build_are_taken_by_the_library()
    {
        // Taken only when made by this build of the library (SupervisorGuard.Import checks its identity and every program).
        Assert.True(BuiltinPrograms.UseCompiledGuards());
    }

    [Fact]
    public void A_verb_parses_alone_and_the_root_still_lists_every_verb()
    {
        var all = CliApp.BuildRootCommand();
        var one = CliApp.BuildRootCommand("run");
        Assert.Equal(16, all.Subcommands.Count);
        Assert.Equal("run", Assert.Single(one.Subcommands).Name);
        Assert.Equal(16, CliApp.BuildRootCommand("no-such-verb").Subcommands.Count);
        var help = CliRunner.RunProcess("--help");
        foreach (string verb in new[] { "asm", "disasm", "emu", "check", "syscalls", "groups", "lint", "dump", "compile", "explain", "run", "record", "agent", "maps", "doctor", "ebpf" })
            Assert.Contains($"  {verb} ", help.Stdout, StringComparison.Ordinal);
        var typo = CliRunner.RunProcess("rnu", "--", "/bin/true");
        Assert.Equal((int)ExitCode.Usage, typo.ExitCode);
    }
}
