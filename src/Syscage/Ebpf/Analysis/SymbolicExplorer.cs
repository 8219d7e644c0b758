using System.Buffers.Binary;
using Syscage.Ebpf.Isa;
using Syscage.Ebpf.Maps;
using static Syscage.Ebpf.Isa.EbpfOpcode;
using Syscage.Ebpf.Vm;
using Syscage.Ebpf.Verifier;

namespace Syscage.Ebpf.Analysis;

/// <summary>A field of <c>struct seccomp_data</c> a path condition can test.</summary>
internal enum DataField : byte
{
    Nr,
    Arch,
    InstructionPointer,
    Arg0,
    Arg1,
    Arg2,
    Arg3,
    Arg4,
    Arg5,
}

/// <summary>
/// One atomic condition on a raw field: <c>(F &amp; Mask) == Value</c> (or its negation), or
/// <c>Lo &lt;= F &lt;= Hi</c> (unsigned).
/// </summary>
/// <remarks>A class, not a struct: collections of it then share the framework's precompiled code for reference types
/// instead of being JIT-compiled at every start (measured: about 130 methods).</remarks>
internal sealed record Atom(DataField Field, bool IsRange, ulong Mask, ulong Value, bool Negated, ulong Lo, ulong Hi)
{
    public static Atom MaskedEq(DataField f, ulong mask, ulong value, bool negated = false) => new(f, false, mask, value & mask, negated, 0, 0);

    public static Atom Range(DataField f, ulong lo, ulong hi) => new(f, true, 0, 0, false, lo, hi);

    public bool Holds(ulong v) => IsRange ? v >= Lo && v <= Hi : ((v & Mask) == Value) != Negated;

    public override string ToString() => IsRange ? $"{Field} in [0x{Lo:x}, 0x{Hi:x}]" : $"{Field} & 0x{Mask:x} {(Negated ? "!=" : "==")} 0x{Value:x}";
}

/// <summary>One path through a program: the conditions that select it and its verdict (null: it needs state or helpers).</summary>
/// <remarks><see cref="Refinable"/>: the path is dynamic only because of a value computed from the syscall number
/// (an <c>nr + k</c> range, a switch lowered to a bit test): with the number fixed it may well be static.</remarks>
internal sealed record SymbolicPath(IReadOnlyList<Atom> Atoms, uint? Verdict, bool Refinable = false)
{
    /// <summary>Whether the path holds for a concrete field value (atoms on other fields ignored).</summary>
    public bool HoldsFor(DataField field, ulong value)
    {
        // By index: the hybrid compiler asks this for every path and every number (thousands of times at a start).
        for (int i = 0; i < Atoms.Count; i++)
            if (Atoms[i].Field == field && !Atoms[i].Holds(value))
                return false;
        return true;
    }
}

/// <summary>
/// What the explorer assumes about the call: concrete fields, the bits a field can have (32-bit fields, or the
/// arguments of a 32-bit ABI), and values excluded for a symbolic field.
/// </summary>
internal sealed class Scenario
{
    public ulong?[] Concrete { get; } = new ulong?[9];
    public ulong[] PossibleBits { get; } = [uint.MaxValue, uint.MaxValue, ulong.MaxValue, ulong.MaxValue, ulong.MaxValue, ulong.MaxValue, ulong.MaxValue, ulong.MaxValue, ulong.MaxValue];
    /// <summary>Initial facts (e.g. the x32 bit of nr), checked like path atoms.</summary>
    public List<Atom> Facts { get; } = [];
    /// <summary>Values a symbolic field is known not to take (nr: the numbers enumerated separately).</summary>
    public Dictionary<DataField, HashSet<ulong>> Excluded { get; } = [];

    public Scenario With(DataField f, ulong value)
    {
        var s = Clone();
        s.Concrete[(int)f] = value & s.PossibleBits[(int)f];
        return s;
    }

    public Scenario Clone()
    {
        var s = new Scenario();
        Concrete.CopyTo(s.Concrete, 0);
        PossibleBits.CopyTo(s.PossibleBits, 0);
        s.Facts.AddRange(Facts);
        foreach (var (k, v) in Excluded)
            s.Excluded[k] = v;
        return s;
    }
}

/// <summary>
/// Explores every path of a verified eBPF seccomp program with some <c>seccomp_data</c> fields symbolic. A path ends
/// with a constant verdict when it reads only the context, the stack and read-only globals (<c>.rodata</c> knobs),
/// and calls no helper; any helper call, map access with state, or computation on a field that path conditions
/// can't express (arithmetic on an argument, a test of the instruction pointer) ends it as dynamic. Paths are
/// disjoint and together cover the scenario, so they are exactly the program's decision on it.
/// </summary>
internal sealed class SymbolicExplorer
{
    private readonly EbpfInstruction[] _code;
    private readonly IReadOnlyList<MapDefinition> _maps;
    private readonly int _maxPaths;
    private readonly int _maxSteps;

