using System.Runtime.InteropServices;
using Syscage.Bpf;
using Syscage.Abi;

namespace Syscage.Kernel.Notify;

/// <summary>
/// One notified system call, the kernel's <c>struct seccomp_notif</c>: <c>__u64 id; __u32 pid; __u32 flags;
/// struct seccomp_data data;</c>.
/// </summary>
/// <param name="Id">The notification's cookie: answers and memory reads name it.</param>
/// <param name="Pid">The calling thread's id, in the supervisor's pid namespace (0 when it is not visible there).</param>
/// <param name="Flags">Currently always 0.</param>
/// <param name="Data">The call: number, architecture, instruction pointer, arguments.</param>
public readonly record struct Notification(ulong Id, int Pid, uint Flags, SeccompData Data);

/// <summary>The kind of a <see cref="NotificationResponse"/>.</summary>
public enum NotificationResponseKind
{
    /// <summary>Fail the call with an errno.</summary>
    Error,
    /// <summary>Skip the call and return a value.</summary>
    Return,
    /// <summary>Let the kernel run the call (<c>SECCOMP_USER_NOTIF_FLAG_CONTINUE</c>).</summary>
    Continue,
    /// <summary>The call is already answered (by <see cref="NotificationContext.AddFdAndReturn"/>) or its task was killed: send nothing.</summary>
    Handled,
}

/// <summary>A handler's answer to a <see cref="Notification"/> (<c>struct seccomp_notif_resp</c>).</summary>
public readonly struct NotificationResponse : IEquatable<NotificationResponse>
{
    private NotificationResponse(NotificationResponseKind kind, long value, int errno)
    {
        Kind = kind;
        Value = value;
        Errno = errno;
    }

    /// <summary>What the answer does.</summary>
    public NotificationResponseKind Kind { get; }

    /// <summary>The return value, for <see cref="NotificationResponseKind.Return"/>.</summary>
    public long Value { get; }

    /// <summary>The errno (positive), for <see cref="NotificationResponseKind.Error"/>.</summary>
    public int Errno { get; }

    /// <summary>
    /// Let the call run (<c>SECCOMP_USER_NOTIF_FLAG_CONTINUE</c>). The target's memory may change between a check
    /// and the call: "the seccomp notifier _cannot_ be used to implement a security policy"
    /// (include/uapi/linux/seccomp.h), so never continue a call because of what its memory said.
    /// </summary>
    public static NotificationResponse Continue => new(NotificationResponseKind.Continue, 0, 0);

    /// <summary>Nothing to send: the call was answered another way, or its task was killed.</summary>
    public static NotificationResponse Handled => new(NotificationResponseKind.Handled, 0, 0);

    /// <summary>Fail the call with <paramref name="errno"/> (positive, e.g. 1 for EPERM).</summary>
    public static NotificationResponse Error(int errno)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(errno);
        return new(NotificationResponseKind.Error, 0, errno);
    }

    /// <summary>Don't run the call; it returns <paramref name="value"/>.</summary>
    public static NotificationResponse Return(long value) => new(NotificationResponseKind.Return, value, 0);

    /// <inheritdoc/>
    public bool Equals(NotificationResponse other) => Kind == other.Kind && Value == other.Value && Errno == other.Errno;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is NotificationResponse r && Equals(r);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Kind, Value, Errno);

    /// <summary>Equality.</summary>
    public static bool operator ==(NotificationResponse left, NotificationResponse right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    public static bool operator !=(NotificationResponse left, NotificationResponse right) => !left.Equals(right);

    /// <inheritdoc/>
    public override string ToString() => Kind switch
    {
        NotificationResponseKind.Error => $"error {Syscage.Abi.Errno.Name(Errno) ?? Errno.ToString(System.Globalization.CultureInfo.InvariantCulture)}",
        NotificationResponseKind.Return => $"return {Value}",
        _ => Kind.ToString().ToLowerInvariant(),
    };
}

/// <summary>
/// Handles one notified call. Return synchronously when you can (no allocation); awaiting is fine, the worker
/// threads go on receiving meanwhile.
/// </summary>
public delegate ValueTask<NotificationResponse> NotificationHandler(Notification notification, NotificationContext context);
