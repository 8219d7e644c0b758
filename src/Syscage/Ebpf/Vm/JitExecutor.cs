using System.Buffers.Binary;
using System.Globalization;
using System.Reflection;
using System.Reflection.Emit;
using System.Runtime.CompilerServices;
using Syscage.Ebpf.Helpers;
using Syscage.Ebpf.Isa;
using Syscage.Ebpf.Maps;
using static Syscage.Ebpf.Isa.EbpfOpcode;

namespace Syscage.Ebpf.Vm;

/// <summary>
/// The compiled form, a delegate closed over the maps (its first IL argument), so calls skip the static-delegate
/// shuffle thunk: r1 = context, r2 = length, r10 = stack top, the call save area, the helper context.
/// </summary>
internal delegate ulong JitEntry(nint context, ulong length, nint stackTop, nint saves, HelperContext helpers);

/// <summary>
/// Runs a program compiled to IL by <see cref="EbpfJitCompiler"/>; RyuJIT turns the <see cref="DynamicMethod"/> into
/// native code on first use, with the eleven registers as locals it can keep in machine registers.
/// </summary>
internal sealed unsafe class JitExecutor : ExecutorBase
{
    private readonly JitEntry _entry;

    [System.Diagnostics.CodeAnalysis.RequiresDynamicCode("The eBPF JIT emits IL (DynamicMethod); EbpfVm.Create falls back to the interpreter without dynamic code.")]
    public JitExecutor(BoundProgram bound) : base(bound) => _entry = EbpfJitCompiler.Compile(bound);

    public override EbpfEngine Engine => EbpfEngine.Jit;

    [SkipLocalsInit]
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    protected override ulong Execute(byte* context, ulong length, byte* stackTop, HelperContext helpers)
    {
        if (!Bound.HasCalls)
            return _entry((nint)context, length, (nint)stackTop, 0, helpers);
        ulong* saves = stackalloc ulong[EbpfVm.MaxCallFrames * EbpfJitCompiler.SaveWords];
        return _entry((nint)context, length, (nint)stackTop, (nint)saves, helpers);
    }
}

/// <summary>
/// Translates eBPF to IL, one instruction at a time: registers become <c>ulong</c> locals, jumps become branches to a
/// label per slot, memory operands become <c>ldind</c>/<c>stind</c> on the register's address (no bounds checks — the
/// verifier proved them), multi-step operations call the same <see cref="EbpfSemantics"/> methods the interpreter uses.
/// bpf-to-bpf calls stay inside the one method: a call saves r6-r9, r10 and a return-site number in the save area and
/// branches to the callee; <c>exit</c> in a callee restores them and dispatches on the number with an IL <c>switch</c>.
/// </summary>
internal static class EbpfJitCompiler
{
    public const int SaveWords = 6;

    private static readonly MethodInfo Invoke = typeof(HelperImplementations).GetMethod(nameof(HelperImplementations.Invoke), BindingFlags.Static | BindingFlags.NonPublic)!;

    private static MethodInfo Semantics(string name) => typeof(EbpfSemantics).GetMethod(name, BindingFlags.Static | BindingFlags.Public)!;

    private static MethodInfo Atomics(string name) => typeof(EbpfAtomics).GetMethods(BindingFlags.Static | BindingFlags.Public)
        .Single(m => m.Name == name && m.GetParameters()[0].ParameterType.IsPointer);

    private static MethodInfo Reverse(Type t) => typeof(BinaryPrimitives).GetMethod(nameof(BinaryPrimitives.ReverseEndianness), [t])!;

    private static readonly MethodInfo ThrowDepth = typeof(EbpfJitCompiler).GetMethod(nameof(CallTooDeep), BindingFlags.Static | BindingFlags.NonPublic)!;
    private static readonly MethodInfo ThrowBad = typeof(EbpfJitCompiler).GetMethod(nameof(Unsupported), BindingFlags.Static | BindingFlags.NonPublic)!;

    private static void CallTooDeep(int pc) =>
        throw new EbpfRuntimeException(string.Create(CultureInfo.InvariantCulture, $"bpf-to-bpf calls nested deeper than {EbpfVm.MaxCallFrames} frames at pc {pc}"));

