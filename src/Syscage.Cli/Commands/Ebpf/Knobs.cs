using Syscage.Ebpf.Elf;

namespace Syscage.Cli.Commands.Ebpf;

/// <summary><c>--set NAME=VALUE</c>: the object's <c>const volatile</c> globals, set before the program is verified.</summary>
internal static class Knobs
{
    /// <summary>
    /// Parses the assignments: VALUE is a number (decimal, 0x hex, negative) or a syscall name of the native
    /// architecture; a name given twice keeps its last value. A malformed one is a usage error.
    /// </summary>
    public static List<KeyValuePair<string, ulong>> Parse(IEnumerable<string> assignments)
    {
        var knobs = new List<KeyValuePair<string, ulong>>();
        foreach (var assignment in assignments)
        {
            int eq = assignment.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
                throw new CliException(ExitCode.Usage, $"--set expects NAME=VALUE, not '{assignment}'");
            string name = assignment[..eq], text = assignment[(eq + 1)..];
            ulong value;
            if (CallInputs.TryParseInteger(text, out ulong number))
                value = number;
            else if (Abi.Architecture.Native.Syscalls.TryGetNumber(text, out int nr))
                value = (ulong)nr;
            else
                throw new CliException(ExitCode.Usage, $"--set {name}: '{text}' is neither a number nor a syscall name of {Abi.Architecture.Native.Name}");
            knobs.RemoveAll(k => k.Key == name);
            knobs.Add(new(name, value));
        }
        return knobs;
    }

    /// <summary>Applies each assignment to <paramref name="obj"/>.</summary>
    public static void Apply(EbpfObject obj, IEnumerable<string> assignments)
    {
        foreach (var (name, value) in Parse(assignments))
            obj.SetGlobal(name, value);
    }
}
