using Syscage.Bpf;
using Syscage.Kernel;
using Syscage.Policy;
using Syscage.Policy.Compiler;
using Syscage.Abi;
using Syscage.Testing;

namespace Syscage.Kernel.Tests;

/// <summary>Runs tests/native/syscall_helper under a policy in a child process and reports what it printed and how it ended.</summary>
internal static class Sandboxed
{
    public const int Unused = 1000;           // no syscall has this number: an allowed call returns ENOSYS
    public const int ENOSYS = 38;

    public static string Helper => NativeBuild.Compile("syscall_helper.c", "the enforcement tests", "-pthread");

    public sealed record Outcome(string Stdout, SandboxExit Exit)
    {
        public override string ToString() => $"{Exit}; stdout: {Stdout}";
    }

    public static Outcome Run(SeccompPolicy policy, params string[] helperArgs) => Run(PolicyCompiler.Compile(policy), helperArgs);

    public static Outcome Run(BpfProgram program, params string[] helperArgs)
    {
        var info = new SandboxedProcessStartInfo(Helper, helperArgs) { RedirectStandardOutput = true };
        using var p = SandboxedProcess.Start(program, info);
        string stdout = p.StandardOutput.ReadToEnd();
        var exit = p.WaitForExit();
        return new Outcome(stdout.Trim(), exit);
    }

    /// <summary>Default ALLOW on the x86 family, with <paramref name="action"/> for syscall <paramref name="nr"/> when <paramref name="condition"/> holds.</summary>
    public static SeccompPolicy PolicyFor(int nr, SeccompAction action, Condition? condition = null, SeccompAction? badArch = null)
    {
        var b = new PolicyBuilder(SeccompAction.Allow, Architecture.X86_64, Architecture.X86, Architecture.X32)
        {
            BadArchAction = badArch ?? SeccompAction.KillProcess,
        };
        b.Add(Architecture.X86_64, nr, new Rule(condition ?? Condition.True, action));
        return b.Build();
    }
}
