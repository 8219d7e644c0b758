using System.CommandLine;
using System.Globalization;
using System.Text;
using Syscage.Policy;
using Syscage.Policy.Oci;
using Syscage.Policy.Recording;
using Syscage.Supervision;

namespace Syscage.Cli.Commands;

/// <summary>
/// <c>syscage record [-o FILE] [--format policy|oci|k8s] [--args none|stable|all] [--merge FILE] -- CMD [ARGS...]</c>:
/// run a command with every system call it makes seen by the supervisor and let run, then write the smallest policy
/// that allows the run (<see cref="RecordedPolicy"/>), in the policy language, as an OCI/Docker profile or as a
/// Kubernetes SeccompProfile (<see cref="OciProfileWriter"/>). The exit status is the command's.
/// </summary>
public static class RecordCommand
{
    /// <summary>The output formats; the recorded <see cref="SeccompPolicy"/> is what each writes.</summary>
    public static IReadOnlyList<string> Formats { get; } = ["policy", "oci", "k8s"];

    /// <summary>The command definition; it only unpacks the parse result.</summary>
    public static Command Create()
    {
        var output = new Option<string?>("--output", "-o") { Description = "Write the policy to FILE (default: stdout; the command's own stdout then goes to stderr)" };
        var format = new Option<string>("--format", "-f") { Description = "policy (the policy language, each rule with its count), oci (an OCI/Docker seccomp profile, JSON) or k8s (a Security Profiles Operator SeccompProfile, YAML)", DefaultValueFactory = _ => "policy" };
        var args = new Option<string>("--args") { Description = "Argument conditions: none (syscalls by name), stable (socket domain, clone flags, ioctl request, prctl option, fcntl command, personality) or all (also socket types, protections, open flags, signals ...)", DefaultValueFactory = _ => "none" };
        var merge = new Option<string?>("--merge") { Description = "An earlier recording (or any policy): the calls it allows stay in the kernel, and the result allows both" };
        var command = new Argument<string[]>("COMMAND") { Description = "The command and its arguments (put them after --)", Arity = ArgumentArity.OneOrMore };
        var cmd = new Command("record", "Run a command, see every system call it makes (every thread, every process it starts), and write the smallest " +
            "policy that allows the run, each rule with its count. Nothing is refused: record only what you would run unsandboxed. The exit status is the command's.")
        {
            output, format, args, merge, command,
        };
        cmd.SetAction(p => CliApp.Guard(p, (o, e) => Run(o, e, p.GetValue(command)!, p.GetValue(output), p.GetValue(format)!, p.GetValue(args)!, p.GetValue(merge))));
        return cmd;
    }

