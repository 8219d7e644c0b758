using Syscage.Abi;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;
using Syscage.Bpf;
using static Syscage.Kernel.Interop.Libc;

namespace Syscage.Kernel;

/// <summary>What to run under a filter (the shape of <see cref="System.Diagnostics.ProcessStartInfo"/>).</summary>
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
    /// Give the command this process's stderr as its stdout as well (unless stdout is redirected): nothing the command
    /// prints reaches this process's stdout, which stays this process's own (<c>syscage record</c> writes a policy there).
    /// </summary>
    public bool StandardOutputToStandardError { get; set; }
    /// <summary>
    /// Flags for <c>seccomp(SECCOMP_SET_MODE_FILTER)</c> of the main filter (TSYNC is pointless in a fresh process).
    /// With <see cref="FilterFlags.NewListener"/> the listener reaches <see cref="SandboxedProcess.Listener"/> before
    /// the command runs, and the command never holds it (the hand-over is described in syscage-exec.c).
    /// </summary>
    public FilterFlags Flags { get; set; }

    /// <summary>
    /// A filter installed before the main one, made once the launcher runs (it may name the launcher's pid): the
    /// supervisor's guard (<c>Syscage.Supervision.SupervisorGuard</c>). Null: none.
    /// </summary>
    public Func<LaunchContext, SandboxGuard>? Guard { get; set; }
}

/// <summary>The processes a guard filter protects: the supervisor (this process) and the launcher.</summary>
/// <param name="SupervisorPid">This process.</param>
/// <param name="SupervisorProcessGroup">This process's process group, which the command shares.</param>
/// <param name="LauncherPid">The launcher, the command's parent.</param>
public readonly record struct LaunchContext(int SupervisorPid, int SupervisorProcessGroup, int LauncherPid);

/// <summary>A filter installed before the main one.</summary>
/// <param name="Filter">The guard's program.</param>
/// <param name="Marker">
/// The value the launcher passes as the otherwise unused fourth argument of the <c>seccomp()</c> call that installs
/// the main filter (<c>seccomp_data.args[3]</c>), so the guard can let that one installation through.
/// </param>
public sealed record SandboxGuard(BpfProgram Filter, ulong Marker);

/// <summary>How a sandboxed command ended.</summary>
/// <param name="ExitCode">Its exit code, when it exited.</param>
/// <param name="Signal">The signal that killed it, when one did.</param>
/// <param name="CoreDumped">Whether it dumped core.</param>
/// <param name="Failure">When the command never ran: why (e.g. <c>exec: ENOENT (No such file or directory)</c>).</param>
public sealed record SandboxExit(int? ExitCode, int? Signal, bool CoreDumped, string? Failure)
{
    /// <summary><c>SIGSYS</c>: the signal of <c>SECCOMP_RET_KILL_*</c> and <c>SECCOMP_RET_TRAP</c>.</summary>
    public const int SIGSYS = Uapi.SIGSYS;

    /// <summary>Processes of the command's tree still running when it ended, which the launcher then killed.</summary>
    public int Swept { get; init; }

    /// <summary>The status a shell would show: the exit code, or 128 + signal.</summary>
    public int ShellStatus => Signal is int s ? 128 + s : ExitCode ?? 127;

    /// <summary>True when SIGSYS ended it: a seccomp KILL or an unhandled TRAP — or a SIGSYS some process sent.</summary>
    public bool KilledBySigsys => Signal == SIGSYS;

    /// <inheritdoc/>
    public override string ToString() => Failure is not null ? $"failed to start: {Failure}"
        : Signal is int s ? string.Create(CultureInfo.InvariantCulture, $"killed by {Signals.Name(s) ?? $"signal {s}"}{(CoreDumped ? " (core dumped)" : "")}")
        : string.Create(CultureInfo.InvariantCulture, $"exited with {ExitCode}");
}

/// <summary>The command can't be run: not found (shell status 127), or not executable (126).</summary>
public sealed class CommandNotRunnableException(string message, int shellStatus) : SyscageException(message)
{
    /// <summary>What a shell answers: 127 when the command was not found, 126 when it can't be executed.</summary>
    public int ShellStatus { get; } = shellStatus;
}

