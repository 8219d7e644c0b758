using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Syscage.Kernel.Notify;
using Syscage.Policy;
using static Syscage.Kernel.Interop.Libc;

namespace Syscage.Kernel.Agent;

/// <summary>What runc sent about a container (the OCI runtime spec's <c>ContainerProcessState</c>).</summary>
/// <param name="ContainerId"><c>state.id</c>.</param>
/// <param name="Pid"><c>pid</c>: the container process, as the runtime sees it.</param>
/// <param name="Metadata"><c>metadata</c>: the profile's <c>listenerMetadata</c>, opaque.</param>
/// <param name="Bundle"><c>state.bundle</c>.</param>
public sealed record ContainerProcessState(string ContainerId, int Pid, string? Metadata, string? Bundle);

/// <summary>How a <see cref="SeccompAgent"/> answers.</summary>
public sealed record SeccompAgentOptions
{
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
}

/// <summary>
/// The OCI seccomp agent: listens on a Unix socket named by a profile's <c>listenerPath</c>. For each container,
/// the runtime connects and sends, in one message, the container's process state as JSON and the listener fd
/// (SCM_RIGHTS; the state's <c>fds</c> array names each passed fd, the listener being <c>seccompFd</c>). The agent
/// serves every container at once, each with its own <see cref="NotificationSupervisor"/>, and writes one JSON line
/// per decision: container id, pid, syscall, decoded call, arguments, verdict.
/// </summary>
/// <remarks>
/// A malformed message gets one line on the diagnostics writer and its descriptors closed; the agent keeps serving.
/// Handlers see the target's memory only for display (see <see cref="NotificationContext"/>).
/// </remarks>
public sealed class SeccompAgent : IDisposable
{
    private const int MaxMessage = 1 << 20;
    private readonly Socket _socket;
    private readonly SeccompAgentOptions _options;
    private readonly TextWriter _decisions;
    private readonly TextWriter _diagnostics;
    private readonly List<NotificationSupervisor> _supervisors = [];
    private readonly Lock _lock = new();
    private readonly CancellationTokenSource _stop = new();
    private Task? _acceptLoop;
    private int _connections;

    /// <summary>Binds <paramref name="socketPath"/> (replacing a stale socket file) and listens.</summary>
    public SeccompAgent(string socketPath, TextWriter decisions, TextWriter diagnostics, SeccompAgentOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        ArgumentNullException.ThrowIfNull(decisions);
        ArgumentNullException.ThrowIfNull(diagnostics);
        SocketPath = socketPath;
        _decisions = TextWriter.Synchronized(decisions);
        _diagnostics = TextWriter.Synchronized(diagnostics);
        _options = options ?? new SeccompAgentOptions();
        if (File.Exists(socketPath))
            File.Delete(socketPath);
        _socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _socket.Bind(new UnixDomainSocketEndPoint(socketPath));
        _socket.Listen(64);
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

    /// <summary>Stops accepting, closes every container's listener (their notified calls then get ENOSYS) and removes the socket.</summary>
    public void Dispose()
    {
        _stop.Cancel();
        _socket.Dispose();
        try
        {
            _acceptLoop?.Wait(5000);
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
            File.Delete(SocketPath);
        }
        catch (IOException)
        {
        }
        _stop.Dispose();
    }

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _socket.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            int n = Interlocked.Increment(ref _connections);
            _ = Task.Factory.StartNew(() => Serve(client, n), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }
    }

    private void Serve(Socket client, int connection)
    {
        var fds = new List<int>();
        try
        {
            using (client)
            {
                client.ReceiveTimeout = 5000;
                byte[] message = ReceiveMessage(client, fds);
                var (state, listenerFd) = ParseState(message, fds);
                fds.Remove(listenerFd);
                var listener = new ListenerHandle(listenerFd);
                Serve(state, listener);
            }
        }
        catch (Exception e) when (e is SyscageException or JsonException or SocketException or IOException or FormatException or KeyNotFoundException or InvalidOperationException)
        {
            _diagnostics.WriteLine($"syscage agent: connection {connection}: {e.Message}; ignored, still serving");
        }
        finally
        {
            foreach (int fd in fds)
                close(fd);
        }
    }

