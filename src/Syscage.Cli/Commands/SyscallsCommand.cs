using System.CommandLine;
using System.Globalization;
using Syscage.Abi;

namespace Syscage.Cli.Commands;

/// <summary><c>syscage syscalls [--arch A] [NAME|NR]</c>: the syscall tables.</summary>
public static class SyscallsCommand
{
    /// <summary>The command definition; it only unpacks the parse result.</summary>
    public static Command Create()
    {
        var query = new Argument<string?>("NAME|NR") { Description = "A syscall name (shown on every architecture) or number (on --arch)", Arity = ArgumentArity.ZeroOrOne };
        var arch = new Option<string?>("--arch") { Description = "Architecture (default: native; with a NAME: all)" };
        var cmd = new Command("syscalls", "List syscall names, numbers and argument names per architecture") { query, arch };
        cmd.SetAction(p => CliApp.Guard(p, (o, e) => Run(o, e, p.GetValue(query), p.GetValue(arch))));
        return cmd;
    }

    /// <summary>Prints the table, or the entries for one syscall.</summary>
    public static int Run(TextWriter stdout, TextWriter stderr, string? query, string? arch)
    {
        if (query is null)
        {
            var a = ProgramFiles.ParseArch(arch);
            stdout.WriteLine($"# {a.Name} ({a.AuditArchName} 0x{a.AuditArch:x8}): {a.Syscalls.All.Count} syscalls");
            foreach (var s in a.Syscalls.All)
                stdout.WriteLine(Line(a, s));
            return (int)ExitCode.Ok;
        }
        if (CallInputs.TryParseInteger(query, out ulong number))
        {
            var a = ProgramFiles.ParseArch(arch);
            if (number > int.MaxValue || !a.Syscalls.TryGetName((int)number, out var name))
                throw new CliException(ExitCode.BadInput, $"no syscall {query} on {a.Name}");
            stdout.WriteLine(Line(a, a.Syscalls.TryGet(name, out var s) ? s : throw new InvalidOperationException(name)));
            return (int)ExitCode.Ok;
        }
        var arches = arch is null ? Architecture.All : [ProgramFiles.ParseArch(arch)];
        bool found = false;
        foreach (var a in arches)
        {
            if (a.Syscalls.TryGet(query, out var s))
            {
                stdout.WriteLine(Line(a, s));
                found = true;
            }
            else if (arch is not null)
                stdout.WriteLine($"{a.Name,-8} -");
        }
        if (!found)
        {
            var hint = arches.SelectMany(a => a.Syscalls.SuggestNames(query, 1)).FirstOrDefault();
            throw new CliException(ExitCode.BadInput, $"unknown syscall '{query}'{(hint is null ? "" : $"; did you mean '{hint}'?")}");
        }
        return (int)ExitCode.Ok;
    }

    private static string Line(Architecture a, Syscall s)
    {
        string number = s.Number >= 0x1000
            ? string.Create(CultureInfo.InvariantCulture, $"0x{s.Number:x}")
            : s.Number.ToString(CultureInfo.InvariantCulture);
        string args = s.ArgNames.Count > 0 ? $"({string.Join(", ", s.ArgNames)})" : "";
        return $"{a.Name,-8} {number,10}  {s.Name}{args}";
    }
}
