using Syscage.Abi;
using Syscage.Testing;

namespace Syscage.Syscalls.Tests;

/// <summary>
/// libseccomp keeps its own syscall tables (syscalls.csv); every name in ours must resolve to the same number there.
/// </summary>
public class LibseccompAgreementTests
{
    public static TheoryData<string, uint> Arches => new()
    {
        { "x86_64", Libseccomp.SCMP_ARCH_X86_64 },
        { "x86", Libseccomp.SCMP_ARCH_X86 },
        { "x32", Libseccomp.SCMP_ARCH_X32 },
        { "aarch64", Libseccomp.SCMP_ARCH_AARCH64 },
        { "riscv64", AuditArch.AUDIT_ARCH_RISCV64 }, // SCMP_ARCH_RISCV64 is the audit value
    };

    [Theory]
    [MemberData(nameof(Arches))]
    public void LibseccompResolvesEveryNameToTheSameNumber(string arch, uint scmpArch)
    {
        SyscallTable table = Architecture.Parse(arch).Syscalls;
        var disagreements = new List<string>();
        foreach (Syscall syscall in table.All)
        {
            int theirs = Libseccomp.Resolve(scmpArch, syscall.Name);
            if (theirs == syscall.Number)
            {
                continue;
            }

            // On x86 libseccomp gives the socket and SysV IPC calls pseudo-syscall numbers (__PNR_socket = -101,
            // ...) and filters them through their multiplexers socketcall(2) and ipc(2), all that kernels before 4.3
            // had; the headers give the direct calls added since. -1 (__NR_SCMP_ERROR) would mean "unknown".
            if (arch == "x86" && theirs <= -100)
            {
                continue;
            }

            disagreements.Add($"{syscall.Name}: ours {syscall.Number}, libseccomp {theirs}");
        }

        Assert.True(disagreements.Count == 0, $"{arch}: {disagreements.Count} disagreement(s):\n  " + string.Join("\n  ", disagreements));
    }
}