    public SymbolicExplorer(EbpfProgram program, int maxPaths = 4096, int maxSteps = 400_000)
    {
        _code = [.. program.Instructions];
        _maps = program.Maps;
        _maxPaths = maxPaths;
        _maxSteps = maxSteps;
    }

    /// <summary>Instructions explored by every <see cref="Explore"/> so far (callers bound their total work with it).</summary>
    public long TotalSteps { get; private set; }

    /// <summary>Why the last <see cref="Explore"/> gave up (null when it did not).</summary>
    public string? GaveUp { get; private set; }

    /// <summary>The paths under <paramref name="scenario"/>, or null when there are too many (see <see cref="GaveUp"/>).</summary>
    public List<SymbolicPath>? Explore(Scenario scenario)
    {
        GaveUp = null;
        var results = new List<SymbolicPath>();
        var work = new Stack<State>();
        var start = new State();
        start.Regs[1] = Val.Ctx(0);
        start.Regs[10] = Val.Stack(0, 0);
        start.Atoms.AddRange(scenario.Facts);
        work.Push(start);
        int steps = 0;
        while (work.Count > 0)
        {
            var s = work.Pop();
            while (true)
            {
                TotalSteps++;
                if (++steps > _maxSteps)
                {
                    GaveUp = $"more than {_maxSteps} instructions explored";
                    return null;
                }
                var outcome = Step(s, scenario, work);
                if (outcome is null)
                    continue;
                if (outcome == Outcome.Dead)
                    break;
                results.Add(new SymbolicPath([.. s.Atoms], outcome == Outcome.Dynamic ? null : (uint)s.Regs[0].C, outcome == Outcome.Dynamic && s.Refinable));
                if (results.Count + work.Count > _maxPaths)
                {
                    GaveUp = $"more than {_maxPaths} paths";
                    return null;
                }
                break;
            }
            if (results.Count + work.Count > _maxPaths)
            {
                GaveUp = $"more than {_maxPaths} paths";
                return null;
            }
        }
        return results;
    }

    private enum Outcome { Static, Dynamic, Dead }

    /// <summary>Runs one instruction; returns null to go on, or how the path ended.</summary>
    private Outcome? Step(State s, Scenario sc, Stack<State> work)
    {
        if (s.Pc < 0 || s.Pc >= _code.Length)
            return Outcome.Dynamic;
        var insn = _code[s.Pc];
        byte cls = Class(insn.Opcode);
        switch (cls)
        {
            case BPF_ALU:
            case BPF_ALU64:
                if (!Alu(s, insn, cls == BPF_ALU64))
                    return Outcome.Dynamic;
                s.Pc++;
                return null;
            case BPF_LD:
                if (insn.Opcode != (BPF_LD | BPF_DW | BPF_IMM) || s.Pc + 1 >= _code.Length)
                    return Outcome.Dynamic;
                {
                    var next = _code[s.Pc + 1];
                    ulong imm64 = (uint)insn.Imm | ((ulong)(uint)next.Imm << 32);
                    s.Regs[insn.Dst] = insn.Src switch
                    {
                        0 => Val.Const(imm64),
                        BPF_PSEUDO_MAP_VALUE => Val.MapValue(insn.Imm, (uint)next.Imm),
                        _ => Val.Opaque, // a map reference: only helpers take it, and a helper call ends the path as dynamic
                    };
                    s.Pc += 2;
                }
                return null;
            case BPF_LDX:
                {
                    if (Mode(insn.Opcode) is not (BPF_MEM or BPF_MEMSX))
                        return Outcome.Dynamic;
                    var v = Load(s, sc, s.Regs[insn.Src], insn.Offset, SizeInBytes(insn.Opcode), Mode(insn.Opcode) == BPF_MEMSX);
                    if (v is null)
                        return Outcome.Dynamic;
                    s.Regs[insn.Dst] = v.Value;
                    s.Pc++;
                    return null;
                }
            case BPF_ST:
            case BPF_STX:
                {
                    if (Mode(insn.Opcode) != BPF_MEM)
                        return Outcome.Dynamic; // atomics: on the stack they would be harmless, but clang emits them for maps and globals
                    var addr = s.Regs[insn.Dst];
                    if (addr.Kind != Kind.Stack)
                        return Outcome.Dynamic; // a store to a map value is state
                    int size = SizeInBytes(insn.Opcode);
                    var value = cls == BPF_ST ? Val.Const((ulong)(long)insn.Imm) : s.Regs[insn.Src];
                    if (size < 8 && value.Kind == Kind.Const)
                        value = Val.Const(value.C & (size == 4 ? uint.MaxValue : size == 2 ? 0xffffUL : 0xffUL));
                    else if (size < 8)
                        value = Val.Opaque;
                    s.Store(addr.Frame, (long)addr.C + insn.Offset, size, value);
                    s.Pc++;
                    return null;
                }
            case BPF_JMP:
            case BPF_JMP32:
                return Jump(s, sc, insn, cls == BPF_JMP32, work);
            default:
                return Outcome.Dynamic;
        }
    }

