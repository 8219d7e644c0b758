using System.CommandLine;
using System.Globalization;
using Syscage.Abi;
using Syscage.Policy.Language;

namespace Syscage.Cli.Commands;

/// <summary><c>syscage syscalls [--arch A] [NAME|NR]</c>: the syscall tables; <c>syscage syscalls --arches</c>: the architectures.</summary>
public static class SyscallsCommand
{
    /// <summary>The command definition; it only unpacks the parse result.</summary>
    public static Command Create()
    {
        var query = new Argument<string?>("NAME|NR") { Description = "A syscall name (shown on every architecture), a number (on --arch), or a built-in @group (its members on --arch)", Arity = ArgumentArity.ZeroOrOne };
        var arch = new Option<string?>("--arch") { Description = "Architecture (default: native; with a NAME: all)" };
        var arches = new Option<bool>("--arches") { Description = "List the architectures: names, AUDIT_ARCH_* value, word size, byte order, syscall count, multiplexers" };
        var cmd = new Command("syscalls", "List syscall names, numbers and argument names per architecture") { query, arch, arches };
        cmd.SetAction(p => CliApp.Guard(p, (o, e) => p.GetValue(arches) ? Architectures(o, e, p.GetValue(query), p.GetValue(arch)) : Run(o, e, p.GetValue(query), p.GetValue(arch))));
        return cmd;
    }

    /// <summary>
    /// Prints one line per architecture Syscage knows: its name and libseccomp's, the <c>seccomp_data.arch</c> value,
    /// 32 or 64-bit registers, byte order, how many syscalls its table has (Linux <see cref="Architecture.KernelVersion"/>),
    /// and the numbers of the multiplexers socketcall(2) and ipc(2) where it has them.
    /// </summary>
    public static int Architectures(TextWriter stdout, TextWriter stderr, string? query = null, string? arch = null)
    {
        if (query is not null || arch is not null)
            throw new CliException(ExitCode.Usage, "--arches lists every architecture; it takes no NAME|NR or --arch");
        stdout.WriteLine($"# {Architecture.All.Count} architectures, syscall tables of Linux {Architecture.KernelVersion}");
        stdout.WriteLine($"{"name",-12} {"libseccomp/OCI",-22} {"AUDIT_ARCH_*",-24} {"value",-10} bits endian syscalls multiplexers");
        foreach (var a in Architecture.All)
        {
            string mux = string.Join(" ", new[] { a.SocketcallNumber is int s ? $"socketcall={s}" : null, a.IpcNumber is int i ? $"ipc={i}" : null }.OfType<string>());
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{a.Name,-12} {a.ScmpName,-22} {a.AuditArchName,-24} 0x{a.AuditArch:x8} {(a.Is64Bit ? 64 : 32),4} {(a.IsBigEndian ? "big" : "little"),-6} {a.Syscalls.Count,8} {(mux.Length > 0 ? mux : "-")}"));
        }
        return (int)ExitCode.Ok;
    }

    /// <summary>Prints the table, or the entries for one syscall.</summary>
    public static int Run(TextWriter stdout, TextWriter stderr, string? query, string? arch)
    {
        if (query is null)
        {
            var a = ProgramFiles.ParseArch(arch);
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"# {a.Name} ({a.AuditArchName} 0x{a.AuditArch:x8}, {(a.Is64Bit ? 64 : 32)}-bit, {(a.IsBigEndian ? "big" : "little")}-endian): {a.Syscalls.All.Count} syscalls of Linux {Architecture.KernelVersion}"));
            foreach (var s in a.Syscalls.All)
                stdout.WriteLine(Line(a, s));
            return (int)ExitCode.Ok;
        }
        if (query.StartsWith('@'))
            return Group(stdout, query, ProgramFiles.ParseArch(arch));
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
                stdout.WriteLine($"{a.Name,-11} -");
        }
        if (!found)
        {
            var hint = arches.SelectMany(a => a.Syscalls.SuggestNames(query, 1)).FirstOrDefault();
            throw new CliException(ExitCode.BadInput, $"unknown syscall '{query}'{(hint is null ? "" : $"; did you mean '{hint}'?")}");
        }
        return (int)ExitCode.Ok;
    }

    /// <summary>The members of a built-in group on one architecture, with their numbers; a comment names those it lacks.</summary>
    private static int Group(TextWriter stdout, string group, Architecture a)
    {
        if (!SyscallGroups.TryGetMembers(group, out var members))
        {
            string? hint = SyscallGroups.SuggestNames(group, 1).FirstOrDefault();
            throw new CliException(ExitCode.BadInput, $"unknown group '{group}'{(hint is null ? "" : $"; did you mean '{hint}'?")} ('syscage groups' lists them)");
        }
        var missing = new List<string>();
        foreach (string member in members)
        {
            if (a.Syscalls.TryGet(member, out var s))
                stdout.WriteLine(Line(a, s));
            else
                missing.Add(member);
        }
        if (missing.Count > 0)
            stdout.WriteLine($"# not on {a.Name}: {string.Join(", ", missing)}");
        return (int)ExitCode.Ok;
    }

    private static string Line(Architecture a, Syscall s)
    {
        string number = s.Number >= 0x10000
            ? string.Create(CultureInfo.InvariantCulture, $"0x{s.Number:x}")
            : s.Number.ToString(CultureInfo.InvariantCulture);
        string args = s.ArgNames.Count > 0 ? $"({string.Join(", ", s.ArgNames)})" : "";
        return $"{a.Name,-11} {number,10}  {s.Name}{args}";
    }
}
