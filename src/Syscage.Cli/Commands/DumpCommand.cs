using System.CommandLine;
using System.Globalization;
using Syscage.Bpf;
using Syscage.Supervision;

namespace Syscage.Cli.Commands;

/// <summary>
/// <c>syscage dump PID [-o FILE] [--format asm|raw|c] [--index N] [--json]</c>: every seccomp filter a running process
/// is under, as the kernel holds it, ready for <c>emu</c>, <c>check</c> and <c>explain</c>.
/// </summary>
public static class DumpCommand
{
    /// <summary>The command definition; it only unpacks the parse result.</summary>
    public static Command Create()
    {
        var pid = new Argument<int>("PID") { Description = "The process (or thread) whose filters to read" };
        var output = new Option<string?>("--output", "-o") { Description = "Where to write (default stdout); with several filters and no --index, FILE.N.EXT for filter N" };
        var format = new Option<string>("--format", "-f") { Description = "asm (the default: disassembly, which 'syscage asm' turns back into the same bytes), raw (sock_filter bytes), or c", DefaultValueFactory = _ => "asm" };
        format.AcceptOnlyFromAmong("asm", "raw", "c");
        var index = new Option<int?>("--index") { Description = "Only filter N (0 is the first installed)" };
        var json = JsonOutput.Option("the process's seccomp state and every filter (its bytes in base64)");
        var cmd = new Command("dump", "Read the seccomp filters of a running process (PTRACE_SECCOMP_GET_FILTER; needs CAP_SYS_ADMIN)") { pid, output, format, index, json };
        cmd.SetAction(p => CliApp.Guard(p, (o, e) => Run(o, e, p.GetValue(pid), p.GetValue(output), p.GetValue(format)!, p.GetValue(index), p.GetValue(json))));
        return cmd;
    }

    /// <summary>Reads and writes the filters; exit 0 (a process without filters is not an error: it says so).</summary>
    public static int Run(TextWriter stdout, TextWriter stderr, int pid, string? output = null, string format = "asm", int? index = null, bool json = false)
    {
        if (pid <= 0)
            throw new CliException(ExitCode.Usage, $"PID must be a positive process id, not {pid}");
        ProcessFilters state;
        try
        {
            state = ProcessFilters.Read(pid);
        }
        catch (SyscageException e)
        {
            // The kernel's refusal (what is needed is in the message) or a process that is gone: not malformed input.
            throw new CliException(ExitCode.IoError, e.Message);
        }
        var filters = state.Filters;
        if (index is int i)
        {
            if (i < 0 || i >= filters.Count)
                throw new CliException(ExitCode.BadInput, $"process {pid} has {filters.Count} filter{(filters.Count == 1 ? "" : "s")}: no filter {i}");
            filters = [filters[i]];
        }
        string summary = string.Create(CultureInfo.InvariantCulture,
            $"# pid {pid}: Seccomp: {state.ModeName}, Seccomp_filters: {(state.FilterCount is int c ? c.ToString(CultureInfo.InvariantCulture) : "?")}");
        if (json)
        {
            JsonOutput.WriteLine(stdout, w =>
            {
                w.WriteStartObject();
                w.WriteNumber("pid", pid);
                w.WriteString("mode", state.ModeName);
                if (state.FilterCount is int n)
                    w.WriteNumber("seccompFilters", n);
                w.WriteStartArray("filters");
                foreach (var f in filters)
                {
                    w.WriteStartObject();
                    w.WriteNumber("index", f.Index);
                    w.WriteNumber("instructions", f.Instructions.Count);
                    w.WriteBoolean("log", f.Log);
                    w.WriteBase64String("raw", SockFilter.Write([.. f.Instructions]));
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            });
            return (int)ExitCode.Ok;
        }
        if (state.Filters.Count == 0)
        {
            stdout.WriteLine(summary);
            stdout.WriteLine($"# process {pid} is under no seccomp filter");
            return (int)ExitCode.Ok;
        }
        if (output is null or "-")
        {
            if (format == "raw")
            {
                if (filters.Count > 1)
                    throw new CliException(ExitCode.Usage, $"process {pid} has {filters.Count} filters: choose one with --index N for raw bytes, or write them with -o FILE");
                if (!Console.IsOutputRedirected && ConsoleWriter.IsStandardOutput(stdout))
                    throw new CliException(ExitCode.Usage, "refusing to write a binary filter to a terminal: use -o FILE or --format asm");
                stdout.Flush();
                using var s = Console.OpenStandardOutput();
                s.Write(SockFilter.Write([.. filters[0].Instructions]));
                return (int)ExitCode.Ok;
            }
            stdout.WriteLine(summary);
            foreach (var f in filters)
            {
                stdout.WriteLine(Heading(f, state.Filters.Count));
                stdout.Write(Text(f, format));
            }
            return (int)ExitCode.Ok;
        }
        foreach (var f in filters)
        {
            string path = filters.Count == 1 ? output : NumberedPath(output, f.Index);
            if (format == "raw")
                File.WriteAllBytes(path, SockFilter.Write([.. f.Instructions]));
            else
                File.WriteAllText(path, Text(f, format));
            stderr.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{path}: filter {f.Index} of process {pid}, {f.Instructions.Count} instructions{(f.Log ? ", SECCOMP_FILTER_FLAG_LOG" : "")}"));
        }
        return (int)ExitCode.Ok;
    }

    private static string Heading(InstalledFilter f, int count) => string.Create(CultureInfo.InvariantCulture,
        $"# filter {f.Index} of {count}{(f.Index == 0 ? " (the first installed)" : f.Index == count - 1 ? " (the last installed)" : "")}: {f.Instructions.Count} instructions{(f.Log ? ", SECCOMP_FILTER_FLAG_LOG" : "")}");

    private static string Text(InstalledFilter f, string format) =>
        format == "c" ? Disassembler.ToC([.. f.Instructions], string.Create(CultureInfo.InvariantCulture, $"filter{f.Index}")) : Disassembler.ToText([.. f.Instructions]);

    /// <summary><c>out.bpf</c> → <c>out.1.bpf</c>.</summary>
    private static string NumberedPath(string path, int index)
    {
        string ext = Path.GetExtension(path);
        string stem = ext.Length > 0 ? path[..^ext.Length] : path;
        return string.Create(CultureInfo.InvariantCulture, $"{stem}.{index}{ext}");
    }
}
