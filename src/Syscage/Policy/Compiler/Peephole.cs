using Syscage.Bpf;
using static Syscage.Bpf.Opcode;

namespace Syscage.Policy.Compiler;

/// <summary>
/// Small pure passes over classic programs, run to a fixpoint (gVisor's optimizer is the model): each takes a
/// program in a form with absolute jump targets and returns an equivalent one, and each is tested alone.
/// </summary>
internal static class Peephole
{
    /// <summary>An instruction with absolute targets (for jumps), so passes can move code freely.</summary>
    /// <param name="Ins">The instruction; its jump fields are recomputed on the way out.</param>
    /// <param name="True">Absolute target of a conditional jump when true, or of <c>JA</c>; -1 otherwise.</param>
    /// <param name="False">Absolute target of a conditional jump when false; -1 otherwise.</param>
    public readonly record struct Node(Instruction Ins, int True, int False);

    /// <summary>Runs every pass until none changes the program. Jumps that no longer fit are left as they were.</summary>
    public static Instruction[] Run(Instruction[] program)
    {
        var nodes = ToNodes(program);
        for (int round = 0; round < 32; round++)
        {
            var next = RemoveUnreachable(ThreadJumps(nodes));
            if (next.SequenceEqual(nodes))
                break;
            nodes = next;
        }
        return FromNodes(nodes) ?? program;
    }

    /// <summary>Absolute-target form of a program (which must only jump in range).</summary>
    public static Node[] ToNodes(ReadOnlySpan<Instruction> program)
    {
        var nodes = new Node[program.Length];
        for (int pc = 0; pc < program.Length; pc++)
        {
            var ins = program[pc];
            nodes[pc] = ins.Code == (BPF_JMP | BPF_JA) ? new Node(ins, pc + 1 + (int)ins.K, -1)
                : IsConditionalJump(ins.Code) ? new Node(ins, pc + 1 + ins.Jt, pc + 1 + ins.Jf)
                : new Node(ins, -1, -1);
        }
        return nodes;
    }

    /// <summary>Back to instructions; null when a conditional jump would need more than 255.</summary>
    public static Instruction[]? FromNodes(ReadOnlySpan<Node> nodes)
    {
        var program = new Instruction[nodes.Length];
        for (int pc = 0; pc < nodes.Length; pc++)
        {
            var n = nodes[pc];
            if (n.Ins.Code == (BPF_JMP | BPF_JA))
                program[pc] = n.Ins with { K = (uint)(n.True - pc - 1) };
            else if (IsConditionalJump(n.Ins.Code))
            {
                int jt = n.True - pc - 1, jf = n.False - pc - 1;
                if (jt is < 0 or > 255 || jf is < 0 or > 255)
                    return null;
                program[pc] = n.Ins with { Jt = (byte)jt, Jf = (byte)jf };
            }
            else
                program[pc] = n.Ins;
        }
        return program;
    }

    /// <summary>
    /// Jump threading: a jump to a <c>JA</c> goes straight to the JA's target (when a conditional jump can
    /// reach it), and a <c>JA</c> to a <c>RET</c> becomes that <c>RET</c> — one instruction fewer on the path.
    /// </summary>
    public static Node[] ThreadJumps(Node[] nodes)
    {
        var result = (Node[])nodes.Clone();
        int Final(int target, int from, int reach)
        {
            int hops = 0;
            while (target < nodes.Length && nodes[target].Ins.Code == (BPF_JMP | BPF_JA) && hops++ < nodes.Length)
            {
                int next = nodes[target].True;
                if (next - from - 1 > reach)
                    break;
                target = next;
            }
            return target;
        }
        for (int pc = 0; pc < nodes.Length; pc++)
        {
            var n = nodes[pc];
            if (n.Ins.Code == (BPF_JMP | BPF_JA))
            {
                int t = Final(n.True, pc, int.MaxValue);
                result[pc] = Class(nodes[t].Ins.Code) == BPF_RET ? new Node(nodes[t].Ins, -1, -1) : n with { True = t };
            }
            else if (IsConditionalJump(n.Ins.Code))
                result[pc] = n with { True = Final(n.True, pc, 255), False = Final(n.False, pc, 255) };
        }
        return result;
    }

    /// <summary>Dead-code removal: drops instructions no path from pc 0 reaches, retargeting jumps.</summary>
    public static Node[] RemoveUnreachable(Node[] nodes)
    {
        var live = new bool[nodes.Length];
        var work = new Stack<int>();
        work.Push(0);
        while (work.Count > 0)
        {
            int pc = work.Pop();
            if (pc >= nodes.Length || live[pc])
                continue;
            live[pc] = true;
            var n = nodes[pc];
            if (Class(n.Ins.Code) == BPF_RET)
                continue;
            if (n.True >= 0)
            {
                work.Push(n.True);
                if (n.False >= 0)
                    work.Push(n.False);
            }
            else
                work.Push(pc + 1);
        }
        var newIndex = new int[nodes.Length + 1];
        int count = 0;
        for (int pc = 0; pc < nodes.Length; pc++)
        {
            newIndex[pc] = count;
            if (live[pc])
                count++;
        }
        newIndex[nodes.Length] = count;
        if (count == nodes.Length)
            return nodes;
        var result = new List<Node>(count);
        for (int pc = 0; pc < nodes.Length; pc++)
        {
            if (!live[pc])
                continue;
            var n = nodes[pc];
            result.Add(n with
            {
                True = n.True >= 0 ? newIndex[n.True] : -1,
                False = n.False >= 0 ? newIndex[n.False] : -1,
            });
        }
        return [.. result];
    }
}
