using System.CommandLine;
using Syscage.Cli.Commands;
using Syscage.Cli.Commands.Ebpf;

namespace Syscage.Cli;

/// <summary>Builds the command tree and runs handlers with one error policy.</summary>
public static class CliApp
{
    /// <summary>The names of <see cref="Verbose"/>.</summary>
    internal const string VerboseName = "--verbose", VerboseAlias = "-v";

    /// <summary><c>--verbose</c>: show stack traces of unexpected errors.</summary>
    public static Option<bool> Verbose { get; } = new(VerboseName, VerboseAlias)
    {
        Description = "Show stack traces of internal errors",
        Recursive = true,
    };

    /// <summary>The verbs, by name, in the order help lists them: the one place that names the commands (they never use each other).</summary>
    private static readonly (string Name, Func<Command> Create)[] Verbs =
    [
        ("asm", AsmCommand.Create),
        ("disasm", DisasmCommand.Create),
        ("emu", EmuCommand.Create),
        ("check", CheckCommand.Create),
        ("syscalls", SyscallsCommand.Create),
        ("groups", GroupsCommand.Create),
        ("lint", LintCommand.Create),
        ("dump", DumpCommand.Create),
        ("compile", CompileCommand.Create),
        ("explain", ExplainCommand.Create),
        ("run", RunCommand.Create),
        ("record", RecordCommand.Create),
        ("agent", AgentCommand.Create),
        ("maps", MapsCommand.Create),
        ("doctor", DoctorCommand.Create),
        ("ebpf", () => new Command("ebpf", "eBPF seccomp programs: assemble, disassemble, load and verify clang objects, run the conformance suite")
        {
            VerifyCommand.Create(),
            EbpfAsmCommand.Create(),
            EbpfDisasmCommand.Create(),
            EbpfConformancePluginCommand.Create(),
            EbpfRunCommand.Create(),
            EbpfSplitCommand.Create(),
        }),
    ];

    /// <summary>The root command with every verb.</summary>
    public static RootCommand BuildRootCommand() => BuildRootCommand(null);

    /// <summary>
    /// The root command with every verb, or only with <paramref name="verb"/> when that names one: a command line whose
    /// first word is a verb is parsed by that verb alone, so <c>syscage run</c> does not build the options of the
    /// other ten (a tenth of its start in the native build).
    /// </summary>
    internal static RootCommand BuildRootCommand(string? verb)
    {
        var root = new RootCommand(
            "Syscage: seccomp filters you can read, check and run.\n\n" +
            "Exit codes: 0 ok, 1 rejected (check) or found something (lint), 2 usage error, 3 malformed input, 4 I/O error or refused by the kernel (dump), 70 internal error.");
        bool one = Verbs.Any(v => v.Name == verb);
        foreach (var (name, create) in Verbs)
            if (!one || name == verb)
                root.Add(create());
        root.Add(Verbose);
        return root;
    }

    /// <summary>
    /// How <c>syscage</c> reads its command line: without response files, so that <c>@network</c> is a group name (an
    /// argument like any other), never "read more arguments from the file network".
    /// </summary>
    public static ParserConfiguration ParserConfiguration => new() { ResponseFileTokenReplacer = null };

    /// <summary>Parses and runs <paramref name="args"/>, writing to the given writers.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(args);
        // The plain `syscage run [OPTIONS] -- CMD` is read without building the parser (RunCommand.TryReadPlain).
        if (RunCommand.TryReadPlain(args, out var run))
            return Guard(stdout, stderr, run.Verbose, (o, e) => RunCommand.Run(o, e, run));
        var root = BuildRootCommand(args.Length > 0 ? args[0] : null);
        var parse = root.Parse(args, ParserConfiguration);
        if (parse.Errors.Count > 0)
        {
            foreach (var error in parse.Errors)
                stderr.WriteLine($"syscage: {error.Message}");
            stderr.WriteLine("Try 'syscage --help'.");
            return (int)ExitCode.Usage;
        }
        return parse.Invoke(new InvocationConfiguration
        {
            Output = stdout,
            Error = stderr,
            EnableDefaultExceptionHandler = false,
        });
    }

    /// <summary>
    /// Runs a handler under the common error policy: Syscage errors are one line on stderr with the
    /// exit code they call for; unexpected exceptions are internal errors, with a stack trace only under <c>--verbose</c>.
    /// </summary>
    public static int Guard(ParseResult parse, Func<TextWriter, TextWriter, int> handler)
    {
        ArgumentNullException.ThrowIfNull(parse);
        return Guard(parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, parse.GetValue(Verbose), handler);
    }

    /// <summary>The common error policy (<see cref="Guard(ParseResult, Func{TextWriter, TextWriter, int})"/>) for given writers.</summary>
    internal static int Guard(TextWriter stdout, TextWriter stderr, bool verbose, Func<TextWriter, TextWriter, int> handler)
    {
        try
        {
            return handler(stdout, stderr);
        }
        catch (CliException e)
        {
            stderr.WriteLine($"syscage: {e.Message}");
            return (int)e.ExitCode;
        }
        catch (SyscageException e)
        {
            stderr.WriteLine($"syscage: {e.Message}");
            return (int)ExitCode.BadInput;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"syscage: {e.Message}");
            if (verbose)
                stderr.WriteLine(e);
            return (int)ExitCode.IoError;
        }
        catch (Exception e)
        {
            stderr.WriteLine($"syscage: internal error: {e.Message}");
            stderr.WriteLine(verbose ? e.ToString() : "Run again with --verbose for the stack trace, and please report it.");
            return (int)ExitCode.InternalError;
        }
    }
}

/// <summary>An error a handler reports with a specific exit code.</summary>
public sealed class CliException(ExitCode exitCode, string message) : Exception(message)
{
    /// <summary>The exit code to leave with.</summary>
    public ExitCode ExitCode { get; } = exitCode;
}