    /// <summary>Records the command (inherited stdin and stderr) and writes the policy; returns the command's status.</summary>
    public static int Run(TextWriter stdout, TextWriter stderr, string[] command, string? output = null, string format = "policy", string args = "none", string? merge = null)
    {
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        ArgumentNullException.ThrowIfNull(command);
        if (command.Length == 0)
            throw new CliException(ExitCode.Usage, "no command given: syscage record [-o FILE] -- CMD [ARGS...]");
        if (!Formats.Contains(format))
            throw new CliException(ExitCode.Usage, $"unknown --format '{format}': {string.Join(", ", Formats)}");
        var level = args switch
        {
            "none" => ArgumentRecording.None,
            "stable" => ArgumentRecording.Stable,
            "all" => ArgumentRecording.All,
            _ => throw new CliException(ExitCode.Usage, $"unknown --args '{args}': none, stable or all"),
        };
        SeccompPolicy? earlier = null;
        if (merge is not null)
        {
            if (PolicyInputs.IsProgram(merge))
                throw new CliException(ExitCode.Usage, $"--merge {merge}: a policy is needed (its rules are kept), not a compiled program");
            earlier = PolicyInputs.LoadPolicy(merge, warnings: stderr);
        }

        EmbeddedLauncher.Use();
        BuiltinPrograms.UseCompiledGuards();
        // The output is opened before the command runs: whatever the command does to the path meanwhile (a symlink put in
        // its place, its directory swapped), the policy goes to the file the user named, through this handle.
        bool existed = output is not null && File.Exists(output);
        FileStream? file = null;
        if (output is not null)
        {
            try
            {
                file = new FileStream(output, FileMode.OpenOrCreate, FileAccess.Write, FileShare.Read);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CliException(ExitCode.IoError, $"-o {output}: {e.Message}");
            }
        }
        using (file)
        {
            var log = TextWriter.Synchronized(stderr);
            var result = CommandRecord.Run(new RecordRequest(command)
            {
                Arguments = level,
                Merge = earlier,
                Log = log,
                // Without -o the policy goes to stdout: the command's prints must not be able to become part of it.
                StandardOutputToStandardError = output is null,
            });
            foreach (var message in result.Run.Messages)
                log.WriteLine($"syscage: {message}");
            if (!result.Run.Started)
            {
                if (file is not null && !existed)
                {
                    file.Dispose();
                    File.Delete(output!);
                }
                return result.Run.ShellStatus;
            }
            if (!RecordedPolicy.TryBuild(result.Recording, out var recorded, out var error, earlier))
            {
                if (file is not null && !existed)
                {
                    file.Dispose();
                    File.Delete(output!);
                }
                throw new CliException(ExitCode.BadInput, $"no policy written: {error}");
            }
            foreach (var warning in recorded.Warnings)
                log.WriteLine($"syscage: {warning}");
            string text = Write(recorded, format, Header(command, level, merge, result), output ?? command[0], log);
            if (file is not null)
            {
                file.SetLength(0);
                var bytes = new UTF8Encoding(false).GetBytes(text);
                file.Write(bytes);
                file.Flush(flushToDisk: true);
            }
            else
            {
                stdout.Write(text);
                stdout.Flush();
            }
            var rec = result.Recording;
            log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"syscage: recorded {rec.Calls:N0} call{(rec.Calls == 1 ? "" : "s")} of {rec.Syscalls.Count} syscall{(rec.Syscalls.Count == 1 ? "" : "s")} " +
                $"by {Tasks(rec)}{(output is null ? "" : $": policy written to {output}")}"));
            return result.Run.ShellStatus;
        }
    }

    /// <summary>
    /// The writers of a recorded policy, by <c>--format</c>. Each takes <see cref="RecordedPolicy.Policy"/>, the IR: the
    /// policy language with the counts as comments, or the profile <c>compile --format oci|k8s</c> writes (what it says
    /// more strictly than the policy goes to <paramref name="log"/>).
    /// </summary>
    private static string Write(RecordedPolicy recorded, string format, IReadOnlyList<string> header, string name, TextWriter log) => format switch
    {
        "policy" => recorded.ToPolicyText(header),
        "oci" or "k8s" => PolicyOutputs.Translate(recorded.Policy, format, log, name),
        _ => throw new CliException(ExitCode.Usage, $"unknown --format '{format}'"),
    };

    private static List<string> Header(string[] command, ArgumentRecording level, string? merge, RecordResult result)
    {
        var rec = result.Recording;
        string ended = result.Ending;
        var lines = new List<string>
        {
            $"Recorded by `syscage record{(level == ArgumentRecording.None ? "" : $" --args {level.ToString().ToLowerInvariant()}")}" +
            $"{(merge is null ? "" : $" --merge {Shell(merge)}")}` from: {string.Join(' ', command.Select(Shell))}",
            string.Create(CultureInfo.InvariantCulture, $"{rec.Calls:N0} calls of {rec.Syscalls.Count} syscalls by {Tasks(rec)}; the command {ended}."),
            "Each rule says how many calls it allowed; every other call gets the default action.",
        };
        if (merge is not null)
            lines.Add($"Merged with {Shell(merge)}: the calls it allowed ran in the kernel, unrecorded; its rules follow the recorded ones.");
        return lines;
    }

    private static string Tasks(CallRecording rec) =>
        string.Create(CultureInfo.InvariantCulture, $"{(rec.Tasks >= CallRecording.MaxTasks ? "at least " : "")}{rec.Tasks} task{(rec.Tasks == 1 ? "" : "s")} (threads and processes)");

    /// <summary>An argument as a shell would need it, with control characters escaped (it goes into a comment line).</summary>
    private static string Shell(string arg)
    {
        var sb = new StringBuilder();
        bool plain = arg.Length > 0;
        foreach (char c in arg)
        {
            if (char.IsControl(c) || c is '\u2028' or '\u2029' or '\u0085')
            {
                sb.Append(CultureInfo.InvariantCulture, $"\\x{(int)c:x2}");
                plain = false;
            }
            else
            {
                sb.Append(c);
                plain &= char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '/' or '=' or ':' or ',' or '@' or '+';
            }
        }
        return plain ? sb.ToString() : "'" + sb.ToString().Replace("'", "'\\''", StringComparison.Ordinal) + "'";
    }
}
