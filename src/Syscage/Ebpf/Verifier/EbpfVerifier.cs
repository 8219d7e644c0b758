using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Syscage.Ebpf.Helpers;
using Syscage.Ebpf.Isa;
using Syscage.Ebpf.Maps;
using static Syscage.Ebpf.Isa.EbpfOpcode;
using Syscage.Abi;

namespace Syscage.Ebpf.Verifier;

/// <summary>
/// Decides whether an eBPF program is safe to run, before anything runs it, in the manner of the kernel's
/// verifier (<c>kernel/bpf/verifier.c</c>, <c>Documentation/bpf/verifier.rst</c>): a structural pass (opcodes,
/// registers, jump targets, functions), then every path explored with register types and value ranges. It
/// checks context accesses against the <see cref="ContextDescription"/> (read-only <c>struct seccomp_data</c>,
/// exact field sizes), stack accesses (512 bytes per frame, initialised before read, spilled registers tracked
/// per 8-byte slot), map values (null-checked, in bounds including variable offsets), ring-buffer reservations
/// (released on every path), helper arguments (<see cref="HelperPrototypes"/>), uninitialised registers, r0 at
/// exit, bpf-to-bpf calls (up to 8 frames), and termination: loops are unrolled path by path, a state repeating
/// exactly at a loop head is an infinite loop, and at most <see cref="VerifierOptions.MaxInstructionsProcessed"/>
/// instructions are simulated. Equivalent states are pruned (register liveness makes dead registers irrelevant).
/// Division by a register is allowed (x/0 = 0, x%0 = x at run time), as is division by a constant zero.
/// <para>
/// Pruning compares a new state with explored ones: registers dead at that point are ignored, and scalars that
/// never flow into a memory access, jump, call or function result (a static stand-in for the kernel's precision
/// tracking) only need to be scalars. Loops whose iterations carry values later used in branches or addresses
/// are unrolled exactly, so a long loop with data-dependent counters can exceed the limits, as in the kernel.
/// Values of read-only map values (<c>.rodata</c>) are constants to the verifier, as for the kernel's frozen
/// maps: the VM must never let them change after verification. Not supported: <c>callx</c>, kfuncs, legacy packet
/// loads, callbacks; narrow (under 8 bytes) spills of scalars come back as unknown values of their size.
/// </para>
/// </summary>
public static class EbpfVerifier
{
    /// <summary>Verifies a program or throws <see cref="EbpfVerificationException"/>.</summary>
    public static EbpfProgram Verify(IReadOnlyList<EbpfInstruction> instructions, VerifierOptions? options = null) =>
        TryVerify(instructions, options, out var program, out var error) ? program : throw new EbpfVerificationException(error);

    /// <summary>Verifies a program, reporting the first error instead of throwing.</summary>
    public static bool TryVerify(IReadOnlyList<EbpfInstruction> instructions, VerifierOptions? options,
        [NotNullWhen(true)] out EbpfProgram? program, [NotNullWhen(false)] out VerificationError? error)
    {
        ArgumentNullException.ThrowIfNull(instructions);
        options ??= new VerifierOptions();
        program = null;
        if (!new Run([.. instructions], options).TryExecute(out var facts, out error))
            return false;
        program = new EbpfProgram([.. instructions], options.Maps, options.Context, options.Name) { Facts = facts };
        return true;
    }

    /// <summary>
    /// One verification: the program, its static analysis and the exploration state. Try-first: a check that fails
    /// records the rejection (<see cref="Reject(string)"/>) and returns false, and every caller returns at once, so the
    /// exploration stops at the first error, on the path and at the pc where it is found.
    /// </summary>
    private sealed class Run(EbpfInstruction[] insns, VerifierOptions options)
    {
        private readonly FirstError<VerificationError> _errors = new();
        private const ushort CallerSavedMask = 0b11_1100_0000; // r6..r9
        private readonly int _n = insns.Length;
        private readonly ImmutableArray<MapDefinition> _maps = options.Maps;
        private readonly ContextDescription _ctx = options.Context;
        private bool[] _secondSlot = [];
        private bool[] _prunePoint = [];
        private ushort[] _liveIn = [];
        private ushort[] _preciseIn = [];
        private int[] _funcStarts = [];
        private List<Checkpoint>?[] _states = [];
        private readonly Stack<PendingPath> _pending = new();
        private int _processed, _statesStored, _nextId, _maxStack;
        private (int Visits, RegisterState[] Regs, bool[] Mixed, int Frames)?[] _facts = [];
        private readonly SortedSet<int> _helpersCalled = [], _mapsUsed = [];
        private int _pc;

        public bool TryExecute([NotNullWhen(true)] out VerifierFacts? facts, [NotNullWhen(false)] out VerificationError? error) =>
            _errors.Outcome(Execute(out facts), out error);

        private bool Execute([NotNullWhen(true)] out VerifierFacts? result)
        {
            result = null;
            if (!CheckStructure())
                return false;
            ComputeLiveness();
            _states = new List<Checkpoint>?[_n];
            _facts = new (int, RegisterState[], bool[], int)?[_n];
            var init = new VerifierState();
            var frame = new FrameState();
            for (int r = 0; r < 11; r++)
                frame.Regs[r] = RegisterState.NotInit;
            frame.Regs[1] = new RegisterState(RegisterType.PtrToCtx, 0, ScalarRange.Const(0));
            frame.Regs[10] = new RegisterState(RegisterType.PtrToStack, 0, ScalarRange.Const(0), Frame: 0);
            if (options.ContextSizeInR2)
                frame.Regs[2] = RegisterState.Const((ulong)_ctx.Size);
            init.Frames.Add(frame);
            _pending.Push(new PendingPath(init, 0, null));
            while (_pending.Count > 0)
                if (!Explore(_pending.Pop()))
                    return false;

            var facts = _facts.Select(f => f is { } x
                ? new InstructionFacts(x.Visits, [.. x.Regs.Select((r, i) => new RegisterFact(x.Mixed[i] ? RegisterState.NotInit : r, x.Mixed[i]))], x.Frames)
                : null).ToImmutableArray();
            result = new VerifierFacts(facts, [.. _helpersCalled], [.. _mapsUsed], _processed, _statesStored, _maxStack);
            return true;
        }

        // ---------------------------------------------------------------- errors

        /// <summary>Rejects the program at the instruction being checked; false.</summary>
        private bool Reject(string reason) => Reject(reason, _pc);

        /// <summary>Rejects the program at <paramref name="pc"/> (-1: the whole program); false.</summary>
        private bool Reject(string reason, int pc)
        {
            if (pc < 0 || pc >= _n)
                return _errors.Fail(new VerificationError(reason, -1, null, null));
            var next = pc + 1 < _n ? insns[pc + 1] : (EbpfInstruction?)null;
            return _errors.Fail(new VerificationError(reason, pc, insns[pc], EbpfDisassembler.Format(insns[pc], next)));
        }

        private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

        // ---------------------------------------------------------------- structure

        private bool CheckStructure()
        {
            if (_n == 0)
                return Reject("empty program", -1);
            if (_n > options.MaxProgramLength)
                return Reject(Inv($"program too long: {_n} instructions (at most {options.MaxProgramLength})"), -1);
            _secondSlot = new bool[_n];
            _prunePoint = new bool[_n];
            var starts = new SortedSet<int> { 0 };
            for (int pc = 0; pc < _n; pc++)
            {
                _pc = pc;
                var i = insns[pc];
                if (!CheckEncoding(i, pc))
                    return false;
                if (IsWide(i.Opcode))
                {
                    _secondSlot[pc + 1] = true;
                    pc++;
                }
                else if (i.Opcode == (BPF_JMP | BPF_CALL) && i.Src == BPF_PSEUDO_CALL)
                {
                    if (!JumpTarget(pc, i.Imm, out int callee))
                        return false;
                    starts.Add(callee);
                }
            }
            var funcStarts = starts.ToArray();
            _funcStarts = funcStarts;
            int FuncOf(int pc) => Array.FindLastIndex(funcStarts, s => s <= pc);
            for (int pc = 0; pc < _n; pc++)
            {
                if (_secondSlot[pc])
                    continue;
                _pc = pc;
                var i = insns[pc];
                byte cls = Class(i.Opcode), op = Op(i.Opcode);
                if (cls is BPF_JMP or BPF_JMP32 && op is not (BPF_CALL or BPF_EXIT))
                {
                    if (!JumpTarget(pc, op == BPF_JA && cls == BPF_JMP32 ? i.Imm : (long)i.Offset, out int target))
                        return false;
                    if (FuncOf(target) != FuncOf(pc))
                        return Reject(Inv($"jump to pc {target} leaves the function"));
                    _prunePoint[target] = true;
                    if (op != BPF_JA && pc + 1 < _n)
                        _prunePoint[pc + 1] = true;
                }
            }
            foreach (int s in funcStarts)
                _prunePoint[s] = true;
            for (int f = 0; f < funcStarts.Length; f++)
            {
                int last = (f + 1 < funcStarts.Length ? funcStarts[f + 1] : _n) - 1;
                var i = insns[last];
                bool ok = !_secondSlot[last] && (i.Opcode == (BPF_JMP | BPF_EXIT) || i.Opcode == (BPF_JMP | BPF_JA) || i.Opcode == (BPF_JMP32 | BPF_JA));
                if (!ok)
                    return Reject("the last instruction of a function must be exit or ja (execution would fall off its end)", _secondSlot[last] ? last - 1 : last);
            }
            return true;
        }