    /// <summary>Serves one container's listener (the agent owns it from now on).</summary>
    public void Serve(ContainerProcessState state, ListenerHandle listener)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(listener);
        var router = new NotificationRouter(_options.Handlers ?? EmptyPolicy, _diagnostics) { DefaultHandler = _options.DefaultHandler };
        if (_options.CustomHandlers is { } custom)
            foreach (var (name, h) in custom)
                router.Register(name, h);
        var supervisor = new NotificationSupervisor(listener, async (n, ctx) =>
        {
            string call = SyscallDecoder.Decode(n.Data, ctx);
            var response = await router.HandleAsync(n, ctx).ConfigureAwait(false);
            WriteDecision(state, n, call, response);
            return response;
        }, new SupervisorOptions
        {
            Workers = _options.WorkersPerContainer,
            OnError = (n, e) => _diagnostics.WriteLine($"syscage agent: container {state.ContainerId}: pid {n.Pid}: {e.Message}"),
        });
        lock (_lock)
            _supervisors.Add(supervisor);
        supervisor.Start();
        _ = supervisor.Completion.ContinueWith(_ =>
        {
            lock (_lock)
                _supervisors.Remove(supervisor);
            supervisor.Dispose();
        }, TaskScheduler.Default);
    }

    private static readonly SeccompPolicy EmptyPolicy = new(Bpf.SeccompAction.UserNotif, Bpf.SeccompAction.KillProcess, [], "agent");

    private void WriteDecision(ContainerProcessState state, Notification n, string call, NotificationResponse response)
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
            w.WriteString("verdict", response.ToString());
            w.WriteEndObject();
        }
        _decisions.WriteLine(Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
        _decisions.Flush();
    }

    /// <summary>
    /// Reads the runtime's message: bytes until the JSON is complete or the peer closes, collecting every fd passed
    /// with SCM_RIGHTS (received close-on-exec).
    /// </summary>
    private static unsafe byte[] ReceiveMessage(Socket client, List<int> fds)
    {
        var data = new MemoryStream();
        byte[] chunk = new byte[16384];
        byte* control = stackalloc byte[1024];
        int fd = (int)client.Handle;
        while (data.Length < MaxMessage)
        {
            nint n;
            fixed (byte* p = chunk)
            {
                IoVec iov = new() { Base = (nint)p, Length = (nuint)chunk.Length };
                MsgHdr msg = new() { Iov = (nint)(&iov), IovLen = 1, Control = (nint)control, ControlLen = 1024 };
                n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
                if (n < 0)
                {
                    int e = Marshal.GetLastPInvokeError();
                    if (e == 4 /* EINTR */)
                        continue;
                    if (e == 11 /* EAGAIN: .NET keeps sockets non-blocking */)
                    {
                        PollFd pfd = new() { Fd = fd, Events = POLLIN };
                        if (poll(&pfd, 1, 5000) == 0)
                            throw new SyscageException("no complete message within 5 s");
                        continue;
                    }
                    throw new KernelException("recvmsg", e);
                }
                // struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; unsigned char data[]; }, 8-aligned.
                nuint offset = 0;
                while (offset + 16 <= msg.ControlLen)
                {
                    byte* h = control + offset;
                    nuint len = *(nuint*)h;
                    if (len < 16 || offset + len > msg.ControlLen)
                        break;
                    if (*(int*)(h + 8) == SOL_SOCKET && *(int*)(h + 12) == SCM_RIGHTS)
                        for (nuint i = 16; i + 4 <= len; i += 4)
                            fds.Add(*(int*)(h + i));
                    offset += (len + 7) & ~(nuint)7;
                }
            }
            if (n == 0)
                break;
            data.Write(chunk, 0, (int)n);
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

    /// <summary>Parses a <c>ContainerProcessState</c> and finds the listener among the passed fds.</summary>
    public static (ContainerProcessState State, int ListenerFd) ParseState(ReadOnlySpan<byte> message, IReadOnlyList<int> fds)
    {
        ArgumentNullException.ThrowIfNull(fds);
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
        if (index >= fds.Count)
            throw new SyscageException($"malformed message: 'fds' names {i} descriptor(s) but {fds.Count} came with SCM_RIGHTS");
        string id = root.TryGetProperty("state", out var st) && st.ValueKind == JsonValueKind.Object && st.TryGetProperty("id", out var idEl) && idEl.ValueKind == JsonValueKind.String
            ? idEl.GetString()! : throw new SyscageException("malformed process state: no 'state.id'");
        int pid = root.TryGetProperty("pid", out var pidEl) && pidEl.TryGetInt32(out int p) ? p : 0;
        string? metadata = root.TryGetProperty("metadata", out var md) && md.ValueKind == JsonValueKind.String ? md.GetString() : null;
        string? bundle = st.TryGetProperty("bundle", out var b) && b.ValueKind == JsonValueKind.String ? b.GetString() : null;
        return (new ContainerProcessState(id, pid, metadata, bundle), fds[index]);
    }
}
