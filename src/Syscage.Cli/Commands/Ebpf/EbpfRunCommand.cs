using System.CommandLine;
using System.Globalization;
using Syscage.Ebpf.Verifier;
using Syscage.Bpf;
using Syscage.Ebpf;
using Syscage.Ebpf.Elf;
using Syscage.Ebpf.Helpers;
using Syscage.Ebpf.Maps;
using Syscage.Abi;
using Syscage.Ebpf.Vm;
using Syscage.Ebpf.Seccomp;
using Syscage.Supervision;

namespace Syscage.Cli.Commands.Ebpf;

/// <summary>
/// <c>syscage ebpf run OBJ --ctx SYSCALL [ARGS] [--jit|--interpret]</c>: verify a seccomp program of a clang
/// object and run it on one call, printing the verdict as its last line (as <c>syscage emu</c> does).
/// </summary>
public static class EbpfRunCommand
{
    /// <summary>The command definition; it only unpacks the parse result.</summary>
    public static Command Create()
    {
        var file = new Argument<string>("OBJ") { Description = "A BPF object from 'clang -O2 -g -target bpf -c'" };
        var ctx = new Option<string[]>("--ctx") { Description = "The call: SYSCALL [ARG0..ARG5] (name for --arch, or number)", Arity = new ArgumentArity(1, 7), AllowMultipleArgumentsPerToken = true, Required = true };
        var program = new Option<string?>("--program", "-p") { Description = "The program to run (name or section) when the object has several" };
        var set = new Option<string[]>("--set") { Description = "Set a global (const volatile knob) before verifying: NAME=VALUE" };
        var arch = new Option<string?>("--arch") { Description = "Architecture of the call (default: native)" };
        var repeat = new Option<int>("--repeat", "-n") { Description = "Run the program this many times on the same call (maps keep their state)", DefaultValueFactory = _ => 1 };
        var maps = new Option<bool>("--maps") { Description = "Print the maps' contents after the runs" };
        var fill = new Option<string[]>("--map") { Description = "Fill a map before the first run: MAP=FILE.json (an object whose members are the entries)" };
        var jit = new Option<bool>("--jit") { Description = "Run with the JIT (the default where the runtime has one; not in the native build)" };
        var interpret = new Option<bool>("--interpret") { Description = "Run with the interpreter (the default in the native build)" };
        var cmd = new Command("run", "Verify an eBPF seccomp program and run it on one call; the last line is the verdict")
        {
            file, ctx, program, set, arch, repeat, maps, fill, jit, interpret,
        };
        cmd.Validators.Add(r =>
        {
            if (r.GetValue(jit) && r.GetValue(interpret))
                r.AddError("--jit and --interpret exclude each other");
        });
        cmd.SetAction(p => CliApp.Guard(p, (o, e) => Run(o, e, p.GetValue(file)!, p.GetValue(ctx)!, p.GetValue(program), p.GetValue(set) ?? [],
            p.GetValue(arch), p.GetValue(repeat), p.GetValue(maps), p.GetValue(interpret), p.GetValue(jit), p.GetValue(fill) ?? [])));
        return cmd;
    }

    /// <summary>Runs the program and prints one verdict line per run; the last line is the verdict.</summary>
    public static int Run(TextWriter stdout, TextWriter stderr, string file, string[] ctx, string? program = null, IReadOnlyList<string>? set = null,
        string? arch = null, int repeat = 1, bool showMaps = false, bool interpret = false, bool jit = false, IReadOnlyList<string>? mapFiles = null)
    {
        if (ctx.Length is 0 or > 7)
            throw new CliException(ExitCode.Usage, "--ctx takes SYSCALL and up to six arguments");
        if (repeat < 1)
            throw new CliException(ExitCode.Usage, "--repeat must be at least 1");
        var architecture = ProgramFiles.ParseArch(arch);
        var data = CallInputs.MakeData(architecture, ctx[0], ctx[1..], null);

        var obj = EbpfObject.LoadFile(file);
        Knobs.Apply(obj, set ?? []);
        foreach (var warning in obj.Warnings)
            stderr.WriteLine($"syscage: warning: {file}: {warning}");
        var chosen = program is not null ? obj.GetProgram(program)
            : obj.Programs.Length == 1 ? obj.Programs[0]
            : throw new CliException(ExitCode.Usage, $"{file} has {obj.Programs.Length} programs; choose one with --program ({string.Join(", ", obj.Programs.Select(p => p.Name))})");
        if (!obj.TryVerify(chosen, out var verified, out var error))
            throw new CliException(ExitCode.Rejected, $"{file}: {chosen.Name}: rejected by the verifier: {error}");

        using var loaded = SeccompEbpfProgram.FromVerified(verified, chosen.Name, EbpfInputs.Engine(jit, interpret), obj);
        MapFiles.Fill([loaded], mapFiles ?? []);
        var maps = loaded.Maps;
        var vm = loaded.Executor;
        var helpers = new HelperContext(new CommandLineTask(), line => stdout.WriteLine($"# trace_printk: {line}"));
        // What a seccomp program sees (SeccompEbpfProgram.Run): its own, little-endian layout, and a 32-bit ABI's
        // arguments as the syscall sees them.
        byte[] context = data.AsSyscallSeesIt().ToBytes();
        string name = architecture.Syscalls.TryGetName(data.Nr, out var n) ? n : data.Nr.ToString(CultureInfo.InvariantCulture);
        SeccompAction action = default;
        for (int i = 0; i < repeat; i++)
        {
            ulong r0 = vm.Run(context, helpers);
            action = new SeccompAction((uint)r0);
            string label = repeat > 1 ? string.Create(CultureInfo.InvariantCulture, $" run {i + 1}:") : ":";
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"# {chosen.Name} on {architecture.Name} {name}{label} r0 = 0x{r0:x} -> {action.Effective}"));
        }
        if (showMaps)
            PrintMaps(stdout, maps);
        stdout.WriteLine(action.Effective.ToString());
        return (int)ExitCode.Ok;
    }

    private static void PrintMaps(TextWriter stdout, EbpfMapSet maps)
    {
        foreach (var map in maps)
        {
            stdout.WriteLine($"# map {map.Name} ({map.Definition.Type}):");
            foreach (var (key, value) in map.Entries().Take(64))
                stdout.WriteLine($"#   {Convert.ToHexString(key)} = {Convert.ToHexString(value)}");
        }
    }

    /// <summary>
    /// The task the helpers see when a program runs from the command line: this process's ids, no memory to
    /// read (<c>probe_read_user</c> returns -EPERM — the call's pointers belong to no process here).
    /// </summary>
    private sealed class CommandLineTask : IBpfTask
    {
        public int Pid { get; } = Environment.ProcessId;
        public int Tgid => Pid;
        public uint Uid { get; } = (uint)ReadId("Uid:");
        public uint Gid { get; } = (uint)ReadId("Gid:");
        public string Comm => "syscage";
        public bool MayReadMemory => false;
        public int ReadMemory(ulong address, Span<byte> destination) => -1; // -EPERM
        public object Identity => Pid;

        private static long ReadId(string field)
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith(field, StringComparison.Ordinal))
                    return long.Parse(line[field.Length..].Trim().Split('\t', ' ')[0], CultureInfo.InvariantCulture);
            return 0;
        }
    }
}