        private bool JumpTarget(int pc, long off, out int target)
        {
            target = -1;
            long to = pc + off + 1;
            if (to < 0 || to >= _n)
                return Reject(Inv($"jump out of range (to pc {to}, program has {_n} instructions)"), pc);
            if (_secondSlot[to] || (to > 0 && IsWide(insns[to - 1].Opcode) && !_secondSlot[to - 1] && IsSecondOf((int)to)))
                return Reject(Inv($"jump into the middle of lddw (pc {to})"), pc);
            target = (int)to;
            return true;
        }

        private bool IsSecondOf(int target)
        {
            // Before the structure pass has marked every slot, walk from the start to see if target is a second slot.
            for (int pc = 0; pc < target; pc++)
                if (IsWide(insns[pc].Opcode))
                {
                    if (pc + 1 == target)
                        return true;
                    pc++;
                }
            return false;
        }

        private bool CheckEncoding(EbpfInstruction i, int pc)
        {
            byte code = i.Opcode, cls = Class(code), op = Op(code);
            if (i.Dst > 10)
                return Reject(Inv($"invalid destination register r{i.Dst}"));
            switch (cls)
            {
                case BPF_LD:
                    if (Mode(code) is BPF_ABS or BPF_IND)
                        return Reject("legacy packet access (BPF_LD | BPF_ABS/BPF_IND) is not supported");
                    if (!IsWide(code))
                        return Reject(Inv($"unknown opcode 0x{code:x2}"));
                    if (pc + 1 >= _n)
                        return Reject("lddw needs two instruction slots but is the last instruction");
                    var next = insns[pc + 1];
                    if (next.Opcode != 0 || next.Dst != 0 || next.Src != 0 || next.Offset != 0 || i.Offset != 0)
                        return Reject("invalid second slot of lddw (its reserved fields must be zero)");
                    if (i.Src > BPF_PSEUDO_MAP_VALUE)
                        return Reject(Inv($"lddw with unsupported pseudo source {i.Src} (only map and map-value references)"));
                    if (i.Src != 0 && (i.Imm < 0 || i.Imm >= _maps.Length))
                        return Reject(Inv($"lddw refers to map {i.Imm}, but the program has {_maps.Length} maps"));
                    break;
                case BPF_LDX:
                    if (Mode(code) is not (BPF_MEM or BPF_MEMSX) || (Mode(code) == BPF_MEMSX && Size(code) == BPF_DW) || i.Imm != 0)
                        return Reject(Inv($"unknown opcode 0x{code:x2}"));
                    if (!CheckSrcReg(i))
                        return false;
                    break;
                case BPF_ST:
                    if (Mode(code) != BPF_MEM || i.Src != 0)
                        return Reject(Inv($"unknown opcode 0x{code:x2}"));
                    break;
                case BPF_STX:
                    if (!CheckSrcReg(i))
                        return false;
                    if (Mode(code) == BPF_ATOMIC)
                    {
                        if (Size(code) is not (BPF_W or BPF_DW))
                            return Reject("atomic operations are only 32 or 64 bits wide");
                        if (i.Imm is not (BPF_ADD or BPF_OR or BPF_AND or BPF_XOR or (BPF_ADD | BPF_FETCH) or (BPF_OR | BPF_FETCH)
                            or (BPF_AND | BPF_FETCH) or (BPF_XOR | BPF_FETCH) or BPF_XCHG or BPF_CMPXCHG))
                            return Reject(Inv($"unknown atomic operation 0x{i.Imm:x}"));
                    }
                    else if (Mode(code) != BPF_MEM || i.Imm != 0)
                        return Reject(Inv($"unknown opcode 0x{code:x2}"));
                    break;
                case BPF_ALU or BPF_ALU64:
                    if (op > BPF_END)
                        return Reject(Inv($"unknown opcode 0x{code:x2}"));
                    if (Src(code) == BPF_X)
                    {
                        if (!CheckSrcReg(i))
                            return false;
                    }
                    else if (i.Src != 0)
                        return Reject("reserved source register field is not zero");
                    bool offOk = op switch
                    {
                        BPF_DIV or BPF_MOD => i.Offset is 0 or 1,
                        BPF_MOV => i.Offset == 0 || (Src(code) == BPF_X && (i.Offset is 8 or 16 || (cls == BPF_ALU64 && i.Offset == 32))),
                        _ => i.Offset == 0,
                    };
                    if (!offOk)
                        return Reject(Inv($"invalid offset {i.Offset} for this ALU operation"));
                    if (op == BPF_END && (i.Imm is not (16 or 32 or 64) || (cls == BPF_ALU64 && Src(code) != BPF_TO_LE)))
                        return Reject("invalid byte swap (width must be 16, 32 or 64)");
                    if (op == BPF_NEG && (Src(code) != BPF_K || i.Imm != 0))
                        return Reject("neg takes no operand");
                    break;
                case BPF_JMP or BPF_JMP32:
                    if (op > BPF_JSLE)
                        return Reject(Inv($"unknown opcode 0x{code:x2}"));
                    if (op == BPF_CALL)
                    {
                        if (cls == BPF_JMP32)
                            return Reject(Inv($"unknown opcode 0x{code:x2}"));
                        if (Src(code) == BPF_X)
                            return Reject("callx (indirect call through a register) is not supported");
                        if (i.Src == BPF_PSEUDO_KFUNC_CALL)
                            return Reject("calls to kernel functions (kfuncs) are not supported");
                        if (i.Src > BPF_PSEUDO_CALL || i.Offset != 0 || i.Dst != 0)
                            return Reject("invalid call (reserved fields must be zero)");
                    }
                    else if (op == BPF_EXIT)
                    {
                        if (cls == BPF_JMP32 || Src(code) != BPF_K || i.Src != 0 || i.Dst != 0 || i.Imm != 0 || i.Offset != 0)
                            return Reject(Inv($"unknown opcode 0x{code:x2}"));
                    }
                    else if (op == BPF_JA)
                    {
                        if (Src(code) != BPF_K || i.Src != 0 || i.Dst != 0 || (cls == BPF_JMP && i.Imm != 0) || (cls == BPF_JMP32 && i.Offset != 0))
                            return Reject("invalid ja (reserved fields must be zero)");
                    }
                    else if (Src(code) == BPF_X)
                        return CheckSrcReg(i);
                    else if (i.Src != 0)
                        return Reject("reserved source register field is not zero");
                    break;
            }
            return true;
        }

        private bool CheckSrcReg(EbpfInstruction i) => i.Src <= 10 || Reject(Inv($"invalid source register r{i.Src}"));

        // ---------------------------------------------------------------- liveness

