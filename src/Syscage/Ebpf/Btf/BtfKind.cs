namespace Syscage.Ebpf.Btf;

/// <summary>BTF type kinds with the kernel's values (<c>BTF_KIND_*</c> in <c>include/uapi/linux/btf.h</c>).</summary>
public enum BtfKind
{
    /// <summary><c>BTF_KIND_UNKN</c>: type id 0 is <c>void</c>.</summary>
    Void = 0,
    /// <summary><c>BTF_KIND_INT</c>.</summary>
    Int = 1,
    /// <summary><c>BTF_KIND_PTR</c>.</summary>
    Ptr = 2,
    /// <summary><c>BTF_KIND_ARRAY</c>.</summary>
    Array = 3,
    /// <summary><c>BTF_KIND_STRUCT</c>.</summary>
    Struct = 4,
    /// <summary><c>BTF_KIND_UNION</c>.</summary>
    Union = 5,
    /// <summary><c>BTF_KIND_ENUM</c>.</summary>
    Enum = 6,
    /// <summary><c>BTF_KIND_FWD</c>.</summary>
    Fwd = 7,
    /// <summary><c>BTF_KIND_TYPEDEF</c>.</summary>
    Typedef = 8,
    /// <summary><c>BTF_KIND_VOLATILE</c>.</summary>
    Volatile = 9,
    /// <summary><c>BTF_KIND_CONST</c>.</summary>
    Const = 10,
    /// <summary><c>BTF_KIND_RESTRICT</c>.</summary>
    Restrict = 11,
    /// <summary><c>BTF_KIND_FUNC</c>.</summary>
    Func = 12,
    /// <summary><c>BTF_KIND_FUNC_PROTO</c>.</summary>
    FuncProto = 13,
    /// <summary><c>BTF_KIND_VAR</c>.</summary>
    Var = 14,
    /// <summary><c>BTF_KIND_DATASEC</c>.</summary>
    Datasec = 15,
    /// <summary><c>BTF_KIND_FLOAT</c>.</summary>
    Float = 16,
    /// <summary><c>BTF_KIND_DECL_TAG</c>.</summary>
    DeclTag = 17,
    /// <summary><c>BTF_KIND_TYPE_TAG</c>.</summary>
    TypeTag = 18,
    /// <summary><c>BTF_KIND_ENUM64</c>.</summary>
    Enum64 = 19,
}

/// <summary>A struct or union member, a DATASEC entry (<c>Type</c>, <c>Offset</c> in bytes, <c>Size</c>) or a function parameter.</summary>
/// <param name="Name">Member name ("" when anonymous or for DATASEC entries).</param>
/// <param name="Type">The member's type id.</param>
/// <param name="Offset">Bit offset for struct members; byte offset for DATASEC entries.</param>
/// <param name="Size">Byte size for DATASEC entries; 0 otherwise.</param>
public readonly record struct BtfMember(string Name, int Type, uint Offset, uint Size);

/// <summary>One BTF type.</summary>
/// <param name="Id">Type id (1-based; 0 is void).</param>
/// <param name="Kind">The kind.</param>
/// <param name="Name">Name, or "" for anonymous types.</param>
/// <param name="SizeOrType">Byte size (INT, STRUCT, UNION, ENUM, DATASEC, FLOAT) or referenced type id (PTR, TYPEDEF, CONST, VAR, FUNC...).</param>
/// <param name="Members">Members of STRUCT/UNION, entries of DATASEC, parameters of FUNC_PROTO; empty otherwise.</param>
/// <param name="ArrayElementType">For ARRAY: the element type id.</param>
/// <param name="ArrayLength">For ARRAY: the number of elements.</param>
public sealed record BtfType(int Id, BtfKind Kind, string Name, uint SizeOrType, IReadOnlyList<BtfMember> Members, int ArrayElementType = 0, uint ArrayLength = 0);