    private static void Unsupported(string what) => throw new EbpfRuntimeException(what);

    [System.Diagnostics.CodeAnalysis.RequiresDynamicCode("Emits IL (DynamicMethod).")]
    public static JitEntry Compile(BoundProgram bound)
    {
        var code = bound.Code;
        var method = new DynamicMethod($"ebpf_{bound.Program.Name}", typeof(ulong),
            [typeof(EbpfMap[]), typeof(nint), typeof(ulong), typeof(nint), typeof(nint), typeof(HelperContext)],
            typeof(EbpfJitCompiler).Module, skipVisibility: true);
        var il = method.GetILGenerator(code.Length * 16 + 64);
        var e = new Emitter(il, bound);
        e.Emit();
        return (JitEntry)method.CreateDelegate(typeof(JitEntry), bound.Maps);
    }

    private sealed class Emitter
    {
        private readonly ILGenerator _il;
        private readonly BoundProgram _bound;
        private readonly EbpfInstruction[] _code;
        private readonly LocalBuilder[] _r = new LocalBuilder[MAX_BPF_REG];
        private readonly LocalBuilder _depth, _save;
        private readonly Label[] _labels;
        private readonly Label _exit, _unwind;
        private readonly List<Label> _returnSites = [];
        private readonly bool _hasCalls;

        public Emitter(ILGenerator il, BoundProgram bound)
        {
            _il = il;
            _bound = bound;
            _code = bound.Code;
            for (int i = 0; i < _r.Length; i++)
                _r[i] = il.DeclareLocal(typeof(ulong));
            _depth = il.DeclareLocal(typeof(int));
            _save = il.DeclareLocal(typeof(nint));
            _labels = new Label[_code.Length + 1];
            for (int i = 0; i < _labels.Length; i++)
                _labels[i] = il.DefineLabel();
            _exit = il.DefineLabel();
            _unwind = il.DefineLabel();
            _hasCalls = _code.Any(i => i.Opcode == (BPF_JMP | BPF_CALL) && i.Src == BPF_PSEUDO_CALL);
        }

        private void Ld(int reg) => _il.Emit(OpCodes.Ldloc, _r[reg]);
        private void St(int reg) => _il.Emit(OpCodes.Stloc, _r[reg]);
        private void I8(long v) => _il.Emit(OpCodes.Ldc_I8, v);
        private void I4(int v) => _il.Emit(OpCodes.Ldc_I4, v);
        private void Op(OpCode op) => _il.Emit(op);

        private Label Target(int pc, long rel)
        {
            long t = pc + 1 + rel;
            return t >= 0 && t <= _code.Length ? _labels[t] : _labels[_code.Length];
        }

        public void Emit()
        {
            // r1 = context, r2 = length, r10 = frame 0's stack top.
            _il.Emit(OpCodes.Ldarg_1); Op(OpCodes.Conv_U8); St(1);
            _il.Emit(OpCodes.Ldarg_2); St(2);
            _il.Emit(OpCodes.Ldarg_3); Op(OpCodes.Conv_U8); St(10);

            for (int pc = 0; pc < _code.Length; pc++)
            {
                _il.MarkLabel(_labels[pc]);
                var insn = _code[pc];
                if (IsWide(insn.Opcode) && pc + 1 < _code.Length)
                {
                    I8((long)_bound.Wide[pc]); St(insn.Dst);
                    pc++;
                    _il.MarkLabel(_labels[pc]);
                    continue;
                }
                Instruction(insn, pc);
            }
            // Falling off the end (the verifier forbids it) and jumps outside the program land here.
            _il.MarkLabel(_labels[_code.Length]);
            Fail($"execution left the program after pc {_code.Length - 1}");

            _il.MarkLabel(_exit);
            if (_hasCalls)
            {
                _il.Emit(OpCodes.Ldloc, _depth);
                _il.Emit(OpCodes.Brtrue, _unwind);
            }
            Ld(0); Op(OpCodes.Ret);
            if (_hasCalls)
            {
                _il.MarkLabel(_unwind);
                // depth--; save = saves + depth * SaveWords * 8; restore r6..r10; switch on the return site.
                _il.Emit(OpCodes.Ldloc, _depth); I4(1); Op(OpCodes.Sub); _il.Emit(OpCodes.Stloc, _depth);
                SaveSlotAddress();
                for (int k = 0; k < 5; k++)
                {
                    _il.Emit(OpCodes.Ldloc, _save); I4(k * 8); Op(OpCodes.Add); Op(OpCodes.Ldind_I8); St(6 + k);
                }
                _il.Emit(OpCodes.Ldloc, _save); I4(40); Op(OpCodes.Add); Op(OpCodes.Ldind_I8); Op(OpCodes.Conv_I4);
                _il.Emit(OpCodes.Switch, _returnSites.ToArray());
                Fail("corrupt bpf-to-bpf return");
            }
        }