    private Outcome? Jump(State s, Scenario sc, EbpfInstruction insn, bool is32, Stack<State> work)
    {
        byte op = Op(insn.Opcode);
        if (op == BPF_JA)
        {
            s.Pc += 1 + (is32 ? insn.Imm : insn.Offset);
            return null;
        }
        if (op == BPF_EXIT)
        {
            if (s.Frames.Count > 0)
            {
                var f = s.Frames[^1];
                s.Frames.RemoveAt(s.Frames.Count - 1);
                for (int r = 6; r <= 9; r++)
                    s.Regs[r] = f.Saved[r - 6];
                s.Regs[10] = Val.Stack(s.Frames.Count, 0);
                s.DropFrame(s.Frames.Count + 1);
                s.Pc = f.ReturnPc;
                return null;
            }
            if (s.Regs[0].Kind == Kind.Const)
                return Outcome.Static;
            s.Refinable = s.Regs[0].FromNr;
            return Outcome.Dynamic;
        }
        if (op == BPF_CALL)
        {
            if (is32 || insn.Src != BPF_PSEUDO_CALL)
                return Outcome.Dynamic; // a helper (or kfunc): needs the supervisor
            if (s.Frames.Count >= 8)
                return Outcome.Dynamic;
            s.Frames.Add(new Frame(s.Pc + 1, [s.Regs[6], s.Regs[7], s.Regs[8], s.Regs[9]]));
            s.Regs[10] = Val.Stack(s.Frames.Count, 0);
            for (int r = 6; r <= 9; r++)
                s.Regs[r] = Val.Opaque;
            s.Pc += 1 + insn.Imm;
            return null;
        }
        var a = s.Regs[insn.Dst];
        var b = Src(insn.Opcode) == BPF_X ? s.Regs[insn.Src] : Val.Const((ulong)(long)insn.Imm);
        int target = s.Pc + 1 + insn.Offset;
        if (a.Kind == Kind.Const && b.Kind == Kind.Const)
        {
            bool taken = is32 ? EbpfSemantics.Condition32(op, a.C, b.C) : EbpfSemantics.Condition64(op, a.C, b.C);
            s.Pc = taken ? target : s.Pc + 1;
            return null;
        }
        if (a.Kind == Kind.Const && b.Kind == Kind.Sym)
        {
            (a, b) = (b, a);
            op = Swap(op);
        }
        if (a.IsPointer && b.Kind == Kind.Const && b.C == 0 && op is BPF_JEQ or BPF_JNE)
        {
            // Stack, context and .rodata pointers are never null.
            s.Pc = op == BPF_JNE ? target : s.Pc + 1;
            return null;
        }
        if (a.Kind != Kind.Sym || b.Kind != Kind.Const)
        {
            s.Refinable = a.FromNr && b.FromNr;
            return Outcome.Dynamic;
        }
        if (a.Field == DataField.InstructionPointer)
            return Outcome.Dynamic; // the IR has no condition on the instruction pointer
        var sym = a;
        if (is32 && sym.AddWidth == 0)
            sym = sym.AndConst(uint.MaxValue);
        if (sym.Kind == Kind.Const)
        {
            bool taken = is32 ? EbpfSemantics.Condition32(op, sym.C, b.C) : EbpfSemantics.Condition64(op, sym.C, b.C);
            s.Pc = taken ? target : s.Pc + 1;
            return null;
        }
        var branches = Split(sc, sym, op, is32 ? (uint)b.C : b.C, is32 ? 32 : 64);
        if (branches is null)
        {
            s.Refinable = sym.Field == DataField.Nr;
            return Outcome.Dynamic;
        }
        // Each alternative is a conjunction of atoms; keep the feasible ones.
        var alive = new List<(State State, int Pc)>();
        foreach (var (atoms, taken) in branches)
        {
            var t = s.Clone();
            bool ok = true;
            foreach (var atom in atoms)
                if (!Constraints.Add(t.Atoms, atom, sc))
                {
                    ok = false;
                    break;
                }
            if (ok)
                alive.Add((t, taken ? target : s.Pc + 1));
        }
        if (alive.Count == 0)
            return Outcome.Dead;
        for (int i = 1; i < alive.Count; i++)
        {
            alive[i].State.Pc = alive[i].Pc;
            work.Push(alive[i].State);
        }
        var (first, pc) = alive[0];
        s.CopyFrom(first);
        s.Pc = pc;
        return null;
    }

    private static byte Swap(byte op) => op switch
    {
        BPF_JGT => BPF_JLT,
        BPF_JLT => BPF_JGT,
        BPF_JGE => BPF_JLE,
        BPF_JLE => BPF_JGE,
        BPF_JSGT => BPF_JSLT,
        BPF_JSLT => BPF_JSGT,
        BPF_JSGE => BPF_JSLE,
        BPF_JSLE => BPF_JSGE,
        _ => op,
    };