        /// <summary>Registers read before written on some path from each instruction (per function; calls are opaque).</summary>
        private void ComputeLiveness()
        {
            var use = new ushort[_n];
            var def = new ushort[_n];
            var succ = new int[_n][];
            for (int pc = 0; pc < _n; pc++)
            {
                if (_secondSlot[pc])
                {
                    succ[pc] = [];
                    continue;
                }
                var i = insns[pc];
                byte cls = Class(i.Opcode), op = Op(i.Opcode);
                ushort d = (ushort)(1 << i.Dst), s = (ushort)(1 << i.Src);
                int next = pc + (IsWide(i.Opcode) ? 2 : 1);
                succ[pc] = next < _n ? [next] : [];
                switch (cls)
                {
                    case BPF_LD: def[pc] = d; break;
                    case BPF_LDX: use[pc] = s; def[pc] = d; break;
                    case BPF_ST: use[pc] = d; break;
                    case BPF_STX:
                        use[pc] = (ushort)(d | s);
                        if (Mode(i.Opcode) == BPF_ATOMIC)
                        {
                            if (i.Imm == BPF_CMPXCHG) { use[pc] |= 1; def[pc] = 1; }
                            else if ((i.Imm & BPF_FETCH) != 0) def[pc] = s;
                        }
                        break;
                    case BPF_ALU or BPF_ALU64:
                        use[pc] = (ushort)((op == BPF_MOV ? 0 : d) | (Src(i.Opcode) == BPF_X && op is not (BPF_NEG or BPF_END) ? s : 0));
                        def[pc] = d;
                        break;
                    default:
                        if (op == BPF_EXIT) { use[pc] = 1; succ[pc] = []; }
                        else if (op == BPF_CALL)
                        {
                            int args = i.Src == 0 && options.Helpers.TryGetValue(i.Imm, out var proto) ? Math.Max(proto.Args.Length, i.Imm == HelperIds.BPF_FUNC_trace_printk ? 5 : 0) : 5;
                            use[pc] = (ushort)(((1 << (args + 1)) - 1) & ~1);
                            def[pc] = 0b11_1111;
                        }
                        else
                        {
                            int target = pc + (op == BPF_JA && cls == BPF_JMP32 ? i.Imm : i.Offset) + 1;
                            if (op == BPF_JA)
                                succ[pc] = [target];
                            else
                            {
                                use[pc] = (ushort)(d | (Src(i.Opcode) == BPF_X ? s : 0));
                                succ[pc] = next < _n ? [next, target] : [target];
                            }
                        }
                        break;
                }
            }
            _liveIn = Backward(succ, use, def, null);

            // Registers whose exact value can matter for safety: used (directly or through arithmetic and moves)
            // as a memory base, a stored value, a jump operand, a helper or function argument, or a function's
            // result. A scalar that only feeds other things (a counter returned at the end) is not "precise": when
            // comparing states for pruning its range is ignored, as the kernel does with precision tracking.
            var precise = new ushort[_n];
            var sources = new ushort[_n];
            for (int pc = 0; pc < _n; pc++)
            {
                if (_secondSlot[pc])
                    continue;
                var i = insns[pc];
                byte cls = Class(i.Opcode), op = Op(i.Opcode);
                ushort d = (ushort)(1 << i.Dst), s = (ushort)(1 << i.Src);
                switch (cls)
                {
                    case BPF_LDX: precise[pc] = s; break;
                    case BPF_ST: precise[pc] = d; break;
                    case BPF_STX: precise[pc] = (ushort)(d | s | (i.Imm == BPF_CMPXCHG && Mode(i.Opcode) == BPF_ATOMIC ? 1 : 0)); break;
                    case BPF_ALU or BPF_ALU64:
                        sources[pc] = (ushort)((op == BPF_MOV ? 0 : d) | (Src(i.Opcode) == BPF_X && op is not (BPF_NEG or BPF_END) ? s : 0));
                        break;
                    case BPF_JMP or BPF_JMP32:
                        if (op == BPF_EXIT)
                            precise[pc] = (ushort)(Array.FindLastIndex(_funcStarts, f => f <= pc) > 0 ? 1 : 0);
                        else if (op == BPF_CALL)
                            precise[pc] = use[pc];
                        else if (op != BPF_JA)
                            precise[pc] = use[pc];
                        break;
                }
            }
            _preciseIn = Backward(succ, precise, def, sources);
        }

        /// <summary>Backward data flow to a fixpoint: in = use | (out &amp; ~def), plus the sources of a def whose result is in out.</summary>
        private ushort[] Backward(int[][] succ, ushort[] use, ushort[] def, ushort[]? sources)
        {
            var result = new ushort[_n];
            bool changed = true;
            while (changed)
            {
                changed = false;
                for (int pc = _n - 1; pc >= 0; pc--)
                {
                    ushort outLive = 0;
                    foreach (int t in succ[pc])
                        outLive |= result[t];
                    ushort inLive = (ushort)(use[pc] | (outLive & ~def[pc]) | (1 << 10));
                    if (sources is not null && (outLive & def[pc]) != 0)
                        inLive |= sources[pc];
                    if (inLive != result[pc])
                    {
                        result[pc] = inLive;
                        changed = true;
                    }
                }
            }
            return result;
        }

        // ---------------------------------------------------------------- exploration

        /// <summary>Follows one path to its end (or until an explored state covers it); false when the program is rejected on it.</summary>
        private bool Explore(PendingPath path)
        {
            var s = path.State;
            _pc = path.Pc;
            while (true)
            {
                int pc = _pc;
                if (++_processed > options.MaxInstructionsProcessed)
                    return Reject(Inv($"program is too complex: more than {options.MaxInstructionsProcessed} instructions simulated (a loop that does not terminate within the limit?)"));
                if (_prunePoint[pc])
                {
                    if (!Prune(path, s, pc, out bool covered))
                        return false;
                    if (covered)
                    {
                        Finish(path.Checkpoint);
                        return true;
                    }
                }
                RecordFacts(pc, s);
                var i = insns[pc];
                var f = s.Current;
                byte cls = Class(i.Opcode), op = Op(i.Opcode);
                RegisterState ptr, value;
                switch (cls)
                {
                    case BPF_LD:
                        if (!LoadImm64(f, i, insns[pc + 1]))
                            return false;
                        _pc = pc + 2;
                        break;
                    case BPF_LDX:
                        if (!Read(f, i.Src, out ptr)
                            || !Access(s, i.Src, ptr, i.Offset, SizeInBytes(i.Opcode), write: false, null, Mode(i.Opcode) == BPF_MEMSX, out value))
                            return false;
                        f.Regs[i.Dst] = value;
                        _pc = pc + 1;
                        break;
                    case BPF_ST:
                        if (!Read(f, i.Dst, out ptr)
                            || !Access(s, i.Dst, ptr, i.Offset, SizeInBytes(i.Opcode), write: true, RegisterState.Const((ulong)(long)i.Imm), false, out _))
                            return false;
                        _pc = pc + 1;
                        break;
                    case BPF_STX:
                        if (Mode(i.Opcode) == BPF_ATOMIC)
                        {
                            if (!Atomic(s, f, i))
                                return false;
                        }
                        else if (!Read(f, i.Dst, out ptr) || !Read(f, i.Src, out value)
                            || !Access(s, i.Dst, ptr, i.Offset, SizeInBytes(i.Opcode), write: true, value, false, out _))
                            return false;
                        _pc = pc + 1;
                        break;
                    case BPF_ALU or BPF_ALU64:
                        if (!Alu(f, i, cls == BPF_ALU64))
                            return false;
                        _pc = pc + 1;
                        break;
                    default:
                        if (op == BPF_EXIT)
                        {
                            if (!Exit(s, out bool returned))
                                return false;
                            if (!returned)
                            {
                                Finish(path.Checkpoint);
                                return true;
                            }
                        }
                        else if (op == BPF_CALL)
                        {
                            if (i.Src == BPF_PSEUDO_CALL)
                            {
                                if (!CallLocal(s, i))
                                    return false;
                            }
                            else
                            {
                                if (!CallHelper(s, i))
                                    return false;
                                _pc = pc + 1;
                            }
                        }
                        else if (op == BPF_JA)
                            _pc = pc + 1 + (cls == BPF_JMP32 ? i.Imm : i.Offset);
                        else if (!CondJump(path, s, i, cls == BPF_JMP32))
                            return false;
                        break;
                }
            }
        }

        private bool Push(PendingPath from, VerifierState state, int pc)
        {
            if (_pending.Count >= options.MaxPendingBranches)
                return Reject(Inv($"program is too complex: more than {options.MaxPendingBranches} branches pending"));
            if (from.Checkpoint is not null)
                from.Checkpoint.Branches++;
            _pending.Push(new PendingPath(state, pc, from.Checkpoint));
            return true;
        }

        private static void Finish(Checkpoint? cp)
        {
            while (cp is not null)
            {
                if (--cp.Branches > 0)
                    break;
                cp = cp.Parent;
            }
        }

        /// <summary>
        /// <paramref name="covered"/> when the path can stop here: an explored state covers it. Else records a checkpoint.
        /// False when the state is one this very path was in before: an infinite loop.
        /// </summary>
        private bool Prune(PendingPath path, VerifierState s, int pc, out bool covered)
        {
            covered = true;
            var list = _states[pc] ??= [];
            ushort live = _liveIn[pc], precise = _preciseIn[pc];
            foreach (var e in list)
            {
                if (e.Branches == 0)
                {
                    if (Covers(e.State, s, live, exact: false, precise))
                        return true; // covered
                }
                else if (Covers(e.State, s, live, exact: true, 0xffff))
                {
                    for (var c = path.Checkpoint; c is not null; c = c.Parent)
                        if (c == e)
                            return Reject("infinite loop detected: the program comes back here in the same state");
                    return true; // the same state is being explored on another path
                }
            }
            if (list.Count < options.MaxStatesPerInstruction && _statesStored < options.MaxStatesTotal)
            {
                var cp = new Checkpoint(s.Clone(), path.Checkpoint);
                list.Add(cp);
                path.Checkpoint = cp;
                _statesStored++;
            }
            covered = false;
            return true;
        }

        /// <summary>Whether everything <paramref name="cur"/> allows, <paramref name="old"/> allows (or, exact, they are equal).</summary>
        private static bool Covers(VerifierState old, VerifierState cur, ushort live, bool exact, ushort precise)
        {
            if (old.Frames.Count != cur.Frames.Count || old.Refs.Count != cur.Refs.Count)
                return false;
            var ids = new IdMap();
            for (int fi = 0; fi < old.Frames.Count; fi++)
            {
                var of = old.Frames[fi];
                var nf = cur.Frames[fi];
                if (of.ReturnPc != nf.ReturnPc)
                    return false;
                bool top = fi == old.Frames.Count - 1;
                ushort mask = top ? live : CallerSavedMask;
                for (int r = 0; r < 11; r++)
                {
                    if ((mask & (1 << r)) == 0)
                        continue;
                    var (o, n) = (of.Regs[r], nf.Regs[r]);
                    // An imprecise scalar: any value does, as long as it is a scalar.
                    if (!exact && top && (precise & (1 << r)) == 0 && o.Type == RegisterType.Scalar && n.Type == RegisterType.Scalar && o.Id == 0)
                        continue;
                    if (!RegCovers(o, n, exact, ids))
                        return false;
                }
                if (!StackCovers(of, nf, exact, ids))
                    return false;
            }
            for (int k = 0; k < old.Refs.Count; k++)
                if (old.Refs[k].Pc != cur.Refs[k].Pc || !ids.Match(old.Refs[k].RefId, cur.Refs[k].RefId))
                    return false;
            return true;
        }

