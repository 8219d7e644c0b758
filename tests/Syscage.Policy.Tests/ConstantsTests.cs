using System.Diagnostics;
using Syscage.Generator;
using Syscage.Policy.Language;
using Syscage.Abi;

namespace Syscage.Policy.Tests;

/// <summary>
/// The committed Constants.g.cs must be what the generator makes from the headers on this machine (STYLE.md:
/// "a test regenerates and fails on a diff"), and its values must be what the C compiler sees.
/// </summary>
public class ConstantsTests
{
    [Fact]
    public void CommittedConstantsMatchTheHeadersOnThisMachine()
    {
        string expected;
        try
        {
            expected = new ConstantsTableGenerator(newerFactsFile: Path.Combine(RepositoryRoot(), ConstantsTableGenerator.NewerFactsRelativePath)).Generate();
        }
        catch (MissingSourceException e)
        {
            Assert.Fail($"cannot check the constants table: {e.Message}");
            throw;
        }
        string path = Path.Combine(RepositoryRoot(), ConstantsTableGenerator.OutputRelativePath);
        Assert.True(File.Exists(path), $"{path} is missing; generate it with: {SyscallTableGenerator.RegenerateCommand}");
        string[] committed = File.ReadAllText(path).Split('\n');
        string[] generated = expected.Split('\n');
        for (int i = 0; i < Math.Max(committed.Length, generated.Length); i++)
        {
            string? a = i < committed.Length ? committed[i] : null, b = i < generated.Length ? generated[i] : null;
            if (a != b)
                Assert.Fail($"{ConstantsTableGenerator.OutputRelativePath}:{i + 1}: committed '{a}' but the headers give '{b}'; regenerate with: {SyscallTableGenerator.RegenerateCommand}");
        }
    }

    [Theory]
    [InlineData("O_ACCMODE", 3UL)]
    [InlineData("O_RDONLY", 0UL)]
    [InlineData("O_WRONLY", 1UL)]
    [InlineData("O_CLOEXEC", 0x80000UL)]
    [InlineData("AT_FDCWD", 0xffff_ffff_ffff_ff9cUL)]
    [InlineData("AF_UNIX", 1UL)]
    [InlineData("AF_INET6", 10UL)]
    [InlineData("SOCK_STREAM", 1UL)]
    [InlineData("SOCK_CLOEXEC", 0x80000UL)]
    [InlineData("CLONE_NEWUSER", 0x10000000UL)]
    [InlineData("TCGETS", 0x5401UL)]
    [InlineData("PR_SET_NO_NEW_PRIVS", 38UL)]
    [InlineData("IPPROTO_TCP", 6UL)]
    [InlineData("PER_LINUX32", 8UL)]
    [InlineData("ADDR_NO_RANDOMIZE", 0x40000UL)]
    [InlineData("S_IFREG", 0x8000UL)]
    [InlineData("FUTEX_WAIT_PRIVATE", 0x80UL)]
    [InlineData("SECCOMP_RET_ALLOW", 0x7fff0000UL)]
    [InlineData("MAP_32BIT", 0x40UL)]
    [InlineData("F_DUPFD_CLOEXEC", 1030UL)]
    public void KnownValues(string name, ulong value)
    {
        Assert.Equal(value, KernelConstants.Value(name));
        Assert.NotNull(KernelConstants.HeaderOf(name));
    }

    [Fact]
    public void SuggestionsAndMisses()
    {
        Assert.Null(KernelConstants.Value("O_RDONY"));
        Assert.Equal("O_RDONLY", KernelConstants.SuggestNames("O_RDONY")[0]);
        Assert.True(KernelConstants.Count > 500);
    }

