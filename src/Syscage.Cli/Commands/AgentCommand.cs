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
        var cmd = new Command("agent", "Serve seccomp notifications of OCI containers (runc's listenerPath): one JSON line per decision") { socket, policy, fallback, timeout, handshakes };
        cmd.SetAction(p => CliApp.Guard(p, (o, e) => Run(o, e, p.GetValue(socket)!, p.GetValue(policy), p.GetValue(fallback)!, CancellationToken.None,
            p.GetValue(timeout), p.GetValue(handshakes))));
        return cmd;
    }

    /// <summary>
    /// Serves until <paramref name="cancel"/> fires or the process gets SIGINT/SIGTERM. <paramref name="handshakeTimeoutSeconds"/>
    /// and <paramref name="maxHandshakes"/> override <see cref="SeccompAgentOptions"/>' defaults.
    /// </summary>
    public static int Run(TextWriter stdout, TextWriter stderr, string socket, string? policy, string defaultHandler, CancellationToken cancel,
        double? handshakeTimeoutSeconds = null, int? maxHandshakes = null)
    {
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