        private static bool RegCovers(RegisterState o, RegisterState n, bool exact, IdMap ids)
        {
            if (exact)
                return o.Type == n.Type && o.Offset == n.Offset && o.Range == n.Range && o.MapIndex == n.MapIndex
                    && o.Frame == n.Frame && o.MemSize == n.MemSize && ids.Match(o.Id, n.Id) && ids.Match(o.RefId, n.RefId);
            if (o.Type == RegisterType.NotInit)
                return true;
            if (o.Type != n.Type)
                return false;
            if (o.Type == RegisterType.Scalar)
                return n.Range.IsWithin(o.Range) && (o.Id == 0 || ids.Match(o.Id, n.Id));
            return o.Offset == n.Offset && o.MapIndex == n.MapIndex && o.Frame == n.Frame && o.MemSize == n.MemSize
                && n.Range.IsWithin(o.Range) && ids.Match(o.Id, n.Id) && ids.Match(o.RefId, n.RefId);
        }

        private static bool StackCovers(FrameState of, FrameState nf, bool exact, IdMap ids)
        {
            bool sameKinds = of.Kind.AsSpan().SequenceEqual(nf.Kind);
            if (exact && !sameKinds)
                return false;
            for (int b = 0; b < FrameState.StackSize; b++)
            {
                byte ok = of.Kind[b], nk = nf.Kind[b];
                if (ok == FrameState.StackInvalid || (sameKinds && ok != FrameState.StackSpill))
                    continue;
                int slot = b / 8;
                switch (ok)
                {
                    case FrameState.StackMisc:
                        if (nk == FrameState.StackInvalid || (nk == FrameState.StackSpill && nf.Spill![slot].IsPointer))
                            return false;
                        break;
                    case FrameState.StackZero:
                        if (nk != FrameState.StackZero && !(nk == FrameState.StackSpill && nf.Spill![slot].Type == RegisterType.Scalar && nf.Spill![slot].Range.IsZero))
                            return false;
                        break;
                    case FrameState.StackSpill:
                        if (nk != FrameState.StackSpill)
                            return false;
                        if (b % 8 == 0 && !RegCovers(of.Spill![slot], nf.Spill![slot], exact, ids))
                            return false;
                        break;
                }
            }
            return true;
        }

        /// <summary>A consistent renaming of ids between two states.</summary>
        private sealed class IdMap
        {
            private Dictionary<int, int>? _fwd, _back;

            public bool Match(int a, int b)
            {
                if (a == 0 || b == 0)
                    return a == b;
                _fwd ??= [];
                _back ??= [];
                if (_fwd.TryGetValue(a, out int m))
                    return m == b;
                if (_back.ContainsKey(b))
                    return false;
                _fwd[a] = b;
                _back[b] = a;
                return true;
            }
        }

        private void RecordFacts(int pc, VerifierState s)
        {
            var regs = s.Current.Regs;
            if (_facts[pc] is not { } f)
            {
                _facts[pc] = (1, (RegisterState[])regs.Clone(), new bool[11], s.Frames.Count);
                return;
            }
            for (int r = 0; r < 11; r++)
            {
                if (f.Mixed[r])
                    continue;
                var a = f.Regs[r];
                var b = regs[r];
                if (a.Type != b.Type || a.MapIndex != b.MapIndex || a.Frame != b.Frame || a.MemSize != b.MemSize)
                    f.Mixed[r] = true;
                else if (a.Offset != b.Offset)
                    f.Regs[r] = a with { Offset = 0, Range = WithOffset(a).Join(WithOffset(b)), Id = 0 };
                else
                    f.Regs[r] = a with { Range = a.Range.Join(b.Range), Id = a.Id == b.Id ? a.Id : 0 };
            }
            _facts[pc] = (f.Visits + 1, f.Regs, f.Mixed, Math.Max(f.Frames, s.Frames.Count));

            static ScalarRange WithOffset(RegisterState r) => ScalarAlu.Alu(BPF_ADD, true, r.Range, ScalarRange.Const((ulong)(long)r.Offset), 0);
        }

        // ---------------------------------------------------------------- registers

        private bool Read(FrameState f, int reg, out RegisterState value)
        {
            value = f.Regs[reg];
            return value.Type != RegisterType.NotInit || Reject(Inv($"read of uninitialised register r{reg}"));
        }

        private bool Write(FrameState f, int reg, RegisterState value)
        {
            if (reg == BPF_REG_FP)
                return Reject("r10 (the frame pointer) is read-only");
            f.Regs[reg] = value;
            return true;
        }

        private bool LoadImm64(FrameState f, EbpfInstruction i, EbpfInstruction next)
        {
            switch (i.Src)
            {
                case 0:
                    return Write(f, i.Dst, RegisterState.Const((uint)i.Imm | (ulong)(uint)next.Imm << 32));
                case BPF_PSEUDO_MAP_FD:
                    _mapsUsed.Add(i.Imm);
                    return Write(f, i.Dst, new RegisterState(RegisterType.ConstPtrToMap, 0, ScalarRange.Const(0), MapIndex: i.Imm));
                default:
                {
                    var map = _maps[i.Imm];
                    _mapsUsed.Add(i.Imm);
                    if (map.Type is not (MapType.Array))
                        return Reject(Inv($"lddw of a map value address needs an array map, and '{map.Name}' is a {map.Type} map"));
                    if (next.Imm < 0 || next.Imm >= map.ValueSize)
                        return Reject(Inv($"lddw offset {next.Imm} is outside the value of map '{map.Name}' ({map.ValueSize} bytes)"));
                    return Write(f, i.Dst, new RegisterState(RegisterType.PtrToMapValue, next.Imm, ScalarRange.Const(0), MapIndex: i.Imm));
                }
            }
        }

        private bool Alu(FrameState f, EbpfInstruction i, bool is64)
        {
            byte op = Op(i.Opcode);
            bool x = Src(i.Opcode) == BPF_X;
            if (i.Dst == BPF_REG_FP)
                return Reject("r10 (the frame pointer) is read-only");
            if (op == BPF_MOV)
            {
                if (!x)
                {
                    f.Regs[i.Dst] = RegisterState.Const(is64 ? (ulong)(long)i.Imm : (uint)i.Imm);
                    return true;
                }
                if (!Read(f, i.Src, out var src))
                    return false;
                if (is64 && i.Offset == 0)
                {
                    if (src.Type == RegisterType.Scalar && !src.Range.IsConst && src.Id == 0)
                    {
                        // Link the copies so that a bounds check on one applies to both.
                        src = src with { Id = ++_nextId };
                        f.Regs[i.Src] = src;
                    }
                    f.Regs[i.Dst] = src;
                    return true;
                }
                f.Regs[i.Dst] = src.IsPointer
                    ? RegisterState.Scalar(is64 ? ScalarRange.Unknown : ScalarRange.UnsignedBits(32))
                    : RegisterState.Scalar(ScalarAlu.Alu(BPF_MOV, is64, ScalarRange.Const(0), src.Range, i.Offset));
                return true;
            }
            if (!Read(f, i.Dst, out var dst))
                return false;
            if (op == BPF_NEG || op == BPF_END)
            {
                if (dst.IsPointer)
                    return Reject(Inv($"{(op == BPF_NEG ? "neg" : "byte swap")} of a pointer (r{i.Dst} is {dst.TypeName}) is not allowed"));
                f.Regs[i.Dst] = RegisterState.Scalar(op == BPF_NEG
                    ? ScalarAlu.Alu(BPF_NEG, is64, dst.Range, ScalarRange.Const(0), 0)
                    : ScalarAlu.End(is64, Src(i.Opcode) == BPF_TO_BE, i.Imm, dst.Range));
                return true;
            }
            var b = RegisterState.Const((ulong)(long)i.Imm);
            if (x && !Read(f, i.Src, out b))
                return false;
            if (dst.IsPointer || b.IsPointer)
            {
                if (!PointerArithmetic(op, is64, dst, b, i, out var result))
                    return false;
                f.Regs[i.Dst] = result;
                return true;
            }
            f.Regs[i.Dst] = RegisterState.Scalar(ScalarAlu.Alu(op, is64, dst.Range, b.Range, i.Offset));
            return true;
        }

