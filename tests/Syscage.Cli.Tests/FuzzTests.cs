using System.Diagnostics;
using System.Globalization;
using System.Text;
using Syscage.Bpf;
using Syscage.Ebpf.Elf;
using Syscage.Ebpf.Isa;
using Syscage.Policy;
using Syscage.Policy.Compiler;
using Syscage.Testing;
using Xunit.Abstractions;
using Syscage.Policy.Builtin;

namespace Syscage.Cli.Tests;

/// <summary>
/// Mutation fuzzing of every input format through the verbs that read it: each case is a sample input edited by
/// <see cref="Mutator"/> with <c>new Random(seed)</c>, written to a file and given to the verb's handler. Whatever the
/// input, the answer is a result or one clear error — exit 0, 1 (rejected), 2 (usage, e.g. an object that grew a
/// second program) or 3 — never an internal error (70), a stack trace, or a case running past
/// <see cref="PerCase"/>. A failure names the format, the seed and the command. To replay one case, set
/// <c>SYSCAGE_FUZZ_SEED</c> to its seed and run the format's test: only that case runs.
/// </summary>
/// <remarks>Memory under hostile input is measured on the real tool, in child processes: see HostileInputTests.</remarks>
public sealed class FuzzTests(ITestOutputHelper output)
{
    private static readonly TimeSpan PerCase = TimeSpan.FromSeconds(10);

    private static string Repo(params string[] parts) => Path.Combine([NativeProbe.RepositoryRoot, .. parts]);

    /// <summary>Runs <paramref name="cases"/> cases with seeds from <paramref name="firstSeed"/>; each picks its command by seed.</summary>
    private void Fuzz(string format, string extension, int firstSeed, int cases, Func<Random, byte[]> input, TempDir dir,
        params Func<string, string[]>[] commands)
    {
        string? replay = Environment.GetEnvironmentVariable("SYSCAGE_FUZZ_SEED");
        var exits = new SortedDictionary<int, int>();
        var sw = Stopwatch.StartNew();
        int ran = 0;
        for (int seed = firstSeed; seed < firstSeed + cases; seed++)
        {
            if (replay is not null && replay != seed.ToString(CultureInfo.InvariantCulture))
                continue;
            byte[] bytes = input(new Random(seed));
            string file = dir.File("case" + extension);
            File.WriteAllBytes(file, bytes);
            string[] args = commands[seed % commands.Length](file);
            string what = $"{format} seed {seed}: syscage {string.Join(' ', args)}";
            // A thread of its own, not the pool's: other tests block pool threads, and a starved pool can leave a queued
            // case unstarted for longer than PerCase (SupervisorTests saw 30 s).
            CliRunner.Result? result = null;
            Exception? thrown = null;
            var run = new Thread(() =>
            {
                try
                {
                    result = CliRunner.Run(args);
                }
                catch (Exception e)
                {
                    thrown = e;
                }
            }) { IsBackground = true };
            run.Start();
            if (!run.Join(PerCase))
                Assert.Fail($"{what}: still running after {PerCase.TotalSeconds} s\n{Show(bytes)}");
            if (thrown is not null)
                Assert.Fail($"{what}: {thrown}\n{Show(bytes)}");
            var r = result!;
            if (r.ExitCode is not (0 or 1 or 2 or 3) || r.Stderr.Contains("   at ", StringComparison.Ordinal) || r.Stderr.Contains("Exception", StringComparison.Ordinal))
                Assert.Fail($"{what}: exit {r.ExitCode}\n{r.Stderr}\n{Show(bytes)}");
            if (r.ExitCode != 0)
                Assert.True(r.Stderr.Length > 0 || r.Stdout.Length > 0, $"{what}: exit {r.ExitCode} without a word");
            exits[r.ExitCode] = exits.GetValueOrDefault(r.ExitCode) + 1;
            ran++;
        }
        output.WriteLine($"{format}: {ran} cases (seeds {firstSeed}..{firstSeed + cases - 1}) in {sw.Elapsed.TotalSeconds:0.0} s; exits {string.Join(", ", exits.Select(e => $"{e.Key}: {e.Value}"))}");
        if (replay is null)
        {
            // Mutations that always break the input would only test the first error path of each reader.
            Assert.True(exits.GetValueOrDefault(0) >= ran / 20, $"{format}: only {exits.GetValueOrDefault(0)} of {ran} mutated inputs were accepted");
            Assert.True(exits.GetValueOrDefault(3) >= ran / 20, $"{format}: only {exits.GetValueOrDefault(3)} of {ran} mutated inputs were refused");
        }
    }

