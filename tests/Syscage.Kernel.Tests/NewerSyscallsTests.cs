using System.Globalization;
using System.Text.Json.Nodes;
using Syscage.Abi;
using Syscage.Policy;
using Syscage.Policy.Builtin;
using Syscage.Policy.Oci;
using Syscage.Testing;
using static Syscage.Kernel.Tests.Sandboxed;

namespace Syscage.Kernel.Tests;

/// <summary>
/// Syscalls newer than the policy (<see cref="SeccompPolicy.Newer"/>), in the kernel: a child makes the call under the
/// compiled filter. A number no syscall has gets ENOSYS from the kernel too when a filter lets it through, so every case
/// is one where the filter's ENOSYS can be told apart: a default action of EPERM or KILL_PROCESS, which the call would
/// get without the rule. The x32 ABI is off on this kernel (its calls get ENOSYS from the kernel), but the filter sees
/// them first, with <c>AUDIT_ARCH_X86_64</c> and the x32 bit; an x32 call the profile refuses shows EPERM, not ENOSYS.
/// </summary>
public sealed class NewerSyscallsTests
{
    private static readonly string DockerDefault = Path.Combine(NativeProbe.RepositoryRoot, "samples", "profiles", "docker-default.json");
    private static readonly OciOptions Host = new() { NativeArchitecture = Architecture.X86_64, KernelVersion = "6.1.0" };
    private const string Enosys = "ret -1 errno 38", Eperm = "ret -1 errno 1";

    private static string Nr(Architecture arch, string name) =>
        arch.Syscalls.TryGetNumber(name, out int nr) ? nr.ToString(CultureInfo.InvariantCulture) : throw new ArgumentException(name);

    private static string Hex(uint n) => string.Create(CultureInfo.InvariantCulture, $"0x{n:x}");

    private static OciProfile Docker(Action<JsonObject>? edit = null)
    {
        var json = JsonNode.Parse(File.ReadAllText(DockerDefault))!.AsObject();
        edit?.Invoke(json);
        return OciProfileLoader.Parse(json.ToJsonString(), Host with { FileName = "docker-default.json" });
    }

    [Fact]
    public void DockersProfileSaysThatNumbersPastTheNewestSyscallItNamesDoNotExist()
    {
        var profile = Docker();
        uint newest = profile.Policy.Newer!.NewestOn(Architecture.X86_64)!.Value, newestX32 = profile.Policy.Newer.NewestOn(Architecture.X32)!.Value;
        // Without the rule these would be EPERM, the profile's default.
        Assert.Equal(Enosys, Run(profile.Policy, "call", "1000").Stdout);
        Assert.Equal(Enosys, Run(profile.Policy, "call", Hex(newest + 1)).Stdout);
        Assert.Equal(Enosys, Run(profile.Policy, "call", "0x3fffffff").Stdout);
        Assert.Equal(Enosys, Run(profile.Policy, "call", "0x80000000").Stdout);
        Assert.Equal(Enosys, Run(profile.Policy, "call", Hex(newestX32 + 1)).Stdout);
        Assert.Equal(Enosys, Run(profile.Policy, "call", Hex(Architecture.X32.SyscallNumberBit + 1000)).Stdout);
        // A syscall the profile knows and refuses is still refused: x86_64's and x32's kexec_load (the kernel would say ENOSYS to x32's).
        Assert.Equal(Eperm, Run(profile.Policy, "call", Nr(Architecture.X86_64, "kexec_load")).Stdout);
        Assert.Equal(Eperm, Run(profile.Policy, "call", Nr(Architecture.X32, "kexec_load")).Stdout);
    }

    [Fact]
    public void WithAKillingDefaultTheRuleIsAllThatKeepsANewSyscallFromKillingTheProgram()
    {
        var profile = Docker(json => json["defaultAction"] = "SCMP_ACT_KILL_PROCESS");
        Assert.Equal(SeccompAction.KillProcess, profile.Policy.DefaultAction);
        Assert.Equal(Enosys, Run(profile.Policy, "call", "1000").Stdout);
        Assert.Equal(Enosys, Run(profile.Policy, "call", Hex(Architecture.X32.SyscallNumberBit + 1000)).Stdout);
        // -1 has the x32 bit but is x86_64's (the x32 rule); past x86_64's newest, so ENOSYS (runc: x32's newest, the same here).
        Assert.Equal(Enosys, Run(profile.Policy, "call", "-1").Stdout);
        // Known and refused: the default action.
        Assert.True(Run(profile.Policy, "call", Nr(Architecture.X86_64, "kexec_load")).Exit.KilledBySigsys);
        Assert.True(Run(profile.Policy, "call", Nr(Architecture.X32, "kexec_load")).Exit.KilledBySigsys);
    }

    [Fact]
    public void AnArchitectureTheProfileDoesNotCoverKeepsTheBadArchAction()
    {
        // x86_64 alone: x32 calls, whatever their number, are another architecture's (KILL_THREAD kills this one-thread process).
        var profile = Docker(json =>
        {
            json.Remove("archMap");
            json["architectures"] = new JsonArray("SCMP_ARCH_X86_64");
            json["defaultAction"] = "SCMP_ACT_KILL_PROCESS";
        });
        Assert.Null(profile.Policy.Newer!.NewestOn(Architecture.X32));
        Assert.True(Run(profile.Policy, "call", Hex(Architecture.X32.SyscallNumberBit + 1000)).Exit.KilledBySigsys);
        Assert.Equal(Enosys, Run(profile.Policy, "call", "1000").Stdout);
    }

    [Fact]
    public void TheDefaultPolicySaysThatSyscallsNewerThanTheTablesDoNotExist()
    {
        var policy = BuiltinPolicies.Load("default");
        uint newest = (uint)Architecture.X86_64.Syscalls.Newest!.Number;
        Assert.Equal(newest, policy.Newer!.NewestOn(Architecture.X86_64));
        // Refused by the default (EPERM) when known, ENOSYS when newer than the tables.
        Assert.Equal(Eperm, Run(policy, "call", Nr(Architecture.X86_64, "kexec_load")).Stdout);
        Assert.Equal(Enosys, Run(policy, "call", Hex(newest + 1)).Stdout);
        Assert.Equal(Enosys, Run(policy, "call", "1000").Stdout);
        Assert.Equal(Eperm, Run(policy, "call", Nr(Architecture.X32, "kexec_load")).Stdout);
        Assert.Equal(Enosys, Run(policy, "call", Hex(Architecture.X32.SyscallNumberBit + 1000)).Stdout);
        // clone3 is refused with ENOSYS by its own rule, as before.
        Assert.Equal(Enosys, Run(policy, "call", Nr(Architecture.X86_64, "clone3")).Stdout);
    }
}