        private bool PointerArithmetic(byte op, bool is64, RegisterState a, RegisterState b, EbpfInstruction i, out RegisterState result)
        {
            result = default;
            string opName = EbpfDisassembler.AluMnemonic(op, i.Offset) ?? Inv($"ALU operation 0x{op:x2}");
            if (!is64)
                return Reject(Inv($"32-bit arithmetic on a pointer ({(a.IsPointer ? a.TypeName : b.TypeName)}) is not allowed"));
            if (a.IsPointer && b.IsPointer)
            {
                bool sameBase = a.Type == b.Type && a.MapIndex == b.MapIndex && a.Frame == b.Frame && a.Type is RegisterType.PtrToStack or RegisterType.PtrToMapValue or RegisterType.PtrToCtx or RegisterType.PtrToMem;
                if (op == BPF_SUB && sameBase && a.RefId == b.RefId)
                {
                    result = a.Range.IsConst && b.Range.IsConst
                        ? RegisterState.Const((ulong)((long)a.Offset + (long)a.Range.Value - b.Offset - (long)b.Range.Value))
                        : RegisterState.Scalar(ScalarRange.Unknown);
                    return true;
                }
                return Reject(Inv($"{opName} between two pointers ({a.TypeName}, {b.TypeName}) is not allowed"));
            }
            if (op is not (BPF_ADD or BPF_SUB))
                return Reject(Inv($"{opName} on a pointer ({(a.IsPointer ? a.TypeName : b.TypeName)}) is not allowed; only add and sub"));
            if (op == BPF_SUB && !a.IsPointer)
                return Reject(Inv($"subtracting a pointer ({b.TypeName}) from a number is not allowed"));
            var ptr = a.IsPointer ? a : b;
            var scalar = a.IsPointer ? b : a;
            switch (ptr.Type)
            {
                case RegisterType.PtrToMapValueOrNull or RegisterType.PtrToMemOrNull:
                    return Reject(Inv($"arithmetic on a pointer that may be null ({ptr.TypeName}): compare it with 0 first"));
                case RegisterType.ConstPtrToMap:
                    return Reject("arithmetic on a map reference is not allowed");
                case RegisterType.PtrToCtx when _ctx.Fields is not null && !scalar.Range.IsConst:
                    return Reject(Inv($"variable offset into the context ({_ctx.Name}) is not allowed"));
            }
            if (scalar.Range.IsConst)
            {
                long k = (long)scalar.Range.Value;
                long off = op == BPF_ADD ? ptr.Offset + k : ptr.Offset - k;
                if (k is > 1 << 29 or < -(1 << 29) || off is > 1 << 29 or < -(1 << 29))
                    return Reject(Inv($"pointer offset {off} is out of range"));
                result = ptr with { Offset = (int)off, Id = ptr.Id };
                return true;
            }
            var range = ScalarAlu.Alu(op, true, ptr.Range, scalar.Range, 0);
            result = ptr with { Range = range };
            return true;
        }

        // ---------------------------------------------------------------- memory

        /// <summary>
        /// A load (<paramref name="loaded"/>: what the register gets) or store (of <paramref name="value"/>) of
        /// <paramref name="size"/> bytes at <paramref name="off"/> from <paramref name="ptr"/>, register <paramref name="reg"/>.
        /// </summary>
        private bool Access(VerifierState s, int reg, RegisterState ptr, int off, int size, bool write, RegisterState? value, bool signExtend,
            out RegisterState loaded)
        {
            loaded = default;
            if (write && value is { IsPointer: true } v && ptr.Type != RegisterType.PtrToStack)
                return Reject(Inv($"storing a pointer ({v.TypeName}) into {Describe(ptr)} would leak an address"));
            switch (ptr.Type)
            {
                case RegisterType.PtrToCtx:
                    return ContextAccess(ptr, off, size, write, signExtend, out loaded);
                case RegisterType.PtrToStack:
                    return StackAccess(s, ptr, off, size, write, value, signExtend, out loaded);
                case RegisterType.PtrToMapValue:
                {
                    var map = _maps[ptr.MapIndex];
                    if (write && map.ReadOnlyForProgram)
                        return Reject(Inv($"write into read-only map '{map.Name}'"));
                    if (!Bounds(ptr, off, size, map.ValueSize, Inv($"map value of '{map.Name}' ({map.ValueSize} bytes)"), out int lo, out int hi))
                        return false;
                    if (!write && map.ReadOnlyForProgram && map.InitialValue is { } bytes && lo + size == hi)
                    {
                        // A read-only global (frozen .rodata): the value is known, as for the kernel's frozen maps.
                        ulong val = 0;
                        for (int k = size - 1; k >= 0; k--)
                            val = (val << 8) | bytes[lo + k];
                        loaded = RegisterState.Const(signExtend ? SignExtend(val, size) : val);
                        return true;
                    }
                    loaded = LoadedScalar(size, signExtend);
                    return true;
                }
                case RegisterType.PtrToMem:
                    if (!Bounds(ptr, off, size, ptr.MemSize, Inv($"ring-buffer record ({ptr.MemSize} bytes)"), out _, out _))
                        return false;
                    loaded = LoadedScalar(size, signExtend);
                    return true;
                case RegisterType.PtrToMapValueOrNull or RegisterType.PtrToMemOrNull:
                    return Reject(Inv($"possible null pointer dereference: r{reg} is {ptr.TypeName}; compare it with 0 first"));
                default:
                    return Reject(Inv($"invalid memory access through r{reg}, which is {ptr.TypeName}, not a pointer to memory"));
            }
        }

        private static string Describe(RegisterState ptr) => ptr.Type switch
        {
            RegisterType.PtrToCtx => "the context",
            RegisterType.PtrToMapValue => "a map value",
            RegisterType.PtrToMem => "a ring-buffer record",
            _ => ptr.TypeName,
        };

        private static ulong SignExtend(ulong v, int size) => size switch
        {
            1 => (ulong)(sbyte)v,
            2 => (ulong)(short)v,
            4 => (ulong)(int)v,
            _ => v,
        };

        private static RegisterState LoadedScalar(int size, bool signExtend) =>
            RegisterState.Scalar(signExtend ? ScalarRange.Unknown : ScalarRange.UnsignedBits(size * 8));

        /// <summary>The byte range [lo, hi) an access may touch, checked against [0, limit).</summary>
        private bool Bounds(RegisterState ptr, int off, int size, int limit, string what, out int lo, out int hi)
        {
            (lo, hi) = (0, 0);
            var r = ptr.Range;
            if (r.SMin < -(1L << 30) || r.SMax > 1L << 30)
                return Reject(Inv($"unbounded variable offset into {what}: bound it with a comparison first ({r})"));
            long from = ptr.Offset + (long)off + r.SMin, to = ptr.Offset + (long)off + r.SMax + size;
            if (from < 0 || to > limit)
                return Reject(Inv($"out-of-bounds access to {what}: bytes {from}..{to - 1}"));
            (lo, hi) = ((int)from, (int)to);
            return true;
        }

        private bool ContextAccess(RegisterState ptr, int off, int size, bool write, bool signExtend, out RegisterState loaded)
        {
            loaded = LoadedScalar(size, signExtend);
            if (write && !_ctx.Writable)
                return Reject(Inv($"write into the context ({_ctx.Name} is read-only)"));
            if (_ctx.Fields is null)
                return Bounds(ptr, off, size, _ctx.Size, Inv($"the context ({_ctx.Size} bytes)"), out _, out _);
            long o = ptr.Offset + (long)off;
            if (o < 0 || o + size > _ctx.Size)
                return Reject(Inv($"out-of-bounds context access: offset {o}, size {size} ({_ctx.Name} is {_ctx.Size} bytes)"));
            if (!_ctx.Fields.Contains(((int)o, size)))
                return Reject(Inv($"invalid context access: offset {o}, size {size} is not a field of {_ctx.Name} (unaligned or wrong size)"));
            if (options.ContextAssumptions is { } known && known.TryGetValue(((int)o, size), out ulong value))
                loaded = RegisterState.Const(signExtend ? SignExtend(value, size) : value);
            return true;
        }

