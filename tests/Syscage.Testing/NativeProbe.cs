using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Syscage.Bpf;

namespace Syscage.Testing;

/// <summary>What the kernel said to <c>seccomp(SECCOMP_SET_MODE_FILTER)</c> for one program.</summary>
/// <param name="Accepted">True when the filter was installed.</param>
/// <param name="Errno">The errno of a refusal (22 = EINVAL for a malformed filter), 0 when accepted.</param>
public readonly record struct KernelVerdict(bool Accepted, int Errno)
{
    /// <summary>EINVAL on Linux.</summary>
    public const int EINVAL = 22;

    /// <inheritdoc/>
    public override string ToString() => Accepted ? "accepted" : string.Create(CultureInfo.InvariantCulture, $"rejected (errno {Errno})");
}

/// <summary>One system call a run job makes after installing its filter: <c>syscall(Nr, Args[0..5])</c>.</summary>
/// <param name="Nr">The system call number.</param>
/// <param name="Args">Exactly six 64-bit arguments.</param>
public sealed record ProbeCall(int Nr, ulong[] Args)
{
    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"syscall({Nr}, {string.Join(", ", Args.Select(a => $"0x{a:x}"))})");
}

/// <summary>How one call of a run job ended.</summary>
public enum CallOutcomeKind
{
    /// <summary>The call returned (<see cref="CallOutcome.Return"/>, <see cref="CallOutcome.Errno"/>).</summary>
    Returned,
    /// <summary>The process died by <see cref="CallOutcome.Signal"/> during the call (SIGSYS = 31 for a seccomp kill or trap).</summary>
    Killed,
    /// <summary>An earlier call killed the process.</summary>
    NotReached,
}

/// <summary>The observed result of one call: what a filter's action looks like from user space.</summary>
public readonly record struct CallOutcome(CallOutcomeKind Kind, long Return, int Errno, int Signal)
{
    /// <summary>SIGSYS on x86_64.</summary>
    public const int SIGSYS = 31;

    /// <summary>The call returned <paramref name="ret"/> with <paramref name="errno"/> (0 unless ret is negative).</summary>
    public static CallOutcome Returned(long ret, int errno) => new(CallOutcomeKind.Returned, ret, errno, 0);

    /// <summary>The process died by <paramref name="signal"/>.</summary>
    public static CallOutcome Killed(int signal) => new(CallOutcomeKind.Killed, 0, 0, signal);

    /// <summary>The call was never made.</summary>
    public static CallOutcome NotReached => new(CallOutcomeKind.NotReached, 0, 0, 0);

    /// <inheritdoc/>
    public override string ToString() => Kind switch
    {
        CallOutcomeKind.Returned => string.Create(CultureInfo.InvariantCulture, $"returned {Return} errno {Errno}"),
        CallOutcomeKind.Killed => string.Create(CultureInfo.InvariantCulture, $"killed by signal {Signal}"),
        _ => "not reached",
    };
}

/// <summary>A run job's result: whether the filter went in, then one outcome per call.</summary>
public sealed record RunOutcome(KernelVerdict Install, IReadOnlyList<CallOutcome> Calls);

/// <summary>A run job: install <see cref="Program"/> in a fresh child, then make <see cref="Calls"/> in order.</summary>
public sealed record RunJob(Instruction[] Program, IReadOnlyList<ProbeCall> Calls);

/// <summary>Raised when the probe cannot be built or run; never a verdict about a program.</summary>
public sealed class NativeProbeException(string message) : Exception(message);

/// <summary>
/// The kernel as an oracle. Builds <c>tests/native/seccomp_probe.c</c> once per test run with <c>cc</c> and
/// feeds it batches of jobs; each job runs in a fresh child process of the probe, so the test process never
/// installs a filter and the kernel's per-process instruction budget (MAX_INSNS_PER_PATH) never builds up.
/// </summary>
public static class NativeProbe
{
    /// <summary>The most instructions a job may carry (<c>sock_fprog.len</c> is an unsigned short).</summary>
    public const int MaxProgramLength = 65535;

