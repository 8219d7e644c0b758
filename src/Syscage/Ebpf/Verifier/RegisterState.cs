using System.Globalization;

namespace Syscage.Ebpf.Verifier;

/// <summary>What a register holds, as the verifier tracks it (the kernel's <c>enum bpf_reg_type</c>, the subset Syscage needs).</summary>
public enum RegisterType : byte
{
    /// <summary>Never written on this path: reading it is an error.</summary>
    NotInit,
    /// <summary>A number (<c>SCALAR_VALUE</c>), with its <see cref="RegisterState.Range"/>.</summary>
    Scalar,
    /// <summary><c>PTR_TO_CTX</c>: the program's context (<c>struct seccomp_data</c>).</summary>
    PtrToCtx,
    /// <summary><c>PTR_TO_STACK</c>: into the stack of frame <see cref="RegisterState.Frame"/>.</summary>
    PtrToStack,
    /// <summary><c>CONST_PTR_TO_MAP</c>: a map reference, only to be passed to helpers.</summary>
    ConstPtrToMap,
    /// <summary><c>PTR_TO_MAP_VALUE</c>: into a map value (non-null).</summary>
    PtrToMapValue,
    /// <summary><c>PTR_TO_MAP_VALUE_OR_NULL</c>: a lookup result that must be compared with 0 before use.</summary>
    PtrToMapValueOrNull,
    /// <summary><c>PTR_TO_MAP_KEY</c>: into a map key (reserved for map iteration callbacks, not produced by the current helpers).</summary>
    PtrToMapKey,
    /// <summary><c>PTR_TO_MEM</c>: into a ring-buffer reservation of <see cref="RegisterState.MemSize"/> bytes.</summary>
    PtrToMem,
    /// <summary><c>PTR_TO_MEM_OR_NULL</c>: a reservation result that must be compared with 0 before use.</summary>
    PtrToMemOrNull,
}

/// <summary>
/// One register's abstract value. For pointers, the address is base + <see cref="Offset"/> + a variable part
/// described by <see cref="Range"/> (a constant 0 when the offset is fixed); for scalars, <see cref="Range"/> is the value.
/// </summary>
/// <param name="Type">The register type.</param>
/// <param name="Offset">Fixed byte offset of a pointer from its base.</param>
/// <param name="Range">The scalar value, or a pointer's variable offset.</param>
/// <param name="MapIndex">For map pointers: index into the program's maps; -1 otherwise.</param>
/// <param name="Frame">For stack pointers: the call frame (0 = the program's own); for PtrToMem: the reservation size is in <see cref="MemSize"/>.</param>
/// <param name="MemSize">For PtrToMem: the reservation's size in bytes.</param>
/// <param name="Id">Shared by copies of one maybe-null pointer, so a null check marks all of them; 0 otherwise.</param>
/// <param name="RefId">For ring-buffer reservations: the reference that must be released; 0 otherwise.</param>
internal readonly record struct RegisterState(RegisterType Type, int Offset, ScalarRange Range, int MapIndex = -1, int Frame = 0, int MemSize = 0, int Id = 0, int RefId = 0)
{
    /// <summary>An unreadable register.</summary>
    public static RegisterState NotInit { get; } = new(RegisterType.NotInit, 0, ScalarRange.Unknown);

    /// <summary>A scalar with the given range.</summary>
    public static RegisterState Scalar(ScalarRange range) => new(RegisterType.Scalar, 0, range);

    /// <summary>A known constant.</summary>
    public static RegisterState Const(ulong value) => Scalar(ScalarRange.Const(value));

    /// <summary>True for every pointer type.</summary>
    public bool IsPointer => Type is not (RegisterType.NotInit or RegisterType.Scalar);

    /// <summary>The kernel-style type name used in messages (<c>scalar</c>, <c>map_value_or_null</c>, ...).</summary>
    public string TypeName => Type switch
    {
        RegisterType.NotInit => "uninitialised",
        RegisterType.Scalar => "scalar",
        RegisterType.PtrToCtx => "ctx",
        RegisterType.PtrToStack => "fp",
        RegisterType.ConstPtrToMap => "map_ptr",
        RegisterType.PtrToMapValue => "map_value",
        RegisterType.PtrToMapValueOrNull => "map_value_or_null",
        RegisterType.PtrToMapKey => "map_key",
        RegisterType.PtrToMem => "mem",
        RegisterType.PtrToMemOrNull => "mem_or_null",
        _ => Type.ToString(),
    };

    /// <inheritdoc/>
    public override string ToString() => Type switch
    {
        RegisterType.Scalar => Range.ToString(),
        RegisterType.NotInit => "?",
        _ => string.Create(CultureInfo.InvariantCulture, $"{TypeName}{(Offset >= 0 ? "+" : "")}{Offset}{(Range.IsZero ? "" : "+" + Range)}"),
    };
}
