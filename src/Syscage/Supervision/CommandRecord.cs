using Syscage.Kernel.Notify;
using Syscage.Policy;
using Syscage.Policy.Recording;

namespace Syscage.Supervision;

/// <summary>What <see cref="CommandRecord.Run"/> records.</summary>
/// <param name="Command">The command and its arguments (found on PATH when the name has no slash).</param>
public sealed record RecordRequest(IReadOnlyList<string> Command)
{
    /// <summary>Which arguments to keep for conditions.</summary>
    public ArgumentRecording Arguments { get; init; }

    /// <summary>An earlier recording (or any policy): the calls it ALLOWs or LOGs stay in the kernel, unrecorded.</summary>
    public SeccompPolicy? Merge { get; init; }

    /// <summary>Where problems of the supervision are written.</summary>
    public TextWriter Log { get; init; } = TextWriter.Null;

    /// <summary>Pass the signals this process receives on to the command.</summary>
    public bool ForwardSignals { get; init; } = true;

    /// <summary>Give the command this process's stderr as its stdout (when the policy goes to this process's stdout).</summary>
    public bool StandardOutputToStandardError { get; init; }
}

/// <summary>How a recorded run ended, and what it did.</summary>
/// <param name="Run">How the command ended (as <c>syscage run</c> reports it).</param>
/// <param name="Recording">The calls it made.</param>
public sealed record RecordResult(RunResult Run, CallRecording Recording)
{
    /// <summary>How the command ended, for a policy's header: <c>exited with 0</c>, <c>was killed by SIGINT</c>, <c>did not start</c>.</summary>
    public string Ending => Run.Exit switch
    {
        null => "did not start",
        { Signal: int s } => $"was killed by {Abi.Signals.Name(s) ?? $"signal {s}"}",
        { ExitCode: var code } => $"exited with {code}",
    };
}

/// <summary>
/// <c>syscage record</c> as one library call: runs the command with every call sent to the supervisor
/// (<see cref="RecordedPolicy.Filter"/>), which notes it (<see cref="CallRecording"/>: from the kernel's
/// <c>seccomp_data</c>, never from the command's memory) and lets it run (<c>SECCOMP_USER_NOTIF_FLAG_CONTINUE</c>).
/// Unprivileged and exact: every call of every thread of every process the command starts, on every architecture,
/// goes through the filter, which is in place from the command's first instruction and inherited over fork and exec.
/// </summary>
/// <remarks>
/// The run is an ordinary supervised run (<see cref="CommandRun"/>): the guard keeps the command away from
/// syscage and its launcher, no second listener can be installed, and the command's whole tree ends with it — the
/// recording is complete, and ends, before anything is written. What the command makes is not restricted: a recording
/// shows what a program does, so record only what you would run without a sandbox.
/// </remarks>
public static class CommandRecord
{
    /// <summary>Runs and records <paramref name="request"/> with this process's stdio.</summary>
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public static RecordResult Run(RecordRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var recording = new CallRecording(request.Arguments);
        var run = CommandRun.Run(new RunRequest(request.Command)
        {
            Policy = RecordedPolicy.Filter(request.Merge),
            Handler = (notification, _) =>
            {
                recording.Record(notification.Data, notification.Pid);
                return ValueTask.FromResult(NotificationResponse.Continue);
            },
            FastHandler = true,
            Log = request.Log,
            ForwardSignals = request.ForwardSignals,
            StandardOutputToStandardError = request.StandardOutputToStandardError,
            Source = "the recording",
        });
        return new RecordResult(run, recording);
    }
}