    private static string Show(byte[] bytes)
    {
        const int max = 2000;
        bool text = bytes.Take(max).All(b => b is >= 0x20 or (byte)'\n' or (byte)'\t');
        string shown = text ? Encoding.UTF8.GetString(bytes, 0, Math.Min(bytes.Length, max)) : Convert.ToHexString(bytes, 0, Math.Min(bytes.Length, max / 2));
        return $"input ({bytes.Length} bytes{(bytes.Length > max ? ", start" : "")}):\n{shown}";
    }

    private static Func<Random, byte[]> TextFrom(string[] seeds, Mutator.TextGrammar grammar) =>
        rng => Mutator.Text(rng, seeds[rng.Next(seeds.Length)], grammar);

    private static Func<Random, byte[]> BytesFrom(byte[][] seeds, int alignment) =>
        rng => Mutator.Bytes(rng, seeds[rng.Next(seeds.Length)], alignment);

    [Fact]
    public void Policy_language()
    {
        using var dir = new TempDir();
        // The sample that includes common-runtime.policy finds it next to the case.
        File.Copy(Repo("samples", "policies", "common-runtime.policy"), dir.File("common-runtime.policy"));
        string[] seeds =
        [
            File.ReadAllText(Repo("samples", "policies", "static-web-server.policy")),
            BuiltinPolicies.Source("default")!,
            """
            default ERRNO(EPERM)
            bad-arch KILL_PROCESS
            arch x86_64, x86, x32
            group @g = read, @basic-io
            ALLOW openat if (flags & O_ACCMODE) != O_RDONLY && !(dirfd == AT_FDCWD || arg0 < 3)
            allow { read, write
              close if fd > (1 << 3 | 0x4) + ~0 }
            arch x86 { TRAP(3) socketcall; NOTIFY(log) mkdir }
            ERRNO(EACCES) socket if domain == AF_INET6 || (type & 0xf) == SOCK_RAW
            """,
        ];
        var grammar = new Mutator.TextGrammar("()&|!~=<>{},;@\"#\n -_0x1aAzZ\t",
            ["ALLOW ", "ERRNO(", "default ALLOW\n", " if ", "arg0 == ", " && ", " || ", "include \"common-runtime.policy\"\n", "include \"case.policy\"\n",
             "arch x86 {", "group @x = ", "@basic-io", "0xffffffffffffffff", "(flags & ", "NOTIFY(log) ", "\n}\n"]);
        Fuzz("policy", ".policy", 10_000, 3000, TextFrom(seeds, grammar), dir,
            f => ["compile", f, "-f", "asm"],
            f => ["compile", f, "-f", "pfc", "--arch", "x86_64,x32"],
            f => ["explain", f, "openat", "0", "0x1000", "0x41"]);
    }

    [Fact]
    public void Oci_json_profiles()
    {
        using var dir = new TempDir();
        string[] seeds =
        [
            File.ReadAllText(Repo("samples", "profiles", "docker-default.json")),
            """
            {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38, "flags": ["SECCOMP_FILTER_FLAG_LOG"],
             "listenerPath": "/run/agent.sock", "listenerMetadata": "m",
             "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]}],
             "syscalls": [
              {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
              {"name": "personality", "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
              {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}],
               "excludes": {"caps": ["CAP_SYS_ADMIN"], "arches": ["s390x"]}, "includes": {"minKernel": "4.8"}},
              {"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY", "comment": "to the agent"}
             ]}
            """,
        ];
        var grammar = new Mutator.TextGrammar("{}[]:,\"\\ \n0123456789-.etrufnlaSCMP_",
            ["null", "true", "[]", "{}", "\"\"", "0", "-1", "1e400", "\"\\ud800\"", "\"\\u0000\"", "{\"names\": ", "\"action\": ", "\"args\": [",
             "\"SCMP_ACT_ALLOW\"", "\"SCMP_ARCH_X86\"", "\"index\": 6", "\"op\": \"SCMP_CMP_EQ\"", "/* c */", ",\"x\":1"]);
        // Half the cases retype values of a well-formed profile, half edit its text (and then it is rarely JSON).
        Fuzz("OCI JSON", ".json", 20_000, 2000,
            rng => rng.Next(2) == 0
                ? Encoding.UTF8.GetBytes(Mutator.JsonValues(rng, seeds[rng.Next(seeds.Length)]))
                : Mutator.Text(rng, seeds[rng.Next(seeds.Length)], grammar), dir,
            f => ["compile", f, "-f", "asm"],
            f => ["explain", f, "clone", "0x10000"]);
    }

