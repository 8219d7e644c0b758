using Syscage.Bpf;
using Syscage.Policy.Compiler;
using static Syscage.Bpf.Opcode;
using Syscage.Abi;

namespace Syscage.Compiler.Tests;

/// <summary>Each optimiser pass alone, on small hand-written programs; then the fixpoint on random programs.</summary>
public sealed class PeepholeTests
{
    private static Instruction[] Asm(string text) => Assembler.Assemble(text);

    [Fact]
    public void ThreadJumpsSkipsJumpChainsAndTurnsJaToRetIntoRet()
    {
        var program = Asm("""
            A = sys_number
            if (A == 1) goto hop else goto other
            hop: goto allow
            other: goto deny
            allow: return ALLOW
            deny: return ERRNO(1)
            """);
        var nodes = Peephole.ThreadJumps(Peephole.ToNodes(program));
        // The conditional now goes straight to the returns; the JAs became RETs.
        Assert.Equal(4, nodes[1].True);
        Assert.Equal(5, nodes[1].False);
        Assert.Equal((ushort)(BPF_RET | BPF_K), nodes[2].Ins.Code);
        Assert.Equal(SeccompAction.SECCOMP_RET_ALLOW, nodes[2].Ins.K);
        Assert.Equal((ushort)(BPF_RET | BPF_K), nodes[3].Ins.Code);
    }

    [Fact]
    public void RemoveUnreachableDropsDeadCodeAndRetargets()
    {
        var program = Asm("""
            A = sys_number
            if (A == 1) goto allow else goto deny
            A = 5
            return KILL_PROCESS
            allow: return ALLOW
            deny: return ERRNO(1)
            """);
        var nodes = Peephole.RemoveUnreachable(Peephole.ToNodes(program));
        var back = Peephole.FromNodes(nodes)!;
        Assert.Equal(4, back.Length);
        // The jump now falls through to ALLOW and skips one to ERRNO.
        Assert.Equal(new Instruction(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 1), back[1]);
        Assert.Equal(SeccompAction.SECCOMP_RET_ALLOW, back[2].K);
    }

    [Fact]
    public void FromNodesRefusesJumpsBeyondReach()
    {
        var nodes = new Peephole.Node[300];
        nodes[0] = new Peephole.Node(Instruction.Jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 0), 299, 1);
        for (int i = 1; i < 300; i++)
            nodes[i] = new Peephole.Node(Instruction.Stmt(BPF_RET | BPF_K, 0), -1, -1);
        Assert.Null(Peephole.FromNodes(nodes));
    }

    [Fact]
    public void TheFixpointKeepsEveryRandomProgramsMeaning()
    {
        var rng = new Random(8);
        int tried = 0;
        while (tried < 300)
        {
            int len = rng.Next(3, 40);
            var insns = new Instruction[len];
            for (int i = 0; i < len - 1; i++)
            {
                int room = len - i - 2;
                insns[i] = rng.Next(5) switch
                {
                    0 => Instruction.Stmt(BPF_LD | BPF_W | BPF_ABS, (uint)rng.Next(16) * 4),
                    1 => Instruction.Stmt(BPF_JMP | BPF_JA, (uint)rng.Next(room + 1)),
                    2 => Instruction.Stmt(BPF_RET | BPF_K, (uint)rng.Next(3) * 0x10000u + 0x7fff0000u - 0x20000u),
                    3 => Instruction.Stmt(BPF_ALU | BPF_AND | BPF_K, (uint)rng.Next(256)),
                    _ => Instruction.Jump(BPF_JMP | BPF_JGT | BPF_K, (uint)rng.Next(300), (byte)rng.Next(room + 1), (byte)rng.Next(room + 1)),
                };
            }
            insns[^1] = Instruction.Stmt(BPF_RET | BPF_K, SeccompAction.SECCOMP_RET_ALLOW);
            if (!Validator.TryValidate(insns, out var before, out _))
                continue;
            var after = Validator.Validate(Peephole.Run(insns));
            Assert.True(after.Length <= before.Length);
            for (int n = 0; n < 50; n++)
            {
                var data = new SeccompData(rng.Next(400), (uint)rng.NextInt64(0, 1L << 32), (ulong)rng.NextInt64(), (ulong)rng.NextInt64(), (ulong)rng.Next(300));
                var a = Interpreter.Run(before, data);
                var b = Interpreter.Run(after, data);
                Assert.Equal(a.ReturnValue, b.ReturnValue);
                Assert.True(b.InstructionsExecuted <= a.InstructionsExecuted);
            }
            tried++;
        }
    }
}
