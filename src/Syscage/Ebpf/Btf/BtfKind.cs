using Syscage.Abi;
namespace Syscage.Ebpf.Btf;

/// <summary>BTF type kinds with the kernel's values (<c>BTF_KIND_*</c> in <c>include/uapi/linux/btf.h</c>).</summary>
public enum BtfKind
{
    /// <summary><c>BTF_KIND_UNKN</c>: type id 0 is <c>void</c>.</summary>
    Void = Uapi.BTF_KIND_UNKN,
    /// <summary><c>BTF_KIND_INT</c>.</summary>
    Int = Uapi.BTF_KIND_INT,
    /// <summary><c>BTF_KIND_PTR</c>.</summary>
    Ptr = Uapi.BTF_KIND_PTR,
    /// <summary><c>BTF_KIND_ARRAY</c>.</summary>
    Array = Uapi.BTF_KIND_ARRAY,
    /// <summary><c>BTF_KIND_STRUCT</c>.</summary>
    Struct = Uapi.BTF_KIND_STRUCT,
    /// <summary><c>BTF_KIND_UNION</c>.</summary>
    Union = Uapi.BTF_KIND_UNION,
    /// <summary><c>BTF_KIND_ENUM</c>.</summary>
    Enum = Uapi.BTF_KIND_ENUM,
    /// <summary><c>BTF_KIND_FWD</c>.</summary>
    Fwd = Uapi.BTF_KIND_FWD,
    /// <summary><c>BTF_KIND_TYPEDEF</c>.</summary>
    Typedef = Uapi.BTF_KIND_TYPEDEF,
    /// <summary><c>BTF_KIND_VOLATILE</c>.</summary>
    Volatile = Uapi.BTF_KIND_VOLATILE,
    /// <summary><c>BTF_KIND_CONST</c>.</summary>
    Const = Uapi.BTF_KIND_CONST,
    /// <summary><c>BTF_KIND_RESTRICT</c>.</summary>
    Restrict = Uapi.BTF_KIND_RESTRICT,
    /// <summary><c>BTF_KIND_FUNC</c>.</summary>
    Func = Uapi.BTF_KIND_FUNC,
    /// <summary><c>BTF_KIND_FUNC_PROTO</c>.</summary>
    FuncProto = Uapi.BTF_KIND_FUNC_PROTO,
    /// <summary><c>BTF_KIND_VAR</c>.</summary>
    Var = Uapi.BTF_KIND_VAR,
    /// <summary><c>BTF_KIND_DATASEC</c>.</summary>
    Datasec = Uapi.BTF_KIND_DATASEC,
    /// <summary><c>BTF_KIND_FLOAT</c>.</summary>
    Float = Uapi.BTF_KIND_FLOAT,
    /// <summary><c>BTF_KIND_DECL_TAG</c>.</summary>
    DeclTag = Uapi.BTF_KIND_DECL_TAG,
    /// <summary><c>BTF_KIND_TYPE_TAG</c>.</summary>
    TypeTag = Uapi.BTF_KIND_TYPE_TAG,
    /// <summary><c>BTF_KIND_ENUM64</c>.</summary>
    Enum64 = Uapi.BTF_KIND_ENUM64,
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
