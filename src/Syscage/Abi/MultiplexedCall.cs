using System.Collections.Frozen;
using System.Diagnostics.CodeAnalysis;

namespace Syscage.Abi;

/// <summary>
/// The two multiplexers of the older ABIs: one system call that makes several others, the one named by its first
/// argument (<see cref="MultiplexedCall.Code"/>).
/// </summary>
public enum Multiplexer
{
    /// <summary>
    /// <c>socketcall(int call, unsigned long *args)</c> (net/socket.c): <c>call</c> is <c>SYS_SOCKET</c> ...
    /// <c>SYS_SENDMMSG</c> (linux/net.h) and the call's own arguments are in memory at <c>args</c>.
    /// </summary>
    Socketcall,

    /// <summary>
    /// <c>ipc(unsigned int call, int first, unsigned long second, unsigned long third, void *ptr, long fifth)</c>
    /// (ipc/syscall.c): the low 16 bits of <c>call</c> are <c>SEMOP</c> ... <c>SHMCTL</c> (linux/ipc.h), the high 16 a
    /// version the kernel strips; the call's arguments are spread over the other registers and memory at <c>ptr</c>.
    /// </summary>
    Ipc,
}

/// <summary>
/// A system call that an ABI with <c>socketcall(2)</c> or <c>ipc(2)</c> (<see cref="Architecture.SocketcallNumber"/>,
/// <see cref="Architecture.IpcNumber"/>) can also make through its multiplexer: the 20 socket calls and the 12 System V
/// IPC calls. On such an ABI a program reaches <c>socket</c> as <c>socketcall(SYS_SOCKET, args)</c> — with its arguments
/// in memory, out of a filter's reach — as well as directly where the ABI has the direct call (x86 since Linux 4.3).
/// </summary>
/// <remarks>
/// The kernel's facts: <c>socketcall</c> reads <c>call</c> as an <c>int</c> and refuses values outside 1 ...
/// <c>SYS_SENDMMSG</c> (<c>__sys_socketcall</c>, and the compat entry on 64-bit kernels), so the filter compares its low
/// 32 bits; <c>ipc</c> reads an <c>unsigned int</c> and does <c>version = call &gt;&gt; 16; call &amp;= 0xffff;</c>
/// (<c>ksys_ipc</c>, <c>compat_ksys_ipc</c>), so <c>ipc(SHMGET | 1 &lt;&lt; 16, ...)</c> is <c>shmget</c>, and the filter
/// compares the low 16 bits (<see cref="CodeWidth"/>). The names are the kernel's: a socket call's code is <c>SYS_</c> and
/// its name in capitals, an IPC call's its name in capitals.
/// </remarks>
public sealed class MultiplexedCall
{
    private MultiplexedCall(string name, Multiplexer multiplexer, string codeName, int code)
    {
        Name = name;
        Multiplexer = multiplexer;
        CodeName = codeName;
        Code = code;
    }

    /// <summary>The call's name as a syscall table writes it: <c>socket</c>, <c>accept4</c>, <c>semop</c>, <c>shmctl</c>.</summary>
    public string Name { get; }

    /// <summary>The multiplexer that can make it.</summary>
    public Multiplexer Multiplexer { get; }

    /// <summary>The multiplexer's name: <c>socketcall</c> or <c>ipc</c>.</summary>
    public string MultiplexerName => NameOf(Multiplexer);

    /// <summary>The name of <see cref="Code"/> in the kernel's headers: <c>SYS_SOCKET</c> (linux/net.h), <c>SEMOP</c> (linux/ipc.h).</summary>
    public string CodeName { get; }

    /// <summary>The value of the multiplexer's first argument (<c>call</c>) that selects this call.</summary>
    public int Code { get; }

    /// <summary>
    /// The width at which the kernel reads <c>call</c> to pick the call: 32 bits for <c>socketcall</c> (an <c>int</c>),
    /// 16 for <c>ipc</c> (<c>call &amp;= 0xffff</c>; the bits above are a version).
    /// </summary>
    public int CodeWidth => WidthOf(Multiplexer);

    /// <summary>The multiplexer's name (<c>socketcall</c>, <c>ipc</c>).</summary>
    public static string NameOf(Multiplexer multiplexer) => multiplexer == Multiplexer.Socketcall ? "socketcall" : "ipc";

    /// <summary>The width at which the kernel reads the multiplexer's <c>call</c> argument (see <see cref="CodeWidth"/>).</summary>
    public static int WidthOf(Multiplexer multiplexer) => multiplexer == Multiplexer.Socketcall ? 32 : 16;