    /// <summary>
    /// The alternatives of a comparison of v = (F &amp; M) &gt;&gt; S with a constant, each a conjunction of atoms on F
    /// with whether the branch is taken; null when they can't be expressed.
    /// </summary>
    private static List<(Atom[] Atoms, bool Taken)>? Split(Scenario sc, Val v, byte op, ulong c, int width)
    {
        var f = v.Field;
        ulong possible = sc.PossibleBits[(int)f];
        ulong m = v.Mask & possible;
        int sh = v.Shift;
        // Field-space image of a value-space constant: F-bits = c << sh (or c >> -sh), exact only when no bit is lost.
        ulong ToField(ulong x) => sh >= 0 ? x << sh : x >> -sh;
        ulong ToValue(ulong x) => sh >= 0 ? x >> sh : x << -sh;
        bool monotone = sh >= 0 && sh < 64 && m == (possible & (ulong.MaxValue << sh));
        if (v.AddWidth != 0)
            return SplitSum(v, op, c, width, f, possible, m, sh, monotone, ToField, ToValue);
        switch (op)
        {
            case BPF_JEQ:
            case BPF_JNE:
                {
                    ulong shifted = ToField(c);
                    bool representable = ToValue(shifted) == c && (shifted & ~m) == 0;
                    if (!representable)
                        return [([], op == BPF_JNE)];
                    var eq = Atom.MaskedEq(f, m, shifted);
                    var ne = Atom.MaskedEq(f, m, shifted, negated: true);
                    return [([eq], op == BPF_JEQ), ([ne], op == BPF_JNE)];
                }
            case BPF_JSET:
                {
                    ulong mm = m & ToField(c);
                    if (mm == 0)
                        return [([], false)];
                    return [([Atom.MaskedEq(f, mm, 0, negated: true)], true), ([Atom.MaskedEq(f, mm, 0)], false)];
                }
        }
        // Ordering: only when v is F's top bits (F >> S), so intervals of v are intervals of F.
        if (!monotone)
            return null;
        ulong vmax = possible >> sh;
        ulong wmax = width == 32 ? uint.MaxValue : ulong.MaxValue;
        if (vmax > wmax)
            return null;
        var takenSet = Intervals(op, c, width);
        var result = new List<(Atom[], bool)>();
        foreach (var (set, taken) in new[] { (takenSet, true), (Complement(takenSet, wmax), false) })
            foreach (var (lo, hi) in set)
                AddRange(result, f, lo, hi, vmax, sh, possible, taken);
        return result;
    }

    /// <summary>
    /// v in [lo, hi] as a range of the field F, where v = F &gt;&gt; <paramref name="sh"/> and v &lt;= <paramref name="vmax"/>:
    /// F in [lo &lt;&lt; sh, ((hi + 1) &lt;&lt; sh) - 1] (to F's top when hi reaches vmax). Nothing when lo is past vmax.
    /// </summary>
    private static void AddRange(List<(Atom[], bool)> result, DataField f, ulong lo, ulong hi, ulong vmax, int sh, ulong possible, bool taken)
    {
        if (lo > vmax)
            return;
        ulong h = Math.Min(hi, vmax);
        ulong flo = lo << sh;
        ulong fhi = h == vmax ? possible : ((h + 1) << sh) - 1;
        result.Add(([Atom.Range(f, flo, fhi)], taken));
    }

    /// <summary>A comparison of (v + A) mod 2^W with a constant, as intervals of v shifted back by A.</summary>
    private static List<(Atom[] Atoms, bool Taken)>? SplitSum(Val v, byte op, ulong c, int width, DataField f, ulong possible, ulong m, int sh, bool monotone,
        Func<ulong, ulong> toField, Func<ulong, ulong> toValue)
    {
        if (op == BPF_JSET)
            return null;
        int w = Math.Min(width, v.AddWidth);
        ulong wmax = w == 32 ? uint.MaxValue : ulong.MaxValue;
        ulong vmax = monotone ? possible >> sh : sh >= 0 && sh < 64 ? m >> sh : toValue(m);
        if (vmax > wmax)
            return null; // a 64-bit value compared in 32 bits (or wrapped at 32): not an interval of the field
        ulong a = v.C & wmax;
        if (!monotone)
        {
            if (op is not (BPF_JEQ or BPF_JNE))
                return null;
            if (c > wmax)
                return [([], op == BPF_JNE)];
            ulong p = (c - a) & wmax; // v + A == c  <=>  v == c - A (mod 2^w)
            ulong pf = toField(p);
            if (toValue(pf) != p || (pf & ~m) != 0)
                return [([], op == BPF_JNE)];
            return [([Atom.MaskedEq(f, m, pf)], op == BPF_JEQ), ([Atom.MaskedEq(f, m, pf, negated: true)], op == BPF_JNE)];
        }
        var taken = op switch
        {
            BPF_JEQ => [(c, c)],
            BPF_JNE => Complement([(c, c)], width == 32 ? uint.MaxValue : ulong.MaxValue),
            _ => Intervals(op, c, width),
        };
        // The sum lives in [0, 2^w): clip the compare-width intervals to it.
        taken = [.. taken.Where(iv => iv.Lo <= wmax).Select(iv => (iv.Lo, Math.Min(iv.Hi, wmax)))];
        var notTaken = Complement(taken, wmax);
        var result = new List<(Atom[], bool)>();
        foreach (var (set, isTaken) in new[] { (taken, true), (notTaken, false) })
            foreach (var (lo, hi) in set)
            {
                // v = value - A (mod 2^w): one interval, or two when it wraps.
                ulong blo = (lo - a) & wmax, bhi = (hi - a) & wmax;
                var pieces = blo <= bhi ? new[] { (blo, bhi) } : [(blo, wmax), (0UL, bhi)];
                foreach (var (plo, phi) in pieces)
                    AddRange(result, f, plo, phi, vmax, sh, possible, isTaken);
            }
        return result;
    }

