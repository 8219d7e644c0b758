using System.Runtime.InteropServices;
using Syscage.Bpf;
using Syscage.Kernel;
using Syscage.Policy;
using Syscage.Policy.Compiler;
using Syscage.Abi;
using Architecture = Syscage.Abi.Architecture;

// Syscage.SandboxHost THREADS NR ERRNO
//   Starts THREADS threads, then sandboxes the whole process with a policy that answers syscall NR with
//   ERRNO(ERRNO) (everything else allowed), then has every thread — and a thread started afterwards — make
//   the call and print "thread <i> errno <e>". Exit 0 if it got that far.
// Syscage.SandboxHost early-signal ATTACKER FILE
//   Catches signals for a command that does not exist yet (SignalForwarding.Start), sends itself SIGUSR1 and SIGUSR2,
//   then starts ATTACKER signals FILE under an allow-all filter and, once it is ready, attaches: both signals must reach
//   the command (once each) instead of ending this process. Exit 0 when the command ended normally.
if (args[0] == "early-signal")
    return EarlySignal(args[1], args[2]);

int threads = int.Parse(args[0]);
int nr = int.Parse(args[1]);
ushort errno = ushort.Parse(args[2]);

using var ready = new CountdownEvent(threads);
using var go = new ManualResetEventSlim();
var results = new string[threads + 1];
var workers = new List<Thread>();
for (int i = 0; i < threads; i++)
{
    int index = i;
    var t = new Thread(() =>
    {
        ready.Signal();
        go.Wait();
        results[index] = $"thread {index} errno {Call(nr)}";
    });
    t.Start();
    workers.Add(t);
}
ready.Wait();

var builder = new PolicyBuilder(SeccompAction.Allow, Architecture.X86_64) { BadArchAction = SeccompAction.KillProcess };
builder.Add(Architecture.X86_64, nr, new Rule(Condition.True, SeccompAction.Errno(errno)));
Sandbox.Apply(PolicyCompiler.Compile(builder.Build()));
Console.WriteLine($"mode {Seccomp.CurrentMode()}");

go.Set();
foreach (var t in workers)
    t.Join();
var late = new Thread(() => results[threads] = $"thread late errno {Call(nr)}");
late.Start();
late.Join();
foreach (var line in results)
    Console.WriteLine(line);
Console.WriteLine($"main errno {Call(nr)}");
return 0;

static int EarlySignal(string attacker, string file)
{
    using var forwarding = Syscage.Supervision.SignalForwarding.Start();
    foreach (int signal in new[] { Signals.SIGUSR1, Signals.SIGUSR2 })
        if (Native.kill(Environment.ProcessId, signal) != 0)
            return 2;
    Thread.Sleep(200); // the runtime's signal thread has run the handlers: with no command yet, they are kept
    var allow = PolicyCompiler.Compile(new PolicyBuilder(SeccompAction.Allow, Architecture.X86_64).Build());
    using var process = SandboxedProcess.Start(allow, new SandboxedProcessStartInfo(attacker, "signals", file));
    // Attached once the command has its handlers ("ready"): a signal forwarded before that would meet their default
    // action, as a signal sent to any program that has just been started does. What is tested is that signals caught
    // before the command existed are kept, not lost and not this process's end, and passed on once it runs.
    var watch = System.Diagnostics.Stopwatch.StartNew();
    while (watch.Elapsed < TimeSpan.FromSeconds(30) && !(File.Exists(file) && File.ReadAllText(file).Contains("ready ", StringComparison.Ordinal)))
        Thread.Sleep(10);
    forwarding.Attach(process);
    watch.Restart();
    while (watch.Elapsed < TimeSpan.FromSeconds(30) && !(File.Exists(file) && File.ReadAllText(file).Contains($"sig {Signals.SIGUSR2}\n", StringComparison.Ordinal)))
        Thread.Sleep(10);
    Thread.Sleep(100); // a duplicate would come right after
    File.WriteAllText(file + ".quit", "");
    var exit = process.WaitForExit();
    Console.WriteLine(File.ReadAllText(file));
    return exit.ExitCode == 0 ? 0 : 1;
}

static int Call(int nr)
{
    long rc = Native.syscall(nr, 0, 0, 0);
    return rc < 0 ? Marshal.GetLastPInvokeError() : 0;
}

internal static partial class Native
{
    [LibraryImport("libc", SetLastError = true)]
    internal static partial long syscall(long nr, long a, long b, long c);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int kill(int pid, int signal);
}