        private void SaveSlotAddress()
        {
            _il.Emit(OpCodes.Ldarg_S, (byte)4);
            _il.Emit(OpCodes.Ldloc, _depth); I4(SaveWords * 8); Op(OpCodes.Mul); Op(OpCodes.Conv_I);
            Op(OpCodes.Add);
            _il.Emit(OpCodes.Stloc, _save);
        }

        private void Fail(string message)
        {
            _il.Emit(OpCodes.Ldstr, message);
            _il.Emit(OpCodes.Call, ThrowBad);
            I8(0); Op(OpCodes.Ret);
        }

        private void Bad(EbpfInstruction insn, int pc) =>
            Fail(string.Create(CultureInfo.InvariantCulture, $"unsupported instruction {EbpfDisassembler.Format(insn)} at pc {pc}"));

        /// <summary>Pushes the source operand: the register, or the sign-extended immediate.</summary>
        private void Source64(EbpfInstruction insn)
        {
            if (Src(insn.Opcode) == BPF_X) Ld(insn.Src);
            else I8(insn.Imm);
        }

        /// <summary>Pushes the low 32 bits of the source as an int32.</summary>
        private void Source32(EbpfInstruction insn)
        {
            if (Src(insn.Opcode) == BPF_X) { Ld(insn.Src); Op(OpCodes.Conv_U4); }
            else I4(insn.Imm);
        }

        private void Address(int reg, short offset)
        {
            Ld(reg);
            if (offset != 0) { I8(offset); Op(OpCodes.Add); }
            Op(OpCodes.Conv_U);
        }

        private void Instruction(EbpfInstruction insn, int pc)
        {
            byte op = insn.Opcode;
            switch (Class(op))
            {
                case BPF_ALU64: Alu64(insn, pc); break;
                case BPF_ALU: Alu32(insn, pc); break;
                case BPF_JMP:
                case BPF_JMP32: Jump(insn, pc); break;
                case BPF_LDX:
                {
                    Address(insn.Src, insn.Offset);
                    bool sx = Mode(op) == BPF_MEMSX;
                    if (Mode(op) is not (BPF_MEM or BPF_MEMSX) || (sx && Size(op) == BPF_DW)) { Op(OpCodes.Pop); Bad(insn, pc); break; }
                    if (Size(op) != BPF_B) _il.Emit(OpCodes.Unaligned, (byte)1);
                    switch (Size(op))
                    {
                        case BPF_B: Op(sx ? OpCodes.Ldind_I1 : OpCodes.Ldind_U1); Op(sx ? OpCodes.Conv_I8 : OpCodes.Conv_U8); break;
                        case BPF_H: Op(sx ? OpCodes.Ldind_I2 : OpCodes.Ldind_U2); Op(sx ? OpCodes.Conv_I8 : OpCodes.Conv_U8); break;
                        case BPF_W: Op(sx ? OpCodes.Ldind_I4 : OpCodes.Ldind_U4); Op(sx ? OpCodes.Conv_I8 : OpCodes.Conv_U8); break;
                        default: Op(OpCodes.Ldind_I8); break;
                    }
                    St(insn.Dst);
                    break;
                }
                case BPF_ST:
                case BPF_STX:
                    if (Mode(op) == BPF_ATOMIC && Class(op) == BPF_STX) { Atomic(insn, pc); break; }
                    if (Mode(op) != BPF_MEM) { Bad(insn, pc); break; }
                    Address(insn.Dst, insn.Offset);
                    if (Class(op) == BPF_STX) Ld(insn.Src);
                    else I8(insn.Imm);
                    if (Size(op) != BPF_DW) Op(OpCodes.Conv_U4);
                    if (Size(op) != BPF_B) _il.Emit(OpCodes.Unaligned, (byte)1);
                    Op(Size(op) switch { BPF_B => OpCodes.Stind_I1, BPF_H => OpCodes.Stind_I2, BPF_W => OpCodes.Stind_I4, _ => OpCodes.Stind_I8 });
                    break;
                default:
                    Bad(insn, pc);
                    break;
            }
        }