        private bool StackAccess(VerifierState s, RegisterState ptr, int off, int size, bool write, RegisterState? value, bool signExtend,
            out RegisterState loaded)
        {
            loaded = default;
            var frame = s.Frames[ptr.Frame];
            var r = ptr.Range;
            if (r.SMin < -(1L << 30) || r.SMax > 1L << 30)
                return Reject(Inv($"unbounded variable offset into the stack ({r})"));
            long lo = ptr.Offset + (long)off + r.SMin, hi = ptr.Offset + (long)off + r.SMax + size;
            if (lo < -FrameState.StackSize || hi > 0)
                return Reject(Inv($"stack access out of bounds: bytes fp{lo}..fp{hi - 1} (the stack is fp-512..fp-1)"));
            int start = (int)lo + FrameState.StackSize, end = (int)hi + FrameState.StackSize;
            bool fixedOffset = r.IsConst;
            _maxStack = Math.Max(_maxStack, (int)-lo);
            if (write)
            {
                var v = value!.Value;
                if (v.IsPointer && !(fixedOffset && size == 8 && start % 8 == 0))
                    return Reject(Inv($"storing a pointer ({v.TypeName}) needs an aligned 8-byte stack slot"));
                if (v.Type == RegisterType.PtrToStack && v.Frame > ptr.Frame)
                    return Reject("storing a pointer to a called function's stack into its caller's stack is not allowed");
                if (fixedOffset && size == 8 && start % 8 == 0)
                {
                    // A whole aligned slot: remember the register (pointer, bounded scalar or constant) for a refill.
                    frame.Kind.AsSpan(start, 8).Fill(FrameState.StackSpill);
                    frame.Spill ??= new RegisterState[FrameState.StackSize / 8];
                    frame.Spill[start / 8] = v;
                    loaded = v;
                    return true;
                }
                // Bytes written at a variable offset may land anywhere in the range: spills there are broken, and
                // nothing new is known to be initialised.
                BreakSpills(frame, start, end);
                if (fixedOffset)
                    frame.Kind.AsSpan(start, end - start).Fill(v.Range.IsZero ? FrameState.StackZero : FrameState.StackMisc);
                loaded = v;
                return true;
            }
            if (fixedOffset && size == 8 && start % 8 == 0 && frame.Kind[start] == FrameState.StackSpill)
            {
                loaded = frame.Spill![start / 8];
                return true;
            }
            bool allZero = true;
            for (int b = start; b < end; b++)
            {
                byte k = frame.Kind[b];
                if (k == FrameState.StackInvalid)
                    return Reject(Inv($"read of uninitialised stack at fp{b - FrameState.StackSize} ({size}-byte read at fp{lo}{(fixedOffset ? "" : Inv($"..fp{hi - 1}"))})"));
                if (k == FrameState.StackSpill && frame.Spill![b / 8].IsPointer)
                    return Reject(Inv($"reading part of a spilled pointer at fp{b - FrameState.StackSize}"));
                if (k != FrameState.StackZero && !(k == FrameState.StackSpill && frame.Spill![b / 8].Range.IsZero))
                    allZero = false;
            }
            loaded = allZero ? RegisterState.Const(0) : LoadedScalar(size, signExtend);
            return true;
        }

        /// <summary>Turns spilled registers overlapping [start, end) into plain written bytes.</summary>
        private static void BreakSpills(FrameState frame, int start, int end)
        {
            for (int slot = start / 8; slot * 8 < end; slot++)
            {
                if (frame.Kind[slot * 8] != FrameState.StackSpill)
                    continue;
                bool zero = frame.Spill![slot].Type == RegisterType.Scalar && frame.Spill![slot].Range.IsZero;
                frame.Kind.AsSpan(slot * 8, 8).Fill(zero ? FrameState.StackZero : FrameState.StackMisc);
            }
        }

        private bool Atomic(VerifierState s, FrameState f, EbpfInstruction i)
        {
            int size = SizeInBytes(i.Opcode);
            if (!Read(f, i.Dst, out var ptr) || !Read(f, i.Src, out var src))
                return false;
            if (src.IsPointer)
                return Reject(Inv($"atomic operation with a pointer operand (r{i.Src} is {src.TypeName}) is not allowed"));
            if (i.Imm == BPF_CMPXCHG)
            {
                if (!Read(f, 0, out var r0))
                    return false;
                if (r0.IsPointer)
                    return Reject("cmpxchg compares with r0, which holds a pointer");
            }
            if (ptr.Type == RegisterType.PtrToCtx && _ctx.Fields is not null)
                return Reject(Inv($"atomic operation on the context ({_ctx.Name} is read-only)"));
            // An atomic operation reads and writes the location.
            if (!Access(s, i.Dst, ptr, i.Offset, size, write: false, null, false, out _)
                || !Access(s, i.Dst, ptr, i.Offset, size, write: true, RegisterState.Scalar(ScalarRange.Unknown), false, out _))
                return false;
            var loaded = RegisterState.Scalar(ScalarRange.UnsignedBits(size * 8));
            if (i.Imm == BPF_CMPXCHG)
                f.Regs[0] = loaded;
            else if ((i.Imm & BPF_FETCH) != 0)
                return Write(f, i.Src, loaded);
            return true;
        }

        // ---------------------------------------------------------------- jumps

        private bool CondJump(PendingPath path, VerifierState s, EbpfInstruction i, bool is32)
        {
            var f = s.Current;
            byte op = Op(i.Opcode);
            int pc = _pc, target = pc + i.Offset + 1;
            bool x = Src(i.Opcode) == BPF_X;
            var b = RegisterState.Const(is32 ? (uint)i.Imm : (ulong)(long)i.Imm);
            if (!Read(f, i.Dst, out var a) || (x && !Read(f, i.Src, out b)))
                return false;
            bool taken = true, notTaken = true;
            VerifierState? other = null;
            if (a.Type == RegisterType.Scalar && b.Type == RegisterType.Scalar)
            {
                var (ta, tb) = (a.Range, b.Range);
                var (fa, fb) = (a.Range, b.Range);
                bool refine = !is32 || (a.Range.UMax <= uint.MaxValue && b.Range.UMax <= uint.MaxValue
                    && (op is BPF_JEQ or BPF_JNE or BPF_JSET or BPF_JGT or BPF_JGE or BPF_JLT or BPF_JLE || (a.Range.UMax <= int.MaxValue && b.Range.UMax <= int.MaxValue)));
                if (refine)
                {
                    taken = Constrain(op, false, ref ta, ref tb);
                    notTaken = Constrain(op, true, ref fa, ref fb);
                }
                else if (a.Range.IsConst && b.Range.IsConst)
                {
                    bool result = Compare32(op, (uint)a.Range.Value, (uint)b.Range.Value);
                    taken = result;
                    notTaken = !result;
                }
                if (taken && notTaken)
                {
                    other = s.Clone();
                    SetScalar(other, i.Dst, a, ta);
                    if (x) SetScalar(other, i.Src, b, tb);
                    SetScalar(s, i.Dst, a, fa);
                    if (x) SetScalar(s, i.Src, b, fb);
                }
                else if (taken)
                {
                    SetScalar(s, i.Dst, a, ta);
                    if (x) SetScalar(s, i.Src, b, tb);
                }
                else if (notTaken)
                {
                    SetScalar(s, i.Dst, a, fa);
                    if (x) SetScalar(s, i.Src, b, fb);
                }
            }
            else if (!is32 && op is BPF_JEQ or BPF_JNE && (NullCheck(a, b) || NullCheck(b, a)))
            {
                var ptr = NullCheck(a, b) ? a : b;
                other = s.Clone();
                // Taken means "is null" for JEQ and "is not null" for JNE.
                MarkNull(other, ptr.Id, isNull: op == BPF_JEQ);
                MarkNull(s, ptr.Id, isNull: op != BPF_JEQ);
            }
            else if (!is32 && op is BPF_JEQ or BPF_JNE && IsNeverNull(a) && b.Type == RegisterType.Scalar && b.Range.IsZero)
            {
                taken = op == BPF_JNE;
                notTaken = !taken;
            }
            else
                other = s.Clone(); // comparing pointers: both ways, nothing learned

            if (other is not null)
            {
                if (!Push(path, other, target))
                    return false;
                _pc = pc + 1;
            }
            else if (taken)
                _pc = target;
            else if (notTaken)
                _pc = pc + 1;
            else
                return Reject("internal error: neither branch is possible");
            return true;
        }

        private static bool NullCheck(RegisterState p, RegisterState k) =>
            p.Type is RegisterType.PtrToMapValueOrNull or RegisterType.PtrToMemOrNull && p.Offset == 0 && p.Range.IsZero
            && k.Type == RegisterType.Scalar && k.Range.IsZero;

        private static bool IsNeverNull(RegisterState p) =>
            p.Type is RegisterType.PtrToCtx or RegisterType.PtrToStack or RegisterType.PtrToMapValue or RegisterType.PtrToMem or RegisterType.ConstPtrToMap;

        private static bool Compare32(byte op, uint a, uint b) => op switch
        {
            BPF_JEQ => a == b,
            BPF_JNE => a != b,
            BPF_JGT => a > b,
            BPF_JGE => a >= b,
            BPF_JLT => a < b,
            BPF_JLE => a <= b,
            BPF_JSGT => (int)a > (int)b,
            BPF_JSGE => (int)a >= (int)b,
            BPF_JSLT => (int)a < (int)b,
            BPF_JSLE => (int)a <= (int)b,
            BPF_JSET => (a & b) != 0,
            _ => throw new InvalidOperationException(),
        };