    /// <summary>The values v in [0, 2^width) for which <c>v op c</c> holds, as sorted disjoint intervals.</summary>
    private static List<(ulong Lo, ulong Hi)> Intervals(byte op, ulong c, int width)
    {
        ulong max = width == 32 ? uint.MaxValue : ulong.MaxValue;
        ulong signBit = width == 32 ? 0x8000_0000UL : 0x8000_0000_0000_0000UL;
        c &= max;
        var r = new List<(ulong, ulong)>();
        switch (op)
        {
            case BPF_JGT: if (c < max) r.Add((c + 1, max)); break;
            case BPF_JGE: r.Add((c, max)); break;
            case BPF_JLT: if (c > 0) r.Add((0, c - 1)); break;
            case BPF_JLE: r.Add((0, c)); break;
            default:
                {
                    // Signed: map to the order-preserving key k = v ^ signBit, take the unsigned interval of k, map back.
                    ulong k = c ^ signBit;
                    ulong lo, hi;
                    switch (op)
                    {
                        case BPF_JSGT: if (k == max) return r; lo = k + 1; hi = max; break;
                        case BPF_JSGE: lo = k; hi = max; break;
                        case BPF_JSLT: if (k == 0) return r; lo = 0; hi = k - 1; break;
                        case BPF_JSLE: lo = 0; hi = k; break;
                        default: return r;
                    }
                    // Keys below signBit are negative values (v = k ^ signBit >= signBit); keys from signBit up are v = k - signBit.
                    if (lo < signBit)
                        r.Add((lo ^ signBit, Math.Min(hi, signBit - 1) ^ signBit));
                    if (hi >= signBit)
                        r.Add((Math.Max(lo, signBit) ^ signBit, hi ^ signBit));
                    r.Sort();
                    break;
                }
        }
        return r;
    }

    private static List<(ulong Lo, ulong Hi)> Complement(List<(ulong Lo, ulong Hi)> set, ulong max)
    {
        var r = new List<(ulong, ulong)>();
        ulong next = 0;
        bool done = false;
        foreach (var (lo, hi) in set)
        {
            if (lo > next)
                r.Add((next, lo - 1));
            if (hi == max)
            {
                done = true;
                break;
            }
            next = hi + 1;
        }
        if (!done)
            r.Add((next, max));
        return r;
    }

    private Val? Load(State s, Scenario sc, Val addr, int offset, int size, bool signExtend)
    {
        switch (addr.Kind)
        {
            case Kind.Ctx:
                {
                    long at = (long)addr.C + offset;
                    if (at < 0 || at + size > 64)
                        return null;
                    (DataField f, int start, int width) = at switch
                    {
                        < 4 => (DataField.Nr, 0, 4),
                        < 8 => (DataField.Arch, 4, 4),
                        < 16 => (DataField.InstructionPointer, 8, 8),
                        _ => ((DataField)((int)DataField.Arg0 + (int)((at - 16) / 8)), (int)(16 + (at - 16) / 8 * 8), 8),
                    };
                    int b = (int)(at - start);
                    if (b + size > width)
                        return null;
                    ulong bytesMask = size == 8 ? ulong.MaxValue : (1UL << (8 * size)) - 1;
                    Val v = Val.Sym(f, bytesMask << (8 * b), 8 * b, sc);
                    if (sc.Concrete[(int)f] is ulong known)
                        v = Val.Const((known >> (8 * b)) & bytesMask);
                    if (signExtend)
                        return v.Kind == Kind.Const ? Val.Const(EbpfSemantics.SignExtend(v.C, 8 * size)) : Val.Opaque;
                    return v;
                }
            case Kind.Stack:
                {
                    var v = s.LoadStack(addr.Frame, (long)addr.C + offset, size);
                    if (signExtend)
                        return v.Kind == Kind.Const ? Val.Const(EbpfSemantics.SignExtend(v.C, 8 * size)) : Val.Opaque;
                    return v;
                }
            case Kind.MapValue:
                {
                    if (addr.Map < 0 || addr.Map >= _maps.Count)
                        return null;
                    var map = _maps[addr.Map];
                    if (!map.ReadOnlyForProgram || map.InitialValue is null)
                        return null; // a writable global or map value is state
                    long at = (long)addr.C + offset;
                    if (at < 0 || at + size > map.InitialValue.Length)
                        return null;
                    Span<byte> buf = stackalloc byte[8];
                    buf.Clear();
                    map.InitialValue.AsSpan((int)at, size).CopyTo(buf);
                    ulong value = BinaryPrimitives.ReadUInt64LittleEndian(buf);
                    return Val.Const(signExtend ? EbpfSemantics.SignExtend(value, 8 * size) : value);
                }
            default:
                return null;
        }
    }

