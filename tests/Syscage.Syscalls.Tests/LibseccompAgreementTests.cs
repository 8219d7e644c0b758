using Syscage.Abi;
using Syscage.Testing;

namespace Syscage.Syscalls.Tests;

/// <summary>
/// libseccomp keeps its own syscall tables (syscalls.csv); every name in ours that the installed libseccomp (2.5.4,
/// Linux 6.0's calls) knows must resolve to the same number there, on every architecture it knows. It resolves the
/// numbers as a filter compares them, so this also checks the x32 bit and the mips bases Syscage adds to the csv.
/// </summary>
public class LibseccompAgreementTests
{
    /// <summary>
    /// Where the csv and libseccomp 2.5.4 disagree, and why. x32's map_shadow_stack: facts/syscalls.csv (libseccomp's
    /// 7.1 csv) gives x32 453, but arch/x86/entry/syscalls/syscall_64.tbl has "453 64 map_shadow_stack", x86_64 only,
    /// and 2.5.4 marks it not present on x32 (facts/README.md). The tables keep the csv's number: an x32 call to it
    /// reaches sys_ni_syscall, ENOSYS, whatever a filter allows.
    /// </summary>
    private static readonly HashSet<(string Arch, string Name)> KnownDisagreements = [("x32", "map_shadow_stack")];

    public static TheoryData<string> Arches => [.. Architecture.All.Select(a => a.Name).Where(a => !Libseccomp.NewerArchitectures.Contains(a))];

    [Theory]
    [MemberData(nameof(Arches))]
    public void LibseccompResolvesEveryNameToTheSameNumber(string arch)
    {
        Architecture architecture = Architecture.Parse(arch);
        uint token = Libseccomp.ArchToken(arch);
        Assert.NotEqual(0u, token);
        var disagreements = new List<string>();
        int agreed = 0;
        foreach (Syscall syscall in architecture.Syscalls.All)
        {
            int theirs = Libseccomp.Resolve(token, syscall.Name);
            if (theirs == syscall.Number)
            {
                agreed++;
                continue;
            }

            if (KnownDisagreements.Contains((arch, syscall.Name)))
            {
                continue;
            }

            // A call newer than libseccomp 2.5.4: it does not know the name (__NR_SCMP_ERROR).
            if (theirs == Libseccomp.NR_SCMP_ERROR)
            {
                continue;
            }

            // Where socketcall(2) and ipc(2) exist libseccomp gives the socket and SysV IPC calls pseudo-syscall
            // numbers (__PNR_socket = -101, ...) and filters them through the multiplexers as well as directly.
            if (theirs <= -100 && (architecture.SocketcallNumber is not null || architecture.IpcNumber is not null))
            {
                continue;
            }

            disagreements.Add($"{syscall.Name}: ours {syscall.Number}, libseccomp {theirs}");
        }

        Assert.True(disagreements.Count == 0, $"{arch}: {disagreements.Count} disagreement(s):\n  " + string.Join("\n  ", disagreements));
        Assert.True(agreed * 10 >= architecture.Syscalls.Count * 8, $"{arch}: libseccomp agreed on only {agreed} of {architecture.Syscalls.Count}");
    }
}