/// <summary>
/// A command running under seccomp filters from its first instruction. The .NET process never forks itself: it
/// starts the small native launcher <c>syscage-exec</c> (shipped next to Syscage.dll) with <c>posix_spawn</c>; the
/// launcher forks the command's process, which sets no_new_privs, installs the filters and execs the command. The
/// launcher then waits, reports exactly how the command ended, and keeps its whole process tree from outliving this
/// object: disposing it, or the end of this process, kills the tree. Works unprivileged.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class SandboxedProcess : IDisposable
{
    private const int ControlFd = 3, StatusFd = 4, HandoverFd = 5;
    private static readonly Lock StartLock = new();
    private readonly int _launcherPid;
    private readonly ProcessHandle _launcher;
    private readonly SafeFileHandle _control;
    private readonly StatusLines _status;
    private readonly StreamWriter? _stdin;
    private readonly StreamReader? _stdout, _stderr;

    private SandboxedProcess(int launcherPid, ProcessHandle launcher, SafeFileHandle control, StatusLines status,
                             StreamWriter? stdin, StreamReader? stdout, StreamReader? stderr)
    {
        _launcherPid = launcherPid;
        _launcher = launcher;
        _control = control;
        _status = status;
        _stdin = stdin;
        _stdout = stdout;
        _stderr = stderr;
    }

    /// <summary>
    /// With <see cref="FilterFlags.NewListener"/>: the filter's user-notification listener, taken from the
    /// command's process before it ran its command; null otherwise, or when the filter could not be installed
    /// (<see cref="WaitForExit()"/> says why). The caller owns it (hand it to a <c>NotificationSupervisor</c>).
    /// </summary>
    public ListenerHandle? Listener { get; private set; }

    /// <summary>The command's process id (0 when the launcher failed before forking it).</summary>
    public int CommandPid { get; private set; }

    /// <summary>The launcher's process id: the command's parent.</summary>
    public int LauncherPid => _launcherPid;

    /// <summary>
    /// The launcher <see cref="Start"/> runs. Unless set: <c>$SYSCAGE_EXEC</c> when that is set, else the copy
    /// <see cref="LoadLauncher"/> made, else the first <c>syscage-exec</c> found in the application's folder
    /// (<see cref="AppContext.BaseDirectory"/>, where a RID-specific build, a publish or a project reference puts it), in
    /// the native-asset folders the host resolved for this machine (a portable build of the package:
    /// <c>runtimes/linux-x64/native/</c>), or in <c>runtimes/linux-ARCH/native/</c> under the application's folder.
    /// Set it to run another copy; null goes back to the default.
    /// </summary>
    [System.Diagnostics.CodeAnalysis.AllowNull]
    public static string LauncherPath
    {
        get => Launcher.Path;
        set => Launcher.Explicit = value;
    }

    /// <summary>
    /// Makes an in-memory copy of <paramref name="image"/> (a <c>syscage-exec</c> built for this machine) the default
    /// launcher, for applications that carry it inside themselves (a single-file executable): a sealed memfd, so
    /// nothing can change it, executed as <c>/proc/self/fd/N</c>. <see cref="LauncherPath"/> set by the application and
    /// <c>$SYSCAGE_EXEC</c> still come first. Once per process; returns the copy's path.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="image"/> is not an ELF file.</exception>
    /// <exception cref="KernelException">The memfd could not be made.</exception>
    public static string LoadLauncher(ReadOnlySpan<byte> image) => Launcher.Load(image);

    /// <summary>True once the launcher has ended (the command and its tree with it).</summary>
    public bool HasExited
    {
        get
        {
            ReadInBackground();
            return _status.Ended.IsCompleted;
        }
    }

    /// <summary>The command's stdin, when redirected.</summary>
    public StreamWriter StandardInput => _stdin ?? throw new InvalidOperationException("stdin was not redirected");
    /// <summary>The command's stdout, when redirected.</summary>
    public StreamReader StandardOutput => _stdout ?? throw new InvalidOperationException("stdout was not redirected");
    /// <summary>The command's stderr, when redirected.</summary>
    public StreamReader StandardError => _stderr ?? throw new InvalidOperationException("stderr was not redirected");

    /// <summary>Starts <paramref name="info"/> under <paramref name="filter"/> (after <see cref="SandboxedProcessStartInfo.Guard"/>, if any).</summary>
    /// <exception cref="CommandNotRunnableException">The command was not found or is not executable.</exception>
    /// <exception cref="SyscageException">
    /// The launcher is missing or could not be started; or the kernel refuses <see cref="SandboxedProcessStartInfo.Flags"/>
    /// (<see cref="Seccomp.FlagsProblem"/>, <see cref="Seccomp.AreFlagsSupported"/>).
    /// </exception>
    public static SandboxedProcess Start(BpfProgram filter, SandboxedProcessStartInfo info)
    {
        ArgumentNullException.ThrowIfNull(filter);
        ArgumentNullException.ThrowIfNull(info);
        string path = ResolveExecutable(info.FileName, info.Environment.TryGetValue("PATH", out var p) ? p : null);
        string launcher = LauncherPath;
        if (!File.Exists(launcher))
            throw new SyscageException($"{launcher}: the launcher is missing (the Syscage package ships it for linux-x64 and linux-arm64 " +
                $"as runtimes/RID/native/syscage-exec; set SandboxedProcess.LauncherPath or ${Launcher.Variable} to use another copy)");
        bool listening = (info.Flags & FilterFlags.NewListener) != 0;
        // Refuse here, with the reason, what the kernel would refuse with a bare EINVAL in the child.
        if (Seccomp.FlagsProblem(info.Flags) is { } problem)
            throw new SyscageException(problem);
        if (info.Flags != FilterFlags.None && !Seccomp.AreFlagsSupported(info.Flags))
            throw new SyscageException($"this kernel does not know every flag of {Seccomp.FlagNamesOf(info.Flags)} (seccomp(SECCOMP_SET_MODE_FILTER) says EINVAL)");

        var fds = new ChildDescriptors();
        try
        {
            var (controlRead, controlWrite) = fds.Pipe();
            var (statusRead, statusWrite) = fds.Pipe();
            fds.Give(controlRead, ControlFd);
            fds.Give(statusWrite, StatusFd);
            int handover = -1;
            if (listening)
            {
                // One shared page: the launcher maps it before fork; see "The listener hand-over" in syscage-exec.c.
                handover = fds.Keep(memfd_create("syscage-handover", MFD_CLOEXEC), "memfd_create");
                if (ftruncate(handover, 4096) != 0)
                    throw KernelException.FromLastError("ftruncate(memfd)");
                fds.Give(handover, HandoverFd);
            }
            StreamWriter? stdin = null;
            StreamReader? stdout = null, stderr = null;
            if (info.RedirectStandardInput)
            {
                var (r, w) = fds.Pipe();
                fds.Give(r, 0);
                stdin = new StreamWriter(fds.Stream(w, FileAccess.Write), new UTF8Encoding(false)) { AutoFlush = true };
            }
            if (info.RedirectStandardOutput)
            {
                var (r, w) = fds.Pipe();
                fds.Give(w, 1);
                stdout = new StreamReader(fds.Stream(r, FileAccess.Read), Encoding.UTF8);
            }
            if (info.RedirectStandardError)
            {
                var (r, w) = fds.Pipe();
                fds.Give(w, 2);
                stderr = new StreamReader(fds.Stream(r, FileAccess.Read), Encoding.UTF8);
            }
            if (info.StandardOutputToStandardError && !info.RedirectStandardOutput)
            {
                // A copy of this process's stderr, above 10 like the other sources, becomes the command's stdout.
                int copy = fds.Keep(fcntl(2, F_DUPFD_CLOEXEC, 10), "fcntl(2, F_DUPFD_CLOEXEC)");
                fds.Give(copy, 1);
            }

            List<string> argv = [launcher];
            if (listening)
                argv.Add("--listener");
            if (!string.IsNullOrEmpty(info.WorkingDirectory))
                argv.AddRange(["--cwd", info.WorkingDirectory]);
            argv.AddRange(["--", path, info.FileName, .. info.Arguments]);
            int pid;
            lock (StartLock)
            {
                try
                {
                    pid = Spawn(launcher, argv, info.Environment, fds);
                }
                catch (KernelException e) when (e.Errno == Errno.EACCES && Launcher.IsFoundFile(launcher))
                {
                    // The package's launcher, extracted without the right to execute it for this user: run a copy.
                    argv[0] = launcher = Launcher.CopyOf(launcher);
                    pid = Spawn(launcher, argv, info.Environment, fds);
                }
            }
            // Ours of the hand-over page stays open: the launcher's copy and ours (for the hand-over's "taken").
            var handoverPage = handover >= 0 ? fds.Take(handover) : null;
            fds.CloseGiven();
            var pidfd = ProcessHandle.Open(pid, out int errno) ?? throw new KernelException("pidfd_open(launcher)", errno);
            var control = fds.Take(controlWrite);
            var status = new StatusLines(fds.Take(statusRead), handoverPage, pidfd);
            var process = new SandboxedProcess(pid, pidfd, control, status, stdin, stdout, stderr);
            try
            {
                // The filters first, as soon as the launcher's pid is known: the launcher waits for them. Its status is
                // then read on this thread, and on a thread of its own only if the caller does not wait for the end.
                var context = new LaunchContext(System.Environment.ProcessId, getpgrp(), pid);
                var guard = info.Guard?.Invoke(context);
                process.SendFilters(guard, filter, info.Flags);
                process.AwaitStart(listening);
            }
            catch
            {
                process.Dispose();
                throw;
            }
            return process;
        }
        finally
        {
            fds.Dispose();
        }
    }

    /// <summary>Waits for the command (and its tree) to end and says how it ended.</summary>
    public SandboxExit WaitForExit()
    {
        // Unless a thread reads the launcher's status already, this one does: no thread to start for a caller that waits.
        if (_status.Claim())
            _status.ReadToEnd();
        else
            _status.Ended.Wait();
        return _status.Exit();
    }

    /// <summary>Waits at most <paramref name="milliseconds"/> for the command to end; true when it has.</summary>
    public bool WaitForExit(int milliseconds)
    {
        ReadInBackground();
        return _status.Ended.Wait(milliseconds);
    }

    /// <summary>Waits for the command and says how it ended.</summary>
    public async Task<SandboxExit> WaitForExitAsync(CancellationToken cancellationToken = default)
    {
        ReadInBackground();
        await _status.Ended.WaitAsync(cancellationToken).ConfigureAwait(false);
        return _status.Exit();
    }

    /// <summary>Reads the rest of the launcher's status on a thread of its own, unless some thread does already.</summary>
    private void ReadInBackground()
    {
        if (_status.Claim())
            new Thread(_status.ReadToEnd) { IsBackground = true, Name = "syscage-launcher-status" }.Start();
    }

    /// <summary>
    /// Sends <paramref name="signal"/> to the launcher, which passes every catchable signal from this process on to
    /// the command (not SIGKILL or SIGSTOP: see <see cref="Kill"/>).
    /// </summary>
    public void SendSignal(int signal)
    {
        try
        {
            // The pidfd names the launcher even after it has ended and its pid was reused: ESRCH, never a stranger.
            int errno = _launcher.Signal(signal);
            if (errno != 0 && errno != Errno.ESRCH) // ESRCH: already gone
                throw new KernelException("pidfd_send_signal(launcher)", errno);
        }
        catch (ObjectDisposedException)
        {
            // The launcher has ended and been reaped.
        }
    }

    /// <summary>Asks the command to end: SIGTERM, passed on by the launcher.</summary>
    public void Terminate() => SendSignal(15);

    /// <summary>Kills the command and every process of its tree (the launcher does it when this process hangs up).</summary>
    public void Kill() => _control.Dispose();

    /// <summary>Kills the command's tree if it still runs (see <see cref="Kill"/>) and releases the descriptors.</summary>
    public void Dispose()
    {
        _control.Dispose();
        _stdin?.Dispose();
        _stdout?.Dispose();
        _stderr?.Dispose();
        // Nobody waited for the end: the launcher's status is still read to its end, and the launcher reaped.
        ReadInBackground();
    }

    /// <summary>Writes the filters on CONTROL (count; per filter flags, length, marker, instructions).</summary>
    private void SendFilters(SandboxGuard? guard, BpfProgram filter, FilterFlags flags)
    {
        var message = new List<byte>();
        void U32(uint v) => message.AddRange(BitConverter.GetBytes(v));
        void Filter(BpfProgram program, uint f, ulong marker)
        {
            U32(f);
            U32((uint)program.Length);
            message.AddRange(BitConverter.GetBytes(marker));
            message.AddRange(program.ToBytes());
        }
        U32(guard is null ? 1u : 2u);
        if (guard is not null)
            Filter(guard.Filter, 0, 0);
        Filter(filter, (uint)flags, guard?.Marker ?? 0);
        byte[] bytes = [.. message];
        int done = 0;
        bool added = false;
        try
        {
            _control.DangerousAddRef(ref added);
            int fd = (int)_control.DangerousGetHandle();
            while (done < bytes.Length)
            {
                nint n = write(fd, bytes.AsSpan(done), bytes.Length - done);
                if (n < 0)
                {
                    if (Marshal.GetLastPInvokeError() == Errno.EINTR)
                        continue;
                    break; // the launcher is gone; its status says why
                }
                done += (int)n;
            }
        }
        finally
        {
            if (added)
                _control.DangerousRelease();
        }
    }

    /// <summary>
    /// Reads the launcher's status on this thread until it says the command's process exists (and, when listening, until
    /// we hold the listener), or it fails or ends.
    /// </summary>
    private void AwaitStart(bool listening)
    {
        _status.ReadUntil(() => _status.Started && (!listening || _status.Taken.Task.IsCompleted));
        CommandPid = _status.CommandPid;
        if (!listening)
            return;
        Listener = _status.Taken.Task.GetAwaiter().GetResult();
    }

    private static unsafe int Spawn(string launcher, List<string> argv, IDictionary<string, string?> environment, ChildDescriptors fds)
    {
        var strings = new List<nint>();
        nint Utf8(string s)
        {
            nint p = Marshal.StringToCoTaskMemUTF8(s);
            strings.Add(p);
            return p;
        }
        byte* actions = stackalloc byte[PosixSpawnOpaqueSize];
        new Span<byte>(actions, PosixSpawnOpaqueSize).Clear();
        int rc = posix_spawn_file_actions_init(actions);
        if (rc != 0)
            throw new KernelException("posix_spawn_file_actions_init", rc);
        try
        {
            foreach (var (source, target) in fds.Given)
                if ((rc = posix_spawn_file_actions_adddup2(actions, source, target)) != 0)
                    throw new KernelException("posix_spawn_file_actions_adddup2", rc);
            var env = new List<string>(environment.Count);
            foreach (var (key, value) in environment)
                if (value is not null)
                    env.Add($"{key}={value}");
            byte** args = stackalloc byte*[argv.Count + 1];
            for (int i = 0; i < argv.Count; i++)
                args[i] = (byte*)Utf8(argv[i]);
            args[argv.Count] = null;
            var envp = new nint[env.Count + 1];
            for (int i = 0; i < env.Count; i++)
                envp[i] = Utf8(env[i]);
            int pid;
            fixed (nint* e = envp)
                rc = posix_spawn(&pid, (byte*)Utf8(launcher), actions, null, args, (byte**)e);
            if (rc != 0)
                throw new KernelException($"posix_spawn({launcher})", rc);
            return pid;
        }
        finally
        {
            posix_spawn_file_actions_destroy(actions);
            foreach (var s in strings)
                Marshal.FreeCoTaskMem(s);
        }
    }

    /// <summary>execvp's search, done here so that the filtered process makes one execve and no probing.</summary>
    /// <exception cref="CommandNotRunnableException">Not found (127), a directory or not executable (126).</exception>
    public static string ResolveExecutable(string fileName, string? pathVariable)
    {
        ArgumentNullException.ThrowIfNull(fileName);
        if (fileName.Contains('/'))
        {
            if (Directory.Exists(fileName))
                throw new CommandNotRunnableException($"{fileName}: is a directory", 126);
            if (!File.Exists(fileName))
                throw new CommandNotRunnableException($"{fileName}: no such file", 127);
            return Path.GetFullPath(fileName);
        }
        foreach (var dir in (pathVariable ?? "/usr/local/bin:/usr/bin:/bin").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, fileName);
            if (File.Exists(candidate) && (File.GetUnixFileMode(candidate) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0)
                return candidate;
        }
        throw new CommandNotRunnableException($"{fileName}: command not found on PATH", 127);
    }

    /// <summary>
    /// The descriptors of one start: pipes and memfds made close-on-exec, each child end moved to a number of at least
    /// 10 (so the spawn's dup2 onto 0..5 never overwrites another source) and given to the launcher by the spawn's file
    /// actions only. Whatever is not released is closed at the end.
    /// </summary>
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    private sealed class ChildDescriptors : IDisposable
    {
        private readonly List<int> _owned = [];
        public List<(int Source, int Target)> Given { get; } = [];

        public int Keep(int fd, string call)
        {
            if (fd < 0)
                throw KernelException.FromLastError(call);
            int high = fcntl(fd, F_DUPFD_CLOEXEC, 10);
            var error = high < 0 ? KernelException.FromLastError("fcntl(F_DUPFD_CLOEXEC)") : null;
            close(fd);
            if (error is not null)
                throw error;
            _owned.Add(high);
            return high;
        }

        public (int Read, int Write) Pipe()
        {
            Span<int> ends = stackalloc int[2];
            if (pipe2(ends, O_RDONLY_CLOEXEC) != 0)
                throw KernelException.FromLastError("pipe2");
            int r = ends[0], w = ends[1];
            try
            {
                r = Keep(r, "pipe2");
            }
            catch
            {
                close(w);
                throw;
            }
            return (r, Keep(w, "pipe2"));
        }

        public void Give(int fd, int target) => Given.Add((fd, target));

        public FileStream Stream(int fd, FileAccess access) => new(Take(fd), access, bufferSize: 0);

        /// <summary>Hands <paramref name="fd"/> over to a SafeFileHandle, which closes it from now on.</summary>
        public SafeFileHandle Take(int fd)
        {
            _owned.Remove(fd);
            return new SafeFileHandle(fd, ownsHandle: true);
        }

        /// <summary>After the spawn: the launcher has its copies; ours of the ends it got are closed.</summary>
        public void CloseGiven()
        {
            foreach (var (fd, _) in Given)
                if (_owned.Remove(fd))
                    close(fd);
        }

        public void Dispose()
        {
            foreach (int fd in _owned)
                close(fd);
            _owned.Clear();
        }
    }

    /// <summary>
    /// The launcher's STATUS lines: read on the starting thread until the command runs (<see cref="ReadUntil"/>), then
    /// to the end by one thread (<see cref="Claim"/>, <see cref="ReadToEnd"/>), which takes the listener when it is
    /// published and reaps the launcher.
    /// </summary>
    private sealed class StatusLines(SafeFileHandle statusPipe, SafeFileHandle? handoverPage, ProcessHandle launcher)
    {
        private readonly StringBuilder _text = new();
        private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly byte[] _buffer = new byte[256];
        private readonly FileStream _pipe = new(statusPipe, FileAccess.Read, bufferSize: 0);
        private int _seen, _claimed;
        private bool _finished;
        private int _launcherSignal, _launcherExit = -1;

        /// <summary>True once the launcher said the command's process exists, or failed, or ended.</summary>
        public bool Started { get; private set; }
        public TaskCompletionSource<ListenerHandle?> Taken { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public int CommandPid { get; private set; }
        public Task Ended => _ended.Task;

        /// <summary>Reads on this thread until <paramref name="done"/> holds or the launcher ends; only before <see cref="Claim"/>.</summary>
        public void ReadUntil(Func<bool> done)
        {
            while (!done() && ReadSome())
            {
            }
        }

        /// <summary>True for the one caller that is to read the rest (<see cref="ReadToEnd"/>).</summary>
        public bool Claim() => Interlocked.Exchange(ref _claimed, 1) == 0;

        /// <summary>Reads to the end of the launcher's status, then reaps it.</summary>
        public void ReadToEnd()
        {
            while (ReadSome())
            {
            }
        }

        /// <summary>Reads once and handles the complete lines; false (and the end is handled) when the launcher is done.</summary>
        private bool ReadSome()
        {
            if (_finished)
                return false;
            int n;
            try
            {
                n = _pipe.Read(_buffer, 0, _buffer.Length);
            }
            catch (IOException)
            {
                n = 0;
            }
            if (n <= 0)
            {
                Finish();
                return false;
            }
            _text.Append(Encoding.ASCII.GetString(_buffer, 0, n));
            var lines = _text.ToString().Split('\n');
            for (; _seen < lines.Length - 1; _seen++)
                OnLine(lines[_seen].Split(' '));
            return true;
        }

        private void Finish()
        {
            _finished = true;
            _pipe.Dispose();
            handoverPage?.Dispose();
            if (launcher.WaitForExit(out int exit, out int signal))
                (_launcherExit, _launcherSignal) = (exit, signal);
            launcher.Dispose();
            Started = true;
            Taken.TrySetResult(null);
            _ended.TrySetResult();
        }

        private void OnLine(string[] parts)
        {
            switch (parts[0])
            {
                case "pid" when parts.Length == 2:
                    CommandPid = int.Parse(parts[1], CultureInfo.InvariantCulture);
                    Started = true;
                    break;
                case "listener" when parts.Length == 3 && handoverPage is not null:
                    TakeListener(int.Parse(parts[1], CultureInfo.InvariantCulture), int.Parse(parts[2], CultureInfo.InvariantCulture));
                    break;
                case "exit" or "signal" or "swept" or "listener":
                    break;
                default:
                    // A failure before or instead of the command: nothing more to wait for.
                    Started = true;
                    Taken.TrySetResult(null);
                    break;
            }
        }

        /// <summary>The caller's side of the hand-over: pidfd_getfd the listener, then let the command's process go on.</summary>
        private void TakeListener(int pid, int fd)
        {
            Span<byte> flag = stackalloc byte[4];
            var page = handoverPage!;
            try
            {
                var listener = ListenerHandle.TakeFrom(pid, fd);
                flag[0] = 1; // taken = 1 (offset 8 of struct handover)
                try
                {
                    RandomAccess.Write(page, flag, 8);
                }
                catch (IOException e)
                {
                    listener.Dispose();
                    throw new SyscageException($"writing the hand-over page: {e.Message}");
                }
                Taken.TrySetResult(listener);
            }
            catch (SyscageException e)
            {
                flag[0] = 2; // taken = 2: gave up, the launcher kills the command's process
                try
                {
                    RandomAccess.Write(page, flag, 8);
                }
                catch (IOException)
                {
                    // The launcher is gone: the command's process with it.
                }
                Taken.TrySetException(e);
            }
        }

        /// <summary>How the command ended, from the status lines (and the launcher's own end when they say nothing).</summary>
        public SandboxExit Exit()
        {
            string? failure = null;
            int swept = 0;
            foreach (var line in _text.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                var parts = line.Split(' ');
                int Number(int i) => parts.Length > i && int.TryParse(parts[i], CultureInfo.InvariantCulture, out int v) ? v : 0;
                switch (parts[0])
                {
                    case "exit":
                        return new SandboxExit(Number(1), null, false, failure) { Swept = swept };
                    case "signal":
                        return new SandboxExit(null, Number(1), Number(2) == 1, failure) { Swept = swept };
                    case "swept":
                        swept = Number(1);
                        break;
                    case "pid" or "listener":
                        break;
                    default:
                        failure = parts[0] switch
                        {
                            "seccomp" => $"seccomp(SECCOMP_SET_MODE_FILTER): {KernelException.Describe(Number(1))}",
                            "prctl" => $"prctl: {KernelException.Describe(Number(1))}",
                            "exec" => $"execve: {KernelException.Describe(Number(1))}",
                            "read" => $"reading the filters: {KernelException.Describe(Number(1))}",
                            "chdir" => $"chdir: {KernelException.Describe(Number(1))}",
                            _ => $"{parts[0]}: {KernelException.Describe(Number(1))}",
                        };
                        break;
                }
            }
            if (failure is null && _launcherSignal != 0)
                failure = string.Create(CultureInfo.InvariantCulture, $"the launcher was killed by {Signals.Name(_launcherSignal) ?? $"signal {_launcherSignal}"}");
            return new SandboxExit(failure is null ? _launcherExit : null, null, false, failure ?? (_launcherExit < 0 ? "the launcher ended without a report" : null)) { Swept = swept };
        }
    }
}