    /// <summary>Every call a multiplexer makes, socket calls in <c>SYS_*</c> order, then the IPC calls in code order.</summary>
    public static IReadOnlyList<MultiplexedCall> All { get; } = Array.AsReadOnly<MultiplexedCall>(
    [
        new("socket", Multiplexer.Socketcall, nameof(Uapi.SYS_SOCKET), Uapi.SYS_SOCKET),
        new("bind", Multiplexer.Socketcall, nameof(Uapi.SYS_BIND), Uapi.SYS_BIND),
        new("connect", Multiplexer.Socketcall, nameof(Uapi.SYS_CONNECT), Uapi.SYS_CONNECT),
        new("listen", Multiplexer.Socketcall, nameof(Uapi.SYS_LISTEN), Uapi.SYS_LISTEN),
        new("accept", Multiplexer.Socketcall, nameof(Uapi.SYS_ACCEPT), Uapi.SYS_ACCEPT),
        new("getsockname", Multiplexer.Socketcall, nameof(Uapi.SYS_GETSOCKNAME), Uapi.SYS_GETSOCKNAME),
        new("getpeername", Multiplexer.Socketcall, nameof(Uapi.SYS_GETPEERNAME), Uapi.SYS_GETPEERNAME),
        new("socketpair", Multiplexer.Socketcall, nameof(Uapi.SYS_SOCKETPAIR), Uapi.SYS_SOCKETPAIR),
        new("send", Multiplexer.Socketcall, nameof(Uapi.SYS_SEND), Uapi.SYS_SEND),
        new("recv", Multiplexer.Socketcall, nameof(Uapi.SYS_RECV), Uapi.SYS_RECV),
        new("sendto", Multiplexer.Socketcall, nameof(Uapi.SYS_SENDTO), Uapi.SYS_SENDTO),
        new("recvfrom", Multiplexer.Socketcall, nameof(Uapi.SYS_RECVFROM), Uapi.SYS_RECVFROM),
        new("shutdown", Multiplexer.Socketcall, nameof(Uapi.SYS_SHUTDOWN), Uapi.SYS_SHUTDOWN),
        new("setsockopt", Multiplexer.Socketcall, nameof(Uapi.SYS_SETSOCKOPT), Uapi.SYS_SETSOCKOPT),
        new("getsockopt", Multiplexer.Socketcall, nameof(Uapi.SYS_GETSOCKOPT), Uapi.SYS_GETSOCKOPT),
        new("sendmsg", Multiplexer.Socketcall, nameof(Uapi.SYS_SENDMSG), Uapi.SYS_SENDMSG),
        new("recvmsg", Multiplexer.Socketcall, nameof(Uapi.SYS_RECVMSG), Uapi.SYS_RECVMSG),
        new("accept4", Multiplexer.Socketcall, nameof(Uapi.SYS_ACCEPT4), Uapi.SYS_ACCEPT4),
        new("recvmmsg", Multiplexer.Socketcall, nameof(Uapi.SYS_RECVMMSG), Uapi.SYS_RECVMMSG),
        new("sendmmsg", Multiplexer.Socketcall, nameof(Uapi.SYS_SENDMMSG), Uapi.SYS_SENDMMSG),
        new("semop", Multiplexer.Ipc, nameof(Uapi.SEMOP), Uapi.SEMOP),
        new("semget", Multiplexer.Ipc, nameof(Uapi.SEMGET), Uapi.SEMGET),
        new("semctl", Multiplexer.Ipc, nameof(Uapi.SEMCTL), Uapi.SEMCTL),
        new("semtimedop", Multiplexer.Ipc, nameof(Uapi.SEMTIMEDOP), Uapi.SEMTIMEDOP),
        new("msgsnd", Multiplexer.Ipc, nameof(Uapi.MSGSND), Uapi.MSGSND),
        new("msgrcv", Multiplexer.Ipc, nameof(Uapi.MSGRCV), Uapi.MSGRCV),
        new("msgget", Multiplexer.Ipc, nameof(Uapi.MSGGET), Uapi.MSGGET),
        new("msgctl", Multiplexer.Ipc, nameof(Uapi.MSGCTL), Uapi.MSGCTL),
        new("shmat", Multiplexer.Ipc, nameof(Uapi.SHMAT), Uapi.SHMAT),
        new("shmdt", Multiplexer.Ipc, nameof(Uapi.SHMDT), Uapi.SHMDT),
        new("shmget", Multiplexer.Ipc, nameof(Uapi.SHMGET), Uapi.SHMGET),
        new("shmctl", Multiplexer.Ipc, nameof(Uapi.SHMCTL), Uapi.SHMCTL),
    ]);

    private static readonly FrozenDictionary<string, MultiplexedCall> ByName = All.ToFrozenDictionary(c => c.Name, StringComparer.Ordinal);

    /// <summary>The call named <paramref name="name"/> (<c>socket</c>, <c>msgget</c>), if a multiplexer makes it.</summary>
    public static bool TryGet(string name, [NotNullWhen(true)] out MultiplexedCall? call)
    {
        ArgumentNullException.ThrowIfNull(name);
        return ByName.TryGetValue(name, out call);
    }

    /// <summary>
    /// The call <paramref name="multiplexer"/> makes when its <c>call</c> argument is <paramref name="call"/> as the kernel
    /// reads it (for <c>ipc</c>, the low 16 bits), or null when it makes none (the kernel answers EINVAL or ENOSYS).
    /// </summary>
    public static MultiplexedCall? FromCode(Multiplexer multiplexer, ulong call)
    {
        ulong code = call & (multiplexer == Multiplexer.Socketcall ? uint.MaxValue : ushort.MaxValue);
        return All.FirstOrDefault(c => c.Multiplexer == multiplexer && (ulong)c.Code == code);
    }

    /// <summary>
    /// The call's arguments as the policy's conditions name them (<c>socket</c>: domain, type, protocol) on
    /// <paramref name="architecture"/>: its direct entry when the table has one, else the shared prototype, as a
    /// <see cref="Syscall"/> whose <see cref="Syscall.Number"/> is the multiplexer's — what <c>seccomp_data.nr</c> holds when the
    /// call is made through it. Null when the ABI has no such multiplexer.
    /// </summary>
    public Syscall? On(Architecture architecture)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        if (architecture.MultiplexerNumber(Multiplexer) is not int nr)
            return null;
        if (architecture.Syscalls.TryGet(Name, out var direct))
            return direct with { Number = nr };
        var (names, types) = SyscallTable.SharedPrototype(Name);
        return new Syscall(Name, nr, names, types);
    }

    /// <summary>The call as the multiplexer makes it: <c>socketcall(SYS_SOCKET, ...)</c>.</summary>
    public override string ToString() => $"{MultiplexerName}({CodeName}, ...)";
}