        private void Alu64(EbpfInstruction insn, int pc)
        {
            int d = insn.Dst;
            switch (EbpfOpcode.Op(insn.Opcode))
            {
                case BPF_ADD: Ld(d); Source64(insn); Op(OpCodes.Add); break;
                case BPF_SUB: Ld(d); Source64(insn); Op(OpCodes.Sub); break;
                case BPF_MUL: Ld(d); Source64(insn); Op(OpCodes.Mul); break;
                case BPF_OR: Ld(d); Source64(insn); Op(OpCodes.Or); break;
                case BPF_AND: Ld(d); Source64(insn); Op(OpCodes.And); break;
                case BPF_XOR: Ld(d); Source64(insn); Op(OpCodes.Xor); break;
                case BPF_LSH: Ld(d); Shift(insn, 63); Op(OpCodes.Shl); break;
                case BPF_RSH: Ld(d); Shift(insn, 63); Op(OpCodes.Shr_Un); break;
                case BPF_ARSH: Ld(d); Shift(insn, 63); Op(OpCodes.Shr); break;
                case BPF_NEG: Ld(d); Op(OpCodes.Neg); break;
                case BPF_DIV: Ld(d); Source64(insn); _il.Emit(OpCodes.Call, Semantics(insn.Offset == 1 ? nameof(EbpfSemantics.SDiv64) : nameof(EbpfSemantics.Div64))); break;
                case BPF_MOD: Ld(d); Source64(insn); _il.Emit(OpCodes.Call, Semantics(insn.Offset == 1 ? nameof(EbpfSemantics.SMod64) : nameof(EbpfSemantics.Mod64))); break;
                case BPF_MOV:
                    Source64(insn);
                    switch (insn.Offset)
                    {
                        case 0: break;
                        case 8: Op(OpCodes.Conv_I1); Op(OpCodes.Conv_I8); break;
                        case 16: Op(OpCodes.Conv_I2); Op(OpCodes.Conv_I8); break;
                        case 32: Op(OpCodes.Conv_I4); Op(OpCodes.Conv_I8); break;
                        default: Op(OpCodes.Pop); Bad(insn, pc); return;
                    }
                    break;
                case BPF_END:
                    Ld(d);
                    switch (insn.Imm)
                    {
                        case 16: Op(OpCodes.Conv_U2); _il.Emit(OpCodes.Call, Reverse(typeof(ushort))); Op(OpCodes.Conv_U8); break;
                        case 32: Op(OpCodes.Conv_U4); _il.Emit(OpCodes.Call, Reverse(typeof(uint))); Op(OpCodes.Conv_U8); break;
                        case 64: _il.Emit(OpCodes.Call, Reverse(typeof(ulong))); break;
                        default: Op(OpCodes.Pop); Bad(insn, pc); return;
                    }
                    break;
                default: Bad(insn, pc); return;
            }
            St(d);
        }

        private void Shift(EbpfInstruction insn, int mask)
        {
            if (Src(insn.Opcode) == BPF_X) { Ld(insn.Src); Op(OpCodes.Conv_I4); I4(mask); Op(OpCodes.And); }
            else I4(insn.Imm & mask);
        }