    private static bool Alu(State s, EbpfInstruction insn, bool is64)
    {
        byte op = Op(insn.Opcode);
        ref Val dst = ref s.Regs[insn.Dst];
        if (op == BPF_END)
        {
            if (dst.Kind != Kind.Const)
            {
                dst = Val.OpaqueFrom(dst, dst);
                return true;
            }
            bool toBe = Src(insn.Opcode) == BPF_X;
            dst = Val.Const(is64 ? EbpfSemantics.Endian(dst.C, insn.Imm, true) : EbpfSemantics.Endian(dst.C, insn.Imm, toBe));
            return true;
        }
        Val src = Src(insn.Opcode) == BPF_X ? s.Regs[insn.Src] : Val.Const(is64 ? (ulong)(long)insn.Imm : (uint)insn.Imm);
        if (op == BPF_MOV)
        {
            if (insn.Offset != 0)
            {
                // MOVSX
                dst = src.Kind == Kind.Const ? Val.Const(is64 ? EbpfSemantics.SignExtend(src.C, insn.Offset) : (uint)EbpfSemantics.SignExtend(src.C, insn.Offset)) : Val.OpaqueFrom(src, src);
                return true;
            }
            dst = is64 ? src : src.Kind == Kind.Const ? Val.Const((uint)src.C) : src.Kind == Kind.Sym ? src.AndConst(uint.MaxValue) : Val.OpaqueFrom(src, src);
            if (dst.Kind == Kind.Opaque && src.Kind == Kind.Sym)
                dst = Val.OpaqueFrom(src, src);
            // (AndConst keeps a 32-bit sum as it is and makes a 64-bit one opaque.)
            return true;
        }
        if (dst.Kind == Kind.Const && src.Kind == Kind.Const)
        {
            dst = Val.Const(Compute(op, is64, dst.C, src.C, insn.Offset));
            return true;
        }
        if (src.Kind == Kind.Const)
        {
            ulong k = src.C;
            if (dst.Kind == Kind.Sym)
            {
                var v = is64 ? dst : dst.AndConst(uint.MaxValue);
                if (v.Kind == Kind.Const)
                {
                    dst = Val.Const(Compute(op, is64, v.C, k, insn.Offset));
                    return true;
                }
                if (v.AddWidth != 0 && op is not (BPF_ADD or BPF_SUB or BPF_AND))
                {
                    dst = Val.OpaqueFrom(v, src);
                    return true;
                }
                var before = v;
                dst = op switch
                {
                    BPF_ADD when k != 0 => v.AddConst(is64 ? k : (uint)k, is64 ? 64 : 32),
                    BPF_SUB when k != 0 => v.AddConst(is64 ? (ulong)-(long)k : (uint)-(int)(uint)k, is64 ? 64 : 32),
                    BPF_AND => v.AndConst(is64 ? k : (uint)k),
                    BPF_RSH => v.Rsh((int)(k & (is64 ? 63UL : 31UL))),
                    BPF_LSH => is64 ? v.Lsh((int)(k & 63)) : v.Lsh((int)(k & 31)).AndConst(uint.MaxValue),
                    BPF_OR or BPF_XOR or BPF_ADD or BPF_SUB when k == 0 => v,
                    _ => Val.Opaque,
                };
                if (dst.Kind == Kind.Opaque)
                    dst = Val.OpaqueFrom(before, src);
                return true;
            }
            if (dst.IsPointer && is64 && op is BPF_ADD or BPF_SUB)
            {
                dst = dst.Offset(op == BPF_ADD ? (long)k : -(long)k);
                return true;
            }
        }
        dst = Val.OpaqueFrom(dst, src);
        return true;
    }