        /// <summary>Narrows a and b to the values where "a op b" (or its negation) holds; false when none do.</summary>
        private static bool Constrain(byte op, bool negate, ref ScalarRange a, ref ScalarRange b)
        {
            if (negate)
            {
                if (op == BPF_JSET)
                    return ConstrainJsetFalse(ref a, b);
                op = op switch
                {
                    BPF_JEQ => BPF_JNE,
                    BPF_JNE => BPF_JEQ,
                    BPF_JGT => BPF_JLE,
                    BPF_JLE => BPF_JGT,
                    BPF_JGE => BPF_JLT,
                    BPF_JLT => BPF_JGE,
                    BPF_JSGT => BPF_JSLE,
                    BPF_JSLE => BPF_JSGT,
                    BPF_JSGE => BPF_JSLT,
                    _ => BPF_JSGE, // JSLT
                };
            }
            switch (op)
            {
                case BPF_JLT: return Constrain(BPF_JGT, false, ref b, ref a);
                case BPF_JLE: return Constrain(BPF_JGE, false, ref b, ref a);
                case BPF_JSLT: return Constrain(BPF_JSGT, false, ref b, ref a);
                case BPF_JSLE: return Constrain(BPF_JSGE, false, ref b, ref a);
            }
            ScalarRange na = a, nb = b;
            switch (op)
            {
                case BPF_JEQ:
                {
                    if (Tnum.Intersect(a.Value, a.Mask, b.Value, b.Mask) is not { } t)
                        return false;
                    na = new ScalarRange(Math.Max(a.UMin, b.UMin), Math.Min(a.UMax, b.UMax), Math.Max(a.SMin, b.SMin), Math.Min(a.SMax, b.SMax), t.Item1, t.Item2);
                    nb = na;
                    break;
                }
                case BPF_JNE:
                    if (a.IsConst && b.IsConst)
                        return a.Value != b.Value;
                    if (b.IsConst) na = Exclude(a, b.Value);
                    if (a.IsConst) nb = Exclude(b, a.Value);
                    break;
                case BPF_JGT:
                    if (b.UMin == ulong.MaxValue || a.UMax == 0)
                        return false;
                    na = a with { UMin = Math.Max(a.UMin, b.UMin + 1) };
                    nb = b with { UMax = Math.Min(b.UMax, a.UMax - 1) };
                    break;
                case BPF_JGE:
                    na = a with { UMin = Math.Max(a.UMin, b.UMin) };
                    nb = b with { UMax = Math.Min(b.UMax, a.UMax) };
                    break;
                case BPF_JSGT:
                    if (b.SMin == long.MaxValue || a.SMax == long.MinValue)
                        return false;
                    na = a with { SMin = Math.Max(a.SMin, b.SMin + 1) };
                    nb = b with { SMax = Math.Min(b.SMax, a.SMax - 1) };
                    break;
                case BPF_JSGE:
                    na = a with { SMin = Math.Max(a.SMin, b.SMin) };
                    nb = b with { SMax = Math.Min(b.SMax, a.SMax) };
                    break;
                case BPF_JSET:
                    if (b.IsConst)
                    {
                        if (((a.Value | a.Mask) & b.Value) == 0)
                            return false;
                        if (System.Numerics.BitOperations.PopCount(b.Value) == 1)
                            na = a with { Value = a.Value | b.Value, Mask = a.Mask & ~b.Value };
                    }
                    else if (a.IsZero || b.IsZero)
                        return false;
                    break;
            }
            if (na.Sync() is not { } sa || nb.Sync() is not { } sb)
                return false;
            a = sa;
            b = sb;
            return true;
        }

        private static bool ConstrainJsetFalse(ref ScalarRange a, ScalarRange b)
        {
            if (!b.IsConst)
                return true;
            if ((a.Value & b.Value) != 0)
                return false;
            if ((a with { Mask = a.Mask & ~b.Value }).Sync() is not { } r)
                return false;
            a = r;
            return true;
        }

        private static ScalarRange Exclude(ScalarRange a, ulong v)
        {
            if (a.UMin == v && a.UMin < a.UMax) a = a with { UMin = v + 1 };
            else if (a.UMax == v && a.UMin < a.UMax) a = a with { UMax = v - 1 };
            if (a.SMin == (long)v && a.SMin < a.SMax) a = a with { SMin = (long)v + 1 };
            else if (a.SMax == (long)v && a.SMin < a.SMax) a = a with { SMax = (long)v - 1 };
            return a.Sync() ?? a;
        }

        /// <summary>Sets a refined scalar, and the same range on every linked copy (same id) in the state.</summary>
        private static void SetScalar(VerifierState s, int reg, RegisterState old, ScalarRange range)
        {
            if (reg == BPF_REG_FP)
                return;
            s.Current.Regs[reg] = old with { Range = range };
            if (old.Id == 0)
                return;
            foreach (var f in s.Frames)
            {
                for (int r = 0; r < 11; r++)
                    if (f.Regs[r].Type == RegisterType.Scalar && f.Regs[r].Id == old.Id)
                        f.Regs[r] = f.Regs[r] with { Range = range };
                for (int slot = 0; f.Spill is not null && slot < f.Spill.Length; slot++)
                    if (f.Kind[slot * 8] == FrameState.StackSpill && f.Spill[slot].Type == RegisterType.Scalar && f.Spill[slot].Id == old.Id)
                        f.Spill[slot] = f.Spill[slot] with { Range = range };
            }
        }

        /// <summary>After a null check: every copy of the pointer becomes 0 or the non-null type; a null reservation holds no reference.</summary>
        private static void MarkNull(VerifierState s, int id, bool isNull)
        {
            int refId = 0;
            RegisterState Fix(RegisterState r)
            {
                if (r.Id != id || r.Type is not (RegisterType.PtrToMapValueOrNull or RegisterType.PtrToMemOrNull))
                    return r;
                if (isNull)
                {
                    refId = r.RefId != 0 ? r.RefId : refId;
                    return RegisterState.Const(0);
                }
                return r with { Type = r.Type == RegisterType.PtrToMapValueOrNull ? RegisterType.PtrToMapValue : RegisterType.PtrToMem, Id = 0 };
            }
            foreach (var f in s.Frames)
            {
                for (int r = 0; r < 11; r++)
                    f.Regs[r] = Fix(f.Regs[r]);
                for (int slot = 0; f.Spill is not null && slot < f.Spill.Length; slot++)
                    if (f.Kind[slot * 8] == FrameState.StackSpill)
                        f.Spill[slot] = Fix(f.Spill[slot]);
            }
            if (refId != 0)
                s.Refs.RemoveAll(x => x.RefId == refId);
        }

        // ---------------------------------------------------------------- calls and exit

        private bool CallLocal(VerifierState s, EbpfInstruction i)
        {
            if (s.Frames.Count >= options.MaxCallDepth)
                return Reject(Inv($"call stack too deep: more than {options.MaxCallDepth} frames"));
            var caller = s.Current;
            var callee = new FrameState { ReturnPc = _pc + 1 };
            for (int r = 0; r < 11; r++)
                callee.Regs[r] = RegisterState.NotInit;
            for (int r = 1; r <= 5; r++)
                callee.Regs[r] = caller.Regs[r];
            callee.Regs[10] = new RegisterState(RegisterType.PtrToStack, 0, ScalarRange.Const(0), Frame: s.Frames.Count);
            s.Frames.Add(callee);
            _pc = _pc + i.Imm + 1;
            return true;
        }

        /// <summary>Returns from a function (<paramref name="returned"/>), or ends the path when the program itself exits.</summary>
        private bool Exit(VerifierState s, out bool returned)
        {
            returned = true;
            var f = s.Current;
            var r0 = f.Regs[0];
            if (r0.Type == RegisterType.NotInit)
                return Reject("r0 is not set at exit (read of uninitialised register r0)");
            if (s.Frames.Count > 1)
            {
                if (r0.Type == RegisterType.PtrToStack && r0.Frame == s.Frames.Count - 1)
                    return Reject("a function returns a pointer to its own stack");
                s.Frames.RemoveAt(s.Frames.Count - 1);
                var caller = s.Current;
                caller.Regs[0] = r0;
                for (int r = 1; r <= 5; r++)
                    caller.Regs[r] = RegisterState.NotInit;
                _pc = f.ReturnPc;
                return true;
            }
            if (r0.IsPointer)
                return Reject(Inv($"r0 at exit is a pointer ({r0.TypeName}); the program must return a number"));
            if (s.Refs.Count > 0)
                return Reject(Inv($"ring-buffer reservation made at pc {s.Refs[0].Pc} is neither submitted nor discarded on this path"));
            returned = false;
            return true;
        }

