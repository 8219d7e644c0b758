using Syscage.Bpf;
using Syscage.Policy.Compiler;
using Syscage.Policy.Language;

namespace Syscage.Policy.Tests;

/// <summary>
/// Runs <c>tests/vectors/policy/*.vectors</c> (format: <see cref="PolicyVectors"/>): each <c>&gt;&gt;&gt;</c> call is
/// evaluated with the reference evaluator and run through the compiled filter, optimised and not, in the classic BPF
/// interpreter; each <c>!!!</c> line expects the policy to fail with exactly that error, from the Try method and as the
/// message of the throwing one. A failure names the vector's <c>file:line</c>. <see cref="VectorKernelTests"/> runs the
/// same calls in the kernel.
/// </summary>
public class VectorTests
{
    public static TheoryData<VectorCase> Cases() => [.. PolicyVectors.All()];

    [Theory]
    [MemberData(nameof(Cases))]
    public void Vector(VectorCase c)
    {
        Assert.True(c.Expectations.Count > 0, $"{c.Where}: a case needs >>> or !!! lines");
        bool parsed = PolicyLanguage.TryParse(c.Policy, out var policy, out var error, "t.policy");
        BpfProgram[] programs = parsed
            ? [PolicyCompiler.Compile(policy!), PolicyCompiler.Compile(policy!, new CompileOptions { Optimize = false })]
            : [];
        foreach (var expectation in c.Expectations)
        {
            string at = expectation.Where;
            if (expectation is VectorError e)
            {
                Assert.True(!parsed, $"{at}: the policy parses, but the vector expects: {e.Message}");
                Assert.True($"t.policy:{e.Message}" == error!.ToString(), $"{at}: expected t.policy:{e.Message}\n   but got {error}");
                var thrown = Assert.Throws<PolicyParseException>(() => PolicyLanguage.Parse(c.Policy, "t.policy"));
                Assert.True(thrown.Message == error.ToString() && thrown.Error == error, $"{at}: Parse throws '{thrown.Message}', TryParse says '{error}'");
                continue;
            }
            var call = (VectorCall)expectation;
            Assert.True(parsed, $"{at}: the policy does not parse: {error}");
            var decision = policy!.Evaluate(call.Data);
            Assert.True(call.Expected == decision.Action,
                $"{at}: {call.Call} gives {decision.Action} ({decision.Reason}{(decision.Rule?.Source is { } s ? $" at {s}" : "")}), expected {call.Expected}");
            foreach (var program in programs)
            {
                var compiled = Interpreter.Run(program, call.Data).Action;
                Assert.True(call.Expected == compiled, $"{at}: {call.Call}: the compiled filter gives {compiled}, the evaluator {call.Expected}\n{Disassembler.ToText(program.Instructions.AsSpan())}");
            }
        }
    }
}
