using NativeMemory = System.Runtime.InteropServices.NativeMemory;
using Syscage.Abi;
using Syscage.Ebpf.Helpers;
using Syscage.Ebpf.Seccomp;
using Syscage.Kernel.Notify;
using Syscage.Supervision;
using static Syscage.EbpfSeccomp.Tests.Harness;

namespace Syscage.EbpfSeccomp.Tests;

/// <summary>
/// The lean handler path (issue 16): for programs that read no task state, a notified call binds no task (no
/// <c>/proc</c> read, no pidfd, no thread-group lookup) and allocates nothing, and the kernel's <c>seccomp_data</c> goes
/// to the VM as it came, when that is what the programs read — which a differential test checks against the copying path.
/// </summary>
public sealed unsafe class LeanPathTests
{
    /// <summary>A program that folds every field of <c>struct seccomp_data</c> into its verdict's data.</summary>
    private const string EveryField = """
        #include "common.h"
        SEC("seccomp") int every_field(struct seccomp_data *ctx)
        {
        	__u64 h = ctx->nr * 0x9e3779b1u ^ ctx->arch ^ ctx->instruction_pointer * 3;
        	for (int i = 0; i < 6; i++)
        		h = h * 31 + ctx->args[i];
        	return SECCOMP_RET_ERRNO | (__u32)((h ^ (h >> 32) ^ (h >> 16)) & 0xfff);
        }
        char LICENSE[] SEC("license") = "GPL";
        """;

    private static void WriteKernelLayout(in SeccompData data, byte* raw)
    {
        // struct seccomp_data in the machine's layout, as the kernel writes it into struct seccomp_notif.
        *(int*)raw = data.Nr;
        *(uint*)(raw + 4) = data.Arch;
        *(ulong*)(raw + 8) = data.InstructionPointer;
        for (int i = 0; i < 6; i++)
            *(ulong*)(raw + 16 + 8 * i) = data.Arg(i);
    }

    [Fact]
    public void The_kernels_data_read_in_place_gives_the_verdict_of_the_copy_on_the_native_ABI_and_is_not_used_on_others()
    {
        using var set = new EbpfFilterSet([SeccompEbpfProgram.Load(Compile("every_field", EveryField))]);
        var helpers = new HelperContext();
        var random = new Random(16);
        byte* raw = (byte*)NativeMemory.AlignedAlloc(SeccompData.Size, 8);
        try
        {
            var i386 = Architecture.All.Single(a => a.Name == "x86");
            var args = new ulong[6];
            for (int k = 0; k < 20_000; k++)
            {
                var arch = k % 4 == 3 ? i386 : Architecture.Native;
                for (int i = 0; i < 6; i++)
                    args[i] = (ulong)random.NextInt64() ^ ((ulong)random.Next() << 63);
                int nr = k % 8 == 5 ? (int)(Architecture.X32.SyscallNumberBit | (uint)random.Next(512)) : random.Next(-1, 1024);
                var data = new SeccompData(nr, arch.AuditArch, (ulong)random.NextInt64(), args);
                uint copied = set.Decide(data, helpers);
                Assert.Equal(arch == Architecture.Native, EbpfFilterSet.TakesRawData(data));
                if (!EbpfFilterSet.TakesRawData(data))
                    continue;
                WriteKernelLayout(data, raw);
                Assert.Equal(copied, set.DecideOnKernelData(data, raw, helpers));
            }
        }
        finally
        {
            NativeMemory.AlignedFree(raw);
        }
    }

