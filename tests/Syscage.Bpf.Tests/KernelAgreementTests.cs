using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Syscage.Bpf;
using Syscage.Testing;
using Xunit.Abstractions;
using Syscage.Abi;
using Architecture = Syscage.Abi.Architecture;

namespace Syscage.Bpf.Tests;

/// <summary>
/// The kernel is the oracle: thousands of generated programs go through <c>seccomp(SECCOMP_SET_MODE_FILTER)</c> in
/// child processes of the native probe, and the validator must give the same verdict for every one; random ALU
/// programs run in the kernel on real system calls, and the interpreter must compute the same results.
/// To reproduce a failure set SYSCAGE_AGREEMENT_SEED (and SYSCAGE_AGREEMENT_COUNT) to the printed values.
/// </summary>
public sealed class KernelAgreementTests(ITestOutputHelper output)
{
    private const int DefaultSeed = 0x5eccab;
    private const int DefaultCount = 20000;
    private const int InterpreterPrograms = 1000;
    private const int ArgumentSetsPerProgram = 2;
    private const int ENOSYS = 38;
    private const int MaxShown = 5;

    private static int Setting(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v : fallback;

    [Fact]
    public void Validator_agrees_with_the_kernel_on_random_programs()
    {
        int seed = Setting("SYSCAGE_AGREEMENT_SEED", DefaultSeed);
        int count = Setting("SYSCAGE_AGREEMENT_COUNT", DefaultCount);
        output.WriteLine($"seed {seed} (SYSCAGE_AGREEMENT_SEED), {count} programs (SYSCAGE_AGREEMENT_COUNT)");

        var generator = new ProgramGenerator(seed);
        var generated = Enumerable.Range(0, count).Select(_ => generator.Next()).ToArray();
        var clock = Stopwatch.StartNew();
        var verdicts = NativeProbe.Load(generated.Select(g => g.Program).ToArray());
        var kernelTime = clock.Elapsed;

        int accepted = 0, rejected = 0;
        var disagreements = new List<string>();
        var otherErrno = new List<string>();
        var byKind = new SortedDictionary<string, (int Accepted, int Total)>(StringComparer.Ordinal);
        for (int i = 0; i < count; i++)
        {
            var (program, kind) = generated[i];
            var kernel = verdicts[i];
            var error = Validator.Check(program);
            if (kernel.Accepted) accepted++; else rejected++;
            string family = kind.Contains('+', StringComparison.Ordinal) ? "mutant:double" : kind;
            var (a, t) = byKind.GetValueOrDefault(family);
            byKind[family] = (a + (kernel.Accepted ? 1 : 0), t + 1);
            if (!kernel.Accepted && kernel.Errno != KernelVerdict.EINVAL)
                otherErrno.Add($"#{i} ({kind}): kernel errno {kernel.Errno}, expected EINVAL");
            if (kernel.Accepted != (error is null))
            {
                disagreements.Add(string.Create(CultureInfo.InvariantCulture,
                    $"seed {seed}, program #{i} ({kind}, {program.Length} instructions): kernel {kernel}, validator {(error is null ? "accepted" : "rejected: " + error)}\n{Show(program)}"));
            }
        }

        output.WriteLine($"kernel: {accepted} accepted, {rejected} rejected ({100.0 * accepted / count:F1}% accepted) in {kernelTime.TotalSeconds:F1} s; total {clock.Elapsed.TotalSeconds:F1} s");
        output.WriteLine($"disagreements with the validator: {disagreements.Count}");
        foreach (var (kind, (a, t)) in byKind)
            output.WriteLine($"  {kind,-36} {a,5} / {t,5} accepted");

        Assert.True(otherErrno.Count == 0, "the kernel refused with an errno other than EINVAL (environment problem?):\n" + string.Join("\n", otherErrno.Take(MaxShown)));
        Assert.True(disagreements.Count == 0,
            $"{disagreements.Count} of {count} programs judged differently by the validator and the kernel; the first {Math.Min(MaxShown, disagreements.Count)}:\n\n" +
            string.Join("\n", disagreements.Take(MaxShown)));
        // The mix is meant to be about half accepted; a drift far from that means the generator stopped testing one side.
        double ratio = (double)accepted / count;
        Assert.True(count < 500 || ratio is > 0.35 and < 0.65, $"accepted ratio {ratio:P1} drifted from about half: retune ProgramGenerator.Next");
    }

    [Fact]
    public void Kernel_agrees_with_every_targeted_validator_case()
    {
        var cases = ValidatorTests.Cases;
        var verdicts = NativeProbe.Load(cases.Select(c => c.Program).ToArray(), parallelism: 1);
        var wrong = new List<string>();
        for (int i = 0; i < cases.Length; i++)
        {
            bool expected = cases[i].Reason is null;
            if (verdicts[i].Accepted != expected || (!verdicts[i].Accepted && verdicts[i].Errno != KernelVerdict.EINVAL))
                wrong.Add($"{cases[i].Name}: kernel {verdicts[i]}, expected {(expected ? "accepted" : $"EINVAL ({cases[i].Reason} at pc {cases[i].Pc})")}\n{Show(cases[i].Program)}");
        }
        output.WriteLine($"{cases.Length} targeted cases loaded, {cases.Length - wrong.Count} as expected");
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
    }

    [Fact]
    public void Opcode_tables_and_operand_boundaries_match_the_kernel()
    {
        const ushort LdAbsW = Opcode.BPF_LD | Opcode.BPF_W | Opcode.BPF_ABS;
        var programs = new List<(string What, Instruction[] Program)>();
        var ret = Instruction.Stmt(Opcode.BPF_RET | Opcode.BPF_K, SeccompAction.SECCOMP_RET_ALLOW);

        // Every code below 0x400, and every known code with one high bit added: [M[4] = A; <code> k=4; return ALLOW].
        var codes = Enumerable.Range(0, 0x400).Select(c => (ushort)c)
            .Concat(Opcode.KnownCodes.SelectMany(c => Enumerable.Range(8, 8).Select(b => (ushort)(c | (1 << b)))))
            .Distinct();
        foreach (ushort code in codes)
        {
            var ins = new Instruction(code, 0, 0, code == (Opcode.BPF_JMP | Opcode.BPF_JA) ? 0u : 4u);
            programs.Add(($"code 0x{code:x4}", [Instruction.Stmt(Opcode.BPF_ST, 4), ins, ret]));
        }

        // Operand sweeps around each limit.
        uint[] offsets = [.. Enumerable.Range(0, 0x90).Select(i => (uint)i),
            .. Enumerable.Range(0, 0x90).Select(i => Opcode.SKF_AD_OFF + (uint)i),
            .. Enumerable.Range(1, 8).Select(i => unchecked(Opcode.SKF_AD_OFF - (uint)i)), 0xffffffff, 0x7ffffffc, 0x80000000];
        foreach (ushort code in (ushort[])[LdAbsW, Opcode.BPF_LD | Opcode.BPF_H | Opcode.BPF_ABS, Opcode.BPF_LD | Opcode.BPF_B | Opcode.BPF_ABS])
        {
            foreach (uint k in offsets)
                programs.Add(($"{Opcode.Name(code)} k=0x{k:x}", [Instruction.Stmt(code, k), ret]));
        }
        uint[] small = [.. Enumerable.Range(0, 40).Select(i => (uint)i), 0x7fffffff, 0x80000000, 0xffffffff];
        foreach (ushort code in (ushort[])[Opcode.BPF_ALU | Opcode.BPF_DIV | Opcode.BPF_K, Opcode.BPF_ALU | Opcode.BPF_MOD | Opcode.BPF_K,
                     Opcode.BPF_ALU | Opcode.BPF_LSH | Opcode.BPF_K, Opcode.BPF_ALU | Opcode.BPF_RSH | Opcode.BPF_K,
                     Opcode.BPF_ST, Opcode.BPF_STX, Opcode.BPF_LD | Opcode.BPF_MEM, Opcode.BPF_LDX | Opcode.BPF_MEM, Opcode.BPF_JMP | Opcode.BPF_JA])
        {
            // Scratch loads need their word written first: store all 16 words, then the instruction, then 3 fillers.
            foreach (uint k in small)
            {
                Instruction[] program = [.. Enumerable.Range(0, 16).Select(w => Instruction.Stmt(Opcode.BPF_ST, (uint)w)),
                    Instruction.Stmt(code, k), Instruction.Stmt(Opcode.BPF_LD | Opcode.BPF_IMM, 0), Instruction.Stmt(Opcode.BPF_LD | Opcode.BPF_IMM, 0), ret];
                programs.Add(($"{Opcode.Name(code)} k=0x{k:x}", program));
            }
        }
        for (int jt = 0; jt < 6; jt++)
        {
            for (int jf = 0; jf < 6; jf++)
            {
                programs.Add(($"JEQ jt={jt} jf={jf} of 5", [Instruction.Jump(Opcode.BPF_JMP | Opcode.BPF_JEQ | Opcode.BPF_K, 0, (byte)jt, (byte)jf),
                    Instruction.Stmt(Opcode.BPF_LD | Opcode.BPF_IMM, 0), Instruction.Stmt(Opcode.BPF_LD | Opcode.BPF_IMM, 0), Instruction.Stmt(Opcode.BPF_LD | Opcode.BPF_IMM, 0), ret]));
            }
        }

        var verdicts = NativeProbe.Load(programs.Select(p => p.Program).ToArray());
        var wrong = new List<string>();
        for (int i = 0; i < programs.Count; i++)
        {
            var error = Validator.Check(programs[i].Program);
            if (verdicts[i].Accepted != (error is null))
                wrong.Add($"{programs[i].What}: kernel {verdicts[i]}, validator {(error is null ? "accepted" : "rejected: " + error)}\n{Show(programs[i].Program)}");
        }
        output.WriteLine($"{programs.Count} opcode and operand probes, {verdicts.Count(v => v.Accepted)} accepted, {wrong.Count} disagreements");
        Assert.True(wrong.Count == 0, $"{wrong.Count} disagreements; the first {Math.Min(MaxShown, wrong.Count)}:\n" + string.Join("\n", wrong.Take(MaxShown)));
    }

    [Fact]
    public void Interpreter_agrees_with_the_kernel_on_random_alu_programs()
    {
        Assert.True(RuntimeInformation.ProcessArchitecture == System.Runtime.InteropServices.Architecture.X64,
            $"the ALU programs are written for AUDIT_ARCH_X86_64; this test needs an x86_64 kernel, not {RuntimeInformation.ProcessArchitecture}");
        int seed = Setting("SYSCAGE_AGREEMENT_SEED", DefaultSeed) + 1;
        output.WriteLine($"seed {seed} (SYSCAGE_AGREEMENT_SEED + 1), {InterpreterPrograms} programs x {ArgumentSetsPerProgram} argument sets");
        var generator = new ProgramGenerator(seed);

        var jobs = new List<RunJob>();
        var programs = new List<BpfProgram>();
        for (int i = 0; i < InterpreterPrograms; i++)
        {
            var raw = generator.AluProgram();
            var error = Validator.Check(raw);
            Assert.True(error is null, $"seed {seed}, ALU program #{i} is refused by the validator: {error}\n{Show(raw)}");
            programs.Add(Validator.Validate(raw));
            for (int s = 0; s < ArgumentSetsPerProgram; s++)
            {
                var args = generator.InterestingArgs();
                jobs.Add(new RunJob(raw, [.. Enumerable.Range(0, 3).Select(c => new ProbeCall(ProgramGenerator.ProbeSyscall + c, args))]));
            }
        }

        var clock = Stopwatch.StartNew();
        var outcomes = NativeProbe.Run(jobs);
        var elapsed = clock.Elapsed;

        var mismatches = new List<string>();
        var coverage = new Coverage();
        int killed = 0, errnos = 0, calls = 0;
        for (int j = 0; j < jobs.Count; j++)
        {
            var job = jobs[j];
            var program = programs[j / ArgumentSetsPerProgram];
            var outcome = outcomes[j];
            if (!outcome.Install.Accepted)
            {
                mismatches.Add($"job {j}: the kernel refused a program the validator accepts: {outcome.Install}\n{Show(job.Program)}");
                continue;
            }
            var expected = Expect(program, job.Calls, coverage);
            calls += expected.Count(e => e.Kind != CallOutcomeKind.NotReached);
            killed += expected.Count(e => e.Kind == CallOutcomeKind.Killed);
            errnos += expected.Count(e => e.Kind == CallOutcomeKind.Returned);
            if (!expected.SequenceEqual(outcome.Calls))
            {
                var sb = new StringBuilder();
                sb.Append(CultureInfo.InvariantCulture, $"seed {seed}, program #{j / ArgumentSetsPerProgram}, job {j}:\n");
                for (int c = 0; c < job.Calls.Count; c++)
                {
                    var data = DataFor(job.Calls[c]);
                    var run = Interpreter.Run(program, data);
                    sb.Append(CultureInfo.InvariantCulture,
                        $"  {job.Calls[c]}: kernel {outcome.Calls[c]}, interpreter 0x{run.ReturnValue:x8} ({run.Action}) -> {expected[c]}\n");
                }
                sb.Append(Show(job.Program));
                mismatches.Add(sb.ToString());
            }
        }

        output.WriteLine($"{jobs.Count} run jobs in {elapsed.TotalSeconds:F1} s: {calls} calls made, {errnos} returned an errno, {killed} killed by SIGSYS");
        output.WriteLine($"executed: {coverage}");
        output.WriteLine($"mismatches: {mismatches.Count}");
        Assert.True(mismatches.Count == 0,
            $"{mismatches.Count} of {jobs.Count} jobs differ between the interpreter and the kernel; the first {Math.Min(MaxShown, mismatches.Count)}:\n\n" +
            string.Join("\n", mismatches.Take(MaxShown)));
        // The mix must exercise both ways a call ends and the corners the interpreter has to get right.
        Assert.True(killed > 0 && errnos > 0, $"expected both kills ({killed}) and errno returns ({errnos})");
        Assert.True(coverage.All(n => n > 0), $"some corner was never executed: {coverage}");
    }

    /// <summary>Counts, over all interpreter runs, how often the corners of the semantics were executed.</summary>
    private sealed class Coverage : IEnumerable<int>
    {
        private int _shiftX32, _divX0, _divX, _neg, _jumpX, _scratchLoad, _len, _argHigh;

        public void Record(TraceStep step)
        {
            ushort code = step.Instruction.Code;
            switch (code)
            {
                case Opcode.BPF_ALU | Opcode.BPF_LSH | Opcode.BPF_X or Opcode.BPF_ALU | Opcode.BPF_RSH | Opcode.BPF_X when step.X >= 32: _shiftX32++; break;
                case Opcode.BPF_ALU | Opcode.BPF_DIV | Opcode.BPF_X: if (step.X == 0) _divX0++; else _divX++; break;
                case Opcode.BPF_ALU | Opcode.BPF_NEG: _neg++; break;
                case Opcode.BPF_LD | Opcode.BPF_MEM or Opcode.BPF_LDX | Opcode.BPF_MEM: _scratchLoad++; break;
                case Opcode.BPF_LD | Opcode.BPF_W | Opcode.BPF_LEN or Opcode.BPF_LDX | Opcode.BPF_W | Opcode.BPF_LEN: _len++; break;
                case Opcode.BPF_LD | Opcode.BPF_W | Opcode.BPF_ABS when step.Instruction.K >= SeccompData.ArgsOffset && (step.Instruction.K & 4) != 0: _argHigh++; break;
                case var c when Opcode.IsConditionalJump(c) && Opcode.Src(c) == Opcode.BPF_X: _jumpX++; break;
            }
        }

        public IEnumerator<int> GetEnumerator() => ((IEnumerable<int>)[_shiftX32, _divX0, _divX, _neg, _jumpX, _scratchLoad, _len, _argHigh]).GetEnumerator();

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

        public override string ToString() =>
            $"shift by X >= 32: {_shiftX32}, div by X == 0: {_divX0}, div by X != 0: {_divX}, NEG: {_neg}, jumps on X: {_jumpX}, " +
            $"scratch loads: {_scratchLoad}, LEN loads: {_len}, high-half argument loads: {_argHigh}";
    }

    [Fact]
    public void Probe_reports_each_action_as_seen_from_user_space()
    {
        // return ALLOW unless nr == 1000; then the action under test.
        static Instruction[] Filter(uint action) =>
        [
            Instruction.Stmt(Opcode.BPF_LD | Opcode.BPF_W | Opcode.BPF_ABS, SeccompData.NrOffset),                 // A = nr
            Instruction.Jump(Opcode.BPF_JMP | Opcode.BPF_JEQ | Opcode.BPF_K, ProgramGenerator.ProbeSyscall, 1, 0),   // if (A == 1000) skip
            Instruction.Stmt(Opcode.BPF_RET | Opcode.BPF_K, SeccompAction.SECCOMP_RET_ALLOW),
            Instruction.Stmt(Opcode.BPF_RET | Opcode.BPF_K, action),
        ];
        uint[] actions =
        [
            SeccompAction.SECCOMP_RET_ERRNO | 13, SeccompAction.SECCOMP_RET_ERRNO | 0xffff, SeccompAction.SECCOMP_RET_ERRNO,
            SeccompAction.SECCOMP_RET_ALLOW, SeccompAction.SECCOMP_RET_LOG, SeccompAction.SECCOMP_RET_TRACE | 5,
            SeccompAction.SECCOMP_RET_USER_NOTIF, SeccompAction.SECCOMP_RET_TRAP | 1, SeccompAction.SECCOMP_RET_KILL_THREAD,
            SeccompAction.SECCOMP_RET_KILL_PROCESS, 0x12340000,
        ];
        var args = new ulong[6];
        var call = new ProbeCall(ProgramGenerator.ProbeSyscall, args);
        var other = new ProbeCall(ProgramGenerator.ProbeSyscall + 1, args);
        var outcomes = NativeProbe.Run(actions.Select(a => new RunJob(Filter(a), [other, call, other])).ToArray(), parallelism: 1);
        for (int i = 0; i < actions.Length; i++)
        {
            var expected = Expect(actions[i]);
            var expectedAfter = expected.Kind == CallOutcomeKind.Killed ? CallOutcome.NotReached : CallOutcome.Returned(-1, ENOSYS);
            output.WriteLine($"0x{actions[i]:x8} ({new SeccompAction(actions[i])}): {string.Join(", ", outcomes[i].Calls)}");
            Assert.Equal([CallOutcome.Returned(-1, ENOSYS), expected, expectedAfter], outcomes[i].Calls);
        }
    }

    /// <summary>What user space sees for each call, given the filter's return values on the same data, in order.</summary>
    private static CallOutcome[] Expect(BpfProgram program, IReadOnlyList<ProbeCall> calls, Coverage? coverage = null)
    {
        var result = new CallOutcome[calls.Count];
        bool dead = false;
        for (int c = 0; c < calls.Count; c++)
        {
            if (dead)
            {
                result[c] = CallOutcome.NotReached;
                continue;
            }
            result[c] = Expect(Interpreter.Run(program, DataFor(calls[c]), coverage is null ? null : coverage.Record).ReturnValue);
            dead = result[c].Kind == CallOutcomeKind.Killed;
        }
        return result;
    }

    /// <summary>
    /// The kernel's handling of a filter's return value on an unused system call number (seccomp(2), kernel/seccomp.c
    /// __seccomp_filter): ERRNO data is capped at MAX_ERRNO and returned negated (0 stays 0); ALLOW and LOG run the call
    /// (ENOSYS); TRACE and USER_NOTIF with no tracer or listener fail it with ENOSYS; TRAP, KILL_* and unknown actions
    /// end the single-threaded child with SIGSYS.
    /// </summary>
    private static CallOutcome Expect(uint ret)
    {
        var action = new SeccompAction(ret);
        switch (action.ActionBits)
        {
            case SeccompAction.SECCOMP_RET_ERRNO:
                int data = Math.Min((int)action.Data, SeccompAction.MAX_ERRNO);
                return data == 0 ? CallOutcome.Returned(0, 0) : CallOutcome.Returned(-1, data);
            case SeccompAction.SECCOMP_RET_ALLOW:
            case SeccompAction.SECCOMP_RET_LOG:
            case SeccompAction.SECCOMP_RET_TRACE:
            case SeccompAction.SECCOMP_RET_USER_NOTIF:
                return CallOutcome.Returned(-1, ENOSYS);
            default:
                return CallOutcome.Killed(CallOutcome.SIGSYS);
        }
    }

    private static SeccompData DataFor(ProbeCall call) => new(call.Nr, ProgramGenerator.AUDIT_ARCH_X86_64, 0, call.Args);

    /// <summary>The program in raw form; long programs keep their head and tail (the seed and index reproduce the rest).</summary>
    private static string Show(Instruction[] program)
    {
        if (program.Length <= 200)
            return ProgramGenerator.Dump(program);
        return ProgramGenerator.Dump(program.AsSpan(0, 120)) +
            $"  ... {program.Length - 150} instructions not shown ...\n" +
            ProgramGenerator.Dump(program.AsSpan(program.Length - 30), program.Length - 30);
    }
}
