using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using Syscage.Supervision;

namespace Syscage.Cli.Commands;

/// <summary>
/// <c>syscage agent --socket PATH [--policy HANDLERS] [--default-handler NAME] [--handshake-timeout SECONDS]
/// [--max-handshakes N]</c>: the OCI seccomp agent for runc's <c>listenerPath</c>. One JSON line per decision on stdout;
/// diagnostics on stderr. Runs until SIGINT or SIGTERM.
/// </summary>
public static class AgentCommand
{
    /// <summary>The command definition; it only unpacks the parse result.</summary>
    public static Command Create()
    {
        var socket = new Option<string>("--socket", "-s") { Description = "The Unix socket to listen on (the profile's listenerPath)", Required = true };
        var policy = new Option<string?>("--policy", "-p") { Description = "A policy whose NOTIFY(handler) rules name the handler of each call" };
        var fallback = new Option<string>("--default-handler") { Description = "Handler for calls no rule names: log, deny, deny_ENAME", DefaultValueFactory = _ => "deny" };
        var timeout = new Option<double?>("--handshake-timeout")
        {
            Description = $"Seconds a client has to send its whole message; then it is dropped (default {SeccompAgentOptions.DefaultHandshakeTimeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)})",
        };
        var handshakes = new Option<int?>("--max-handshakes")
        {
            Description = $"Clients read at once; more wait until one is done (default {SeccompAgentOptions.DefaultMaxHandshakes.ToString(CultureInfo.InvariantCulture)})",
        };
        var ebpf = new Option<string[]>("--ebpf") { Description = "An eBPF seccomp program, [NAME=]OBJ[:SECTION] (repeatable): a container whose profile's listenerMetadata is NAME runs it (see 'syscage compile OBJ --format oci')" };
        var set = new Option<string[]>("--set") { Description = "Set a global (const volatile knob) of every --ebpf program that has it: NAME=VALUE" };
        var fill = new Option<string[]>("--map") { Description = "Fill a map of each container's program before its first call: [PROGRAM:]MAP=FILE.json" };
        var mapsDir = new Option<string?>("--maps-dir") { Description = "Where each container's control socket for 'syscage maps' goes (PID.sock, PID its first process; default $XDG_RUNTIME_DIR/syscage or /tmp/syscage-UID; 'none': no sockets)" };
        var cmd = new Command("agent", "Serve seccomp notifications of OCI containers (runc's listenerPath): one JSON line per decision")
        {
            socket, policy, fallback, timeout, handshakes, ebpf, set, fill, mapsDir,
        };
        cmd.SetAction(p => CliApp.Guard(p, (o, e) => Run(o, e, p.GetValue(socket)!, p.GetValue(policy), p.GetValue(fallback)!, CancellationToken.None,
            p.GetValue(timeout), p.GetValue(handshakes), new AgentEbpfArguments(p.GetValue(ebpf) ?? [], p.GetValue(set) ?? [], p.GetValue(fill) ?? [], p.GetValue(mapsDir)))));
        return cmd;
    }

    /// <summary>The eBPF options of the agent: <c>--ebpf</c>, <c>--set</c>, <c>--map</c>, <c>--maps-dir</c>.</summary>
    /// <param name="Programs"><c>[NAME=]OBJ[:SECTION]</c>.</param>
    /// <param name="Knobs"><c>NAME=VALUE</c>.</param>
    /// <param name="MapFiles"><c>[PROGRAM:]MAP=FILE.json</c>.</param>
    /// <param name="MapsDirectory">The control sockets' directory, <c>none</c>, or null for the default.</param>
    public sealed record AgentEbpfArguments(IReadOnlyList<string> Programs, IReadOnlyList<string> Knobs, IReadOnlyList<string> MapFiles, string? MapsDirectory);

    /// <summary>
    /// Serves until <paramref name="cancel"/> fires or the process gets SIGINT/SIGTERM. <paramref name="handshakeTimeoutSeconds"/>
    /// and <paramref name="maxHandshakes"/> override <see cref="SeccompAgentOptions"/>' defaults.
    /// </summary>
    public static int Run(TextWriter stdout, TextWriter stderr, string socket, string? policy, string defaultHandler, CancellationToken cancel,
        double? handshakeTimeoutSeconds = null, int? maxHandshakes = null, AgentEbpfArguments? ebpf = null)
    {
        if (ebpf is { Programs.Count: 0 } && (ebpf.Knobs.Count > 0 || ebpf.MapFiles.Count > 0 || ebpf.MapsDirectory is not null))
            throw new CliException(ExitCode.Usage, "--set, --map and --maps-dir go with --ebpf OBJ");
        if (handshakeTimeoutSeconds is <= 0 or double.NaN or > 86_400)
            throw new CliException(ExitCode.Usage, "--handshake-timeout takes seconds above 0 (at most a day)");
        if (maxHandshakes is < 1)
            throw new CliException(ExitCode.Usage, "--max-handshakes takes a count of at least 1");
        var defaults = new SeccompAgentOptions();
        var options = new SeccompAgentOptions
        {
            Handlers = policy is null ? null : PolicyInputs.LoadPolicy(policy, warnings: stderr),
            DefaultHandler = defaultHandler,
            HandshakeTimeout = handshakeTimeoutSeconds is double s ? TimeSpan.FromSeconds(s) : defaults.HandshakeTimeout,
            MaxHandshakes = maxHandshakes ?? defaults.MaxHandshakes,
            Ebpf = ebpf is { Programs.Count: > 0 } e ? new AgentEbpfOptions
            {
                Programs = e.Programs,
                Knobs = Ebpf.Knobs.Parse(e.Knobs),
                MapFiles = e.MapFiles,
                MapsDirectory = e.MapsDirectory is "none" ? null : e.MapsDirectory,
                MapsSockets = e.MapsDirectory is not "none",
            } : null,
        };
        using var done = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        using var onInt = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; done.Cancel(); });
        using var onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; done.Cancel(); });
        using var agent = new SeccompAgent(socket, stdout, stderr, options).Start();
        stderr.WriteLine($"syscage agent: listening on {socket}");
        done.Token.WaitHandle.WaitOne();
        return 0;
    }
}
