using System.Runtime.InteropServices;
using Syscage.Kernel;
using Syscage.Abi;

namespace Syscage.Supervision;

/// <summary>
/// Passes every catchable signal this process receives on to a sandboxed command, through its launcher, so a signal
/// sent to <c>syscage run</c> reaches the command instead of ending the supervisor. The launcher drops the copy of a
/// signal that was sent to the whole process group (the terminal's Ctrl-C, a shell's job control): the command got
/// its own.
/// </summary>
/// <remarks>
/// Not forwarded, and left to their default or to the runtime: SIGKILL and SIGSTOP (they can't be caught; SIGKILL
/// ends the supervisor, and the launcher then kills the command's tree), the faults (SIGILL, SIGTRAP, SIGABRT,
/// SIGBUS, SIGFPE, SIGSEGV, SIGSYS) and SIGPIPE, which the runtime owns, SIGCHLD, SIGTTIN and SIGTTOU (about this
/// process's own children and terminal), and SIGRTMIN, the .NET runtime's thread-activation signal. SIGTSTP, SIGCONT
/// and SIGWINCH are passed on and keep their default effect here too (a stopped job stops its supervisor). A signal this
/// process was started with ignored stays ignored (the runtime keeps it so), and the launcher leaves it ignored for the
/// command, as any exec would.
/// </remarks>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal sealed class SignalForwarding : IDisposable
{
    private static readonly int[] KeepDefault = [Signals.SIGCONT, Signals.SIGTSTP, Signals.SIGWINCH];

    // 32 and 33 are the C library's own; 34, its SIGRTMIN, is the .NET runtime's INJECT_ACTIVATION_SIGNAL.
    private static readonly int[] NotForwarded =
    [
        Signals.SIGILL, Signals.SIGTRAP, Signals.SIGABRT, Signals.SIGBUS, Signals.SIGFPE, Signals.SIGKILL, Signals.SIGSEGV,
        Signals.SIGPIPE, Signals.SIGCHLD, Signals.SIGSTOP, Signals.SIGTTIN, Signals.SIGTTOU, Signals.SIGSYS,
        Signals.SIGRTMIN, Signals.SIGRTMIN + 1, Signals.SIGRTMIN + 2,
    ];
    private readonly List<PosixSignalRegistration> _registrations = [];
    private readonly Lock _gate = new();
    private readonly List<int> _early = [];
    private SandboxedProcess? _target;

    private SignalForwarding()
    {
        foreach (int signal in Forwarded)
        {
            bool keep = KeepDefault.Contains(signal);
            try
            {
                _registrations.Add(PosixSignalRegistration.Create((PosixSignal)signal, c =>
                {
                    c.Cancel = !keep;
                    Received(signal);
                }));
            }
            catch (IOException)
            {
                // A signal this runtime can't handle (it says EINVAL): it keeps its default.
            }
        }
    }

    /// <summary>The signals passed on (for documentation and tests).</summary>
    public static IEnumerable<int> Forwarded => Enumerable.Range(1, Signals.Last).Where(s => !NotForwarded.Contains(s));

    /// <summary>
    /// Starts catching the signals, before the command exists: those received until <see cref="Attach"/> are kept and
    /// passed on then, in order. Dispose to stop.
    /// </summary>
    public static SignalForwarding Start() => new();

    /// <summary>Passes the signals received so far, and every one from now on, to <paramref name="process"/>.</summary>
    public void Attach(SandboxedProcess process)
    {
        ArgumentNullException.ThrowIfNull(process);
        int[] early;
        lock (_gate)
        {
            _target = process;
            early = [.. _early];
            _early.Clear();
        }
        foreach (int signal in early)
            Forward(process, signal);
    }

    private void Received(int signal)
    {
        SandboxedProcess? target;
        lock (_gate)
        {
            target = _target;
            if (target is null)
            {
                _early.Add(signal);
                return;
            }
        }
        Forward(target, signal);
    }

    private static void Forward(SandboxedProcess process, int signal)
    {
        try
        {
            process.SendSignal(signal);
        }
        catch (SyscageException)
        {
            // The command is already gone.
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var r in _registrations)
            r.Dispose();
        _registrations.Clear();
    }
}
