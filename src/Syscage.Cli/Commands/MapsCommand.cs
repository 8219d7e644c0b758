using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Syscage.Supervision;

namespace Syscage.Cli.Commands;

/// <summary>
/// <c>syscage maps list|dump|update|delete (--pid PID | --socket PATH)</c>: read and write the maps of eBPF seccomp
/// programs while they run, through the control socket of a <c>syscage run --ebpf</c> or of an agent's container
/// (<see cref="MapControlServer"/>), typed by the programs' BTF.
/// </summary>
public static class MapsCommand
{
    /// <summary>The command definition; it only unpacks the parse result.</summary>
    public static Command Create()
    {
        var maps = new Command("maps", "Read and write the maps of running eBPF seccomp programs (of 'syscage run --ebpf' or an agent's container)");
        maps.Add(Verb("list", "List the maps: program, kind, key and value types, entries", (o, e, target, _) => List(o, target)));

        var dumpMap = new Argument<string?>("MAP") { Description = "The map (default: every map)", Arity = ArgumentArity.ZeroOrOne };
        var json = new Option<bool>("--json") { Description = "Print the entries as a JSON object, the form --map files and 'maps update --file' read" };
        maps.Add(Verb("dump", "Print a map's entries, typed by BTF (syscall-keyed maps by syscall name)",
            (o, e, target, p) => Dump(o, target, p.GetValue(dumpMap), p.GetValue(json)), dumpMap, json));

        var updateMap = new Argument<string>("MAP") { Description = "The map" };
        var pair = new Argument<string[]>("KEY VALUE") { Description = "A key (number, syscall name, variable name) and its value as JSON (42, \"0x7fff0000\", {\"pid\": 1})", Arity = new ArgumentArity(0, 2) };
        var file = new Option<string?>("--file", "-f") { Description = "The entries as a JSON object (a --map file; '-' for stdin)" };
        maps.Add(Verb("update", "Set entries of a map (or global variables of .bss/.data) while the programs run",
            (o, e, target, p) => Update(o, target, p.GetValue(updateMap)!, p.GetValue(pair) ?? [], p.GetValue(file)), updateMap, pair, file));

        var deleteMap = new Argument<string>("MAP") { Description = "The map (a hash map)" };
        var keys = new Argument<string[]>("KEY") { Description = "Keys to delete", Arity = ArgumentArity.OneOrMore };
        maps.Add(Verb("delete", "Delete entries of a hash map", (o, e, target, p) => Delete(o, target, p.GetValue(deleteMap)!, p.GetValue(keys)!), deleteMap, keys));
        return maps;
    }

    /// <summary>Which control socket: <c>--pid</c> (found in the default directory by the pid or its parents) or <c>--socket</c>, and <c>--program</c>.</summary>
    /// <param name="Pid">A process of the run or container.</param>
    /// <param name="Socket">The socket's path.</param>
    /// <param name="Program">The program whose map is meant, when several have one of that name.</param>
    public sealed record Target(int? Pid, string? Socket, string? Program = null)
    {
        /// <summary>The socket's path.</summary>
        public string Resolve()
        {
            if ((Pid is null) == (Socket is null))
                throw new CliException(ExitCode.Usage, "give --pid PID (a process of the run or container) or --socket PATH");
            if (Socket is not null)
                return Socket;
            try
            {
                return MapControlServer.Find(MapControlServer.DefaultDirectory(), Pid!.Value);
            }
            catch (IOException e)
            {
                throw new CliException(ExitCode.IoError, e.Message);
            }
        }
    }

    private static Command Verb(string name, string description, Func<TextWriter, TextWriter, Target, ParseResult, int> run, params Symbol[] symbols)
    {
        var pid = new Option<int?>("--pid") { Description = "A process of the run or container: the command, syscage itself, or a container's process" };
        var socket = new Option<string?>("--socket", "-s") { Description = "The control socket's path" };
        var program = new Option<string?>("--program", "-p") { Description = "The program whose map is meant, when several have one of that name" };
        var cmd = new Command(name, description) { pid, socket, program };
        foreach (var s in symbols)
        {
            if (s is Argument a)
                cmd.Add(a);
            else if (s is Option o)
                cmd.Add(o);
        }
        cmd.SetAction(p => CliApp.Guard(p, (o, e) => run(o, e, new Target(p.GetValue(pid), p.GetValue(socket), p.GetValue(program)), p)));
        return cmd;
    }

