using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Syscage.Ebpf.Maps;
using Syscage.Ebpf.Seccomp;
using Syscage.Kernel;

namespace Syscage.Supervision;

/// <summary>Whose maps a <see cref="MapControlServer"/> serves, and which processes it must keep out.</summary>
public sealed record MapControlOptions
{
    /// <summary>
    /// Also refuse every process in the pid namespace of the sandbox's root (<see cref="MapControlServer.Start"/>) when
    /// that namespace is not this process's (a container's own namespace: its processes can't leave it).
    /// </summary>
    public bool RefuseRootPidNamespace { get; init; }

    /// <summary>Where refused connections and failed requests are reported, one line each; null: nowhere.</summary>
    public TextWriter? Diagnostics { get; init; }

    /// <summary>Requests served at once, at most (more wait in the backlog).</summary>
    public int MaxClients { get; init; } = 8;

    /// <summary>The time a client has to send its request.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>
/// The control socket of a supervised run or of one agent container: <c>syscage maps list|dump|update|delete</c> read
/// and write the programs' maps through it while they run (what <c>bpftool map</c> gives kernel eBPF users). One JSON
/// request per connection, one JSON line back:
/// <c>{"op":"list"}</c>, <c>{"op":"dump","map":M}</c>, <c>{"op":"update","map":M,"entries":{...}}</c>,
/// <c>{"op":"delete","map":M,"keys":[...]}</c> (with <c>"program":P</c> when several programs have a map of that name);
/// an answer is <c>{"ok":true,...}</c> or <c>{"error":"..."}</c>. Entries are typed by BTF as in <c>--map</c> files.
/// </summary>
/// <remarks>
/// <para>Who may connect (docs/security.md): a process of the same effective uid as this one, or root
/// (<c>SO_PEERCRED</c>); and never a process of the sandbox — the peer (named by a pidfd, <c>SO_PEERPIDFD</c>) is refused
/// when it is the sandbox's root given to <see cref="Start"/> or descends from it, or when that can't be told. The socket
/// lives in a directory only this user can enter (<see cref="DefaultDirectory"/>), with mode 0600. It listens from the
/// constructor on, before the sandbox starts, but accepts only once <see cref="Start"/> has said whom to keep out: an
/// early client waits in the backlog.</para>
/// <para>Requests are bounded: 1 MiB, <see cref="MapControlOptions.RequestTimeout"/>, <see cref="MapControlOptions.MaxClients"/> at once.</para>
/// </remarks>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class MapControlServer : IDisposable
{
    private const int MaxRequest = 1 << 20;
    private readonly Socket _socket;
    private readonly IReadOnlyList<SeccompEbpfProgram> _programs;
    private readonly MapControlOptions _options;
    private ProcessHandle? _root;
    private int _rootPid;
    private (ulong, ulong)? _rootNamespace;
    private readonly (ulong Device, ulong Inode) _bound;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _slots;
    private Task? _accept;

    /// <summary>
    /// Listens at <paramref name="socketPath"/> (a stale socket there is replaced) for <paramref name="programs"/>' maps;
    /// clients are accepted after <see cref="Start"/>.
    /// </summary>
    /// <exception cref="IOException">The socket can't be made there.</exception>
    public MapControlServer(string socketPath, IReadOnlyList<SeccompEbpfProgram> programs, MapControlOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        ArgumentNullException.ThrowIfNull(programs);
        _programs = programs;
        _options = options ?? new MapControlOptions();
        SocketPath = socketPath;
        if (UnixSocket.StateOf(socketPath) == SocketPathState.Socket)
        {
            if (IsLive(socketPath))
                throw new IOException($"{socketPath}: another process listens on this socket: refusing to take it over");
            File.Delete(socketPath); // left by a process that is gone
        }
        _socket = UnixSocket.Listen(socketPath);
        File.SetUnixFileMode(socketPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        _bound = UnixSocket.Identity(socketPath) ?? default;
        _slots = new SemaphoreSlim(_options.MaxClients, _options.MaxClients);
    }

    /// <summary>
    /// Starts accepting clients. <paramref name="sandboxRoot"/> is the root of the sandboxed tree — the launcher of a
    /// supervised run, a container's first process for the agent: a process that is it or descends from it is refused,
    /// whatever its uid (the sandboxed command is the attacker, and runs as the same user). Null: no tree to keep out.
    /// </summary>
    /// <exception cref="IOException">The sandbox's root is gone already.</exception>
    public MapControlServer Start(int? sandboxRoot)
    {
        if (_accept is not null)
            throw new InvalidOperationException("the server is started already");
        if (sandboxRoot is int root)
        {
            _root = ProcessHandle.Open(root, out int errno) ?? throw new IOException($"the sandbox's process {root} is gone: {KernelException.Describe(errno)}");
            _rootPid = root;
            if (_options.RefuseRootPidNamespace && ProcessTree.PidNamespace(root) is { } ns && ns != ProcessTree.PidNamespace(Environment.ProcessId))
                _rootNamespace = ns;
        }
        _accept = Task.Run(AcceptLoop);
        return this;
    }

    /// <summary>The socket's path.</summary>
    public string SocketPath { get; }

    /// <summary>
    /// Where control sockets go: <c>$XDG_RUNTIME_DIR/syscage</c>, or <c>/tmp/syscage-UID</c> without one; made (mode 0700)
    /// when missing, and refused when someone else owns it or it is open to others.
    /// </summary>
    /// <exception cref="IOException">The directory is not safe to use.</exception>
    public static string DefaultDirectory()
    {
        string? runtime = Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR");
        string dir = !string.IsNullOrEmpty(runtime) && Path.IsPathRooted(runtime) && Directory.Exists(runtime)
            ? Path.Combine(runtime, "syscage")
            : Path.Combine("/tmp", string.Create(CultureInfo.InvariantCulture, $"syscage-{ProcessTree.EffectiveUid}"));
        UnixSocket.EnsurePrivateDirectory(dir);
        return dir;
    }

    /// <summary>
    /// The control socket of the run or container whose first process is <paramref name="pid"/>, in
    /// <paramref name="directory"/>: <c>PID.sock</c>, or <c>PID-N.sock</c> when a live server has that name already (one
    /// process serving several runs, as a test runner does).
    /// </summary>
    public static string PathFor(string directory, int pid)
    {
        ArgumentNullException.ThrowIfNull(directory);
        for (int n = 1; ; n++)
        {
            string path = Path.Combine(directory, n == 1 ? string.Create(CultureInfo.InvariantCulture, $"{pid}.sock") : string.Create(CultureInfo.InvariantCulture, $"{pid}-{n}.sock"));
            if (n >= 64 || UnixSocket.StateOf(path) != SocketPathState.Socket || !IsLive(path))
                return path;
        }
    }

    /// <summary>True when a process listens on the socket at <paramref name="path"/>.</summary>
    private static bool IsLive(string path)
    {
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
            return true;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
        {
            return false;
        }
        catch (SocketException)
        {
            return true; // can't tell: leave it alone
        }
    }

    /// <summary>
    /// The control socket serving <paramref name="pid"/>: the socket of that pid in <paramref name="directory"/>, or of its
    /// nearest ancestor that has one (so the pid of a sandboxed command, of syscage or of a container's process all find
    /// it). Throws <see cref="SyscageException"/> when none has.
    /// </summary>
    public static string Find(string directory, int pid)
    {
        ArgumentNullException.ThrowIfNull(directory);
        if (!Directory.Exists($"/proc/{pid}"))
            throw new SyscageException(string.Create(CultureInfo.InvariantCulture, $"no process {pid}"));
        for (int p = pid, depth = 0; p > 0 && depth < 4096; p = ProcessTree.ParentOf(p), depth++)
        {
            string path = Path.Combine(directory, string.Create(CultureInfo.InvariantCulture, $"{p}.sock"));
            if (UnixSocket.StateOf(path) == SocketPathState.Socket)
                return path;
        }
        throw new SyscageException(string.Create(CultureInfo.InvariantCulture,
            $"no maps socket for process {pid} or its parents in {directory}: is it running under 'syscage run --ebpf' or the agent, as this user?"));
    }

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                await _slots.WaitAsync(_stop.Token).ConfigureAwait(false);
                client = await _socket.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            _ = Task.Run(async () =>
            {
                try
                {
                    using (client)
                        await Serve(client).ConfigureAwait(false);
                }
                catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
                {
                    _options.Diagnostics?.WriteLine($"syscage: maps socket {SocketPath}: {e.Message}");
                }
                finally
                {
                    _slots.Release();
                }
            });
        }
    }

