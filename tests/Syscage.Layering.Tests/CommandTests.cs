namespace Syscage.Layering.Tests;

/// <summary>
/// The verbs of <c>syscage</c> stand side by side: a <c>*Command</c> class uses the library and the shared helpers of
/// Syscage.Cli (<c>PolicyInputs</c>, <c>ProgramFiles</c>, ...), never another command. Only <see cref="Registrar"/>,
/// which builds the command tree, names the commands.
/// </summary>
public class CommandTests
{
    /// <summary>The one type that may refer to the commands: it registers all of them.</summary>
    private const string Registrar = "Syscage.Cli.CliApp";

    private const string CommandsNamespace = "Syscage.Cli.Commands";

    private static bool IsCommand(string type) =>
        type.StartsWith(CommandsNamespace + ".", StringComparison.Ordinal) && type.EndsWith("Command", StringComparison.Ordinal);

    [Fact]
    public void No_type_but_the_registrar_refers_to_a_command()
    {
        var refs = TypeReferences.Read(Path.Combine(AppContext.BaseDirectory, "Syscage.Cli.dll"));
        var commands = refs.Keys.Where(IsCommand).ToList();
        Assert.True(commands.Count >= 10, $"only {commands.Count} commands found in {CommandsNamespace}: {string.Join(", ", commands)}");
        Assert.Contains(Registrar, refs.Keys);
        var bad = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var (type, targets) in refs)
        {
            if (type == Registrar)
                continue;
            foreach (var target in targets.Where(t => t != type && IsCommand(t)))
                bad.Add($"{type} -> {target}");
        }
        Assert.True(bad.Count == 0,
            $"{bad.Count} references to a command from outside it (move the helper to a shared class in src/Syscage.Cli):\n{string.Join("\n", bad)}");
    }

    [Fact]
    public void The_registrar_names_every_command()
    {
        // The exemption above is for registration: every command is reached from the registrar.
        var refs = TypeReferences.Read(Path.Combine(AppContext.BaseDirectory, "Syscage.Cli.dll"));
        var missing = refs.Keys.Where(IsCommand).Where(c => !refs[Registrar].Contains(c)).Order(StringComparer.Ordinal).ToList();
        Assert.True(missing.Count == 0, $"{Registrar} does not register: {string.Join(", ", missing)}");
    }
}
