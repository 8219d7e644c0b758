using System.Runtime.CompilerServices;

namespace Syscage.Kernel.Notify;

/// <summary>
/// Calls a <see cref="NotificationSupervisor"/> hands to another handler than its own, named by
/// (<c>AUDIT_ARCH_*</c>, number) (<see cref="SupervisorOptions.Route"/>): how a guarded run takes <c>pidfd_send_signal</c>
/// in front of the policy's handler.
/// </summary>
/// <remarks>
/// The supervisor checks it inline before calling its handler. The wrapping handler it replaces walked every listed pair
/// (22 for an eBPF program's split) and made a second indirect call, mispredicted just after the context switch of every
/// notification: about 40 ns of a 2 µs getpid round trip here, for a check that is nearly always one comparison. The
/// listed numbers lie in a band (pidfd_send_signal is 424 on most architectures; MIPS and x32 add their bases), so a call
/// numbered below or above it, nearly every call, is told apart without reading the list.
/// </remarks>
internal sealed class SyscallRoute
{
    private readonly (uint Arch, int Nr)[] _calls;
    private readonly int _low;
    private readonly uint _band;

    /// <summary>Routes <paramref name="calls"/> (at least one) to <paramref name="handler"/>.</summary>
    public SyscallRoute(IEnumerable<(uint Arch, int Nr)> calls, ReceivedCallHandler handler)
    {
        ArgumentNullException.ThrowIfNull(calls);
        ArgumentNullException.ThrowIfNull(handler);
        _calls = [.. calls];
        if (_calls.Length == 0)
            throw new ArgumentException("a route needs at least one call", nameof(calls));
        _low = _calls.Min(c => c.Nr);
        _band = (uint)(_calls.Max(c => c.Nr) - _low);
        Handler = handler;
    }

    /// <summary>The lowest number listed.</summary>
    public int Low => _low;

    /// <summary>The listed numbers lie in [<see cref="Low"/>, <see cref="Low"/> + this].</summary>
    public uint Band => _band;

    /// <summary>The handler of the routed calls.</summary>
    public ReceivedCallHandler Handler { get; }

    /// <summary>Whether the call numbered <paramref name="nr"/> on <paramref name="arch"/> is routed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Takes(uint arch, int nr) => (uint)(nr - _low) <= _band && Listed(arch, nr);

    /// <summary>Whether (<paramref name="arch"/>, <paramref name="nr"/>) is listed: <see cref="Takes"/> after its band check, which the supervisor makes on its own copy.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal bool Listed(uint arch, int nr)
    {
        foreach (var call in _calls)
            if (call.Arch == arch && call.Nr == nr)
                return true;
        return false;
    }
}