    private static ulong Compute(byte op, bool is64, ulong a, ulong b, short off)
    {
        if (!is64)
        {
            a = (uint)a;
            b = (uint)b;
        }
        ulong r = op switch
        {
            BPF_ADD => a + b,
            BPF_SUB => a - b,
            BPF_MUL => a * b,
            BPF_DIV => is64 ? EbpfSemantics.Quotient64(a, b, off) : EbpfSemantics.Quotient32(a, b, off),
            BPF_MOD => is64 ? EbpfSemantics.Remainder64(a, b, off) : EbpfSemantics.Remainder32(a, b, off),
            BPF_OR => a | b,
            BPF_AND => a & b,
            BPF_XOR => a ^ b,
            BPF_LSH => is64 ? a << (int)(b & 63) : (ulong)((uint)a << (int)(b & 31)),
            BPF_RSH => is64 ? a >> (int)(b & 63) : (ulong)((uint)a >> (int)(b & 31)),
            BPF_ARSH => is64 ? (ulong)((long)a >> (int)(b & 63)) : (uint)((int)a >> (int)(b & 31)),
            BPF_NEG => (ulong)-(long)a,
            _ => 0,
        };
        return is64 ? r : (uint)r;
    }

    internal enum Kind : byte { Opaque, Const, Sym, Ctx, Stack, MapValue }

    /// <summary>An abstract value: a constant, a pointer, v = (F &amp; Mask) &gt;&gt; Shift, or unknown.</summary>
    /// <remarks>
    /// For <see cref="Kind.Sym"/> with <see cref="AddWidth"/> 32 or 64, the value is (v + C) mod 2^AddWidth: clang turns
    /// <c>a &lt;= x &amp;&amp; x &lt;= b</c> into <c>x - a &lt;= b - a</c>.
    /// </remarks>
    internal readonly record struct Val(Kind Kind, ulong C, DataField Field, ulong Mask, int Shift, int Map, int Frame, int AddWidth = 0)
    {
        public static Val Opaque => default;
        public static Val Const(ulong c) => new(Kind.Const, c, 0, 0, 0, 0, 0);
        public static Val Ctx(ulong off) => new(Kind.Ctx, off, 0, 0, 0, 0, 0);
        public static Val Stack(int frame, ulong off) => new(Kind.Stack, off, 0, 0, 0, 0, frame);
        public static Val MapValue(int map, ulong off) => new(Kind.MapValue, off, 0, 0, 0, map, 0);

        public static Val Sym(DataField f, ulong mask, int shift, Scenario sc)
        {
            mask &= sc.PossibleBits[(int)f];
            return mask == 0 ? Const(0) : new(Kind.Sym, 0, f, mask, shift, 0, 0);
        }

        public bool IsPointer => Kind is Kind.Ctx or Kind.Stack or Kind.MapValue;

        /// <summary>Computed from the syscall number and constants only.</summary>
        public bool FromNr => Kind == Kind.Const || (Kind is Kind.Sym or Kind.Opaque && Field == DataField.Nr && (Kind == Kind.Sym || Mask == 1));

        /// <summary>An unknown value; marked as coming from the number when both operands did.</summary>
        public static Val OpaqueFrom(Val a, Val b) => a.FromNr && b.FromNr ? new(Kind.Opaque, 0, DataField.Nr, 1, 0, 0, 0) : Opaque;

        public Val Offset(long delta) => this with { C = C + (ulong)delta };

        /// <summary>v &amp; k: keep the field bits that land on k's set bits.</summary>
        public Val AndConst(ulong k)
        {
            if (Kind != Kind.Sym)
                return Kind == Kind.Const ? Const(C & k) : Opaque;
            if (AddWidth != 0)
                return AddWidth == 32 && (uint)k == uint.MaxValue ? this : Opaque;
            ulong m = Mask & (Shift >= 0 ? (Shift < 64 ? k << Shift : 0) : k >> -Shift);
            return m == 0 ? Const(0) : this with { Mask = m };
        }

        /// <summary>v &gt;&gt; k.</summary>
        public Val Rsh(int k) => Kind == Kind.Sym && AddWidth == 0 ? Shifted(Shift + k) : Opaque;

        /// <summary>v &lt;&lt; k (bits pushed past bit 63 are lost).</summary>
        public Val Lsh(int k) => Kind == Kind.Sym && AddWidth == 0 ? Shifted(Shift - k) : Opaque;

        /// <summary>(v + k) mod 2^width.</summary>
        public Val AddConst(ulong k, int width)
        {
            if (Kind != Kind.Sym || (AddWidth != 0 && AddWidth != width))
                return Opaque;
            ulong sum = C + k;
            return this with { C = width == 32 ? (uint)sum : sum, AddWidth = width };
        }

        /// <summary>
        /// The value with field bit b at position b - <paramref name="shift"/>: only field bits that land in 0..63 stay.
        /// </summary>
        private Val Shifted(int shift)
        {
            if (shift >= 64 || shift <= -64)
                return Const(0);
            ulong keep = shift >= 0 ? ulong.MaxValue << shift : ulong.MaxValue >> -shift;
            ulong m = Mask & keep;
            return m == 0 ? Const(0) : this with { Mask = m, Shift = shift };
        }
    }

