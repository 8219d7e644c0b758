using Syscage.Abi;
using Syscage.Kernel.Notify;

namespace Syscage.Notify.Tests;

/// <summary>A supervisor's route (<see cref="SupervisorOptions.Route"/>): the calls it names, and only those, go to its handler.</summary>
public class SyscallRouteTests
{
    private static ValueTask<NotificationResponse> Refuse(in ReceivedCall call) => ValueTask.FromResult(NotificationResponse.Error(Errno.EACCES));

    [Fact]
    public void Takes_exactly_the_listed_calls_across_the_band()
    {
        // pidfd_send_signal of every architecture that has it, as a guarded run lists it: a band from 424 up to x32's
        // number, so most numbers inside it are not listed.
        var listed = Architecture.All
            .Select(a => a.Syscalls.TryGetNumber("pidfd_send_signal", out int nr) ? (a.AuditArch, nr) : (0u, -1))
            .Where(p => p.Item2 >= 0).Distinct().ToArray();
        Assert.True(listed.Length > 10, $"only {listed.Length} architectures have pidfd_send_signal");
        var route = new SyscallRoute(listed, Refuse);
        var set = listed.ToHashSet();
        uint[] arches = [.. listed.Select(p => p.Item1).Distinct()];
        int[] numbers = [.. listed.Select(p => p.Item2).SelectMany(n => new[] { n - 1, n, n + 1 }).Concat([0, 39, 423, 425, -1, int.MinValue, int.MaxValue])];
        foreach (uint arch in arches)
            foreach (int nr in numbers)
                Assert.True(set.Contains((arch, nr)) == route.Takes(arch, nr), $"arch 0x{arch:x8} nr {nr}");
    }

    [Fact]
    public void A_route_needs_a_call()
    {
        Assert.Throws<ArgumentException>(() => new SyscallRoute([], Refuse));
    }

    [Theory]
    [InlineData(Notified.Unused, "ret -1 errno 1")]        // the supervisor's handler: EPERM
    [InlineData(Notified.Unused + 1, "ret -1 errno 13")]   // routed: EACCES
    public void The_supervisor_hands_routed_calls_to_the_route(int nr, string expected)
    {
        var options = new SupervisorOptions { Route = new SyscallRoute([(Architecture.Native.AuditArch, Notified.Unused + 1)], Refuse) };
        var outcome = Notified.Run(Notified.NotifyPolicy(Notified.Unused, Notified.Unused + 1),
            (_, _) => ValueTask.FromResult(NotificationResponse.Error(Errno.EPERM)), options,
            "call", nr.ToString(System.Globalization.CultureInfo.InvariantCulture), "0");
        Assert.True(expected == outcome.Stdout, outcome.ToString());
        Assert.Equal(1, outcome.Supervisor.Answered);
    }
}
