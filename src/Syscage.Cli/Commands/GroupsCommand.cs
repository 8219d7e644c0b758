using System.CommandLine;
using Syscage.Policy.Language;

namespace Syscage.Cli.Commands;

/// <summary>
/// <c>syscage groups [NAME] [--arch A]</c>: the built-in syscall groups and their members, as
/// <c>systemd-analyze syscall-filter</c> lists its sets.
/// </summary>
public static class GroupsCommand
{
    /// <summary>The command definition; it only unpacks the parse result.</summary>
    public static Command Create()
    {
        var name = new Argument<string?>("NAME") { Description = "A group (@network or network); default: every group", Arity = ArgumentArity.ZeroOrOne };
        var arch = new Option<string?>("--arch") { Description = "Say which members this architecture lacks (default: native); a policy skips them there" };
        var cmd = new Command("groups", "List the built-in syscall groups (@basic-io, @network, ...) and their members") { name, arch };
        cmd.SetAction(p => CliApp.Guard(p, (o, e) => Run(o, e, p.GetValue(name), p.GetValue(arch))));
        return cmd;
    }

    /// <summary>
    /// Prints each group (or the one named): its name, its description from <c>groups.policy</c>, and its members one
    /// per line in the order written (nested groups expanded), with a last comment line naming the members the
    /// architecture lacks.
    /// </summary>
    public static int Run(TextWriter stdout, TextWriter stderr, string? name = null, string? arch = null)
    {
        var architecture = ProgramFiles.ParseArch(arch);
        IReadOnlyList<string> names;
        if (name is null)
            names = SyscallGroups.Names;
        else if (SyscallGroups.TryGetMembers(name, out _))
            names = [name.StartsWith('@') ? name : "@" + name];
        else
        {
            string? hint = SyscallGroups.SuggestNames(name, 1).FirstOrDefault();
            throw new CliException(ExitCode.BadInput, $"unknown group '{name}'{(hint is null ? "" : $"; did you mean '{hint}'?")} ('syscage groups' lists them)");
        }
        for (int g = 0; g < names.Count; g++)
        {
            if (g > 0)
                stdout.WriteLine();
            var members = SyscallGroups.Members(names[g]);
            stdout.WriteLine(names[g]);
            if (SyscallGroups.Description(names[g]) is { } description)
                stdout.WriteLine($"    # {description}");
            foreach (string member in members)
                stdout.WriteLine($"    {member}");
            var missing = members.Where(m => !architecture.Syscalls.TryGet(m, out _)).ToList();
            if (missing.Count > 0)
                stdout.WriteLine($"    # not on {architecture.Name} (skipped there): {string.Join(", ", missing)}");
        }
        return (int)ExitCode.Ok;
    }
}
