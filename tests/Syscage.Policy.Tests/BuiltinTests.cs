using System.Diagnostics;
using Syscage.Bpf;
using Syscage.Policy.Language;
using Syscage.Abi;
using static Syscage.Policy.Tests.PolicyAssert;
using Syscage.Policy.Builtin;

namespace Syscage.Policy.Tests;

public class BuiltinTests
{
    private static readonly SeccompPolicy Default = BuiltinPolicies.Load("default");

    [Fact]
    public void EveryBuiltinLoads()
    {
        Assert.Contains("default", BuiltinPolicies.Names);
        foreach (string name in BuiltinPolicies.Names)
        {
            var p = BuiltinPolicies.Load(name);
            Assert.Equal(name + ".policy", p.Name);
            Assert.NotEmpty(p.Sections[0].Syscalls);
        }
        Assert.Throws<ArgumentException>(() => BuiltinPolicies.Load("nope"));
    }

    [Fact]
    public void GroupsAreDefinedAndExpand()
    {
        foreach (string g in new[] { "@basic-io", "@file-system", "@network", "@process", "@privileged", "@signal", "@memory", "@time",
                     "@ipc", "@module", "@mount", "@reboot", "@swap", "@raw-io", "@debug", "@keyring", "@obsolete", "@system-service" })
            Assert.Contains(g, SyscallGroups.Names);
        Assert.Contains("openat", SyscallGroups.Members("@file-system"));
        Assert.Contains("kexec_load", SyscallGroups.Members("reboot"));
        // Nested groups are expanded.
        Assert.Contains("kexec_load", SyscallGroups.Members("@privileged"));
        Assert.Contains("exit_group", SyscallGroups.Members("@process"));
        Assert.Contains("did you mean '@network'?", Assert.Throws<ArgumentException>(() => SyscallGroups.Members("@netwrok")).Message);
        Assert.Contains("group @basic-io", SyscallGroups.Source);
        foreach (string g in SyscallGroups.Names)
            Assert.False(string.IsNullOrWhiteSpace(SyscallGroups.Description(g)), $"{g} has no '# {g}: ...' comment in groups.policy");
        Assert.Equal("the kernel key store.", SyscallGroups.Description("keyring"));
        Assert.StartsWith("calls that need a capability a container does not get (CAP_SYS_ADMIN, CAP_SYS_MODULE, CAP_SYS_BOOT,", SyscallGroups.Description("@privileged"));
        Assert.Null(SyscallGroups.Description("@nope"));
    }

    [Fact]
    public void DangerousGroupsDoNotOverlapTheServiceSet()
    {
        var service = SyscallGroups.Members("@system-service").ToHashSet();
        foreach (string g in new[] { "@privileged", "@debug", "@obsolete", "@namespace" })
        {
            var both = SyscallGroups.Members(g).Where(service.Contains).ToList();
            Assert.True(both.Count == 0, $"{g} and @system-service share {string.Join(", ", both)}");
        }
    }

    [Theory]
    [InlineData("ptrace")]
    [InlineData("mount")]
    [InlineData("umount2")]
    [InlineData("kexec_load")]
    [InlineData("kexec_file_load")]
    [InlineData("bpf")]
    [InlineData("init_module")]
    [InlineData("finit_module")]
    [InlineData("reboot")]
    [InlineData("swapon")]
    [InlineData("unshare")]
    [InlineData("setns")]
    [InlineData("keyctl")]
    [InlineData("add_key")]
    [InlineData("perf_event_open")]
    [InlineData("process_vm_readv")]
    [InlineData("open_by_handle_at")]
    [InlineData("userfaultfd")]
    [InlineData("io_uring_setup")]
    [InlineData("pivot_root")]
    [InlineData("clock_settime")]
    [InlineData("iopl")]
    public void TheDefaultPolicyRefusesDangerousCalls(string syscall)
    {
        foreach (var section in Default.Sections)
        {
            if (section.Architecture.Syscalls.TryGetNumber(syscall, out int nr))
                Assert.Equal(SeccompAction.Errno(1), Default.Evaluate(new SeccompData(nr, section.Architecture.AuditArch)).Action);
        }
    }