    /// <summary>The C compiler, including the same headers, agrees on every constant it can print.</summary>
    [Fact]
    public void TheCCompilerAgrees()
    {
        string? cc = new[] { "/usr/bin/cc", "/usr/bin/gcc", "/usr/bin/clang" }.FirstOrDefault(File.Exists);
        Assert.True(cc is not null, "no C compiler: install Debian's gcc to cross-check the constants");
        var constants = new ConstantsTableGenerator().Read();
        string dir = Directory.CreateTempSubdirectory("syscage-constants-").FullName;
        try
        {
            // glibc's sys/socket.h, sys/mman.h ... with the uapi headers they do not pull in themselves.
            var source = new System.Text.StringBuilder();
            source.Append("#define _GNU_SOURCE\n#include <stdio.h>\n#include <fcntl.h>\n#include <sys/socket.h>\n#include <sys/mman.h>\n");
            source.Append("#include <sys/personality.h>\n#include <signal.h>\n#include <sys/wait.h>\n#include <netinet/in.h>\n");
            foreach (string h in new[] { "linux/sched.h", "linux/prctl.h", "linux/seccomp.h", "linux/futex.h", "asm-generic/ioctls.h", "linux/reboot.h", "linux/capability.h" })
                source.Append("#include <").Append(h).Append(">\n");
            source.Append("int main(void) {\n");
            var checkedNames = new[] { "O_ACCMODE", "O_TMPFILE", "O_DIRECT", "O_NONBLOCK", "AT_FDCWD", "AT_EMPTY_PATH", "AF_UNIX", "AF_NETLINK", "AF_VSOCK",
                "SOCK_STREAM", "SOCK_NONBLOCK", "SOL_SOCKET", "SO_REUSEADDR", "MSG_PEEK", "MSG_CMSG_CLOEXEC", "PROT_EXEC", "MAP_ANONYMOUS",
                "MAP_FIXED_NOREPLACE", "MAP_32BIT", "CLONE_NEWUSER", "CLONE_NEWCGROUP", "CLONE_PIDFD", "PR_SET_NO_NEW_PRIVS", "PR_CAPBSET_DROP",
                "SECCOMP_SET_MODE_FILTER", "SECCOMP_RET_USER_NOTIF", "FUTEX_WAKE_PRIVATE", "TCGETS", "TIOCSTI", "TIOCLINUX", "FIONREAD",
                "PER_LINUX32", "UNAME26", "ADDR_NO_RANDOMIZE", "SIGKILL", "SIGSYS", "WNOHANG", "IPPROTO_UDP", "IPPROTO_MPTCP",
                "LINUX_REBOOT_CMD_RESTART", "CAP_SYS_ADMIN", "F_GETFL", "F_OFD_SETLK" };
            foreach (string name in checkedNames)
                source.Append("  printf(\"").Append(name).Append(" %llx\\n\", (unsigned long long)(long long)(").Append(name).Append("));\n");
            source.Append("  return 0;\n}\n");
            File.WriteAllText(Path.Combine(dir, "c.c"), source.ToString());
            Run(cc!, dir, "-o", "c", "c.c");
            string output = Run(Path.Combine(dir, "c"), dir);
            var byName = constants.ToDictionary(c => c.Name, c => c.Value);
            foreach (string line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                string[] parts = line.Split(' ');
                Assert.True(byName.TryGetValue(parts[0], out ulong ours), $"{parts[0]} is not in the generated table");
                Assert.True(Convert.ToUInt64(parts[1], 16) == ours, $"{parts[0]}: the C compiler says 0x{parts[1]}, the table 0x{ours:x}");
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static string Run(string program, string dir, params string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = dir };
        foreach (string a in args)
            start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        string stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{program} {string.Join(' ', args)} exited {p.ExitCode}: {stderr}");
        return stdout.Result;
    }

    /// <summary>The repository root, as the shared test library finds it.</summary>
    internal static string RepositoryRoot() => Syscage.Testing.NativeProbe.RepositoryRoot;
}

public class ConstantExpressionTests
{
    [Theory]
    [InlineData("O_WRONLY|O_CREAT", 0x41UL)]
    [InlineData("O_WRONLY | O_CREAT | O_TRUNC", 0x241UL)]
    [InlineData("-100", 0xffff_ffff_ffff_ff9cUL)]
    [InlineData("AT_FDCWD", 0xffff_ffff_ffff_ff9cUL)]
    [InlineData("~0", ulong.MaxValue)]
    [InlineData("1 << 4 | 1", 17UL)]
    [InlineData("0x10 + 010 - 0b1", 23UL)]
    [InlineData("18446744073709551615", ulong.MaxValue)]
    public void Evaluate(string expression, ulong value)
    {
        Assert.True(PolicyLanguage.TryEvaluateConstant(expression, out ulong v, out string? error), error);
        Assert.Equal(value, v);
    }

    [Theory]
    [InlineData("O_RDONY", "1:1: unknown constant 'O_RDONY'; did you mean 'O_RDONLY'?")]
    [InlineData("1 2", "1:3: unexpected '2' after the constant")]
    [InlineData("", "1:1: expected a constant (a number or a name such as O_RDONLY) but found end of file")]
    [InlineData("18446744073709551616", "1:1: bad number '18446744073709551616': write decimal, 0x hexadecimal or 0 octal, at most 64 bits")]
    [InlineData("O_RDONY | 1 <<", "1:1: unknown constant 'O_RDONY'; did you mean 'O_RDONLY'?")]
    public void Errors(string expression, string message)
    {
        Assert.False(PolicyLanguage.TryEvaluateConstant(expression, out _, out string? error));
        Assert.Equal(message, error);
    }
}
