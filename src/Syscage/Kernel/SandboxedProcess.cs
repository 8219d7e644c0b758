using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Syscage.Bpf;
using static Syscage.Kernel.Interop.Libc;

namespace Syscage.Kernel;

/// <summary>What to run under a filter (the shape of <see cref="ProcessStartInfo"/>).</summary>
public sealed class SandboxedProcessStartInfo
{
    /// <summary>Creates start info for <paramref name="fileName"/>, found on PATH when it has no slash.</summary>
    public SandboxedProcessStartInfo(string fileName, params IEnumerable<string> arguments)
    {
        FileName = fileName;
        foreach (var a in arguments)
            Arguments.Add(a);
        foreach (System.Collections.DictionaryEntry e in System.Environment.GetEnvironmentVariables())
            Environment[(string)e.Key] = (string?)e.Value;
    }

    /// <summary>The program.</summary>
    public string FileName { get; }
    /// <summary>Its arguments (argv[1..]).</summary>
    public IList<string> Arguments { get; } = [];
    /// <summary>The environment (starts as this process's).</summary>
    public IDictionary<string, string?> Environment { get; } = new Dictionary<string, string?>(StringComparer.Ordinal);
    /// <summary>Working directory (default: this process's).</summary>
    public string? WorkingDirectory { get; set; }
    /// <summary>Redirect stdin to <see cref="SandboxedProcess.StandardInput"/>.</summary>
    public bool RedirectStandardInput { get; set; }
    /// <summary>Redirect stdout to <see cref="SandboxedProcess.StandardOutput"/>.</summary>
    public bool RedirectStandardOutput { get; set; }
    /// <summary>Redirect stderr to <see cref="SandboxedProcess.StandardError"/>.</summary>
    public bool RedirectStandardError { get; set; }
    /// <summary>
    /// Flags for <c>seccomp(SECCOMP_SET_MODE_FILTER)</c> (TSYNC is pointless in a fresh process). With
    /// <see cref="FilterFlags.NewListener"/> the listener reaches <see cref="SandboxedProcess.Listener"/> before the
    /// command runs, and the command never holds it (the hand-over is described in syscage-exec.c).
    /// </summary>
    public FilterFlags Flags { get; set; }
}

/// <summary>How a sandboxed command ended.</summary>
/// <param name="ExitCode">Its exit code, when it exited.</param>
/// <param name="Signal">The signal that killed it, when one did.</param>
/// <param name="CoreDumped">Whether it dumped core.</param>
/// <param name="Failure">When the command never ran: why (e.g. <c>exec: ENOENT (No such file or directory)</c>).</param>
public sealed record SandboxExit(int? ExitCode, int? Signal, bool CoreDumped, string? Failure)
{
    /// <summary><c>SIGSYS</c>: the signal of <c>SECCOMP_RET_KILL_*</c> and <c>SECCOMP_RET_TRAP</c>.</summary>
    public const int SIGSYS = 31;

    /// <summary>The status a shell would show: the exit code, or 128 + signal.</summary>
    public int ShellStatus => Signal is int s ? 128 + s : ExitCode ?? 127;

    /// <summary>True when SIGSYS ended it: the filter killed it (or a TRAP went unhandled).</summary>
    public bool KilledBySeccomp => Signal == SIGSYS;

    /// <inheritdoc/>
    public override string ToString() => Failure is not null ? $"failed to start: {Failure}"
        : Signal is int s ? string.Create(CultureInfo.InvariantCulture, $"killed by signal {s}{(CoreDumped ? " (core dumped)" : "")}")
        : string.Create(CultureInfo.InvariantCulture, $"exited with {ExitCode}");
}

/// <summary>
/// A command running under a seccomp filter from its first instruction. The .NET process never forks itself:
/// it starts the small native launcher <c>syscage-exec</c> (shipped next to Syscage.dll), which forks the
/// command's process, sets no_new_privs, installs the filter and execs the command, then waits and reports
/// exactly how it ended. Works unprivileged.
/// </summary>
public sealed class SandboxedProcess : IDisposable
{
    private static readonly Lock StartLock = new();
    private readonly Process _launcher;
    private readonly Task<string> _status;

