using BenchmarkDotNet.Attributes;
using Syscage.Bpf;
using Syscage.Policy;
using Syscage.Policy.Compiler;
using Syscage.Policy.Oci;

namespace Syscage.Bench;

/// <summary>Compiling Docker's default profile in-process (the target: under 2 ms median).</summary>
[MemoryDiagnoser]
[MedianColumn]
public class CompileBenchmarks
{
    private SeccompPolicy _policy = null!;
    private string _json = "";

    /// <summary>Loads the profile once.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _json = File.ReadAllText(Program.DockerDefault);
        _policy = OciProfileLoader.Parse(_json).Policy;
    }

    /// <summary>IR to validated classic BPF.</summary>
    [Benchmark(Baseline = true)]
    public BpfProgram CompileDockerDefault() => PolicyCompiler.Compile(_policy);

    /// <summary>JSON text to validated classic BPF.</summary>
    [Benchmark]
    public BpfProgram ParseAndCompileDockerDefault() => PolicyCompiler.Compile(OciProfileLoader.Parse(_json).Policy);

    /// <summary>The unoptimised path, for scale.</summary>
    [Benchmark]
    public BpfProgram CompileDockerDefaultUnoptimised() => PolicyCompiler.Compile(_policy, new CompileOptions { Optimize = false });
}
