using Syscage.Ebpf;
using Syscage.Ebpf.Isa;
using Syscage.Ebpf.Maps;
using Syscage.Ebpf.Verifier;
using static Syscage.Ebpf.Isa.EbpfOpcode;

namespace Syscage.EbpfLoader.Tests;

/// <summary>
/// The verifier's promise, checked directly: random programs built from risky snippets (stack, context and map
/// accesses at random and variable offsets, null checks, branches, loops) are verified, and every one it accepts
/// is run by a small checking interpreter on random inputs. An accepted program that reads out of bounds, reads
/// uninitialised stack or registers, dereferences null or writes the context is a verifier bug.
/// </summary>
public class SoundnessTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly MapDefinition Table = new("table", MapType.Array, 4, 24, 1, 0, new byte[24]);

    [Fact]
    public void Accepted_random_programs_never_fault()
    {
        var rng = new Random(7001);
        int accepted = 0, runs = 0;
        for (int iter = 0; iter < 20_000; iter++)
        {
            bool seccomp = iter % 2 == 0;
            var insns = Generate(rng);
            var options = new VerifierOptions
            {
                Maps = [Table],
                Context = seccomp ? ContextDescription.SeccompData : ContextDescription.Memory(32),
                MaxInstructionsProcessed = 100_000,
            };
            if (!EbpfVerifier.TryVerify(insns, options, out _, out _))
                continue;
            accepted++;
            for (int run = 0; run < 8; run++, runs++)
            {
                string? fault = new CheckingInterpreter(insns, options.Context, rng).Run();
                if (fault is not null)
                    Assert.Fail($"verifier accepted a faulting program (iteration {iter}): {fault}\n" +
                        string.Join('\n', insns.Select((i, pc) => $"{pc}: {i}")));
            }
        }
        output.WriteLine($"programs: 20000, accepted: {accepted}, runs: {runs}");
        Assert.True(accepted > 1000, $"only {accepted} accepted");
    }

    private static EbpfInstruction[] Generate(Random rng)
    {
        var p = new List<EbpfInstruction>();
        void Add(byte code, int dst, int src, int off, int imm) => p.Add(new EbpfInstruction(code, (byte)dst, (byte)src, (short)off, imm));
        int Reg() => rng.Next(10) < 8 ? rng.Next(2, 10) : rng.Next(0, 10);
        byte[] sizes = [BPF_B, BPF_H, BPF_W, BPF_DW];
        Add(BPF_ALU64 | BPF_MOV | BPF_X, 6, 1, 0, 0); // r6 = ctx
        Add(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0);
        for (int r = 2; r <= 9; r++)
        {
            if (r == 6) continue;
            if (rng.Next(2) == 0) Add(BPF_ALU64 | BPF_MOV | BPF_K, r, 0, 0, rng.Next(-4, 40));
            else Add(BPF_LDX | BPF_MEM | BPF_W, r, 6, 4 * rng.Next(0, 8), 0);
        }
        int snippets = rng.Next(2, 12);
        for (int k = 0; k < snippets; k++)
        {
            int r = Reg(), s = Reg();
            byte size = sizes[rng.Next(4)];
            int stackOff = rng.Next(3) == 0 ? -rng.Next(1, 530) : -8 * rng.Next(1, 66) + rng.Next(0, 2) * rng.Next(0, 8);
            switch (rng.Next(12))
            {
                case 0: Add(BPF_ALU64 | BPF_MOV | BPF_K, r, 0, 0, rng.Next(-20, 40)); break;
                case 1:
                    byte[] ops = [BPF_ADD, BPF_SUB, BPF_MUL, BPF_AND, BPF_OR, BPF_LSH, BPF_RSH, BPF_DIV, BPF_MOD, BPF_XOR, BPF_ARSH];
                    Add((byte)((rng.Next(2) == 0 ? BPF_ALU64 : BPF_ALU) | ops[rng.Next(ops.Length)] | (rng.Next(2) == 0 ? BPF_K : BPF_X)), r, s, 0, rng.Next(-3, 70));
                    break;
                case 2: // context load
                    Add((byte)(BPF_LDX | BPF_MEM | size), r, 6, rng.Next(3) == 0 ? rng.Next(-4, 70) : 4 * rng.Next(0, 17), 0);
                    break;
                case 3: // stack store of a register or an immediate
                    if (rng.Next(2) == 0) Add((byte)(BPF_STX | BPF_MEM | size), 10, s, stackOff, 0);
                    else Add((byte)(BPF_ST | BPF_MEM | size), 10, 0, stackOff, rng.Next(-2, 3));
                    break;
                case 4: Add((byte)(BPF_LDX | BPF_MEM | size), r, 10, stackOff, 0); break;
                case 5: // bounded (or not) variable offset into the stack
                    Add(BPF_ALU64 | BPF_AND | BPF_K, s, 0, 0, rng.Next(2) == 0 ? 7 : rng.Next(0, 64));
                    Add(BPF_ALU64 | BPF_MOV | BPF_X, r, 10, 0, 0);
                    Add(BPF_ALU64 | BPF_ADD | BPF_X, r, s, 0, 0);
                    Add((byte)((rng.Next(2) == 0 ? BPF_LDX : BPF_STX) | BPF_MEM | size), rng.Next(2) == 0 ? r : 0, rng.Next(2) == 0 ? r : 0, -8 * rng.Next(1, 5), 0);
                    break;
                case 6: // forward conditional jump
                {
                    byte[] jops = [BPF_JEQ, BPF_JNE, BPF_JGT, BPF_JGE, BPF_JLT, BPF_JLE, BPF_JSGT, BPF_JSLT, BPF_JSET];
                    Add((byte)((rng.Next(3) == 0 ? BPF_JMP32 : BPF_JMP) | jops[rng.Next(jops.Length)] | (rng.Next(2) == 0 ? BPF_K : BPF_X)), r, s, rng.Next(0, 4), rng.Next(-2, 40));
                    break;
                }
                case 7: // map lookup, maybe null-checked, then an access at a (variable) offset
                {
                    Add(BPF_ST | BPF_MEM | BPF_W, 10, 0, -4, rng.Next(0, 2));
                    Add(BPF_LD | BPF_DW | BPF_IMM, 1, BPF_PSEUDO_MAP_FD, 0, 0);
                    Add(0, 0, 0, 0, 0);
                    Add(BPF_ALU64 | BPF_MOV | BPF_X, 2, 10, 0, 0);
                    Add(BPF_ALU64 | BPF_ADD | BPF_K, 2, 0, 0, rng.Next(2) == 0 ? -4 : -rng.Next(0, 8));
                    Add(BPF_JMP | BPF_CALL, 0, 0, 0, 1);
                    if (rng.Next(5) > 0)
                        Add(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, rng.Next(1, 3), 0);
                    if (rng.Next(2) == 0)
                    {
                        Add(BPF_ALU64 | BPF_AND | BPF_K, 7, 0, 0, rng.Next(2) == 0 ? 15 : 31);
                        Add(BPF_ALU64 | BPF_ADD | BPF_X, 0, 7, 0, 0);
                    }
                    Add((byte)((rng.Next(2) == 0 ? BPF_LDX : BPF_STX) | BPF_MEM | size), rng.Next(2) == 0 ? 0 : 8, rng.Next(2) == 0 ? 0 : 8, rng.Next(0, 26), 0);
                    Add(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0);
                    break;
                }
                case 8: // a small counted loop
                    Add(BPF_ALU64 | BPF_MOV | BPF_K, r, 0, 0, 0);
                    Add(BPF_ALU64 | BPF_ADD | BPF_K, r, 0, 0, 1);
                    Add((byte)(BPF_JMP | BPF_JLT | BPF_K), r, 0, -2, rng.Next(0, 6));
                    break;
                case 9: Add(BPF_ALU64 | BPF_MOV | BPF_X, r, rng.Next(0, 11), 0, 0); break;
                case 10: Add((byte)(BPF_STX | BPF_MEM | size), 6, s, 4 * rng.Next(0, 8), 0); break;
                default: Add(BPF_JMP | BPF_CALL, 0, 0, 0, rng.Next(2) == 0 ? 7 : 14); Add(BPF_ALU64 | BPF_MOV | BPF_X, r, 0, 0, 0); break;
            }
        }
        if (rng.Next(4) > 0)
            Add(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0);
        Add(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
        // Jumps that now point past the end go to the exit.
        for (int pc = 0; pc < p.Count; pc++)
            if (Class(p[pc].Opcode) is BPF_JMP or BPF_JMP32 && Op(p[pc].Opcode) is not (BPF_CALL or BPF_EXIT) && pc + p[pc].Offset + 1 >= p.Count)
                p[pc] = p[pc] with { Offset = (short)(p.Count - pc - 2) };
        return [.. p];
    }

    /// <summary>A value: a number, or a pointer (region + offset).</summary>
    private readonly record struct Val(ulong N, string? Region = null, long Off = 0, bool Init = true);

    /// <summary>Runs a program concretely and reports the first unsafe operation (null if none).</summary>
    private sealed class CheckingInterpreter(EbpfInstruction[] insns, ContextDescription ctx, Random rng)
    {
        private readonly Val[] _r = new Val[11];
        private readonly Dictionary<string, (byte[] Bytes, bool[] Init, bool Writable)> _mem = [];

        public string? Run()
        {
            var ctxBytes = new byte[ctx.Size];
            rng.NextBytes(ctxBytes);
            // Small, interesting context values, so that branches go both ways.
            for (int k = 0; k < ctxBytes.Length; k += 4)
                if (rng.Next(2) == 0) BitConverter.TryWriteBytes(ctxBytes.AsSpan(k), (uint)rng.Next(-3, 40));
            _mem["ctx"] = (ctxBytes, Enumerable.Repeat(true, ctx.Size).ToArray(), ctx.Writable);
            _mem["stack"] = (new byte[512], new bool[512], true);
            _mem["map"] = (new byte[24], Enumerable.Repeat(true, 24).ToArray(), true);
            for (int k = 0; k < 11; k++) _r[k] = new Val(0, Init: false);
            _r[1] = new Val(0, "ctx");
            _r[10] = new Val(0, "stack", 512);
            int pc = 0;
            for (int steps = 0; steps < 100_000; steps++)
            {
                var i = insns[pc];
                byte cls = Class(i.Opcode), op = Op(i.Opcode);
                string Where() => $"pc {pc}: {i}";
                Val Get(int reg) => _r[reg];
                switch (cls)
                {
                    case BPF_LD:
                        _r[i.Dst] = i.Src == BPF_PSEUDO_MAP_FD ? new Val(0, "mapref") : new Val((uint)i.Imm | (ulong)(uint)insns[pc + 1].Imm << 32);
                        pc += 2;
                        continue;
                    case BPF_LDX:
                    {
                        if (!Get(i.Src).Init) return "uninitialised base register at " + Where();
                        if (Load(Get(i.Src), i.Offset, SizeInBytes(i.Opcode), out var v) is { } e) return e + " at " + Where();
                        _r[i.Dst] = v;
                        break;
                    }
                    case BPF_ST or BPF_STX:
                    {
                        if (!Get(i.Dst).Init) return "uninitialised base register at " + Where();
                        var v = cls == BPF_ST ? new Val((ulong)(long)i.Imm) : Get(i.Src);
                        if (!v.Init) return "storing an uninitialised register at " + Where();
                        if (Store(Get(i.Dst), i.Offset, SizeInBytes(i.Opcode), v) is { } e) return e + " at " + Where();
                        break;
                    }
                    case BPF_ALU or BPF_ALU64:
                    {
                        bool is64 = cls == BPF_ALU64, x = Src(i.Opcode) == BPF_X;
                        var b = x ? Get(i.Src) : new Val((ulong)(long)i.Imm);
                        if (x && !b.Init) return "read of uninitialised source at " + Where();
                        if (op == BPF_MOV) { _r[i.Dst] = is64 ? b : new Val(b.Region is null ? (uint)b.N : 0xdead); break; }
                        var a = Get(i.Dst);
                        if (!a.Init) return "read of uninitialised destination at " + Where();
                        if (a.Region is not null && b.Region is null && is64 && op is BPF_ADD or BPF_SUB)
                            _r[i.Dst] = a with { Off = op == BPF_ADD ? a.Off + (long)b.N : a.Off - (long)b.N };
                        else if (b.Region is not null && a.Region is null && is64 && op == BPF_ADD)
                            _r[i.Dst] = b with { Off = b.Off + (long)a.N };
                        else if (a.Region is not null || b.Region is not null)
                            _r[i.Dst] = new Val(0x5eed); // pointer - pointer and the like: some number
                        else
                            _r[i.Dst] = new Val(Eval(op, is64, a.N, b.N));
                        break;
                    }
                    default:
                        if (op == BPF_EXIT)
                        {
                            if (!_r[0].Init) return "r0 uninitialised at exit, " + Where();
                            if (_r[0].Region is not null) return "r0 is a pointer at exit, " + Where();
                            return null;
                        }
                        if (op == BPF_CALL)
                        {
                            if (i.Imm == 1)
                            {
                                if (_r[1].Region != "mapref") return "lookup without a map at " + Where();
                                if (Load(_r[2], 0, 4, out var key) is { } e) return "lookup key: " + e + " at " + Where();
                                _r[0] = key.N == 0 && rng.Next(4) > 0 ? new Val(0, "map") : new Val(0);
                            }
                            else
                                _r[0] = new Val((ulong)rng.NextInt64());
                            for (int k = 1; k <= 5; k++) _r[k] = new Val(0, Init: false);
                            break;
                        }
                        if (op == BPF_JA) { pc += i.Offset + 1; continue; }
                        {
                            var a = Get(i.Dst);
                            var b = Src(i.Opcode) == BPF_X ? Get(i.Src) : new Val(cls == BPF_JMP32 ? (uint)i.Imm : (ulong)(long)i.Imm);
                            if (!a.Init || !b.Init) return "comparison with an uninitialised register at " + Where();
                            // A pointer compares as a non-zero address; a null map value is the number 0.
                            ulong x = a.Region is null ? a.N : 0x1000_0000 + (ulong)a.Off, y = b.Region is null ? b.N : 0x1000_0000 + (ulong)b.Off;
                            if (cls == BPF_JMP32) { x = (uint)x; y = (uint)y; }
                            bool taken = op switch
                            {
                                BPF_JEQ => x == y, BPF_JNE => x != y, BPF_JGT => x > y, BPF_JGE => x >= y, BPF_JLT => x < y, BPF_JLE => x <= y,
                                BPF_JSET => (x & y) != 0,
                                BPF_JSGT => cls == BPF_JMP32 ? (int)x > (int)y : (long)x > (long)y,
                                BPF_JSGE => cls == BPF_JMP32 ? (int)x >= (int)y : (long)x >= (long)y,
                                BPF_JSLT => cls == BPF_JMP32 ? (int)x < (int)y : (long)x < (long)y,
                                _ => cls == BPF_JMP32 ? (int)x <= (int)y : (long)x <= (long)y,
                            };
                            if (taken) { pc += i.Offset + 1; continue; }
                        }
                        break;
                }
                pc++;
            }
            return null; // long loops: not a safety question
        }

        private static ulong Eval(byte op, bool is64, ulong a, ulong b)
        {
            if (!is64) { a = (uint)a; b = (uint)b; }
            ulong r = op switch
            {
                BPF_ADD => a + b, BPF_SUB => a - b, BPF_MUL => a * b, BPF_DIV => b == 0 ? 0 : a / b, BPF_MOD => b == 0 ? a : a % b,
                BPF_OR => a | b, BPF_AND => a & b, BPF_XOR => a ^ b,
                BPF_LSH => a << (int)(b & (is64 ? 63u : 31u)), BPF_RSH => a >> (int)(b & (is64 ? 63u : 31u)),
                BPF_ARSH => is64 ? (ulong)((long)a >> (int)(b & 63)) : (uint)((int)a >> (int)(b & 31)),
                _ => 0,
            };
            return is64 ? r : (uint)r;
        }

        private string? Check(Val p, int off, int size, out (byte[] Bytes, bool[] Init, bool Writable) region, out long at)
        {
            region = default;
            at = 0;
            if (p.Region is null) return p.N == 0 ? "null dereference" : "dereference of a number";
            if (!_mem.TryGetValue(p.Region, out region)) return "dereference of a map reference";
            at = p.Off + off;
            if (at < 0 || at + size > region.Bytes.Length) return $"out-of-bounds access to {p.Region} at {at} size {size}";
            return null;
        }

        private string? Load(Val p, int off, int size, out Val v)
        {
            v = default;
            if (Check(p, off, size, out var region, out long at) is { } e) return e;
            for (long k = at; k < at + size; k++)
                if (!region.Init[k]) return $"read of uninitialised {p.Region} byte {k}";
            ulong n = 0;
            for (int k = size - 1; k >= 0; k--) n = (n << 8) | region.Bytes[at + k];
            // Pointers spilled to the stack come back as themselves; the checking model keeps them aside.
            v = _spills.TryGetValue((p.Region!, at), out var spilled) && size == 8 ? spilled : new Val(n);
            return null;
        }

        private readonly Dictionary<(string, long), Val> _spills = [];

        private string? Store(Val p, int off, int size, Val v)
        {
            if (Check(p, off, size, out var region, out long at) is { } e) return e;
            if (!region.Writable) return $"write into read-only {p.Region}";
            foreach (var key in _spills.Keys.Where(k => k.Item1 == p.Region && k.Item2 < at + size && k.Item2 + 8 > at).ToList())
                _spills.Remove(key);
            if (v.Region is not null)
            {
                if (p.Region != "stack" || size != 8) return "pointer stored outside an 8-byte stack slot";
                _spills[(p.Region, at)] = v;
            }
            for (int k = 0; k < size; k++)
            {
                region.Bytes[at + k] = (byte)(v.N >> (8 * k));
                region.Init[at + k] = true;
            }
            return null;
        }
    }
}