    private SandboxedProcess(Process launcher, Task<string> status, Notify.ListenerHandle? listener, int commandPid)
    {
        _launcher = launcher;
        _status = status;
        Listener = listener;
        CommandPid = commandPid;
    }

    /// <summary>
    /// With <see cref="FilterFlags.NewListener"/>: the filter's user-notification listener, taken from the
    /// command's process before it ran its command; null otherwise, or when the filter could not be installed
    /// (<see cref="WaitForExit"/> says why). The caller owns it (hand it to a <c>NotificationSupervisor</c>).
    /// </summary>
    public Notify.ListenerHandle? Listener { get; }

    /// <summary>The command's process id, when known (with <see cref="FilterFlags.NewListener"/>); 0 otherwise.</summary>
    public int CommandPid { get; }

    /// <summary>Where the launcher is: next to Syscage.dll.</summary>
    public static string LauncherPath => Path.Combine(Path.GetDirectoryName(typeof(SandboxedProcess).Assembly.Location) ?? AppContext.BaseDirectory, "syscage-exec");

    /// <summary>The launcher process (the command is its only child).</summary>
    public Process Process => _launcher;

    /// <summary>The command's stdin, when redirected.</summary>
    public StreamWriter StandardInput => _launcher.StandardInput;
    /// <summary>The command's stdout, when redirected.</summary>
    public StreamReader StandardOutput => _launcher.StandardOutput;
    /// <summary>The command's stderr, when redirected.</summary>
    public StreamReader StandardError => _launcher.StandardError;

    /// <summary>Starts <paramref name="info"/> under <paramref name="filter"/>.</summary>
    public static SandboxedProcess Start(BpfProgram filter, SandboxedProcessStartInfo info)
    {
        ArgumentNullException.ThrowIfNull(filter);
        ArgumentNullException.ThrowIfNull(info);
        string path = ResolveExecutable(info.FileName, info.Environment.TryGetValue("PATH", out var p) ? p : null);
        string launcher = LauncherPath;
        if (!File.Exists(launcher))
            throw new SyscageException($"{launcher}: the launcher is missing (it is built from src/Syscage/Kernel/Native/syscage-exec.c with cc)");

        int memfd = memfd_create("syscage-filter", MFD_CLOEXEC);
        if (memfd < 0)
            throw KernelException.FromLastError("memfd_create");
        bool listening = (info.Flags & FilterFlags.NewListener) != 0;
        int handover = -1;
        Span<int> pipe = stackalloc int[2];
        try
        {
            WriteAll(memfd, filter.ToBytes());
            if (listening)
            {
                // One shared page: the launcher maps it before fork; see "The listener hand-over" in syscage-exec.c.
                handover = memfd_create("syscage-handover", MFD_CLOEXEC);
                if (handover < 0)
                    throw KernelException.FromLastError("memfd_create");
                if (ftruncate(handover, 4096) != 0)
                    throw KernelException.FromLastError("ftruncate(memfd)");
            }
            if (pipe2(pipe, 0x80000 /* O_CLOEXEC */) != 0)
                throw KernelException.FromLastError("pipe2");
            int pid = System.Environment.ProcessId;
            var psi = new ProcessStartInfo(launcher)
            {
                UseShellExecute = false,
                RedirectStandardInput = info.RedirectStandardInput,
                RedirectStandardOutput = info.RedirectStandardOutput,
                RedirectStandardError = info.RedirectStandardError,
                WorkingDirectory = info.WorkingDirectory ?? "",
            };
            if (listening)
            {
                psi.ArgumentList.Add("--listener");
                psi.ArgumentList.Add($"/proc/{pid}/fd/{handover}");
            }
            psi.ArgumentList.Add($"/proc/{pid}/fd/{memfd}");
            psi.ArgumentList.Add(((uint)info.Flags).ToString(CultureInfo.InvariantCulture));
            psi.ArgumentList.Add($"/proc/{pid}/fd/{pipe[1]}");
            psi.ArgumentList.Add(path);
            psi.ArgumentList.Add(info.FileName);
            foreach (var a in info.Arguments)
                psi.ArgumentList.Add(a);
            psi.Environment.Clear();
            foreach (var (k, v) in info.Environment)
                psi.Environment[k] = v;

            Process process;
            lock (StartLock)
                process = Process.Start(psi) ?? throw new SyscageException($"{launcher}: could not start");
            int readEnd = pipe[0], writeEnd = pipe[1];
            var taken = listening ? new TaskCompletionSource<(Notify.ListenerHandle, int)?>(TaskCreationOptions.RunContinuationsAsynchronously) : null;
            int handoverFd = handover;
            handover = -1; // ReadStatus closes it now
            var status = Task.Run(() => ReadStatus(readEnd, writeEnd, memfd, handoverFd, taken, process));
            if (taken is null)
                return new SandboxedProcess(process, status, null, 0);
            // The command's process spins until we take the listener (or the launcher gives up after 30 s).
            Task.WaitAny(taken.Task, status);
            if (taken.Task.IsFaulted)
            {
                process.WaitForExit();
                process.Dispose();
                throw taken.Task.Exception!.InnerException!;
            }
            var got = taken.Task.IsCompletedSuccessfully ? taken.Task.Result : null;
            return new SandboxedProcess(process, status, got?.Item1, got?.Item2 ?? 0);
        }
        catch
        {
            close(memfd);
            if (handover >= 0) close(handover);
            if (pipe[0] > 0) close(pipe[0]);
            if (pipe[1] > 0) close(pipe[1]);
            throw;
        }
    }