    [Fact]
    public void The_quick_answer_agrees_with_the_general_decoding_for_every_action_and_edge_of_its_data()
    {
        // Every action value the kernel knows, some it does not, and the data bits' edges (0, 1, MAX_ERRNO and past it).
        uint[] actions = [.. Enumerable.Range(0, 0x10000).Select(a => (uint)a << 16).Where(a => a % 0x10000000 == 0 || new SeccompAction(a).Kind != SeccompActionKind.Unknown || a == 0x7ffe0000 || a == 0xffff0000)];
        uint[] data = [0, 1, 2, 13, SeccompAction.MAX_ERRNO - 1, SeccompAction.MAX_ERRNO, SeccompAction.MAX_ERRNO + 1, 0x8000, 0xffff];
        Assert.True(actions.Length >= 12, string.Join(", ", actions.Select(a => a.ToString("x8", System.Globalization.CultureInfo.InvariantCulture))));
        foreach (uint a in actions)
            foreach (uint d in data)
            {
                uint verdict = a | d;
                var effective = new SeccompAction(verdict).Effective;
                var expected = effective.Kind is SeccompActionKind.Log or SeccompActionKind.UserNotif ? null : VerdictApplier.AnswerEffective(effective, effective.Kind);
                var answer = EbpfNotificationHandler.QuickAnswer(verdict, out var kind);
                Assert.True(expected == answer && kind == effective.Kind, $"0x{verdict:x8}: {answer} ({kind}), expected {expected} ({effective.Kind})");
            }
    }

    [Fact]
    public void Programs_are_told_apart_by_whether_they_read_the_task()
    {
        Assert.False(SeccompEbpfProgram.Load(Sample("getpid_bench")).ReadsTask);
        Assert.False(SeccompEbpfProgram.Load(Sample("syscall_policy")).ReadsTask);
        Assert.False(SeccompEbpfProgram.Load(Sample("exec_once")).ReadsTask);
        Assert.True(SeccompEbpfProgram.Load(Sample("uid_rule")).ReadsTask);      // bpf_get_current_uid_gid
        Assert.True(SeccompEbpfProgram.Load(Sample("open_logger")).ReadsTask);   // bpf_probe_read_user_str
        Assert.True(SeccompEbpfProgram.Load(Sample("fault_inject")).ReadsTask);  // bpf_get_current_pid_tgid
        // One program that reads it makes the set bind the task.
        using var mixed = new EbpfFilterSet([SeccompEbpfProgram.Load(Sample("getpid_bench")), SeccompEbpfProgram.Load(Sample("uid_rule"))]);
        Assert.True(mixed.ReadsTask);
    }

    [Fact]
    public void A_notified_call_allocates_nothing_for_a_program_that_reads_no_task_state()
    {
        const int Allowed = 3_000, Calls = 10_000;
        using var set = new EbpfFilterSet([SeccompEbpfProgram.Load(Sample("getpid_bench"), [new("allowed", Allowed)])]);
        var handler = new EbpfNotificationHandler(set);
        byte* raw = (byte*)NativeMemory.AlignedAlloc(SeccompData.Size, 8);
        try
        {
            var data = new SeccompData(Nr("getpid"), Architecture.Native.AuditArch);
            WriteKernelLayout(data, raw);
            var notification = new Notification(1, Environment.ProcessId, 0, data);
            // The supervisor is not needed for ALLOW and ERRNO answers: the handler returns them.
            var context = new NotificationContext(null!, notification, (nint)raw);
            int allowed = 0, refused = 0;
            void Handle(int n)
            {
                for (int i = 0; i < n; i++)
                {
                    var response = handler.HandleAsync(notification, context);
                    Assert.True(response.IsCompletedSuccessfully);
                    if (response.Result.Kind == NotificationResponseKind.Continue)
                        allowed++;
                    else if (response.Result == NotificationResponse.Error(Errno.EPERM))
                        refused++;
                }
            }
            Handle(1_000); // warm up: tiered JIT, the counters' first use
            long before = GC.GetAllocatedBytesForCurrentThread();
            Handle(Calls - 1_000);
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.Equal(0, allocated);
            Assert.Equal((Allowed, Calls - Allowed), (allowed, refused));
            Assert.Equal(Calls, handler.Notifications);
            Assert.Equal(Calls, handler.NotificationsBySyscall.Single(kv => kv.Key == "getpid").Value);
            Assert.Equal(Allowed, handler.Verdicts[SeccompActionKind.Allow]);
        }
        finally
        {
            NativeMemory.AlignedFree(raw);
        }
    }
}
