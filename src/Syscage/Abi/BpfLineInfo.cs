namespace Syscage.Abi;

/// <summary>
/// How <c>struct bpf_line_info</c> packs a source position (<c>include/uapi/linux/bpf.h</c>): <c>line_col</c> holds the
/// line in its upper 22 bits and the column in its low 10, read by the header's function-like macros
/// <c>BPF_LINE_INFO_LINE_NUM(line_col) ((line_col) &gt;&gt; 10)</c> and <c>BPF_LINE_INFO_LINE_COL(line_col) ((line_col) &amp; 0x3ff)</c>,
/// which the generator (object-like macros only) does not read. <c>.BTF.ext</c> records use the same packing.
/// </summary>
internal static class BpfLineInfo
{
    /// <summary>The shift of <c>BPF_LINE_INFO_LINE_NUM</c>.</summary>
    private const int LineShift = 10;

    /// <summary>The mask of <c>BPF_LINE_INFO_LINE_COL</c>.</summary>
    private const uint ColumnMask = 0x3ff;

    /// <summary><c>BPF_LINE_INFO_LINE_NUM(line_col)</c>.</summary>
    public static int Line(uint lineCol) => (int)(lineCol >> LineShift);

    /// <summary><c>BPF_LINE_INFO_LINE_COL(line_col)</c>.</summary>
    public static int Column(uint lineCol) => (int)(lineCol & ColumnMask);
}