    private async Task Serve(Socket client)
    {
        if (Refusal(client, out bool gone) is { } refused)
        {
            // A client that left at once (a probe of whether the socket is live) is not worth a line.
            if (!gone)
                _options.Diagnostics?.WriteLine($"syscage: maps socket {SocketPath}: {refused}; connection refused");
            await Reply(client, Error($"refused: {refused}")).ConfigureAwait(false);
            return;
        }
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        deadline.CancelAfter(_options.RequestTimeout);
        byte[] request;
        try
        {
            request = await ReadLine(client, deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!_stop.IsCancellationRequested)
        {
            await Reply(client, Error(string.Create(CultureInfo.InvariantCulture, $"no request within {_options.RequestTimeout.TotalSeconds:0.#} s"))).ConfigureAwait(false);
            return;
        }
        catch (SyscageException e)
        {
            await Reply(client, Error(e.Message)).ConfigureAwait(false);
            return;
        }
        await Reply(client, Handle(request)).ConfigureAwait(false);
    }

    /// <summary>Why the peer may not use the socket, or null when it may.</summary>
    private string? Refusal(Socket client, out bool gone)
    {
        gone = false;
        var peer = ProcessTree.Peer(client);
        uint self = ProcessTree.EffectiveUid;
        if (peer.Uid != self && peer.Uid != 0)
            return string.Create(CultureInfo.InvariantCulture, $"uid {peer.Uid} is neither this user ({self}) nor root");
        if (_root is null)
            return null;
        using var process = ProcessTree.OpenPeer(client, peer, out int pid);
        if (process is null || process.HasExited)
        {
            gone = true;
            return "the connecting process is gone, or in no pid namespace of this one";
        }
        if (_rootNamespace is { } ns && ProcessTree.PidNamespace(pid) == ns && !process.HasExited)
            return string.Create(CultureInfo.InvariantCulture, $"process {pid} is inside the container");
        var within = ProcessTree.IsWithin(process, pid, _root, _rootPid);
        gone = within is null && process.HasExited;
        return within switch
        {
            false => null,
            true => string.Create(CultureInfo.InvariantCulture, $"process {pid} is inside the sandbox, which may not change its own maps"),
            null => string.Create(CultureInfo.InvariantCulture, $"can't tell whether process {pid} is outside the sandbox"),
        };
    }

    private static async Task<byte[]> ReadLine(Socket client, CancellationToken token)
    {
        var data = new MemoryStream();
        var chunk = new byte[16384];
        while (true)
        {
            int n = await client.ReceiveAsync(chunk, SocketFlags.None, token).ConfigureAwait(false);
            if (n == 0)
                break;
            int newline = Array.IndexOf(chunk, (byte)'\n', 0, n);
            data.Write(chunk, 0, newline >= 0 ? newline : n);
            if (data.Length > MaxRequest)
                throw new SyscageException($"request larger than {InputLimits.Describe(MaxRequest)}");
            if (newline >= 0)
                break;
        }
        return data.ToArray();
    }

    private static async Task Reply(Socket client, JsonObject answer)
    {
        byte[] line = Encoding.UTF8.GetBytes(answer.ToJsonString() + "\n");
        try
        {
            await client.SendAsync(line, SocketFlags.None).ConfigureAwait(false);
        }
        catch (SocketException)
        {
            // The client left without its answer.
        }
    }

    private static JsonObject Error(string message) => new() { ["error"] = message };

    /// <summary>Answers one request (the bytes of its JSON line).</summary>
    internal JsonObject Handle(byte[] request)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(request, new JsonDocumentOptions { MaxDepth = 32 });
        }
        catch (JsonException e)
        {
            return Error($"the request is not JSON: {e.Message.Split(" LineNumber:", 2)[0].TrimEnd('.', ' ')}");
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("op", out var opElement) || opElement.ValueKind != JsonValueKind.String)
                return Error("a request is an object with an 'op': list, dump, update or delete");
            string op = opElement.GetString()!;
            try
            {
                return op switch
                {
                    "list" => List(),
                    "dump" => Dump(Codec(root)),
                    "update" => Update(Codec(root), root),
                    "delete" => Delete(Codec(root), root),
                    _ => Error($"unknown op '{op}' (list, dump, update, delete)" + (Suggest.Closest(op, ["list", "dump", "update", "delete"]) is { } near ? $"; did you mean '{near}'?" : "")),
                };
            }
            catch (SyscageException e)
            {
                return Error(e.Message);
            }
        }
    }

    private MapCodec Codec(JsonElement request)
    {
        string? program = request.TryGetProperty("program", out var p) && p.ValueKind == JsonValueKind.String ? p.GetString() : null;
        if (!request.TryGetProperty("map", out var m) || m.ValueKind != JsonValueKind.String)
            throw new SyscageException("the request names no 'map'");
        return MapFiles.Find(_programs, program, m.GetString()!);
    }

    private JsonObject List()
    {
        var maps = new JsonArray();
        foreach (var program in _programs)
            foreach (var map in program.Maps)
            {
                var codec = new MapCodec(program, map);
                var def = map.Definition;
                var entry = new JsonObject
                {
                    ["program"] = program.Name,
                    ["map"] = def.Name,
                    ["kind"] = codec.Kind,
                    ["key_size"] = def.KeySize,
                    ["value_size"] = def.ValueSize,
                    ["max_entries"] = def.MaxEntries,
                    ["entries"] = codec.Entries().Count,
                    ["writable"] = codec.WhyReadOnly is null,
                };
                if (codec.KeyTypeName is { } key)
                    entry["key"] = key;
                if (codec.ValueTypeName is { } value)
                    entry["value"] = value;
                if (codec.IsGlobals)
                    entry["variables"] = new JsonArray([.. codec.VariableNames.Select(n => (JsonNode?)n)]);
                maps.Add((JsonNode)entry);
            }
        return new JsonObject { ["ok"] = true, ["maps"] = maps };
    }

    private static JsonObject Dump(MapCodec codec)
    {
        var text = new StringWriter { NewLine = "\n" };
        EbpfReport.WriteMap(text, codec.Program, codec.Map);
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
            codec.WriteEntries(w);
        return new JsonObject
        {
            ["ok"] = true,
            ["program"] = codec.Program.Name,
            ["map"] = codec.Map.Name,
            ["text"] = text.ToString(),
            ["entries"] = JsonNode.Parse(buffer.WrittenSpan),
        };
    }

    private static JsonObject Update(MapCodec codec, JsonElement request)
    {
        if (!request.TryGetProperty("entries", out var entries))
            return Error("an update carries 'entries': an object whose members are the entries");
        if (!codec.TryParse(entries, "entries", out var parsed, out var error))
            return Error($"map {codec.Map.Name}: {error}");
        codec.Apply(parsed);
        return new JsonObject { ["ok"] = true, ["updated"] = parsed.Count };
    }

    private static JsonObject Delete(MapCodec codec, JsonElement request)
    {
        if (!request.TryGetProperty("keys", out var keys) || keys.ValueKind != JsonValueKind.Array || keys.EnumerateArray().Any(k => k.ValueKind != JsonValueKind.String))
            return Error("a delete carries 'keys': a list of keys, as member names of a map file");
        if (!codec.TryParseKeys(keys.EnumerateArray().Select(k => k.GetString()!), out var parsed, out var error))
            return Error($"map {codec.Map.Name}: {error}");
        int deleted = parsed.Count(k => codec.Map.Delete(k));
        return new JsonObject { ["ok"] = true, ["deleted"] = deleted, ["absent"] = parsed.Count - deleted };
    }

    /// <summary>Stops serving and removes the socket file, if it is still the one this server made.</summary>
    public void Dispose()
    {
        _stop.Cancel();
        _socket.Dispose();
        try
        {
            _accept?.Wait(5000);
        }
        catch (AggregateException)
        {
        }
        try
        {
            if (UnixSocket.Identity(SocketPath) == _bound)
                File.Delete(SocketPath);
        }
        catch (IOException)
        {
        }
        _root?.Dispose();
        _stop.Dispose();
    }
}