    private static readonly Lazy<string> s_probe = new(Build, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The repository root: the first ancestor of <see cref="AppContext.BaseDirectory"/> holding <c>tests/native</c>.</summary>
    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    /// <summary>The compiled probe; built on first use. Throws <see cref="NativeProbeException"/> when it can't be.</summary>
    public static string ProbePath => s_probe.Value;

    /// <summary>Asks the kernel whether it accepts each program. Jobs are split over <paramref name="parallelism"/> probe processes.</summary>
    public static IReadOnlyList<KernelVerdict> Load(IReadOnlyList<Instruction[]> programs, int parallelism = 2)
    {
        ArgumentNullException.ThrowIfNull(programs);
        var lines = RunBatches(programs.Count, parallelism, (w, i) => WriteJob(w, 'L', programs[i], null));
        var verdicts = new KernelVerdict[lines.Length];
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i];
            verdicts[i] = line == "A" ? new KernelVerdict(true, 0)
                : line.StartsWith("R ", StringComparison.Ordinal) ? new KernelVerdict(false, int.Parse(line.AsSpan(2), CultureInfo.InvariantCulture))
                : throw Unexpected(i, line);
        }
        return verdicts;
    }

    /// <summary>Installs each job's program in a fresh child and makes its calls; reports what each call did.</summary>
    public static IReadOnlyList<RunOutcome> Run(IReadOnlyList<RunJob> jobs, int parallelism = 2)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        var lines = RunBatches(jobs.Count, parallelism, (w, i) => WriteJob(w, 'R', jobs[i].Program, jobs[i].Calls));
        var outcomes = new RunOutcome[lines.Length];
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i];
            if (line.StartsWith("R ", StringComparison.Ordinal))
            {
                outcomes[i] = new RunOutcome(new KernelVerdict(false, int.Parse(line.AsSpan(2), CultureInfo.InvariantCulture)), []);
                continue;
            }
            string[] parts = line.Split(' ');
            if (parts[0] != "A" || parts.Length != jobs[i].Calls.Count + 1)
                throw Unexpected(i, line);
            var calls = new CallOutcome[parts.Length - 1];
            for (int c = 0; c < calls.Length; c++)
            {
                string p = parts[c + 1];
                int colon = p.IndexOf(':', StringComparison.Ordinal);
                calls[c] = p == "-" ? CallOutcome.NotReached
                    : p.StartsWith('S') ? CallOutcome.Killed(int.Parse(p.AsSpan(1), CultureInfo.InvariantCulture))
                    : colon > 0 ? CallOutcome.Returned(long.Parse(p.AsSpan(0, colon), CultureInfo.InvariantCulture), int.Parse(p.AsSpan(colon + 1), CultureInfo.InvariantCulture))
                    : throw Unexpected(i, line);
            }
            outcomes[i] = new RunOutcome(new KernelVerdict(true, 0), calls);
        }
        return outcomes;
    }

    private static NativeProbeException Unexpected(int job, string line) =>
        new(string.Create(CultureInfo.InvariantCulture, $"seccomp_probe: job {job}: {(line.StartsWith("E ", StringComparison.Ordinal) ? line[2..] : $"unexpected answer '{line}'")}"));

    private static void WriteJob(Stream w, char kind, Instruction[] program, IReadOnlyList<ProbeCall>? calls)
    {
        if (program.Length > MaxProgramLength)
            throw new ArgumentException($"a probe job carries at most {MaxProgramLength} instructions, not {program.Length}");
        Span<byte> head = stackalloc byte[5];
        head[0] = (byte)kind;
        BinaryPrimitives.WriteUInt32LittleEndian(head[1..], (uint)program.Length);
        w.Write(head);
        w.Write(SockFilter.Write(program));
        if (calls is null)
            return;
        if (calls.Count > 16)
            throw new ArgumentException("a run job makes at most 16 calls");
        w.WriteByte((byte)calls.Count);
        Span<byte> call = stackalloc byte[4 + 6 * 8];
        foreach (var c in calls)
        {
            if (c.Args.Length != 6)
                throw new ArgumentException("a probe call has exactly 6 arguments");
            BinaryPrimitives.WriteInt32LittleEndian(call, c.Nr);
            for (int j = 0; j < 6; j++)
                BinaryPrimitives.WriteUInt64LittleEndian(call[(4 + 8 * j)..], c.Args[j]);
            w.Write(call);
        }
    }

    /// <summary>Splits jobs 0..count-1 into contiguous chunks, one probe process each, and returns the answer lines in job order.</summary>
    private static string[] RunBatches(int count, int parallelism, Action<Stream, int> writeJob)
    {
        string probe = ProbePath;
        var lines = new string[count];
        if (count == 0)
            return lines;
        int chunks = Math.Clamp(parallelism, 1, count);
        var tasks = new Task[chunks];
        for (int c = 0; c < chunks; c++)
        {
            int start = (int)((long)count * c / chunks), end = (int)((long)count * (c + 1) / chunks);
            tasks[c] = Task.Factory.StartNew(() => RunOne(probe, start, end, lines, writeJob), TaskCreationOptions.LongRunning);
        }
        try
        {
            Task.WaitAll(tasks);
        }
        catch (AggregateException e) when (e.InnerExceptions.Count > 0)
        {
            throw e.InnerExceptions[0];
        }
        return lines;
    }

    private static void RunOne(string probe, int start, int end, string[] lines, Action<Stream, int> writeJob)
    {
        var psi = new ProcessStartInfo(probe)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(psi) ?? throw new NativeProbeException($"could not start {probe}");
        var stderr = process.StandardError.ReadToEndAsync();
        // Write on another thread: the probe answers while it reads, and both pipes are bounded.
        var writer = Task.Run(() =>
        {
            try
            {
                using var input = new BufferedStream(process.StandardInput.BaseStream, 1 << 16);
                for (int i = start; i < end; i++)
                    writeJob(input, i);
            }
            catch (IOException)
            {
                // The probe died early; its stderr and missing answers tell why.
            }
        });
        int got = start;
        for (string? line; got < end && (line = process.StandardOutput.ReadLine()) is not null; got++)
            lines[got] = line;
        writer.GetAwaiter().GetResult();
        process.WaitForExit();
        string err = stderr.GetAwaiter().GetResult();
        if (got < end || process.ExitCode != 0)
            throw new NativeProbeException(string.Create(CultureInfo.InvariantCulture,
                $"seccomp_probe exited with {process.ExitCode} after {got - start} of {end - start} answers: {err.Trim()}"));
    }

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (Directory.Exists(Path.Combine(dir.FullName, "tests", "native")))
                return dir.FullName;
        }
        throw new NativeProbeException($"no ancestor of {AppContext.BaseDirectory} contains tests/native");
    }

    private static string Build()
    {
        if (!OperatingSystem.IsLinux())
            throw new NativeProbeException($"the seccomp probe needs Linux, this is {RuntimeInformation.OSDescription}");
        return NativeBuild.Compile("seccomp_probe.c", "the kernel-agreement tests");
    }
}
