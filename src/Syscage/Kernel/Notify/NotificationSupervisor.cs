using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Syscage.Bpf;
using static Syscage.Kernel.Interop.Libc;
using static Syscage.Kernel.Interop.NotifStructs;
using Syscage.Abi;

namespace Syscage.Kernel.Notify;

/// <summary>How a <see cref="NotificationSupervisor"/> runs.</summary>
public sealed record SupervisorOptions
{
    /// <summary>Worker threads receiving and answering (default 2).</summary>
    public int Workers { get; init; } = 2;

    /// <summary>
    /// Ask for <c>SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP</c> (Linux 6.6): the kernel wakes the target on the
    /// supervisor's CPU, which helps when each call is answered synchronously. Ignored when unsupported
    /// (<see cref="NotificationSupervisor.SyncWakeUp"/> tells).
    /// </summary>
    public bool SyncWakeUp { get; init; }

    /// <summary>The answer when a handler throws (default <c>EPERM</c>): fail closed.</summary>
    public int HandlerFailureErrno { get; init; } = 1;

    /// <summary>Called (on a worker) when a handler throws or an answer can't be sent for another reason than the target's death.</summary>
    public Action<Notification, Exception>? OnError { get; init; }

    /// <summary>
    /// Called (on a worker) with the answer when it finds its call gone (<c>ENOENT</c>): the task died, or a signal
    /// interrupted its wait — and then, unless the call fails with <c>EINTR</c>, the kernel restarts it and it is notified
    /// again, as a new notification with the same thread and the same <c>seccomp_data</c>.
    /// </summary>
    public Action<Notification, NotificationResponse>? OnGone { get; init; }

    /// <summary>
    /// The worker waits for a call in <c>SECCOMP_IOCTL_NOTIF_RECV</c> itself instead of in <c>poll</c>: one system call
    /// fewer per call, 13% of a notified getpid's round trip here. Taken only with one worker and
    /// <see cref="SyncWakeUp"/> granted: from Linux 6.6 (which brought SYNC_WAKE_UP) a waiting RECV is woken on the
    /// notifying CPU as poll is, and also when every task using the filter is gone; before, it waited on a semaphore
    /// nothing wakes then. Nothing else wakes it: <see cref="NotificationSupervisor.Stop"/> can't, so disposing waits for
    /// the tasks to end (<see cref="NotificationSupervisor.BlockedReceiveGrace"/> at most). For an owner that ends them
    /// first: a <see cref="Supervision.SandboxSession"/> kills the command's tree before it disposes its supervisor.
    /// </summary>
    internal bool ReceiveBlocking { get; init; }

    /// <summary>Calls handed to another handler than the supervisor's own (a guarded run's <c>pidfd_send_signal</c>).</summary>
    internal SyscallRoute? Route { get; init; }
}