        private void Alu32(EbpfInstruction insn, int pc)
        {
            int d = insn.Dst;
            switch (EbpfOpcode.Op(insn.Opcode))
            {
                case BPF_ADD: Ld(d); Op(OpCodes.Conv_U4); Source32(insn); Op(OpCodes.Add); break;
                case BPF_SUB: Ld(d); Op(OpCodes.Conv_U4); Source32(insn); Op(OpCodes.Sub); break;
                case BPF_MUL: Ld(d); Op(OpCodes.Conv_U4); Source32(insn); Op(OpCodes.Mul); break;
                case BPF_OR: Ld(d); Op(OpCodes.Conv_U4); Source32(insn); Op(OpCodes.Or); break;
                case BPF_AND: Ld(d); Op(OpCodes.Conv_U4); Source32(insn); Op(OpCodes.And); break;
                case BPF_XOR: Ld(d); Op(OpCodes.Conv_U4); Source32(insn); Op(OpCodes.Xor); break;
                case BPF_LSH: Ld(d); Op(OpCodes.Conv_U4); Shift(insn, 31); Op(OpCodes.Shl); break;
                case BPF_RSH: Ld(d); Op(OpCodes.Conv_U4); Shift(insn, 31); Op(OpCodes.Shr_Un); break;
                case BPF_ARSH: Ld(d); Op(OpCodes.Conv_U4); Shift(insn, 31); Op(OpCodes.Shr); break;
                case BPF_NEG: Ld(d); Op(OpCodes.Conv_U4); Op(OpCodes.Neg); break;
                case BPF_DIV:
                case BPF_MOD:
                {
                    string name = (EbpfOpcode.Op(insn.Opcode) == BPF_DIV ? "Div32" : "Mod32");
                    if (insn.Offset == 1) name = "S" + name;
                    Ld(d); Source64(insn);
                    _il.Emit(OpCodes.Call, Semantics(name));
                    St(d);
                    return;
                }
                case BPF_MOV:
                    Source32(insn);
                    switch (insn.Offset)
                    {
                        case 0: break;
                        case 8: Op(OpCodes.Conv_I1); break;
                        case 16: Op(OpCodes.Conv_I2); break;
                        default: Op(OpCodes.Pop); Bad(insn, pc); return;
                    }
                    break;
                case BPF_END:
                    Ld(d);
                    bool be = Src(insn.Opcode) == BPF_TO_BE;
                    switch (insn.Imm)
                    {
                        case 16: Op(OpCodes.Conv_U2); if (be) _il.Emit(OpCodes.Call, Reverse(typeof(ushort))); Op(OpCodes.Conv_U8); break;
                        case 32: Op(OpCodes.Conv_U4); if (be) _il.Emit(OpCodes.Call, Reverse(typeof(uint))); Op(OpCodes.Conv_U8); break;
                        case 64: if (be) _il.Emit(OpCodes.Call, Reverse(typeof(ulong))); break;
                        default: Op(OpCodes.Pop); Bad(insn, pc); return;
                    }
                    St(d);
                    return;
                default: Bad(insn, pc); return;
            }
            // The 32-bit result is zero-extended into the 64-bit register.
            Op(OpCodes.Conv_U8);
            St(d);
        }

        private void Jump(EbpfInstruction insn, int pc)
        {
            byte op = insn.Opcode;
            byte jop = EbpfOpcode.Op(op);
            bool is32 = Class(op) == BPF_JMP32;
            switch (jop)
            {
                case BPF_JA:
                    _il.Emit(OpCodes.Br, Target(pc, is32 ? insn.Imm : insn.Offset));
                    return;
                case BPF_EXIT:
                    _il.Emit(OpCodes.Br, _exit);
                    return;
                case BPF_CALL:
                    Call(insn, pc);
                    return;
            }
            Ld(insn.Dst);
            if (is32) { Op(OpCodes.Conv_U4); Source32(insn); }
            else Source64(insn);
            var target = Target(pc, insn.Offset);
            switch (jop)
            {
                case BPF_JEQ: _il.Emit(OpCodes.Beq, target); break;
                case BPF_JNE: _il.Emit(OpCodes.Bne_Un, target); break;
                case BPF_JGT: _il.Emit(OpCodes.Bgt_Un, target); break;
                case BPF_JGE: _il.Emit(OpCodes.Bge_Un, target); break;
                case BPF_JLT: _il.Emit(OpCodes.Blt_Un, target); break;
                case BPF_JLE: _il.Emit(OpCodes.Ble_Un, target); break;
                case BPF_JSGT: _il.Emit(OpCodes.Bgt, target); break;
                case BPF_JSGE: _il.Emit(OpCodes.Bge, target); break;
                case BPF_JSLT: _il.Emit(OpCodes.Blt, target); break;
                case BPF_JSLE: _il.Emit(OpCodes.Ble, target); break;
                case BPF_JSET: Op(OpCodes.And); _il.Emit(OpCodes.Brtrue, target); break;
                default: Op(OpCodes.Pop); Op(OpCodes.Pop); Bad(insn, pc); break;
            }
        }