/// <summary>The client side of a <see cref="MapControlServer"/>: one request, one answer.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public static class MapControlClient
{
    /// <summary>
    /// Sends <paramref name="request"/> to the socket at <paramref name="socketPath"/> and returns the answer; an answer
    /// with an <c>error</c> throws it as a <see cref="SyscageException"/>.
    /// </summary>
    public static JsonObject Send(string socketPath, JsonObject request, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(socketPath);
        ArgumentNullException.ThrowIfNull(request);
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        var limit = timeout ?? TimeSpan.FromSeconds(30);
        socket.ReceiveTimeout = socket.SendTimeout = (int)limit.TotalMilliseconds;
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(socketPath));
            socket.Send(Encoding.UTF8.GetBytes(request.ToJsonString() + "\n"));
            var data = new MemoryStream();
            var chunk = new byte[65536];
            int n;
            while ((n = socket.Receive(chunk)) > 0)
            {
                data.Write(chunk, 0, n);
                if (data.Length > InputLimits.MaxMapMemoryBytes + (1 << 20))
                    throw new SyscageException($"{socketPath}: the answer is too large");
                if (chunk.AsSpan(0, n).Contains((byte)'\n'))
                    break;
            }
            var answer = JsonNode.Parse(data.ToArray()) as JsonObject ?? throw new SyscageException($"{socketPath}: the answer is not a JSON object");
            if (answer["error"] is JsonNode error)
                throw new SyscageException(error.GetValue<string>());
            return answer;
        }
        catch (SocketException e)
        {
            throw new SyscageException($"{socketPath}: {e.Message}");
        }
        catch (JsonException e)
        {
            throw new SyscageException($"{socketPath}: the answer is not JSON: {e.Message}");
        }
    }
}