/// <summary>
/// Serves a seccomp user-notification listener: worker threads receive notified calls
/// (<c>SECCOMP_IOCTL_NOTIF_RECV</c>), hand each to a <see cref="NotificationHandler"/> and send its answer
/// (<c>SECCOMP_IOCTL_NOTIF_SEND</c>). The supervisor owns the listener: disposing it closes the listener, after
/// which the targets' notified calls fail with <c>ENOSYS</c>.
/// </summary>
/// <remarks>
/// <para>Receiving is serialised and preceded by <c>poll</c> on the listener and a stop eventfd: RECV itself
/// can't be interrupted (before Linux 6.6 it waits on a semaphore, and a listener whose targets all died never wakes
/// it), so a worker only calls it when poll says a notification is there, and no other worker can take it first. If the
/// notification vanished meanwhile (its task was killed), RECV fails with ENOENT and the worker goes on. A single
/// worker of an owner that ends the tasks itself waits in RECV instead (<see cref="SupervisorOptions.ReceiveBlocking"/>).</para>
/// <para>Handling is concurrent: once a worker has a notification it leaves the receive gate, so a slow or
/// awaiting handler does not stop the others. A SEND that fails with ENOENT means the target died or was
/// interrupted by a signal while waiting; nothing is held per notification, so nothing leaks.</para>
/// <para><see cref="Completion"/> ends when the listener hangs up (every task using the filter is gone) or
/// when <see cref="Stop"/> is called.</para>
/// </remarks>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class NotificationSupervisor : IDisposable, IAsyncDisposable
{
    private const int RecvSize = 80;   // sizeof(struct seccomp_notif), fixed by the ioctl number
    private readonly ListenerHandle _listener;
    private readonly ReceivedCallHandler _handler;
    private readonly SyscallRoute? _route;
    // The route's band, copied here: the check of every call reads this object's line, not the route's.
    private readonly int _routeLow = int.MinValue;
    private readonly uint _routeBand;
    // Set with Completion's end: the workers' loop reads this field instead of the task.
    private int _ended;
    private readonly SupervisorOptions _options;
    private readonly Lock _receiveGate = new();
    private readonly Thread[] _workers;
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SafeFileHandle _stop;
    private int _started, _stopped, _disposed;
    // The worker waits in RECV itself (SupervisorOptions.ReceiveBlocking, when the kernel makes that safe).
    private readonly bool _receiveBlocking;
    // Counts off the workers' synchronous path (answers sent by handlers, asynchronous answers, failures): atomic.
    private long _answered, _gone, _failed, _completedAsync;
    // Each worker's own counts, written by that worker alone without a lock-prefixed instruction (a notified call is a
    // round trip of a few µs, and each atomic on its path cost about 10 ns here): summed when read.
    private readonly WorkerCounts[] _counts;

    /// <summary>One worker's counts: written by its worker only, read by anyone (aligned 64-bit fields, read with Volatile).</summary>
    private sealed class WorkerCounts
    {
        public long Received, AnsweredHere, CompletedHere;
    }

    /// <summary>Creates a supervisor for <paramref name="listener"/>, which it now owns.</summary>
    public NotificationSupervisor(ListenerHandle listener, NotificationHandler handler, SupervisorOptions? options = null)
        : this(listener, Serve(handler ?? throw new ArgumentNullException(nameof(handler))), options)
    {
    }

    /// <summary>A <see cref="NotificationHandler"/> served with the notification and context made for each call.</summary>
    internal static ReceivedCallHandler Serve(NotificationHandler handler) => (in ReceivedCall call) =>
    {
        var context = call.Context();
        return handler(context.Notification, context);
    };

    /// <summary>Creates a supervisor for <paramref name="listener"/>, which it now owns, whose handler reads each call in place.</summary>
    internal NotificationSupervisor(ListenerHandle listener, ReceivedCallHandler handler, SupervisorOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(listener);
        ArgumentNullException.ThrowIfNull(handler);
        _listener = listener;
        _handler = handler;
        _options = options ?? new SupervisorOptions();
        _route = _options.Route;
        if (_route is not null)
            (_routeLow, _routeBand) = (_route.Low, _route.Band);
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.Workers, 1, nameof(options));
        var sizes = Seccomp.GetNotifSizes();
        if (sizes.Notif != RecvSize || sizes.NotifResp != 24 || sizes.Data != SeccompData.Size)
            throw new SyscageException($"this kernel's user-notification structures differ from the uapi ones Syscage was written for " +
                                       $"(seccomp_notif {sizes.Notif}, seccomp_notif_resp {sizes.NotifResp}, seccomp_data {sizes.Data}; expected 80, 24, 64)");
        int stop = eventfd(0, EFD_CLOEXEC);
        if (stop < 0)
            throw KernelException.FromLastError("eventfd");
        _stop = new SafeFileHandle(stop, ownsHandle: true);
        if (_options.SyncWakeUp)
            SyncWakeUp = TrySetSyncWakeUp();
        _receiveBlocking = _options.ReceiveBlocking && SyncWakeUp && _options.Workers == 1;
        _workers = new Thread[_options.Workers];
        _counts = new WorkerCounts[_options.Workers];
        for (int i = 0; i < _workers.Length; i++)
        {
            var counts = _counts[i] = new WorkerCounts();
            _workers[i] = new Thread(() => Work(counts)) { IsBackground = true, Name = $"syscage-notify-{i}" };
        }
    }

    /// <summary>True when the worker waits for calls in RECV itself (<see cref="SupervisorOptions.ReceiveBlocking"/> taken).</summary>
    internal bool ReceivesInRecv => _receiveBlocking;

    /// <summary>True when the listener runs with <c>SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP</c>.</summary>
    public bool SyncWakeUp { get; }

    /// <summary>Notifications received.</summary>
    public long Received => Sum(static c => Volatile.Read(ref c.Received));

    /// <summary>Answers the kernel accepted (sent by the supervisor, by <see cref="NotificationContext.Respond"/> or with ADDFD_FLAG_SEND).</summary>
    public long Answered => Interlocked.Read(ref _answered) + Sum(static c => Volatile.Read(ref c.AnsweredHere));

    /// <summary>Notifications whose task was gone by the time of the answer (ENOENT).</summary>
    public long Gone => Interlocked.Read(ref _gone);

    /// <summary>Handlers that threw, and answers that failed otherwise.</summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>Notifications received and not yet answered.</summary>
    public int InFlight
    {
        get
        {
            // Completions first: a call counted as completed was received before, so the difference never goes below 0.
            long done = Interlocked.Read(ref _completedAsync) + Sum(static c => Volatile.Read(ref c.CompletedHere));
            return (int)(Received - done);
        }
    }

    private long Sum(Func<WorkerCounts, long> read)
    {
        long sum = 0;
        foreach (var c in _counts)
            sum += read(c);
        return sum;
    }

    /// <summary>Ends when every task using the filter is gone (the listener hangs up) or on <see cref="Stop"/>.</summary>
    public Task Completion => _completion.Task;

    /// <summary>The listener (owned by the supervisor).</summary>
    public ListenerHandle Listener => _listener;

    /// <summary>Ends <see cref="Completion"/> (the first end counts).</summary>
    private void End(Exception? failure = null)
    {
        Volatile.Write(ref _ended, 1);
        if (failure is null)
            _completion.TrySetResult();
        else
            _completion.TrySetException(failure);
    }

    /// <summary>Starts the worker threads. Returns this supervisor.</summary>
    public NotificationSupervisor Start()
    {
        // Under the lock Dispose takes before joining: it never sees a worker that is about to be started.
        lock (_workers)
            if (Interlocked.Exchange(ref _started, 1) == 0)
                foreach (var t in _workers)
                    t.Start();
        return this;
    }

    /// <summary>Stops receiving (pending calls stay pending until the listener is closed by <see cref="Dispose"/>).</summary>
    public void Stop()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
            return;
        Span<byte> one = stackalloc byte[8];
        one[0] = 1;
        bool added = false;
        try
        {
            _stop.DangerousAddRef(ref added);
            _ = write((int)_stop.DangerousGetHandle(), one, 8);
        }
        catch (ObjectDisposedException)
        {
        }
        finally
        {
            if (added)
                _stop.DangerousRelease();
        }
        if (Volatile.Read(ref _started) == 0)
            End();
    }

    /// <summary>
    /// How long <see cref="Dispose"/> waits for a worker that waits in RECV (<see cref="SupervisorOptions.ReceiveBlocking"/>)
    /// to see the filter's tasks gone. The owner has killed them: their reaping takes milliseconds.
    /// </summary>
    internal static readonly TimeSpan BlockedReceiveGrace = TimeSpan.FromSeconds(10);

    /// <summary>Stops, waits for the workers, and closes the listener (targets then get ENOSYS).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        Stop();
        Thread[] started;
        lock (_workers)
            started = Volatile.Read(ref _started) != 0 ? _workers : [];
        // A worker still waiting in RECV after the grace (its tasks live on) keeps the listener open by its reference and
        // answers their calls until they end; then it stops and the listener closes.
        foreach (var t in started)
            if (t != Thread.CurrentThread)
                _ = t.Join(_receiveBlocking ? BlockedReceiveGrace : Timeout.InfiniteTimeSpan);
        _listener.Dispose();
        _stop.Dispose();
    }

    /// <inheritdoc/>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    internal unsafe bool IsIdValid(ulong id)
    {
        bool added = false;
        try
        {
            _listener.DangerousAddRef(ref added);
            // SECCOMP_IOCTL_NOTIF_ID_VALID "is used to check that a notification ID ... is still valid" (seccomp_unotify(2)).
            return ioctl(_listener.Fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
        finally
        {
            if (added)
                _listener.DangerousRelease();
        }
    }

    internal unsafe int AddFd(ulong id, SafeHandle fd, int? targetFd, bool closeOnExec, bool send)
    {
        ArgumentNullException.ThrowIfNull(fd);
        bool addedListener = false, addedFd = false;
        try
        {
            _listener.DangerousAddRef(ref addedListener);
            fd.DangerousAddRef(ref addedFd);
            var addfd = new seccomp_notif_addfd
            {
                id = id,
                flags = (targetFd is null ? 0 : SECCOMP_ADDFD_FLAG_SETFD) | (send ? SECCOMP_ADDFD_FLAG_SEND : 0),
                srcfd = (uint)fd.DangerousGetHandle(),
                newfd = (uint)(targetFd ?? 0),
                newfd_flags = closeOnExec ? (uint)Uapi.O_CLOEXEC : 0,
            };
            int rc = ioctl(_listener.Fd, SECCOMP_IOCTL_NOTIF_ADDFD, &addfd);
            if (rc >= 0 && send)
                Interlocked.Increment(ref _answered);
            if (rc < 0)
                throw KernelException.FromLastError(send ? "ioctl(SECCOMP_IOCTL_NOTIF_ADDFD, SECCOMP_ADDFD_FLAG_SEND)" : "ioctl(SECCOMP_IOCTL_NOTIF_ADDFD)");
            return rc;
        }
        finally
        {
            if (addedFd)
                fd.DangerousRelease();
            if (addedListener)
                _listener.DangerousRelease();
        }
    }

    private unsafe bool TrySetSyncWakeUp()
    {
        // SECCOMP_IOCTL_NOTIF_SET_FLAGS takes the flags as the ioctl argument itself, not through a pointer.
        return ioctl(_listener.Fd, SECCOMP_IOCTL_NOTIF_SET_FLAGS, (void*)SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) == 0;
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private unsafe void Work(WorkerCounts counts)
    {
        var buffer = (seccomp_notif*)NativeMemory.AlignedAlloc(RecvSize, 8);
        bool added = false, addedStop = false;
        try
        {
            _listener.DangerousAddRef(ref added);
            _stop.DangerousAddRef(ref addedStop);
            int fd = _listener.Fd, stop = (int)_stop.DangerousGetHandle();
            while (true)
            {
                int got = Receive(fd, stop, buffer);
                if (got < 0)
                    break;
                if (got == 0)
                    continue;
                Volatile.Write(ref counts.Received, counts.Received + 1);
                // The handler reads the call in place while it runs.
                Dispatch(new ReceivedCall(this, buffer), fd, counts);
            }
        }
        catch (ObjectDisposedException)
        {
        }
        finally
        {
            if (addedStop)
                _stop.DangerousRelease();
            if (added)
                _listener.DangerousRelease();
            NativeMemory.AlignedFree(buffer);
        }
    }

    /// <summary>1: a notification is in the buffer; 0: none after all, try again; -1: stop.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private unsafe int Receive(int fd, int stop, seccomp_notif* buffer)
    {
        if (Volatile.Read(ref _stopped) != 0)
        {
            // Stop came while this worker was handling a call (it never waited on the stop eventfd): end Completion here.
            End();
            return -1;
        }
        if (Volatile.Read(ref _ended) != 0)
            return -1;
        if (_receiveBlocking)
            return ReceiveBlocking(fd, buffer);
        // One worker receives alone: the gate that serialises poll and RECV between workers is not needed.
        if (_workers.Length == 1)
            return ReceiveUngated(fd, stop, buffer);
        lock (_receiveGate)
            return ReceiveUngated(fd, stop, buffer);
    }

    /// <summary>
    /// <see cref="Receive"/> waiting in RECV itself (<see cref="SupervisorOptions.ReceiveBlocking"/>): the kernel wakes it
    /// for a call, or when every task using the filter is gone, and then it fails with ENOENT and poll says POLLHUP.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private unsafe int ReceiveBlocking(int fd, seccomp_notif* buffer)
    {
        int e = Recv(fd, buffer);
        if (e != Errno.ENOENT)
            return ReceiveResult(e);
        // ENOENT: a call gone before it was received (its task killed), or no task left at all.
        var hangUp = new PollFd { Fd = fd, Events = POLLIN };
        if (poll(&hangUp, 1, 0) < 0 || (hangUp.REvents & (POLLHUP | POLLERR)) == 0)
            return 0;
        End();
        return -1;
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private unsafe int ReceiveUngated(int fd, int stop, seccomp_notif* buffer)
    {
        PollFd* fds = stackalloc PollFd[2];
        fds[0] = new PollFd { Fd = fd, Events = POLLIN };
        fds[1] = new PollFd { Fd = stop, Events = POLLIN };
        if (PollForever(fds, 2) < 0)
        {
            int e = Marshal.GetLastPInvokeError();
            if (e == Errno.EINTR)
                return 0;
            End(new KernelException("poll(seccomp listener)", e));
            return -1;
        }
        if (fds[1].REvents != 0)
        {
            End();
            return -1;
        }
        if ((fds[0].REvents & POLLIN) == 0)
        {
            if ((fds[0].REvents & (POLLHUP | POLLERR)) != 0)
            {
                // Every task using the filter is gone: nothing can be notified any more.
                End();
                return -1;
            }
            return 0;
        }
        // ENOENT: the task was killed (or interrupted) between poll and receive.
        return ReceiveResult(Recv(fd, buffer));
    }

    /// <summary>SECCOMP_IOCTL_NOTIF_RECV into <paramref name="buffer"/>: 0, or the errno.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static unsafe int Recv(int fd, seccomp_notif* buffer)
    {
        // "This structure must be zeroed out before the call" (seccomp_unotify(2)): EINVAL otherwise.
        NativeMemory.Clear(buffer, RecvSize);
        return ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, buffer) == 0 ? 0 : Marshal.GetLastPInvokeError();
    }

    /// <summary>
    /// <see cref="Receive"/>'s answer for a RECV that gave <paramref name="e"/>: 1 for a call, 0 to try again when the call
    /// is gone (ENOENT) or a signal came (EINTR), -1 (the supervisor fails) for any other error.
    /// </summary>
    private int ReceiveResult(int e)
    {
        if (e == 0)
            return 1;
        if (e is Errno.ENOENT or Errno.EINTR)
            return 0;
        End(new KernelException("ioctl(SECCOMP_IOCTL_NOTIF_RECV)", e));
        return -1;
    }

    /// <summary>
    /// Hands a received call to the handler on the worker <paramref name="counts"/> belongs to, which holds a reference on
    /// the listener (<paramref name="fd"/>) for as long as it runs: an answer ready at once is sent from here.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private void Dispatch(in ReceivedCall call, int fd, WorkerCounts counts)
    {
        ValueTask<NotificationResponse> pending;
        try
        {
            int nr = call.Nr;
            pending = (uint)(nr - _routeLow) <= _routeBand && _route is { } route && route.Listed(call.Arch, nr) ? route.Handler(call) : _handler(call);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Fail(call.Notification, e, counts);
            return;
        }
        if (!pending.IsCompletedSuccessfully)
        {
            _ = RespondLater(call.Notification, pending);
            return;
        }
        try
        {
            var response = pending.Result;
            if (response.Kind != NotificationResponseKind.Handled)
            {
                int e = SendOn(fd, call.Id, response);
                if (e == 0)
                    Volatile.Write(ref counts.AnsweredHere, counts.AnsweredHere + 1);
                else
                    NotSent(call.Notification, response, e);
            }
        }
        finally
        {
            Volatile.Write(ref counts.CompletedHere, counts.CompletedHere + 1);
        }
    }

    private async Task RespondLater(Notification notification, ValueTask<NotificationResponse> pending)
    {
        NotificationResponse response;
        try
        {
            response = await pending.ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Fail(notification, e, null);
            return;
        }
        try
        {
            if (response.Kind != NotificationResponseKind.Handled)
                Send(notification, response);
        }
        finally
        {
            Interlocked.Increment(ref _completedAsync);
        }
    }

    /// <summary>Answers a call whose handler threw: on its worker (<paramref name="counts"/>), or off it (null).</summary>
    private void Fail(Notification notification, Exception e, WorkerCounts? counts)
    {
        Interlocked.Increment(ref _failed);
        try
        {
            _options.OnError?.Invoke(notification, e);
            Send(notification, NotificationResponse.Error(_options.HandlerFailureErrno));
        }
        finally
        {
            if (counts is null)
                Interlocked.Increment(ref _completedAsync);
            else
                Volatile.Write(ref counts.CompletedHere, counts.CompletedHere + 1);
        }
    }

    /// <summary>
    /// SECCOMP_IOCTL_NOTIF_SEND from any thread (a handler's <see cref="NotificationContext.Respond"/>, an asynchronous
    /// answer); false when the call is gone (ENOENT) or the answer failed.
    /// </summary>
    internal bool Send(Notification notification, NotificationResponse response)
    {
        if (response.Kind == NotificationResponseKind.Handled)
            throw new ArgumentException("Handled is returned by handlers, not sent", nameof(response));
        bool added = false;
        try
        {
            _listener.DangerousAddRef(ref added);
        }
        catch (ObjectDisposedException)
        {
            // The supervisor was disposed while the handler ran: the listener is closed, and the kernel answered ENOSYS.
            Interlocked.Increment(ref _gone);
            return false;
        }
        try
        {
            int e = SendOn(_listener.Fd, notification.Id, response);
            if (e != 0)
            {
                NotSent(notification, response, e);
                return false;
            }
            Interlocked.Increment(ref _answered);
            return true;
        }
        finally
        {
            _listener.DangerousRelease();
        }
    }

    /// <summary>
    /// SECCOMP_IOCTL_NOTIF_SEND of the answer to call <paramref name="id"/> on <paramref name="fd"/>, the listener, which the
    /// caller keeps open: 0 when the kernel took it (the caller counts it), else the errno (the caller says it, <see cref="NotSent"/>).
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static unsafe int SendOn(int fd, ulong id, NotificationResponse response)
    {
        var resp = new seccomp_notif_resp { id = id };
        switch (response.Kind)
        {
            case NotificationResponseKind.Continue:
                resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
                break;
            case NotificationResponseKind.Error:
                resp.error = -response.Errno;
                break;
            default:
                resp.val = response.Value;
                break;
        }
        return ioctl_nowait(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp) == 0 ? 0 : Marshal.GetLastSystemError();
    }

    /// <summary>
    /// Counts an answer the kernel did not take: the call is gone (ENOENT: told to <see cref="SupervisorOptions.OnGone"/>) or
    /// the answer failed (told to <see cref="SupervisorOptions.OnError"/>).
    /// </summary>
    private void NotSent(Notification notification, NotificationResponse response, int e)
    {
        if (e == Errno.ENOENT) // the task died or a signal interrupted its wait
        {
            Interlocked.Increment(ref _gone);
            _options.OnGone?.Invoke(notification, response);
        }
        else
        {
            Interlocked.Increment(ref _failed);
            _options.OnError?.Invoke(notification, new KernelException("ioctl(SECCOMP_IOCTL_NOTIF_SEND)", e));
        }
    }
}
