using System.CommandLine;
using Syscage.Cli.Commands.Ebpf;

namespace Syscage.Cli.Commands;

/// <summary><c>syscage ebpf ...</c>: eBPF seccomp programs.</summary>
public static class EbpfCommand
{
    /// <summary>The parent command with its verbs.</summary>
    public static Command Create() => new("ebpf", "eBPF seccomp programs: load and verify clang -target bpf objects")
    {
        VerifyCommand.Create(),
    };
}
