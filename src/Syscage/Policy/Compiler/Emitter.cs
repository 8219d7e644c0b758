using Syscage.Bpf;
using static Syscage.Bpf.Opcode;

namespace Syscage.Policy.Compiler;

/// <summary>
/// Lays a decision DAG out as classic BPF. Code is emitted backwards, from the last instruction to the first,
/// so every jump target is already placed and its distance known: a conditional jump that would reach past
/// 255 instructions goes through a nearby copy of the return it targets, or a <c>JA</c> trampoline. Loads are
/// left out where the accumulator already holds the value on every path (when <paramref name="elideLoads"/>).
/// </summary>
internal sealed class Emitter(bool elideLoads)
{
    private const int MaxConditionalJump = 255;

    // Emitted instructions in reverse program order; "rank" = index in this list.
    private readonly List<Instruction> _reversed = [];
    // For each node: the rank of its own entry, and of the latest near entry (a RET copy or a JA trampoline).
    private readonly Dictionary<DecisionNode, int> _entry = [];
    private readonly Dictionary<DecisionNode, int> _near = [];
    private Dictionary<DecisionNode, AValue?> _entryState = [];

    public Instruction[] Emit(DecisionNode root)
    {
        var order = TopologicalOrder(root);
        _entryState = EntryStates(order, root);
        // Children are placed after parents: emit in reverse topological order.
        for (int i = order.Count - 1; i >= 0; i--)
            EmitNode(order[i]);
        var program = new Instruction[_reversed.Count];
        for (int i = 0; i < program.Length; i++)
            program[i] = _reversed[program.Length - 1 - i];
        return program;
    }

    private int Rank => _reversed.Count;

    private void Append(Instruction ins) => _reversed.Add(ins);

    /// <summary>Instructions a jump emitted next (at rank <see cref="Rank"/>) must skip to land on rank <paramref name="target"/>.</summary>
    private int Distance(int target) => Rank - target - 1;

    private void EmitNode(DecisionNode node)
    {
        switch (node)
        {
            case ReturnNode r:
                Append(Instruction.Stmt(BPF_RET | BPF_K, r.Value));
                _entry[node] = Rank - 1;
                break;
            case TestNode t:
            {
                // Make both targets reachable, adding a near entry where one is too far. Reachable leaves two
                // slots of slack, so the false target's near entry can't push the true target out of reach.
                int tRank = Reachable(t.True);
                int fRank = Reachable(t.False);
                Append(Instruction.Jump((ushort)(BPF_JMP | t.JumpOp | BPF_K), t.K, (byte)Distance(tRank), (byte)Distance(fRank)));
                var state = _entryState.GetValueOrDefault(t);
                bool loaded = !elideLoads || state is not { } s || s.Offset != t.Value.Offset || (s.Masked && s != t.Value);
                if (t.Value.Masked && (loaded || state != t.Value))
                    Append(Instruction.Stmt(BPF_ALU | BPF_AND | BPF_K, t.Value.Mask));
                if (loaded)
                    Append(Instruction.Stmt(BPF_LD | BPF_W | BPF_ABS, t.Value.Offset));
                _entry[node] = Rank - 1;
                break;
            }
        }
    }

    /// <summary>
    /// The rank through which <paramref name="target"/> is entered: its own entry when in reach (no extra
    /// instruction runs), else a near entry, placing one if none is in reach.
    /// </summary>
    private int Reachable(DecisionNode target)
    {
        const int reach = MaxConditionalJump - 2;
        int entry = _entry[target];
        if (Distance(entry) <= reach)
            return entry;
        if (_near.TryGetValue(target, out int near) && Distance(near) <= reach)
            return near;
        if (target is ReturnNode r)
            Append(Instruction.Stmt(BPF_RET | BPF_K, r.Value));     // a copy runs one instruction, as a trampoline would
        else
            Append(Instruction.Stmt(BPF_JMP | BPF_JA, (uint)Distance(entry)));
        _near[target] = Rank - 1;
        return Rank - 1;
    }

    /// <summary>Nodes ordered parents before children; a node's false child tends to follow it.</summary>
    private static List<DecisionNode> TopologicalOrder(DecisionNode root)
    {
        var post = new List<DecisionNode>();
        var seen = new HashSet<DecisionNode>();
        var stack = new Stack<(DecisionNode Node, bool Expanded)>();
        stack.Push((root, false));
        while (stack.Count > 0)
        {
            var (node, expanded) = stack.Pop();
            if (expanded)
            {
                post.Add(node);
                continue;
            }
            if (!seen.Add(node))
                continue;
            stack.Push((node, true));
            if (node is TestNode t)
            {
                // Visit the true child first so that, reversed, the false child comes right after its parent.
                stack.Push((t.False, false));
                stack.Push((t.True, false));
            }
        }
        post.Reverse();
        return post;
    }

    /// <summary>What A holds on entry to each node: the meet over all its predecessors' exits (null: unknown).</summary>
    private static Dictionary<DecisionNode, AValue?> EntryStates(List<DecisionNode> order, DecisionNode root)
    {
        var state = new Dictionary<DecisionNode, AValue?> { [root] = null };
        var reached = new HashSet<DecisionNode> { root };
        foreach (var node in order)
        {
            if (node is not TestNode t)
                continue;
            foreach (var child in new[] { t.True, t.False })
            {
                if (reached.Add(child))
                    state[child] = t.Value;
                else if (state[child] != t.Value)
                    state[child] = null;
            }
        }
        return state;
    }
}
