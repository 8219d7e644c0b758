using System.Globalization;
using Syscage.Ebpf.Helpers;
using Syscage.Ebpf.Isa;
using static Syscage.Ebpf.Isa.EbpfOpcode;
using Syscage.Ebpf.Vm;
using Syscage.Ebpf.Verifier;

namespace Syscage.Ebpf.Tests;

/// <summary>
/// Interpreter against JIT on seeded random programs that are valid by construction (every access inside the memory
/// block or the initialised stack, forward jumps only, calls to a leaf subprogram) over random memory: same r0, same
/// final memory — and the memory ends with a dump of every register, so no intermediate difference hides.
/// </summary>
public sealed class DifferentialTests
{
    private const int DataBytes = 64;
    private const int DumpBytes = 11 * 8;

    public static TheoryData<int> Seeds()
    {
        var d = new TheoryData<int>();
        for (int s = 0; s < 300; s++) d.Add(s);
        return d;
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Interpreter_and_jit_agree(int seed)
    {
        var random = new Random(seed);
        for (int round = 0; round < 25; round++)
        {
            var program = new RandomProgram(random).Build();
            var unverified = EbpfProgram.Unverified(program, ContextDescription.Memory(DataBytes + DumpBytes));
            var interpreter = EbpfVm.Create(unverified, engine: EbpfEngine.Interpreter);
            var jit = EbpfVm.Create(unverified, engine: EbpfEngine.Jit);
            for (int input = 0; input < 4; input++)
            {
                var memory = new byte[DataBytes + DumpBytes];
                random.NextBytes(memory.AsSpan(0, DataBytes));
                var m1 = (byte[])memory.Clone();
                var m2 = (byte[])memory.Clone();
                ulong r1 = interpreter.RunOnMemory(m1, HelperContext.None);
                ulong r2 = jit.RunOnMemory(m2, HelperContext.None);
                if (r1 != r2 || !m1.AsSpan().SequenceEqual(m2))
                {
                    int at = Enumerable.Range(0, m1.Length).FirstOrDefault(i => m1[i] != m2[i], -1);
                    Assert.Fail(string.Create(CultureInfo.InvariantCulture,
                        $"seed {seed} round {round} input {input}: interpreter r0=0x{r1:x}, jit r0=0x{r2:x}; first memory difference at byte {at}\n{EbpfDisassembler.ToText(program)}"));
                }
            }
        }
    }

    /// <summary>One random program: r6 holds the memory address throughout; r0-r5, r7-r9 are data.</summary>
    private sealed class RandomProgram(Random random)
    {
        private static readonly byte[] Data = [0, 1, 2, 3, 4, 5, 7, 8, 9];
        private static readonly byte[] AluOps = [BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_OR, BPF_AND, BPF_LSH, BPF_RSH, BPF_NEG, BPF_MOD, BPF_XOR, BPF_MOV, BPF_ARSH, BPF_END];
        private static readonly byte[] JumpOps = [BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET, BPF_JNE, BPF_JSGT, BPF_JSGE, BPF_JLT, BPF_JLE, BPF_JSLT, BPF_JSLE];

        // Units: one instruction, or the two slots of lddw. Jumps name their target unit.
        private readonly List<(EbpfInstruction[] Slots, int JumpTo, bool Call)> _units = [];

        private byte Reg() => Data[random.Next(Data.Length)];

        private int Imm() => random.Next(6) switch
        {
            0 => 0,
            1 => random.Next(-4, 5),
            2 => int.MinValue,
            3 => -1,
            _ => random.Next(int.MinValue, int.MaxValue),
        };

        private void Add(EbpfInstruction insn, int jumpTo = -1, bool call = false) => _units.Add(([insn], jumpTo, call));

        public EbpfInstruction[] Build()
        {
            Add(new EbpfInstruction(BPF_ALU64 | BPF_MOV | BPF_X, 6, 1, 0, 0));
            foreach (byte r in Data)
                Wide(r, (ulong)random.NextInt64() ^ ((ulong)random.Next() << 63));
            for (int k = 1; k <= 8; k++)
                Add(new EbpfInstruction(BPF_ST | BPF_MEM | BPF_DW, 10, 0, (short)(-8 * k), Imm()));

            int body = random.Next(5, 40);
            int firstBody = _units.Count;
            for (int i = 0; i < body; i++)
                Step(inCallee: false, endUnit: firstBody + body);
            // Dump every data register after the data block (not r6 and r10: addresses differ between runs), then exit.
            foreach (byte r in Data)
                Add(new EbpfInstruction(BPF_STX | BPF_MEM | BPF_DW, 6, r, (short)(DataBytes + 8 * r), 0));
            Add(new EbpfInstruction(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
            // The callee: its own stack, initialised, then random work, then exit.
            int callee = _units.Count;
            for (int k = 1; k <= 8; k++)
                Add(new EbpfInstruction(BPF_ST | BPF_MEM | BPF_DW, 10, 0, (short)(-8 * k), Imm()));
            int calleeBody = random.Next(1, 10);
            int calleeFirst = _units.Count;
            for (int i = 0; i < calleeBody; i++)
                Step(inCallee: true, endUnit: calleeFirst + calleeBody);
            Add(new EbpfInstruction(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));

            // Lay out and resolve jumps (offset) and calls (imm) to slot distances.
            var start = new int[_units.Count + 1];
            for (int u = 0; u < _units.Count; u++)
                start[u + 1] = start[u] + _units[u].Slots.Length;
            var slots = new List<EbpfInstruction>();
            for (int u = 0; u < _units.Count; u++)
            {
                var (unitSlots, jumpTo, call) = _units[u];
                var first = unitSlots[0];
                if (call)
                    first = first with { Imm = start[callee] - (start[u] + 1) };
                else if (jumpTo >= 0)
                {
                    int rel = start[jumpTo] - (start[u] + 1);
                    first = first.Opcode == (BPF_JMP32 | BPF_JA) ? first with { Imm = rel } : first with { Offset = (short)rel };
                }
                slots.Add(first);
                slots.AddRange(unitSlots.Skip(1));
            }
            return [.. slots];
        }

        private void Wide(byte reg, ulong value) => _units.Add(([
            new EbpfInstruction(BPF_LD | BPF_DW | BPF_IMM, reg, 0, 0, (int)value),
            new EbpfInstruction(0, 0, 0, 0, (int)(value >> 32))], -1, false));

        private void Step(bool inCallee, int endUnit)
        {
            int kind = random.Next(inCallee ? 8 : 11);
            switch (kind)
            {
                case 0: case 1: case 2: case 3:
                    Alu();
                    break;
                case 4:
                    Wide(Reg(), (ulong)random.NextInt64());
                    break;
                case 5:
                {
                    // Stack load/store inside the initialised 64 bytes below r10.
                    byte size = (byte)(random.Next(4) << 3);
                    int bytes = SizeInBytes(size);
                    short off = (short)-random.Next(bytes, 65);
                    if (random.Next(2) == 0)
                        Add(new EbpfInstruction((byte)(BPF_LDX | (random.Next(3) == 0 && size != BPF_DW ? BPF_MEMSX : BPF_MEM) | size), Reg(), 10, off, 0));
                    else if (random.Next(2) == 0)
                        Add(new EbpfInstruction((byte)(BPF_STX | BPF_MEM | size), 10, Reg(), off, 0));
                    else
                        Add(new EbpfInstruction((byte)(BPF_ST | BPF_MEM | size), 10, 0, off, Imm()));
                    break;
                }
                case 6:
                {
                    // A forward jump inside this block (or to its end).
                    byte cls = random.Next(2) == 0 ? BPF_JMP : BPF_JMP32;
                    int target = random.Next(_units.Count + 1, endUnit + 1);
                    if (random.Next(8) == 0)
                    {
                        Add(new EbpfInstruction((byte)(cls | BPF_JA), 0, 0, 0, 0), target);
                        break;
                    }
                    byte op = JumpOps[random.Next(JumpOps.Length)];
                    if (random.Next(2) == 0)
                        Add(new EbpfInstruction((byte)(cls | op | BPF_X), Reg(), Reg(), 0, 0), target);
                    else
                        Add(new EbpfInstruction((byte)(cls | op | BPF_K), Reg(), 0, 0, Imm()), target);
                    break;
                }
                case 7:
                {
                    // An atomic on an aligned stack slot.
                    bool dw = random.Next(2) == 0;
                    short off = (short)(dw ? -8 * random.Next(1, 9) : -4 * random.Next(1, 17));
                    int[] ops = [BPF_ADD, BPF_OR, BPF_AND, BPF_XOR, BPF_ADD | BPF_FETCH, BPF_OR | BPF_FETCH, BPF_AND | BPF_FETCH, BPF_XOR | BPF_FETCH, BPF_XCHG, BPF_CMPXCHG];
                    Add(new EbpfInstruction((byte)(BPF_STX | BPF_ATOMIC | (dw ? BPF_DW : BPF_W)), 10, Reg(), off, ops[random.Next(ops.Length)]));
                    break;
                }
                case 8:
                {
                    // Memory block load/store through r6.
                    byte size = (byte)(random.Next(4) << 3);
                    int bytes = SizeInBytes(size);
                    short off = (short)random.Next(0, DataBytes - bytes + 1);
                    switch (random.Next(3))
                    {
                        case 0: Add(new EbpfInstruction((byte)(BPF_LDX | (random.Next(3) == 0 && size != BPF_DW ? BPF_MEMSX : BPF_MEM) | size), Reg(), 6, off, 0)); break;
                        case 1: Add(new EbpfInstruction((byte)(BPF_STX | BPF_MEM | size), 6, Reg(), off, 0)); break;
                        default: Add(new EbpfInstruction((byte)(BPF_ST | BPF_MEM | size), 6, 0, off, Imm())); break;
                    }
                    break;
                }
                case 9:
                    Add(new EbpfInstruction(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, 0), call: true);
                    break;
                default:
                {
                    // An atomic on an aligned word of the memory block.
                    bool dw = random.Next(2) == 0;
                    short off = (short)(dw ? 8 * random.Next(0, DataBytes / 8) : 4 * random.Next(0, DataBytes / 4));
                    int[] ops = [BPF_ADD | BPF_FETCH, BPF_XOR, BPF_XCHG, BPF_CMPXCHG, BPF_AND | BPF_FETCH];
                    Add(new EbpfInstruction((byte)(BPF_STX | BPF_ATOMIC | (dw ? BPF_DW : BPF_W)), 6, Reg(), off, ops[random.Next(ops.Length)]));
                    break;
                }
            }
        }

        private void Alu()
        {
            byte cls = random.Next(2) == 0 ? BPF_ALU64 : BPF_ALU;
            byte op = AluOps[random.Next(AluOps.Length)];
            byte dst = Reg();
            switch (op)
            {
                case BPF_NEG:
                    Add(new EbpfInstruction((byte)(cls | op), dst, 0, 0, 0));
                    return;
                case BPF_END:
                {
                    int width = 16 << random.Next(3);
                    byte source = cls == BPF_ALU64 ? BPF_TO_LE : random.Next(2) == 0 ? BPF_TO_LE : BPF_TO_BE;
                    Add(new EbpfInstruction((byte)(cls | op | source), dst, 0, 0, width));
                    return;
                }
                case BPF_MOV when random.Next(3) == 0:
                {
                    short[] widths = cls == BPF_ALU64 ? [8, 16, 32] : [8, 16];
                    Add(new EbpfInstruction((byte)(cls | op | BPF_X), dst, Reg(), widths[random.Next(widths.Length)], 0));
                    return;
                }
            }
            short signed = (short)(op is BPF_DIV or BPF_MOD && random.Next(2) == 0 ? 1 : 0);
            if (random.Next(2) == 0)
                Add(new EbpfInstruction((byte)(cls | op | BPF_X), dst, Reg(), signed, 0));
            else
                Add(new EbpfInstruction((byte)(cls | op | BPF_K), dst, 0, signed, Imm()));
        }
    }
}