        private void Call(EbpfInstruction insn, int pc)
        {
            if (insn.Src == BPF_PSEUDO_CALL && Src(insn.Opcode) == BPF_K)
            {
                var ok = _il.DefineLabel();
                _il.Emit(OpCodes.Ldloc, _depth); I4(EbpfVm.MaxCallFrames - 1); _il.Emit(OpCodes.Blt, ok);
                I4(pc); _il.Emit(OpCodes.Call, ThrowDepth);
                _il.MarkLabel(ok);
                SaveSlotAddress();
                for (int k = 0; k < 5; k++)
                {
                    _il.Emit(OpCodes.Ldloc, _save); I4(k * 8); Op(OpCodes.Add); Ld(6 + k); Op(OpCodes.Stind_I8);
                }
                _il.Emit(OpCodes.Ldloc, _save); I4(40); Op(OpCodes.Add); I8(_returnSites.Count); Op(OpCodes.Stind_I8);
                _returnSites.Add(_labels[pc + 1]);
                _il.Emit(OpCodes.Ldloc, _depth); I4(1); Op(OpCodes.Add); _il.Emit(OpCodes.Stloc, _depth);
                Ld(10); I8(MAX_BPF_STACK); Op(OpCodes.Sub); St(10);
                _il.Emit(OpCodes.Br, Target(pc, insn.Imm));
                return;
            }
            if (insn.Src != 0 || Src(insn.Opcode) != BPF_K)
            {
                Bad(insn, pc);
                return;
            }
            I4(insn.Imm);
            for (int k = 1; k <= 5; k++) Ld(k);
            _il.Emit(OpCodes.Ldarg_0);
            _il.Emit(OpCodes.Ldarg_S, (byte)5);
            _il.Emit(OpCodes.Call, Invoke);
            St(0);
        }

        private void Atomic(EbpfInstruction insn, int pc)
        {
            bool dw = Size(insn.Opcode) == BPF_DW;
            if (Size(insn.Opcode) is not (BPF_DW or BPF_W)) { Bad(insn, pc); return; }
            string? name = (insn.Imm & ~BPF_FETCH) switch
            {
                BPF_ADD => "Add", BPF_OR => "Or", BPF_AND => "And", BPF_XOR => "Xor",
                BPF_XCHG & ~BPF_FETCH when insn.Imm == BPF_XCHG => "Xchg",
                BPF_CMPXCHG & ~BPF_FETCH when insn.Imm == BPF_CMPXCHG => "CmpXchg",
                _ => null,
            };
            if (name is null) { Bad(insn, pc); return; }
            Address(insn.Dst, insn.Offset);
            Ld(insn.Src);
            if (!dw) Op(OpCodes.Conv_U4);
            if (insn.Imm == BPF_CMPXCHG)
            {
                Ld(0);
                if (!dw) Op(OpCodes.Conv_U4);
            }
            _il.Emit(OpCodes.Call, Atomics(name + (dw ? "64" : "32")));
            if (!dw) Op(OpCodes.Conv_U8);
            if (insn.Imm == BPF_CMPXCHG) St(0);
            else if ((insn.Imm & BPF_FETCH) != 0) St(insn.Src);
            else Op(OpCodes.Pop);
        }
    }
}
