using Syscage.Cli;
using Syscage.Cli.Commands.Ebpf;

namespace Syscage.EbpfLoader.Tests;

public class VerifyCommandTests
{
    private static (int Code, string Out, string Err) Cli(params string[] args)
    {
        var o = new StringWriter { NewLine = "\n" };
        var e = new StringWriter { NewLine = "\n" };
        int code = CliApp.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    private static string WriteObject(string name, byte[] bytes)
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("syscage-cli-").FullName, name + ".o");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public void Verifies_every_program_and_lists_maps()
    {
        var path = WriteObject("syscall_count", Clang.Sample("syscall_count"));
        var (code, stdout, stderr) = Cli("ebpf", "verify", path);
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("map 0 counts: Hash, key 4, value 8, max_entries 1024", stdout);
        Assert.Contains("program count_syscalls (seccomp): ok", stdout);
    }

    [Fact]
    public void Rejected_program_exits_1_with_the_reason_and_pc()
    {
        var path = WriteObject("bad", Clang.Compile("""
            #include "common.h"
            SEC("seccomp") int prog(struct seccomp_data *ctx) { ctx->nr = 1; return SECCOMP_RET_ALLOW; }
            char LICENSE[] SEC("license") = "GPL";
            """));
        var o = new StringWriter();
        int code = VerifyCommand.Run(o, new StringWriter(), path);
        Assert.Equal((int)ExitCode.Rejected, code);
        Assert.Matches(@"program prog \(seccomp\): rejected: \S+\.c:2:\d+: write into the context \(struct seccomp_data is read-only\) at pc \d+: st", o.ToString());
    }

    [Fact]
    public void Set_configures_knobs_and_malformed_input_is_exit_3()
    {
        var path = WriteObject("fault_inject", Clang.Sample("fault_inject"));
        Assert.Equal(0, Cli("ebpf", "verify", path, "--set", "nth=7", "--set", "one_in=0x10").Code);
        var bad = Cli("ebpf", "verify", path, "--set", "nth");
        Assert.Equal((int)ExitCode.Usage, bad.Code);
        var unknown = Cli("ebpf", "verify", path, "--set", "nht=1");
        Assert.Equal((int)ExitCode.BadInput, unknown.Code);
        Assert.Contains("did you mean 'nth'", unknown.Err);
        string junk = WriteObject("junk", [1, 2, 3]);
        var notElf = Cli("ebpf", "verify", junk);
        Assert.Equal((int)ExitCode.BadInput, notElf.Code);
        Assert.Equal($"syscage: {junk}: not an ELF file (bad magic)\n", notElf.Err);
    }
}