    private sealed record Frame(int ReturnPc, Val[] Saved);

    /// <summary>A stack slot written by the path (a class: see <see cref="Atom"/>).</summary>
    private sealed record Slot(int Frame, long Off, int Size, Val Value);

    private sealed class State
    {
        public Val[] Regs = new Val[11];
        public List<Slot> Slots = [];
        public List<Frame> Frames = [];
        public List<Atom> Atoms = [];
        public int Pc;
        public bool Refinable;

        public State Clone()
        {
            var c = new State { Pc = Pc };
            Regs.CopyTo(c.Regs, 0);
            c.Slots = [.. Slots];
            c.Frames = [.. Frames];
            c.Atoms = [.. Atoms];
            return c;
        }

        public void CopyFrom(State o)
        {
            Regs = o.Regs;
            Slots = o.Slots;
            Frames = o.Frames;
            Atoms = o.Atoms;
        }

        public void Store(int frame, long off, int size, Val v)
        {
            Slots.RemoveAll(x => x.Frame == frame && x.Off < off + size && off < x.Off + x.Size);
            Slots.Add(new Slot(frame, off, size, v));
        }

        public Val LoadStack(int frame, long off, int size)
        {
            foreach (var x in Slots)
            {
                if (x.Frame != frame || !(x.Off <= off && off + size <= x.Off + x.Size))
                    continue;
                if (x.Off == off && x.Size == size)
                    return x.Value;
                if (x.Value.Kind == Kind.Const)
                {
                    int shift = (int)(off - x.Off) * 8;
                    ulong mask = size == 8 ? ulong.MaxValue : (1UL << (8 * size)) - 1;
                    return Val.Const((x.Value.C >> shift) & mask);
                }
                return Val.Opaque;
            }
            return Val.Opaque;
        }

        public void DropFrame(int frame) => Slots.RemoveAll(x => x.Frame >= frame);
    }
}

/// <summary>A small decision procedure for conjunctions of <see cref="Atom"/>s: sound (never drops a feasible path), not complete.</summary>
internal static class Constraints
{
    /// <summary>Adds <paramref name="atom"/> to <paramref name="atoms"/>; false when the conjunction is certainly unsatisfiable.</summary>
    public static bool Add(List<Atom> atoms, Atom atom, Scenario sc)
    {
        var all = atoms.Where(a => a.Field == atom.Field).Append(atom).ToList();
        if (!Satisfiable(all, sc.PossibleBits[(int)atom.Field], sc.Excluded.GetValueOrDefault(atom.Field)))
            return false;
        // Drop atoms the new one makes redundant? Keep it simple: identical atoms are not repeated.
        if (!atoms.Contains(atom))
            atoms.Add(atom);
        return true;
    }

    /// <summary>Whether some value of one field satisfies every atom (false only when certain).</summary>
    public static bool Satisfiable(IReadOnlyList<Atom> atoms, ulong possible, HashSet<ulong>? excluded)
    {
        ulong lo = 0, hi = possible, km = ~possible, kv = 0;
        foreach (var a in atoms)
        {
            if (a.IsRange)
            {
                lo = Math.Max(lo, a.Lo);
                hi = Math.Min(hi, a.Hi);
            }
            else if (!a.Negated)
            {
                if (((a.Mask & km) & (a.Value ^ kv)) != 0)
                    return false;
                km |= a.Mask;
                kv = (kv & ~a.Mask) | a.Value;
            }
        }
        if (lo > hi)
            return false;
        if ((kv & ~possible) != 0)
            return false;
        // The smallest and largest values the known bits allow must meet the range.
        ulong minV = kv, maxV = kv | ~km;
        if (maxV < lo || minV > hi)
            return false;
        if (km == ulong.MaxValue)
        {
            // Fully known: check it directly.
            if (kv < lo || kv > hi || (excluded?.Contains(kv) ?? false))
                return false;
            foreach (var a in atoms)
                if (!a.Holds(kv))
                    return false;
            return true;
        }
        if (lo == hi)
        {
            if ((lo & km) != kv || (excluded?.Contains(lo) ?? false))
                return false;
            foreach (var a in atoms)
                if (!a.Holds(lo))
                    return false;
            return true;
        }
        // A negated atom whose mask is within the known bits is decided.
        foreach (var a in atoms)
            if (!a.IsRange && a.Negated && (a.Mask & ~km) == 0 && (kv & a.Mask) == a.Value)
                return false;
        // A range small enough to enumerate: look for a witness.
        if (hi - lo < 4096)
        {
            for (ulong v = lo; ; v++)
            {
                if ((v & km) == kv && !(excluded?.Contains(v) ?? false) && atoms.All(a => a.Holds(v)))
                    return true;
                if (v == hi)
                    return false;
            }
        }
        return true;
    }
}
