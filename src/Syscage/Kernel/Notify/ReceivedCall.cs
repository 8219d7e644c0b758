using Syscage.Abi;
using static Syscage.Kernel.Interop.NotifStructs;

namespace Syscage.Kernel.Notify;

/// <summary>
/// Handles a notified call as the worker received it (<see cref="ReceivedCall"/>): the supervisor's own handler type.
/// A <see cref="NotificationHandler"/> is served through it, with the <see cref="Notification"/> and the
/// <see cref="NotificationContext"/> made for it; a handler of this type makes them only when it needs them.
/// </summary>
internal delegate ValueTask<NotificationResponse> ReceivedCallHandler(in ReceivedCall call);

/// <summary>
/// One notified call, read in place: from the worker's receive buffer (the kernel's <c>struct seccomp_notif</c>), or from
/// a <see cref="NotificationContext"/> a <see cref="NotificationHandler"/> was given. The number, architecture, thread and
/// the raw <c>seccomp_data</c> cost a load each; <see cref="Notification"/> and <see cref="Context"/> are made when asked
/// for. Valid only while the handler runs synchronously: the buffer takes the worker's next call once the handler has
/// returned or gone asynchronous, so a handler that awaits takes <see cref="Notification"/> and <see cref="Context"/> first.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal readonly unsafe ref struct ReceivedCall
{
    private readonly NotificationSupervisor? _supervisor;
    private readonly seccomp_notif* _received;
    // A reference, not a copy: the context is 100 bytes, and this struct is made for every notified call.
    private readonly ref readonly NotificationContext _given;

    /// <summary>The call in <paramref name="received"/>, the receive buffer of one of <paramref name="supervisor"/>'s workers.</summary>
    internal ReceivedCall(NotificationSupervisor supervisor, seccomp_notif* received)
    {
        _supervisor = supervisor;
        _received = received;
        _given = ref System.Runtime.CompilerServices.Unsafe.NullRef<NotificationContext>();
    }

    /// <summary>The call <paramref name="context"/> is about (its <see cref="NotificationContext.RawData"/> when it has one).</summary>
    internal ReceivedCall(in NotificationContext context)
    {
        _supervisor = null;
        _received = null;
        _given = ref context;
    }

    /// <summary>The notification's id, which the answer names.</summary>
    public ulong Id
    {
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
        get => _received is not null ? _received->id : _given.Notification.Id;
    }

    /// <summary>The thread that made the call (<c>pid</c>).</summary>
    public int Pid => _received is not null ? (int)_received->pid : _given.Notification.Pid;

    /// <summary>The system call's number as the kernel saw it.</summary>
    public int Nr
    {
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
        get => _received is not null ? _received->nr : _given.Notification.Data.Nr;
    }

    /// <summary>Its <c>AUDIT_ARCH_*</c> value.</summary>
    public uint Arch
    {
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
        get => _received is not null ? _received->arch : _given.Notification.Data.Arch;
    }

    /// <summary>The call's <c>struct seccomp_data</c> as the kernel wrote it (64 bytes, the machine's layout), or null.</summary>
    public byte* RawData
    {
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
        get => _received is not null ? (byte*)&_received->nr : (byte*)_given.RawData;
    }

    /// <summary>The call as a <see cref="Kernel.Notify.Notification"/> (made from the buffer: a copy of its 80 bytes).</summary>
    public Notification Notification
    {
        get
        {
            if (_received is null)
                return _given.Notification;
            var b = _received;
            return new Notification(b->id, (int)b->pid, b->flags,
                new SeccompData(b->nr, b->arch, b->instruction_pointer, b->arg0, b->arg1, b->arg2, b->arg3, b->arg4, b->arg5));
        }
    }

    /// <summary>
    /// What a handler can do about the call (<see cref="NotificationContext"/>), also after the handler has returned or gone
    /// asynchronous — but for its <see cref="NotificationContext.RawData"/>, which is the buffer's.
    /// </summary>
    public NotificationContext Context() => _received is null ? _given : new NotificationContext(_supervisor!, Notification, (nint)RawData);
}