    private static JsonObject Send(Target target, JsonObject request)
    {
        if (target.Program is not null)
            request["program"] = target.Program;
        return MapControlClient.Send(target.Resolve(), request);
    }

    /// <summary>Prints one line per map.</summary>
    public static int List(TextWriter stdout, Target target)
    {
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(target);
        var answer = Send(target with { Program = null }, new JsonObject { ["op"] = "list" });
        foreach (var m in answer["maps"]!.AsArray())
        {
            string access = m!["writable"]!.GetValue<bool>() ? "" : " (read-only)";
            if (m["variables"] is JsonArray v)
            {
                stdout.WriteLine($"{m["program"]} {m["map"]}: global variables{access}: {string.Join(", ", v.Select(x => x!.GetValue<string>()))}");
                continue;
            }
            string types = m["key"] is JsonNode k ? $", key {k}, value {m["value"]}" : "";
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{m["program"]} {m["map"]}: {m["kind"]}{types}, {m["entries"]} of {m["max_entries"]} entries{access}"));
        }
        return (int)ExitCode.Ok;
    }

    /// <summary>Prints a map (or every map) as a table, or as JSON entries with <paramref name="json"/>.</summary>
    public static int Dump(TextWriter stdout, Target target, string? map, bool json = false)
    {
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(target);
        var names = new List<(string? Program, string Map)>();
        if (map is not null)
            names.Add((target.Program, map));
        else
            foreach (var m in Send(target with { Program = null }, new JsonObject { ["op"] = "list" })["maps"]!.AsArray())
                names.Add((m!["program"]!.GetValue<string>(), m["map"]!.GetValue<string>()));
        var all = new JsonObject();
        foreach (var (program, name) in names)
        {
            var answer = Send(target with { Program = program }, new JsonObject { ["op"] = "dump", ["map"] = name });
            if (!json)
                stdout.Write(answer["text"]!.GetValue<string>());
            else if (map is not null)
                stdout.WriteLine(answer["entries"]!.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            else
                all[$"{program}:{name}"] = answer["entries"]!.DeepClone();
        }
        if (json && map is null)
            stdout.WriteLine(all.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return (int)ExitCode.Ok;
    }

    /// <summary>Sets entries: one <c>KEY VALUE</c> pair, or the members of a JSON file.</summary>
    public static int Update(TextWriter stdout, Target target, string map, IReadOnlyList<string> pair, string? file)
    {
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(pair);
        JsonNode entries;
        if (file is not null)
        {
            if (pair.Count > 0)
                throw new CliException(ExitCode.Usage, "give KEY VALUE or --file FILE.json, not both");
            string text = ProgramFiles.ReadText(file);
            try
            {
                entries = JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { MaxDepth = 32, CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true })
                    ?? throw new CliException(ExitCode.BadInput, $"{file}: null is not an object of entries");
            }
            catch (JsonException e)
            {
                throw new CliException(ExitCode.BadInput, $"{file}: not valid JSON: {e.Message}");
            }
        }
        else
        {
            if (pair.Count != 2)
                throw new CliException(ExitCode.Usage, "give KEY VALUE (the value as JSON: 42, \"0x7fff0000\", {\"pid\": 1}) or --file FILE.json");
            JsonNode? value;
            try
            {
                value = JsonNode.Parse(pair[1]);
            }
            catch (JsonException)
            {
                value = JsonValue.Create(pair[1]); // a bare word: a string (a hex number, a char array)
            }
            entries = new JsonObject { [pair[0]] = value };
        }
        var answer = Send(target, new JsonObject { ["op"] = "update", ["map"] = map, ["entries"] = entries });
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{map}: {answer["updated"]} entr{(answer["updated"]!.GetValue<int>() == 1 ? "y" : "ies")} updated"));
        return (int)ExitCode.Ok;
    }

    /// <summary>Deletes keys of a hash map.</summary>
    public static int Delete(TextWriter stdout, Target target, string map, IReadOnlyList<string> keys)
    {
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(keys);
        var answer = Send(target, new JsonObject { ["op"] = "delete", ["map"] = map, ["keys"] = new JsonArray([.. keys.Select(k => (JsonNode?)k)]) });
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{map}: {answer["deleted"]} deleted, {answer["absent"]} not present"));
        return (int)ExitCode.Ok;
    }
}
