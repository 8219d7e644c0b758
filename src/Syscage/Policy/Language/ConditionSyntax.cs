namespace Syscage.Policy.Language;

/// <summary>A condition as written, before its argument names are resolved for one syscall on one architecture.</summary>
internal abstract record CondNode(int Line, int Column);

internal sealed record AndNode(IReadOnlyList<CondNode> Items, int Line, int Column) : CondNode(Line, Column);

internal sealed record OrNode(IReadOnlyList<CondNode> Items, int Line, int Column) : CondNode(Line, Column);

internal sealed record NotNode(CondNode Inner, int Line, int Column) : CondNode(Line, Column);

/// <summary>An argument: by name (<c>flags</c>) or by position (<c>arg2</c>, <see cref="Index"/> set).</summary>
internal sealed record ArgRef(string Name, int? Index, int Line, int Column);

/// <summary>Where a constant expression starts in the text, for errors about its value.</summary>
internal readonly record struct At(int Line, int Column);

/// <summary>
/// A test of one argument: <c>arg OP value</c>; <c>(arg &amp; Mask) OP value</c> with OP <c>==</c> or <c>!=</c>; a bare
/// <c>arg &amp; Mask</c> (any bit set, <see cref="Op"/> null); or a bare <c>arg</c> (non-zero). <see cref="MaskAt"/> and
/// <see cref="ValueAt"/> are where the constants are written.
/// </summary>
internal sealed record TestNode(ArgRef Arg, ulong? Mask, string? Op, ulong Value, int OpLine, int OpColumn, int Line, int Column, At MaskAt = default, At ValueAt = default)
    : CondNode(Line, Column);