    /// <summary>Waits for the command and says how it ended.</summary>
    public SandboxExit WaitForExit()
    {
        _launcher.WaitForExit();
        return Parse(_status.GetAwaiter().GetResult(), _launcher.ExitCode);
    }

    /// <summary>Waits for the command and says how it ended.</summary>
    public async Task<SandboxExit> WaitForExitAsync(CancellationToken cancellationToken = default)
    {
        await _launcher.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        return Parse(await _status.WaitAsync(cancellationToken).ConfigureAwait(false), _launcher.ExitCode);
    }

    /// <summary>
    /// Sends <paramref name="signal"/> to the launcher, which passes SIGTERM, SIGHUP, SIGUSR1 and SIGUSR2 on to the
    /// command (SIGKILL ends the launcher itself; the command then gets no further signal from it).
    /// </summary>
    public void SendSignal(int signal)
    {
        if (!_launcher.HasExited && Interop.Libc.kill(_launcher.Id, signal) != 0)
            throw KernelException.FromLastError("kill");
    }

    /// <summary>Asks the command to end: SIGTERM, passed on by the launcher.</summary>
    public void Terminate() => SendSignal(15);

    /// <inheritdoc/>
    public void Dispose() => _launcher.Dispose();

    private static string ReadStatus(int readEnd, int writeEnd, int memfd, int handover,
                                     TaskCompletionSource<(Notify.ListenerHandle, int)?>? taken, Process process)
    {
        int linesSeen = 0;
        void OnLines(string text)
        {
            var lines = text.Split('\n');
            for (; linesSeen < lines.Length - 1; linesSeen++)
            {
                var parts = lines[linesSeen].Split(' ');
                if (parts[0] == "listener" && taken is not null && handover >= 0 && parts.Length == 3)
                    TakeListener(parts, handover, taken);
            }
        }
        // Our write end must close for the pipe to reach EOF, but not before the launcher has opened its own
        // through /proc: it says "ready" once it has. If it dies first, its exit is the cue instead.
        int closed = 0;
        void CloseOurs()
        {
            if (Interlocked.Exchange(ref closed, 1) == 0)
            {
                close(writeEnd);
                close(memfd);
            }
        }
        _ = process.WaitForExitAsync().ContinueWith(_ => CloseOurs(), TaskScheduler.Default);
        if (taken is not null)
            _ = process.WaitForExitAsync().ContinueWith(_ => taken.TrySetResult(null), TaskScheduler.Default);
        var text = new System.Text.StringBuilder();
        var buffer = new byte[256];
        try
        {
            while (true)
            {
                nint n = read(readEnd, buffer, buffer.Length);
                if (n > 0)
                {
                    text.Append(System.Text.Encoding.ASCII.GetString(buffer, 0, (int)n));
                    string all = text.ToString();
                    if (all.Contains('\n', StringComparison.Ordinal))
                        CloseOurs();
                    OnLines(all);
                }
                else if (n == 0 || Marshal.GetLastPInvokeError() != 4 /* EINTR */)
                    break;
            }
        }
        finally
        {
            CloseOurs();
            close(readEnd);
            if (handover >= 0)
                close(handover);
            taken?.TrySetResult(null);
        }
        return text.ToString();
    }

