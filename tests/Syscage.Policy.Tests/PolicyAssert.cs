using Syscage.Bpf;
using Syscage.Policy;
using Syscage.Policy.Language;
using Syscage.Abi;

namespace Syscage.Policy.Tests;

/// <summary>Helpers: parse a policy or fail with its error; evaluate a call by syscall name.</summary>
internal static class PolicyAssert
{
    public static SeccompPolicy Parse(string text, string file = "t.policy", PolicyParseOptions? options = null)
    {
        if (!PolicyLanguage.TryParse(text, out var policy, out var error, file, options))
            Assert.Fail($"policy does not parse: {error}\n{text}");
        return policy;
    }

    public static PolicyError Error(string text, string file = "t.policy")
    {
        Assert.False(PolicyLanguage.TryParse(text, out _, out var error, file), $"policy parses but should not:\n{text}");
        return error!;
    }

    public static SeccompData Call(Architecture arch, string syscall, params ulong[] args)
    {
        Assert.True(arch.Syscalls.TryGetNumber(syscall, out int nr), $"{syscall} is not a syscall on {arch.Name}");
        return new SeccompData(nr, arch.AuditArch, 0, args);
    }

    public static SeccompAction Eval(SeccompPolicy policy, Architecture arch, string syscall, params ulong[] args) =>
        policy.Evaluate(Call(arch, syscall, args)).Action;

    public static SeccompAction Eval(SeccompPolicy policy, string syscall, params ulong[] args) =>
        Eval(policy, Architecture.X86_64, syscall, args);
}
