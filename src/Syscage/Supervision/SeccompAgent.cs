using System.Globalization;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Syscage.Kernel.Notify;
using Syscage.Policy;
using Microsoft.Win32.SafeHandles;
using Syscage.Abi;
using Syscage.Kernel;
using Syscage.Ebpf.Seccomp;

namespace Syscage.Supervision;

/// <summary>What runc sent about a container (the OCI runtime spec's <c>ContainerProcessState</c>).</summary>
/// <param name="ContainerId"><c>state.id</c>.</param>
/// <param name="Pid"><c>pid</c>: the container process, as the runtime sees it.</param>
/// <param name="Metadata"><c>metadata</c>: the profile's <c>listenerMetadata</c>, opaque.</param>
/// <param name="Bundle"><c>state.bundle</c>.</param>
public sealed record ContainerProcessState(string ContainerId, int Pid, string? Metadata, string? Bundle);

/// <summary>
/// The eBPF seccomp programs a <see cref="SeccompAgent"/> runs for containers: each container whose profile's
/// <c>listenerMetadata</c> names one gets that program with maps of its own (filled from <see cref="MapFiles"/>), its
/// helpers bound to the container's tasks, and a control socket for <c>syscage maps</c>.
/// </summary>
public sealed record AgentEbpfOptions
{
    /// <summary>The programs, <c>[NAME=]FILE.o[:SECTION]</c>; a container's <c>listenerMetadata</c> chooses one by name.</summary>
    public IReadOnlyList<string> Programs { get; init; } = [];

    /// <summary><c>const volatile</c> knobs set in every program that has them.</summary>
    public IReadOnlyList<KeyValuePair<string, ulong>> Knobs { get; init; } = [];

    /// <summary><c>[PROGRAM:]MAP=FILE.json</c>: maps filled for each container before its first call (see <see cref="Supervision.MapFiles"/>).</summary>
    public IReadOnlyList<string> MapFiles { get; init; } = [];

    /// <summary>Where each container's control socket goes (<c>FIRSTPID.sock</c>); null: <see cref="MapControlServer.DefaultDirectory"/>.</summary>
    public string? MapsDirectory { get; init; }

    /// <summary>Whether containers get a control socket at all (default true).</summary>
    public bool MapsSockets { get; init; } = true;
}

/// <summary>How a <see cref="SeccompAgent"/> answers.</summary>
public sealed record SeccompAgentOptions
{
    /// <summary>eBPF programs to run for the containers whose <c>listenerMetadata</c> names one; null: none.</summary>
    public AgentEbpfOptions? Ebpf { get; init; }

    /// <summary>
    /// A policy whose <c>NOTIFY(handler)</c> rules name the handler for each call (see <see cref="NotificationRouter"/>);
    /// calls it doesn't send to a handler go to <see cref="DefaultHandler"/>.
    /// </summary>
    public SeccompPolicy? Handlers { get; init; }

    /// <summary>The handler for calls no rule names (default <c>deny</c>: EPERM). Built-ins: <c>log</c>, <c>deny</c>, <c>deny_ENAME</c>.</summary>
    public string DefaultHandler { get; init; } = "deny";

    /// <summary>Library hooks: registered on every container's router (by handler name).</summary>
    public IReadOnlyDictionary<string, NotificationHandler>? CustomHandlers { get; init; }

    /// <summary>Worker threads per container (default 1).</summary>
    public int WorkersPerContainer { get; init; } = 1;

    /// <summary><see cref="HandshakeTimeout"/>'s default: 5 s (runc sends its message as soon as it connects).</summary>
    public static readonly TimeSpan DefaultHandshakeTimeout = TimeSpan.FromSeconds(5);

    /// <summary><see cref="MaxHandshakes"/>' default: 16 clients (each handshake of runc takes milliseconds).</summary>
    public const int DefaultMaxHandshakes = 16;

    /// <summary>
    /// The time a client has, from the moment it is accepted, to send its whole message with the listener; a client
    /// still sending after it is dropped.
    /// </summary>
    public TimeSpan HandshakeTimeout { get; init; } = DefaultHandshakeTimeout;