        private bool CallHelper(VerifierState s, EbpfInstruction i)
        {
            if (!options.Helpers.TryGetValue(i.Imm, out var proto))
                return Reject(HelperIds.Name(i.Imm) is null
                    ? Inv($"unknown helper function id {i.Imm}")
                    : $"helper {HelperPrototypes.Describe(i.Imm)} is not available to seccomp programs (they may call {string.Join(", ", options.Helpers.Keys.Order().Select(HelperPrototypes.Describe))})");
            _helpersCalled.Add(i.Imm);
            var f = s.Current;
            MapDefinition? map = null;
            int mapIndex = -1, allocSize = 0, release = 0;
            var uninitWrites = new List<(RegisterState Ptr, long Size)>();
            for (int k = 0; k < proto.Args.Length; k++)
            {
                int reg = k + 1;
                var arg = proto.Args[k];
                if (arg == HelperArgType.DontCare || arg is HelperArgType.ConstSize or HelperArgType.ConstSizeOrZero)
                    continue; // sizes are checked with the memory argument before them
                if (!Read(f, reg, out var v))
                    return false;
                string Bad(string want) => Inv($"helper {proto}: r{reg} must be {want}, not {v.TypeName}");
                switch (arg)
                {
                    case HelperArgType.Anything:
                        break;
                    case HelperArgType.ConstMapPtr:
                        if (v.Type != RegisterType.ConstPtrToMap)
                            return Reject(Bad("a map reference"));
                        map = _maps[v.MapIndex];
                        mapIndex = v.MapIndex;
                        if (proto.MapTypes is { } allowed && !allowed.Contains(map.Type))
                            return Reject(Inv($"helper {proto} does not work on map '{map.Name}' of type {map.Type}"));
                        break;
                    case HelperArgType.PtrToMapKey:
                        if (!MapArg(map, proto, out var keyOf) || !HelperMemory(s, proto, reg, v, keyOf.KeySize, write: false, "the map key"))
                            return false;
                        break;
                    case HelperArgType.PtrToMapValue:
                        if (!MapArg(map, proto, out var valueOf) || !HelperMemory(s, proto, reg, v, valueOf.ValueSize, write: false, "the map value"))
                            return false;
                        break;
                    case HelperArgType.PtrToMapValueOrNull:
                        if (!(v.Type == RegisterType.Scalar && v.Range.IsZero)
                            && (!MapArg(map, proto, out var updated) || !HelperMemory(s, proto, reg, v, updated.ValueSize, write: false, "the map value or 0")))
                            return false;
                        break;
                    case HelperArgType.PtrToMem or HelperArgType.PtrToUninitMem:
                    {
                        var sizeArg = k + 1 < proto.Args.Length ? proto.Args[k + 1] : HelperArgType.DontCare;
                        if (!Read(f, reg + 1, out var size))
                            return false;
                        if (size.Type != RegisterType.Scalar)
                            return Reject(Inv($"helper {proto}: r{reg + 1} must be a size, not {size.TypeName}"));
                        if (size.Range.UMax > 1 << 29)
                            return Reject(Inv($"helper {proto}: size in r{reg + 1} is unbounded ({size.Range})"));
                        if (sizeArg == HelperArgType.ConstSize && size.Range.UMin == 0)
                            return Reject(Inv($"helper {proto}: size in r{reg + 1} may be zero"));
                        bool write = arg == HelperArgType.PtrToUninitMem;
                        if (!HelperMemory(s, proto, reg, v, (long)size.Range.UMax, write, "memory"))
                            return false;
                        if (write)
                            uninitWrites.Add((v, (long)size.Range.UMax));
                        break;
                    }
                    case HelperArgType.ConstAllocSize:
                        if (v.Type != RegisterType.Scalar || !v.Range.IsConst)
                            return Reject(Bad("a constant size"));
                        if (v.Range.Value == 0 || map is null || v.Range.Value > (ulong)map.MaxEntries)
                            return Reject(Inv($"helper {proto}: size {v.Range.Value} must be between 1 and the ring buffer's size"));
                        allocSize = (int)v.Range.Value;
                        break;
                    case HelperArgType.PtrToAllocMem:
                        if (v.Type != RegisterType.PtrToMem || v.RefId == 0 || v.Offset != 0 || !v.Range.IsZero)
                            return Reject(Bad("the start of a ring-buffer reservation (checked against 0)"));
                        release = v.RefId;
                        break;
                    case HelperArgType.PtrToCtx:
                        if (v.Type != RegisterType.PtrToCtx || v.Offset != 0 || !v.Range.IsZero)
                            return Reject(Bad("the context pointer"));
                        break;
                }
            }
            // The helper fills memory it was given: those stack bytes are now initialised (and spills there gone).
            foreach (var (ptr, size) in uninitWrites)
                if (ptr.Type == RegisterType.PtrToStack && size > 0)
                {
                    var frame = s.Frames[ptr.Frame];
                    int start = (int)(ptr.Offset + ptr.Range.SMin) + FrameState.StackSize;
                    int end = (int)(ptr.Offset + ptr.Range.SMax + size) + FrameState.StackSize;
                    BreakSpills(frame, start, end);
                    if (ptr.Range.IsConst)
                        frame.Kind.AsSpan(start, end - start).Fill(FrameState.StackMisc);
                }
            if (release != 0)
                Release(s, release);
            for (int r = 1; r <= 5; r++)
                f.Regs[r] = RegisterState.NotInit;
            f.Regs[0] = proto.Return switch
            {
                HelperReturnType.Integer => RegisterState.Scalar(i.Imm == HelperIds.BPF_FUNC_get_prandom_u32 ? ScalarRange.UnsignedBits(32) : ScalarRange.Unknown),
                HelperReturnType.Void => RegisterState.NotInit,
                HelperReturnType.PtrToMapValueOrNull => new RegisterState(RegisterType.PtrToMapValueOrNull, 0, ScalarRange.Const(0), MapIndex: mapIndex, Id: ++_nextId),
                _ => AcquireReservation(s, allocSize),
            };
            return true;
        }

        /// <summary>The map a key or value argument refers to: the one given before it.</summary>
        private bool MapArg(MapDefinition? map, HelperPrototype proto, [NotNullWhen(true)] out MapDefinition? given)
        {
            given = map;
            return map is not null || Reject(Inv($"helper {proto}: its prototype has a key or value argument but no map argument before it"));
        }

        private RegisterState AcquireReservation(VerifierState s, int size)
        {
            int id = ++_nextId;
            s.Refs.Add((id, _pc));
            return new RegisterState(RegisterType.PtrToMemOrNull, 0, ScalarRange.Const(0), MemSize: size, Id: id, RefId: id);
        }

        private static void Release(VerifierState s, int refId)
        {
            s.Refs.RemoveAll(x => x.RefId == refId);
            foreach (var f in s.Frames)
            {
                for (int r = 0; r < 11; r++)
                    if (f.Regs[r].IsPointer && f.Regs[r].RefId == refId)
                        f.Regs[r] = RegisterState.Scalar(ScalarRange.Unknown);
                for (int slot = 0; f.Spill is not null && slot < f.Spill.Length; slot++)
                    if (f.Kind[slot * 8] == FrameState.StackSpill && f.Spill[slot].IsPointer && f.Spill[slot].RefId == refId)
                        f.Spill[slot] = RegisterState.Scalar(ScalarRange.Unknown);
            }
        }

        /// <summary>Checks a helper's memory argument: [ptr, ptr + maxSize) readable (initialised) or writable.</summary>
        private bool HelperMemory(VerifierState s, HelperPrototype proto, int reg, RegisterState ptr, long maxSize, bool write, string what)
        {
            if (maxSize == 0)
                return true;
            string prefix = Inv($"helper {proto}: r{reg} ({what}, {maxSize} bytes)");
            switch (ptr.Type)
            {
                case RegisterType.PtrToStack:
                {
                    var frame = s.Frames[ptr.Frame];
                    var r = ptr.Range;
                    if (r.SMin < -(1L << 30) || r.SMax > 1L << 30)
                        return Reject($"{prefix}: unbounded stack offset");
                    long lo = ptr.Offset + r.SMin, hi = ptr.Offset + r.SMax + maxSize;
                    if (lo < -FrameState.StackSize || hi > 0)
                        return Reject(Inv($"{prefix}: stack access out of bounds: fp{lo}..fp{hi - 1}"));
                    _maxStack = Math.Max(_maxStack, (int)-lo);
                    if (!write)
                        for (long b = lo; b < hi; b++)
                        {
                            int idx = (int)b + FrameState.StackSize;
                            if (frame.Kind[idx] == FrameState.StackInvalid)
                                return Reject(Inv($"{prefix}: read of uninitialised stack at fp{b}"));
                            if (frame.Kind[idx] == FrameState.StackSpill && frame.Spill![idx / 8].IsPointer)
                                return Reject(Inv($"{prefix}: passes a spilled pointer at fp{b}"));
                        }
                    return true;
                }
                case RegisterType.PtrToMapValue:
                {
                    var map = _maps[ptr.MapIndex];
                    if (write && map.ReadOnlyForProgram)
                        return Reject($"{prefix}: map '{map.Name}' is read-only");
                    return Bounds(ptr, 0, (int)maxSize, map.ValueSize, $"{prefix}: map value of '{map.Name}' ({map.ValueSize} bytes)", out _, out _);
                }
                case RegisterType.PtrToMem:
                    return Bounds(ptr, 0, (int)maxSize, ptr.MemSize, Inv($"{prefix}: ring-buffer record ({ptr.MemSize} bytes)"), out _, out _);
                case RegisterType.PtrToMapValueOrNull or RegisterType.PtrToMemOrNull:
                    return Reject($"{prefix}: may be null ({ptr.TypeName}); compare it with 0 first");
                default:
                    return Reject($"{prefix}: must point to the stack, a map value or a ring-buffer record, not {ptr.TypeName}");
            }
        }
    }
}
