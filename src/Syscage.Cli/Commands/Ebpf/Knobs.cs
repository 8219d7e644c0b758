using Syscage.Ebpf.Elf;

namespace Syscage.Cli.Commands.Ebpf;

/// <summary><c>--set NAME=VALUE</c>: the object's <c>const volatile</c> globals, set before the program is verified.</summary>
internal static class Knobs
{
    /// <summary>Applies each assignment; a malformed one is a usage error.</summary>
    public static void Apply(EbpfObject obj, IEnumerable<string> assignments)
    {
        foreach (var assignment in assignments)
        {
            int eq = assignment.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
                throw new CliException(ExitCode.Usage, $"--set expects NAME=VALUE, not '{assignment}'");
            string text = assignment[(eq + 1)..];
            if (!EmuCommand.TryParseInteger(text, out ulong value))
                throw new CliException(ExitCode.Usage, $"--set: '{text}' is not a number (decimal, 0x hex, or negative)");
            obj.SetGlobal(assignment[..eq], value);
        }
    }
}
