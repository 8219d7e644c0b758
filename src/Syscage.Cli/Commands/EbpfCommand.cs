using System.CommandLine;
using Syscage.Cli.Commands.Ebpf;

namespace Syscage.Cli.Commands;

/// <summary><c>syscage ebpf ...</c>: the eBPF verbs, one file each under <c>Commands/Ebpf/</c>.</summary>
public static class EbpfCommand
{
    /// <summary>The parent command and its subcommands.</summary>
    public static Command Create() => new("ebpf", "eBPF seccomp programs: assemble, disassemble, load and verify clang objects, run the conformance suite")
    {
        VerifyCommand.Create(),
        EbpfAsmCommand.Create(),
        EbpfDisasmCommand.Create(),
        EbpfConformancePluginCommand.Create(),
        EbpfRunCommand.Create(),
        EbpfSplitCommand.Create(),
    };
}