    /// <summary>The caller's side of the hand-over: pidfd_getfd the listener, then let the command's process go on.</summary>
    private static void TakeListener(string[] parts, int handover, TaskCompletionSource<(Notify.ListenerHandle, int)?> taken)
    {
        Span<byte> flag = stackalloc byte[4];
        try
        {
            int pid = int.Parse(parts[1], CultureInfo.InvariantCulture), fd = int.Parse(parts[2], CultureInfo.InvariantCulture);
            var listener = Notify.ListenerHandle.TakeFrom(pid, fd);
            flag[0] = 1; // taken = 1 (offset 8 of struct handover)
            if (pwrite(handover, flag, 4, 8) != 4)
            {
                var e = KernelException.FromLastError("pwrite(handover)");
                listener.Dispose();
                throw e;
            }
            taken.TrySetResult((listener, pid));
        }
        catch (Exception e) when (e is SyscageException or FormatException)
        {
            flag[0] = 2; // taken = 2: gave up, the launcher kills the command's process
            _ = pwrite(handover, flag, 4, 8);
            taken.TrySetException(e);
        }
    }

    private static SandboxExit Parse(string status, int launcherExit)
    {
        string? failure = null;
        foreach (var line in status.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = line.Split(' ');
            switch (parts[0])
            {
                case "exit":
                    return new SandboxExit(int.Parse(parts[1], CultureInfo.InvariantCulture), null, false, failure);
                case "ready" when parts.Length > 1 && parts[1] == "0":
                case "listener":
                    break;
                case "signal":
                    return new SandboxExit(null, int.Parse(parts[1], CultureInfo.InvariantCulture), parts.Length > 2 && parts[2] == "1", failure);
                default:
                    int errno = parts.Length > 1 && int.TryParse(parts[1], CultureInfo.InvariantCulture, out int e) ? e : 0;
                    failure = parts[0] switch
                    {
                        "seccomp" => $"seccomp(SECCOMP_SET_MODE_FILTER): {KernelException.Describe(errno)}",
                        "prctl" => $"prctl(PR_SET_NO_NEW_PRIVS): {KernelException.Describe(errno)}",
                        "exec" => $"execve: {KernelException.Describe(errno)}",
                        "read" or "ready" => $"reading the filter: {KernelException.Describe(errno)}",
                        _ => $"{parts[0]}: {KernelException.Describe(errno)}",
                    };
                    break;
            }
        }
        return new SandboxExit(failure is null ? launcherExit : null, null, false, failure);
    }

    private static void WriteAll(int fd, byte[] bytes)
    {
        int done = 0;
        while (done < bytes.Length)
        {
            nint n = write(fd, bytes.AsSpan(done), bytes.Length - done);
            if (n < 0)
                throw KernelException.FromLastError("write(memfd)");
            done += (int)n;
        }
    }

    /// <summary>execvp's search, done here so that the filtered process makes one execve and no probing.</summary>
    public static string ResolveExecutable(string fileName, string? pathVariable)
    {
        if (fileName.Contains('/'))
            return File.Exists(fileName) ? Path.GetFullPath(fileName) : throw new SyscageException($"{fileName}: no such file");
        foreach (var dir in (pathVariable ?? "/usr/local/bin:/usr/bin:/bin").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, fileName);
            if (File.Exists(candidate) && (File.GetUnixFileMode(candidate) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0)
                return candidate;
        }
        throw new SyscageException($"{fileName}: command not found on PATH");
    }
}