    /// <summary>
    /// Clients accepted and still sending their message, at most; while that many are, the agent accepts no more
    /// (new clients wait in the socket's backlog until one finishes or is dropped at its deadline).
    /// </summary>
    public int MaxHandshakes { get; init; } = DefaultMaxHandshakes;
}

/// <summary>
/// The OCI seccomp agent: listens on a Unix socket named by a profile's <c>listenerPath</c>. For each container,
/// the runtime connects and sends, in one message, the container's process state as JSON and the listener fd
/// (SCM_RIGHTS; the state's <c>fds</c> array names each passed fd, the listener being <c>seccompFd</c>). The agent
/// serves every container at once, each with its own <see cref="NotificationSupervisor"/>, and writes one JSON line
/// per decision: container id, pid, syscall, decoded call, arguments, verdict.
/// </summary>
/// <remarks>
/// <para>Clients are not trusted: a malformed message gets one line on the diagnostics writer and its descriptors
/// closed, and the agent keeps serving. A message must arrive whole within <see cref="SeccompAgentOptions.HandshakeTimeout"/>,
/// hold at most 1 MiB and <see cref="MaxDescriptors"/> descriptors, and its <c>seccompFd</c> must be a seccomp listener
/// (<see cref="ListenerHandle.IsSeccompListener"/>); at most <see cref="SeccompAgentOptions.MaxHandshakes"/> clients
/// are read at once, and reading one holds no thread.</para>
/// <para>Handlers see the target's memory only for display (see <see cref="NotificationContext"/>).</para>
/// </remarks>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class SeccompAgent : IDisposable
{
    private const int MaxMessage = 1 << 20;

    /// <summary>Descriptors one message may pass (runc passes one, <c>seccompFd</c>); more fail the message.</summary>
    public const int MaxDescriptors = 16;

    private readonly Socket _socket;
    private readonly SeccompAgentOptions _options;
    private readonly TextWriter _decisions;
    private readonly TextWriter _diagnostics;
    private readonly List<NotificationSupervisor> _supervisors = [];
    private readonly Lock _lock = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _handshakeSlots;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<int, Task> _handshakes = new();
    private readonly (ulong Device, ulong Inode) _bound;
    private Task? _acceptLoop;
    private int _connections;

    /// <summary>
    /// Binds <paramref name="socketPath"/> and listens. A stale socket file there (no one listening) is replaced;
    /// anything else is refused with an <see cref="IOException"/>: a live agent's socket, and any file that is not a
    /// socket, which is left as it was.
    /// </summary>
    public SeccompAgent(string socketPath, TextWriter decisions, TextWriter diagnostics, SeccompAgentOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        ArgumentNullException.ThrowIfNull(decisions);
        ArgumentNullException.ThrowIfNull(diagnostics);
        SocketPath = socketPath;
        _decisions = TextWriter.Synchronized(decisions);
        _diagnostics = TextWriter.Synchronized(diagnostics);
        _options = options ?? new SeccompAgentOptions();
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(_options.HandshakeTimeout, TimeSpan.Zero, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MaxHandshakes, 1, nameof(options));
        _handshakeSlots = new SemaphoreSlim(_options.MaxHandshakes, _options.MaxHandshakes);
        if (_options.Ebpf is { } ebpf)
            CheckPrograms(ebpf);
        RemoveStaleSocket(socketPath);
        _socket = UnixSocket.Listen(socketPath);
        _bound = UnixSocket.Identity(socketPath) ?? default;
    }

    /// <summary>Makes way for the socket: nothing there, or a socket no one listens on (removed); anything else is refused.</summary>
    private static void RemoveStaleSocket(string path)
    {
        SocketPathState state;
        try
        {
            state = UnixSocket.StateOf(path);
        }
        catch (IOException e)
        {
            throw new IOException($"cannot listen there: {e.Message}", e);
        }
        if (state == SocketPathState.Missing)
            return;
        if (state != SocketPathState.Socket)
            throw new IOException($"{path} exists and is not a socket: refusing to replace it (remove it, or choose another --socket path)");
        using (var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            try
            {
                probe.Connect(new UnixDomainSocketEndPoint(path));
                throw new IOException($"{path}: another process is listening on this socket: refusing to take it over");
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
            {
                // A socket file left by an agent that is gone.
            }
            catch (SocketException e)
            {
                throw new IOException($"{path}: cannot tell whether another process listens on this socket: {e.Message}", e);
            }
        }
        File.Delete(path);
    }

    /// <summary>The socket's path.</summary>
    public string SocketPath { get; }

    /// <summary>Containers served so far.</summary>
    public int Containers => Volatile.Read(ref _connections);

    /// <summary>Starts accepting connections.</summary>
    public SeccompAgent Start()
    {
        _acceptLoop ??= Task.Run(AcceptLoop);
        return this;
    }

    /// <summary>
    /// Stops accepting, drops clients still handshaking, closes every container's listener (their notified calls then
    /// get ENOSYS) and removes the socket file — if it is still the one this agent made.
    /// </summary>
    public void Dispose()
    {
        _stop.Cancel();
        _socket.Dispose();
        try
        {
            _acceptLoop?.Wait(5000);
            Task.WaitAll([.. _handshakes.Values], 5000);
        }
        catch (AggregateException)
        {
        }
        lock (_lock)
        {
            foreach (var s in _supervisors)
                s.Dispose();
            _supervisors.Clear();
        }
        try
        {
            if (UnixSocket.Identity(SocketPath) == _bound)
                File.Delete(SocketPath);
        }
        catch (IOException)
        {
        }
        // The handshake semaphore is not disposed: a handshake still ending may release it (it holds no OS handle).
        _stop.Dispose();
    }

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                // A slot first: while MaxHandshakes clients are being read, new ones wait in the backlog.
                await _handshakeSlots.WaitAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            try
            {
                client = await _socket.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                _handshakeSlots.Release();
                return;
            }
            int n = Interlocked.Increment(ref _connections);
            // Removed by a continuation, which runs after this line even when the handshake finished synchronously.
            var handshake = Handshake(client, n);
            _handshakes[n] = handshake;
            _ = handshake.ContinueWith(_ => _handshakes.TryRemove(n, out var _), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
        }
    }

    /// <summary>Reads one client's message within the deadline and serves its listener; holds no thread while it waits.</summary>
    private async Task Handshake(Socket client, int connection)
    {
        var fds = new List<SafeFileHandle>();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        deadline.CancelAfter(_options.HandshakeTimeout);
        try
        {
            using (client)
            {
                byte[] message = await ReceiveMessage(client, fds, deadline.Token).ConfigureAwait(false);
                var (state, index) = ParseState(message, fds.Count);
                if (!ListenerHandle.IsSeccompListener(fds[index]))
                    throw new SyscageException("'seccompFd' is not a seccomp listener (its /proc/self/fd link does not read 'anon_inode:seccomp notify')");
                Serve(state, ListenerHandle.Adopt(fds[index]));
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
        catch (OperationCanceledException)
        {
            _diagnostics.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"syscage agent: connection {connection}: no complete message within {_options.HandshakeTimeout.TotalSeconds:0.###} s; dropped, still serving"));
        }
        catch (Exception e) when (e is SyscageException or JsonException or SocketException or IOException or FormatException or KeyNotFoundException or InvalidOperationException)
        {
            _diagnostics.WriteLine($"syscage agent: connection {connection}: {e.Message}; ignored, still serving");
        }
        finally
        {
            foreach (var fd in fds)
                fd.Dispose(); // the listener's is invalid by now when it was adopted
            _handshakeSlots.Release();
        }
    }

    /// <summary>
    /// Loads every program once (each container gets its own copy later), so that a missing file, a rejected program, a
    /// knob or map no program has, or a wrong map file is said when the agent starts, not when a container connects.
    /// </summary>
    private static void CheckPrograms(AgentEbpfOptions ebpf)
    {
        if (ebpf.Programs.Count == 0)
            throw new SyscageException("no eBPF programs given");
        var programs = new List<SeccompEbpfProgram>();
        try
        {
            foreach (var spec in ebpf.Programs)
                programs.Add(SeccompEbpfProgram.Load(spec, ebpf.Knobs));
            foreach (var dup in programs.GroupBy(p => p.Name).Where(g => g.Count() > 1))
                throw new SyscageException($"two eBPF programs are named '{dup.Key}'; name them with NAME=FILE.o");
            foreach (var (name, _) in ebpf.Knobs)
                if (!programs.Any(p => p.KnobsApplied.Contains(name)))
                    throw new SyscageException($"--set {name}: no program has a global named '{name}'");
            Supervision.MapFiles.Fill(programs, ebpf.MapFiles);
        }
        finally
        {
            foreach (var p in programs)
                p.Dispose();
        }
    }

    /// <summary>
    /// The program named by <paramref name="state"/>'s <c>listenerMetadata</c> (the only one when it names none), loaded
    /// afresh with its maps filled; null, with the reason, when the metadata names no program.
    /// </summary>
    private static SeccompEbpfProgram? ProgramFor(AgentEbpfOptions ebpf, ContainerProcessState state, out string? why)
    {
        why = null;
        var specs = ebpf.Programs.Select(spec => (Spec: spec, Name: SeccompEbpfProgram.ParseSpec(spec).Name)).ToList();
        string? wanted = string.IsNullOrEmpty(state.Metadata) ? null : state.Metadata;
        // A spec without NAME= is named by its program: load it to know (the agent checked they all load).
        foreach (var (spec, name) in specs)
        {
            if (name is not null && wanted is not null && name != wanted)
                continue;
            var program = SeccompEbpfProgram.Load(spec, ebpf.Knobs);
            if (wanted is null ? specs.Count == 1 : program.Name == wanted)
            {
                try
                {
                    Supervision.MapFiles.Fill([program], ebpf.MapFiles.Where(f => Targets(f, program)));
                    return program;
                }
                catch
                {
                    program.Dispose();
                    throw;
                }
            }
            program.Dispose();
        }
        why = wanted is null
            ? $"its profile has no listenerMetadata naming one of the {specs.Count} eBPF programs"
            : $"listenerMetadata '{wanted}' names no eBPF program";
        return null;
    }

    /// <summary>Whether <c>[PROGRAM:]MAP=FILE</c> fills a map of <paramref name="program"/>.</summary>
    private static bool Targets(string mapFile, SeccompEbpfProgram program)
    {
        var (name, map, _) = Supervision.MapFiles.ParseSpec(mapFile);
        return (name is null || name == program.Name) && program.Maps.Any(m => m.Name == map);
    }

    /// <summary>Serves one container's listener (the agent owns it from now on).</summary>
    public void Serve(ContainerProcessState state, ListenerHandle listener)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(listener);
        if (_options.Ebpf is { } ebpf)
        {
            SeccompEbpfProgram? program;
            string? why;
            try
            {
                program = ProgramFor(ebpf, state, out why);
            }
            catch (SyscageException e)
            {
                (program, why) = (null, e.Message);
            }
            if (program is not null)
            {
                ServeProgram(state, listener, program, ebpf);
                return;
            }
            _diagnostics.WriteLine($"syscage agent: container {state.ContainerId}: {why}; its calls get the '{_options.DefaultHandler}' handler");
        }
        var router = new NotificationRouter(_options.Handlers ?? EmptyPolicy, _diagnostics) { DefaultHandler = _options.DefaultHandler };
        if (_options.CustomHandlers is { } custom)
            foreach (var (name, h) in custom)
                router.Register(name, h);
        Supervise(state, listener, router.HandleAsync, syncWakeUp: false, onGone: null, ended: null);
    }

    /// <summary>
    /// Serves a container with an eBPF program: every notified call runs the program (helpers bound to the calling task
    /// of the container), whose verdict is applied as <c>syscage run --ebpf</c> applies it; one decision line per call;
    /// the program's maps behind a control socket named by the container's first process.
    /// </summary>
    private void ServeProgram(ContainerProcessState state, ListenerHandle listener, SeccompEbpfProgram program, AgentEbpfOptions ebpf)
    {
        var set = new EbpfFilterSet([program]);
        var handler = new EbpfNotificationHandler(set, new EbpfHandlerOptions
        {
            Log = _diagnostics,
            TraceSink = line => _diagnostics.WriteLine($"syscage agent: container {state.ContainerId}: trace_printk: {line}"),
            OnRecord = r => _decisions.WriteLine(EbpfReport.FormatRecord(r)),
        });
        MapControlServer? control = null;
        if (ebpf.MapsSockets && state.Pid > 0 && program.Maps.Count > 0)
        {
            try
            {
                string dir = ebpf.MapsDirectory ?? MapControlServer.DefaultDirectory();
                control = new MapControlServer(MapControlServer.PathFor(dir, state.Pid), [program],
                    new MapControlOptions { RefuseRootPidNamespace = true, Diagnostics = _diagnostics }).Start(state.Pid);
            }
            catch (IOException e)
            {
                control?.Dispose();
                control = null;
                _diagnostics.WriteLine($"syscage agent: container {state.ContainerId}: no maps socket: {e.Message}");
            }
        }
        Supervise(state, listener, handler.HandleAsync, syncWakeUp: _options.WorkersPerContainer == 1, onGone: handler.CallGone, ended: () =>
        {
            control?.Dispose();
            handler.Drain();
            set.Dispose();
        });
    }

    /// <summary>
    /// Serves <paramref name="listener"/> of a container with <paramref name="decide"/>, writing one decision line per call
    /// (its arguments decoded before <paramref name="decide"/> runs: strings are read while the call waits, as the
    /// handler sees them); the supervisor is tracked until its listener hangs up, then disposed, and
    /// <paramref name="ended"/> runs.
    /// </summary>
    private void Supervise(ContainerProcessState state, ListenerHandle listener, NotificationHandler decide, bool syncWakeUp,
        Action<Notification, NotificationResponse>? onGone, Action? ended)
    {
        var supervisor = new NotificationSupervisor(listener, (n, ctx) =>
        {
            var args = SyscallDecoder.Arguments(n.Data, ctx);
            string call = $"{SyscallDecoder.Name(n.Data)}({string.Join(", ", args.Select(a => a.Text))})";
            var pending = decide(n, ctx);
            if (pending.IsCompletedSuccessfully)
            {
                WriteDecision(state, n, call, args, pending.Result);
                return pending;
            }
            return Later(pending, n, call, args);
        }, new SupervisorOptions
        {
            Workers = _options.WorkersPerContainer,
            SyncWakeUp = syncWakeUp,
            OnError = (n, e) => _diagnostics.WriteLine($"syscage agent: container {state.ContainerId}: pid {n.Pid}: {e.Message}"),
            OnGone = onGone,
        });

        async ValueTask<NotificationResponse> Later(ValueTask<NotificationResponse> pending, Notification n, string call, IReadOnlyList<DecodedArgument> args)
        {
            var response = await pending.ConfigureAwait(false);
            WriteDecision(state, n, call, args, response);
            return response;
        }

        lock (_lock)
            _supervisors.Add(supervisor);
        supervisor.Start();
        _ = supervisor.Completion.ContinueWith(_ =>
        {
            lock (_lock)
                _supervisors.Remove(supervisor);
            supervisor.Dispose();
            ended?.Invoke();
        }, TaskScheduler.Default);
    }

    private static readonly SeccompPolicy EmptyPolicy = new(Abi.SeccompAction.UserNotif, Abi.SeccompAction.KillProcess, [], "agent");

    private void WriteDecision(ContainerProcessState state, Notification n, string call, IReadOnlyList<DecodedArgument> arguments, NotificationResponse response)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("container", state.ContainerId);
            w.WriteNumber("pid", n.Pid);
            w.WriteString("syscall", SyscallDecoder.Name(n.Data));
            w.WriteString("call", call);
            w.WriteStartArray("args");
            for (int i = 0; i < 6; i++)
                w.WriteNumberValue(n.Data.Arg(i));
            w.WriteEndArray();
            // The arguments as the syscall sees them, named and decoded (flags, enumerations; strings as in "call").
            w.WriteStartArray("arguments");
            foreach (var a in arguments)
            {
                w.WriteStartObject();
                w.WriteString("name", a.Name);
                w.WriteString("value", string.Create(CultureInfo.InvariantCulture, $"0x{a.Value:x}"));
                w.WriteString("text", a.Text);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteString("verdict", response.ToString());
            w.WriteEndObject();
        }
        _decisions.WriteLine(Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
        _decisions.Flush();
    }

    /// <summary>
    /// Reads the runtime's message: bytes until the JSON is complete or the peer closes, collecting every fd passed
    /// with SCM_RIGHTS (received close-on-exec). Waiting is a zero-byte receive, which completes when the socket is
    /// readable and takes nothing; the bytes and descriptors are then taken with <c>recvmsg</c>, which .NET has no API for.
    /// </summary>
    private static async Task<byte[]> ReceiveMessage(Socket client, List<SafeFileHandle> fds, CancellationToken deadline)
    {
        var data = new MemoryStream();
        byte[] chunk = new byte[16384];
        while (true)
        {
            await client.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None, deadline).ConfigureAwait(false);
            int n;
            try
            {
                n = UnixSocket.ReceiveAvailable(client, chunk, fds, MaxDescriptors);
            }
            catch (SyscageException e) when (e is not KernelException)
            {
                throw new SyscageException($"{e.Message}: runc passes one, 'seccompFd'");
            }
            if (n < 0)
                continue;
            if (n == 0)
                break;
            if (data.Length + n > MaxMessage)
                throw new SyscageException($"message larger than {InputLimits.Describe(MaxMessage)}: a process state is a few kilobytes");
            data.Write(chunk, 0, n);
            if (IsCompleteJson(data))
                break;
        }
        return data.ToArray();
    }

    private static bool IsCompleteJson(MemoryStream data)
    {
        var reader = new Utf8JsonReader(data.GetBuffer().AsSpan(0, (int)data.Length), isFinalBlock: false, default);
        try
        {
            return reader.Read() && reader.TrySkip() && reader.TokenType is JsonTokenType.EndObject or JsonTokenType.EndArray;
        }
        catch (JsonException)
        {
            return true; // malformed: stop reading, ParseState says why
        }
    }

    /// <summary>
    /// Parses a <c>ContainerProcessState</c> that came with <paramref name="descriptorCount"/> descriptors, and finds the
    /// listener's place among them (the index its <c>fds</c> array gives <c>seccompFd</c>).
    /// </summary>
    public static (ContainerProcessState State, int ListenerIndex) ParseState(ReadOnlySpan<byte> message, int descriptorCount)
    {
        if (message.IsEmpty)
            throw new SyscageException("empty message: expected the container's process state (JSON) and the listener fd");
        using var doc = JsonDocument.Parse(message.ToArray());
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
            throw new SyscageException("malformed process state: not a JSON object");
        if (!root.TryGetProperty("fds", out var names) || names.ValueKind != JsonValueKind.Array)
            throw new SyscageException("malformed process state: no 'fds' array naming the passed descriptors");
        int index = -1, i = 0;
        foreach (var name in names.EnumerateArray())
        {
            if (name.ValueKind == JsonValueKind.String && name.GetString() == "seccompFd")
                index = i;
            i++;
        }
        if (index < 0)
            throw new SyscageException("malformed process state: 'fds' does not name a 'seccompFd'");
        if (index >= descriptorCount)
            throw new SyscageException($"malformed message: 'fds' names {i} descriptor(s) but {descriptorCount} came with SCM_RIGHTS");
        string id = root.TryGetProperty("state", out var st) && st.ValueKind == JsonValueKind.Object && st.TryGetProperty("id", out var idEl) && idEl.ValueKind == JsonValueKind.String
            ? idEl.GetString()! : throw new SyscageException("malformed process state: no 'state.id'");
        int pid = root.TryGetProperty("pid", out var pidEl) && pidEl.ValueKind == JsonValueKind.Number && pidEl.TryGetInt32(out int p) ? p : 0;
        string? metadata = root.TryGetProperty("metadata", out var md) && md.ValueKind == JsonValueKind.String ? md.GetString() : null;
        string? bundle = st.TryGetProperty("bundle", out var b) && b.ValueKind == JsonValueKind.String ? b.GetString() : null;
        return (new ContainerProcessState(id, pid, metadata, bundle), index);
    }
}