    [Fact]
    public void TheDefaultPolicyChecksArguments()
    {
        Assert.Equal(SeccompAction.Allow, Eval(Default, "clone", 0x01200011)); // fork(): CLONE_CHILD_SETTID|CLONE_CHILD_CLEARTID|SIGCHLD
        Assert.Equal(SeccompAction.Allow, Eval(Default, "clone", 0x003d0f00)); // pthread_create
        Assert.Equal(SeccompAction.Errno(1), Eval(Default, "clone", 0x10000011)); // CLONE_NEWUSER
        Assert.Equal(SeccompAction.Errno(1), Eval(Default, Architecture.X86, "clone", 0x40000011)); // CLONE_NEWNET
        Assert.Equal(SeccompAction.Errno(38), Eval(Default, "clone3"));
        Assert.Equal(SeccompAction.Allow, Eval(Default, "ioctl", 0, 0x5401)); // TCGETS
        Assert.Equal(SeccompAction.Errno(1), Eval(Default, "ioctl", 0, 0x5412)); // TIOCSTI
        Assert.Equal(SeccompAction.Errno(1), Eval(Default, "ioctl", 0, 0xffff_ffff_0000_5412)); // high bits the kernel ignores
        Assert.Equal(SeccompAction.Allow, Eval(Default, "socket", 1, 1));
        Assert.Equal(SeccompAction.Errno(97), Eval(Default, "socket", 40, 1)); // AF_VSOCK: EAFNOSUPPORT
        Assert.Equal(SeccompAction.Allow, Eval(Default, "personality", 0xffffffff));
        Assert.Equal(SeccompAction.Allow, Eval(Default, "personality", 8));
        Assert.Equal(SeccompAction.Errno(1), Eval(Default, "personality", 0x40000)); // ADDR_NO_RANDOMIZE
        Assert.Equal(SeccompAction.Allow, Eval(Default, Architecture.X86, "socketcall"));
        Assert.Equal(SeccompAction.KillProcess, Default.Evaluate(new SeccompData(0, Architecture.Aarch64.AuditArch)).Action);
    }

    [Theory]
    [InlineData("ls -la /")]
    [InlineData("bash -c 'echo hi | cat > /dev/null; ls /tmp > /dev/null'")]
    [InlineData("python3 -c 'import os, socket, subprocess, threading; socket.socketpair(); subprocess.run([\"true\"]); t = threading.Thread(target=print); t.start(); t.join()'")]
    [InlineData("dotnet --info")]
    public void TheDefaultPolicyAllowsWhatOrdinaryProgramsCall(string command)
    {
        var used = StraceSyscalls(command);
        if (used is null)
            return; // strace cannot trace here (no ptrace permission): nothing to compare.
        var refused = used.Where(s => Architecture.X86_64.Syscalls.TryGetNumber(s, out _)
                && Eval(Default, s).Kind != SeccompActionKind.Allow
                && s != "clone3") // refused with ENOSYS on purpose: the C library falls back to clone
            .ToList();
        Assert.True(refused.Count == 0, $"the default policy refuses what '{command}' calls: {string.Join(", ", refused)}");
    }

    private static HashSet<string>? StraceSyscalls(string command)
    {
        if (!File.Exists("/usr/bin/strace") || Architecture.Native != Architecture.X86_64)
            return null;
        string output = Path.GetTempFileName();
        try
        {
            var start = new ProcessStartInfo("/usr/bin/strace") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (string a in new[] { "-f", "-qq", "-o", output, "-e", "trace=all", "sh", "-c", command })
                start.ArgumentList.Add(a);
            using var p = Process.Start(start)!;
            p.StandardOutput.ReadToEnd();
            string err = p.StandardError.ReadToEnd();
            p.WaitForExit();
            if (err.Contains("ptrace", StringComparison.Ordinal) && err.Contains("Operation not permitted", StringComparison.Ordinal))
                return null;
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (string line in File.ReadLines(output))
            {
                // "1234  openat(AT_FDCWD, ...) = 3" or "1234  <... read resumed>..."
                string rest = line.TrimStart();
                int space = rest.IndexOf(' ');
                rest = space > 0 && char.IsAsciiDigit(rest[0]) ? rest[(space + 1)..].TrimStart() : rest;
                int paren = rest.IndexOf('(');
                if (paren > 0 && rest[..paren].All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
                    names.Add(rest[..paren]);
            }
            Assert.True(names.Count > 10, $"strace saw almost nothing for '{command}': {err}");
            return names;
        }
        finally
        {
            File.Delete(output);
        }
    }
}

public class DocumentationTests
{
    [Fact]
    public void EveryGroupIsDocumented()
    {
        string doc = File.ReadAllText(Path.Combine(ConstantsTests.RepositoryRoot(), "docs", "policy-language.md"));
        foreach (string g in SyscallGroups.Names)
            Assert.True(doc.Contains($"| `{g}` |", StringComparison.Ordinal), $"docs/policy-language.md has no row for {g}");
    }
}