    private static readonly Lazy<string> DefaultPolicyAsm = new(() =>
        Disassembler.ToText(PolicyCompiler.Compile(BuiltinPolicies.Load("default")).Instructions.AsSpan()));

    [Fact]
    public void Classic_bpf_assembler()
    {
        using var dir = new TempDir();
        string[] seeds = [File.ReadAllText(Repo("samples", "bpf", "allowlist.asm")), DefaultPolicyAsm.Value];
        var grammar = new Mutator.TextGrammar("()=!<>&|+-*/%^~#:\n AXK0123456789,[]",
            ["goto ", "if (A == ", ") goto ", " else goto ", "return ALLOW\n", "return ERRNO(", "A = args[", "mem[15] = A\n", "A = data[",
             "x32.", "raw(0x06, 0, 0, 0)\n", "label: ", "A >>= 32\n", "A /= 0\n", "0x100000000"]);
        Fuzz("classic asm", ".asm", 30_000, 1500, TextFrom(seeds, grammar), dir,
            f => ["asm", f, "-o", dir.File("out.bpf")],
            f => ["asm", f, "--no-validate", "--format", "c", "-o", dir.File("out.c")]);
    }

    [Fact]
    public void Raw_classic_bpf()
    {
        using var dir = new TempDir();
        byte[][] seeds =
        [
            PolicyCompiler.Compile(BuiltinPolicies.Load("default")).ToBytes(),
            SockFilter.Write(Assembler.Assemble(File.ReadAllText(Repo("samples", "bpf", "allowlist.asm")))),
        ];
        Fuzz("raw BPF", ".bpf", 40_000, 3000, BytesFrom(seeds, 8), dir,
            f => ["disasm", f],
            f => ["check", f],
            f => ["emu", f, "openat", "0", "0x1000", "2"]);
    }

    [Fact]
    public void Elf_objects_with_btf()
    {
        using var dir = new TempDir();
        byte[][] seeds = [.. Directory.GetFiles(Repo("samples", "ebpf"), "*.c").Order(StringComparer.Ordinal)
            .Select(c => File.ReadAllBytes(Samples.Compile(dir, Path.GetFileNameWithoutExtension(c))))];
        Fuzz("ELF object", ".o", 50_000, 1500, BytesFrom(seeds, 8), dir,
            f => ["ebpf", "verify", f],
            f => ["ebpf", "run", f, "--ctx", "openat", "0", "0x1000"],
            f => ["ebpf", "split", f],
            f => ["compile", f, "-f", "asm"]);
    }

    [Fact]
    public void Ebpf_assembler()
    {
        using var dir = new TempDir();
        var programs = Directory.GetFiles(Repo("samples", "ebpf"), "*.c").Order(StringComparer.Ordinal)
            .Select(c => EbpfObject.Load(File.ReadAllBytes(Samples.Compile(dir, Path.GetFileNameWithoutExtension(c)))))
            .SelectMany(o => o.Programs)
            .Select(p => EbpfDisassembler.ToText(p.Instructions.AsSpan()));
        string[] seeds = [.. programs, "# r0 = mem[1] + len\nldxb %r0, [%r1+1]\nadd %r0, %r2\nlddw %r3, 0x123456789abcdef0\njeq %r0, 3, +1\nexit\nmov32 %r0, 0\nexit\n"];
        var grammar = new Mutator.TextGrammar("%r0123456789[]+-,x# \nabcdefhjlmostuwx",
            ["lddw %r1, ", "call ", "exit\n", "ja +", "jeq %r", "ldxdw %r0, [%r10-", "stxw [%r1+", "mov %r0, ", "0x7fffffff", "-32768", "+65535",
             "atomic_add ", "be16 %r0\n", "callx %r1\n"]);
        Fuzz("eBPF asm", ".s", 60_000, 3000, TextFrom(seeds, grammar), dir,
            f => ["ebpf", "asm", f, "-o", dir.File("out.ebpf")]);
    }
}
