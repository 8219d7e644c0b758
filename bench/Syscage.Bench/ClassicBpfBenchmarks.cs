using System.Text;
using BenchmarkDotNet.Attributes;
using Syscage.Bpf;
using Syscage.Abi;

namespace Syscage.Bench;

/// <summary>
/// The classic-BPF toolkit on a 200-instruction linear allow-list (the shape of an unoptimised filter):
/// interpreter per call, validator, assembler and disassembler per program.
/// </summary>
[MemoryDiagnoser]
public class ClassicBpfBenchmarks
{
    private string _text = "";
    private Instruction[] _insns = [];
    private BpfProgram _program = null!;
    private SeccompData _early, _late;

    /// <summary>Builds the program once.</summary>
    [GlobalSetup]
    public void Setup()
    {
        var sb = new StringBuilder("A = arch\nif (A != AUDIT_ARCH_X86_64) goto kill\nA = sys_number\n");
        foreach (var s in Architecture.X86_64.Syscalls.All.Take(190))
            sb.Append("if (A == ").Append(s.Name).Append(") goto allow\n");
        sb.Append("return ERRNO(1)\nallow: return ALLOW\nkill: return KILL_PROCESS\n");
        _text = sb.ToString();
        _insns = Assembler.Assemble(_text);
        _program = Validator.Validate(_insns);
        _early = new SeccompData(0, Architecture.X86_64.AuditArch);
        _late = new SeccompData(Architecture.X86_64.Syscalls.All[189].Number, Architecture.X86_64.AuditArch);
    }

    /// <summary>First rule matches.</summary>
    [Benchmark(Baseline = true)]
    public uint InterpretFirstRule() => Interpreter.Run(_program, _early).ReturnValue;

    /// <summary>Last rule matches: ~190 comparisons.</summary>
    [Benchmark]
    public uint InterpretLastRule() => Interpreter.Run(_program, _late).ReturnValue;

    /// <summary>Kernel-exact validation of the whole program.</summary>
    [Benchmark]
    public object? Validate() => Validator.Check(_insns);

    /// <summary>Assembling the text.</summary>
    [Benchmark]
    public int Assemble() => Assembler.Assemble(_text).Length;

    /// <summary>Disassembling the program.</summary>
    [Benchmark]
    public int Disassemble() => Disassembler.ToText(_insns).Length;
}
