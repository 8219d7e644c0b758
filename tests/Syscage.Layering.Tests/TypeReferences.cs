using System.Collections.Immutable;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;

namespace Syscage.Layering.Tests;

/// <summary>
/// Which types each type of an assembly refers to — in its base type, interfaces, fields, method signatures, attributes
/// and method bodies (every token an IL instruction names) — read from the compiled assembly, so nothing a source scan
/// could miss (a fully qualified name, a <c>using static</c>, a type reached through <c>var</c>) escapes it.
/// </summary>
internal static class TypeReferences
{
    /// <summary>For every type defined in <paramref name="assemblyPath"/> (nested types folded into their outermost type), the full names of the types it refers to.</summary>
    public static Dictionary<string, HashSet<string>> Read(string assemblyPath)
    {
        using var stream = File.OpenRead(assemblyPath);
        using var pe = new PEReader(stream);
        var md = pe.GetMetadataReader();
        var result = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (var handle in md.TypeDefinitions)
        {
            var type = md.GetTypeDefinition(handle);
            string owner = Outermost(md, handle);
            if (!result.TryGetValue(owner, out var refs))
                result[owner] = refs = new HashSet<string>(StringComparer.Ordinal);
            void Add(EntityHandle h)
            {
                foreach (var name in Names(md, h))
                    refs.Add(name);
            }
            if (!type.BaseType.IsNil)
                Add(type.BaseType);
            foreach (var i in type.GetInterfaceImplementations())
                Add(md.GetInterfaceImplementation(i).Interface);
            foreach (var a in type.GetCustomAttributes())
                Add(md.GetCustomAttribute(a).Constructor);
            foreach (var f in type.GetFields())
            {
                var field = md.GetFieldDefinition(f);
                foreach (var name in SignatureTypes(md, field.Signature))
                    refs.Add(name);
                foreach (var a in field.GetCustomAttributes())
                    Add(md.GetCustomAttribute(a).Constructor);
            }
            foreach (var m in type.GetMethods())
            {
                var method = md.GetMethodDefinition(m);
                foreach (var name in SignatureTypes(md, method.Signature))
                    refs.Add(name);
                foreach (var a in method.GetCustomAttributes())
                    Add(md.GetCustomAttribute(a).Constructor);
                if (method.RelativeVirtualAddress == 0)
                    continue;
                var body = pe.GetMethodBody(method.RelativeVirtualAddress);
                if (!body.LocalSignature.IsNil)
                    foreach (var name in SignatureTypes(md, md.GetStandaloneSignature(body.LocalSignature).Signature))
                        refs.Add(name);
                foreach (var token in Tokens(body.GetILBytes() ?? []))
                    Add(MetadataTokens.EntityHandle(token));
            }
            foreach (var p in type.GetProperties())
                foreach (var a in md.GetPropertyDefinition(p).GetCustomAttributes())
                    Add(md.GetCustomAttribute(a).Constructor);
        }
        return result;
    }

    private static string Outermost(MetadataReader md, TypeDefinitionHandle handle)
    {
        var type = md.GetTypeDefinition(handle);
        while (type.GetDeclaringType() is { IsNil: false } outer)
        {
            handle = outer;
            type = md.GetTypeDefinition(handle);
        }
        string ns = md.GetString(type.Namespace);
        return ns.Length == 0 ? md.GetString(type.Name) : $"{ns}.{md.GetString(type.Name)}";
    }

    /// <summary>The full names of the types a handle names (a member reference names its parent type, and its signature's).</summary>
    private static IEnumerable<string> Names(MetadataReader md, EntityHandle handle)
    {
        switch (handle.Kind)
        {
            case HandleKind.TypeDefinition:
                yield return Outermost(md, (TypeDefinitionHandle)handle);
                break;
            case HandleKind.TypeReference:
                yield return RefName(md, (TypeReferenceHandle)handle);
                break;
            case HandleKind.TypeSpecification:
                foreach (var n in SignatureTypes(md, md.GetTypeSpecification((TypeSpecificationHandle)handle).Signature))
                    yield return n;
                break;
            case HandleKind.MethodDefinition:
                yield return Outermost(md, md.GetMethodDefinition((MethodDefinitionHandle)handle).GetDeclaringType());
                break;
            case HandleKind.FieldDefinition:
                yield return Outermost(md, md.GetFieldDefinition((FieldDefinitionHandle)handle).GetDeclaringType());
                break;
            case HandleKind.MemberReference:
            {
                var member = md.GetMemberReference((MemberReferenceHandle)handle);
                foreach (var n in Names(md, member.Parent))
                    yield return n;
                foreach (var n in SignatureTypes(md, member.Signature))
                    yield return n;
                break;
            }
            case HandleKind.MethodSpecification:
            {
                var spec = md.GetMethodSpecification((MethodSpecificationHandle)handle);
                foreach (var n in Names(md, spec.Method))
                    yield return n;
                foreach (var n in SignatureTypes(md, spec.Signature))
                    yield return n;
                break;
            }
        }
    }

    private static string RefName(MetadataReader md, TypeReferenceHandle handle)
    {
        var type = md.GetTypeReference(handle);
        if (type.ResolutionScope.Kind == HandleKind.TypeReference)
            return RefName(md, (TypeReferenceHandle)type.ResolutionScope);
        string ns = md.GetString(type.Namespace);
        return ns.Length == 0 ? md.GetString(type.Name) : $"{ns}.{md.GetString(type.Name)}";
    }

    /// <summary>Every type a signature blob mentions, read with a decoder that collects names.</summary>
    private static IEnumerable<string> SignatureTypes(MetadataReader md, BlobHandle signature)
    {
        var collector = new Collector(md);
        var reader = md.GetBlobReader(signature);
        var header = reader.ReadSignatureHeader();
        reader.Reset();
        var decoder = new SignatureDecoder<object?, object?>(collector, md, null);
        try
        {
            switch (header.Kind)
            {
                case SignatureKind.Method or SignatureKind.Property:
                    decoder.DecodeMethodSignature(ref reader);
                    break;
                case SignatureKind.Field:
                    decoder.DecodeFieldSignature(ref reader);
                    break;
                case SignatureKind.LocalVariables:
                    decoder.DecodeLocalSignature(ref reader);
                    break;
                case SignatureKind.MethodSpecification:
                    decoder.DecodeMethodSpecificationSignature(ref reader);
                    break;
                default:
                    decoder.DecodeType(ref reader);
                    break;
            }
        }
        catch (BadImageFormatException)
        {
            // A type specification blob is a bare type: decoded above; anything else unreadable names nothing.
        }
        return collector.Names;
    }

    private sealed class Collector(MetadataReader md) : ISignatureTypeProvider<object?, object?>
    {
        public List<string> Names { get; } = [];
        public object? GetPrimitiveType(PrimitiveTypeCode typeCode) => null;
        public object? GetTypeFromDefinition(MetadataReader reader, TypeDefinitionHandle handle, byte rawTypeKind) { Names.Add(Outermost(md, handle)); return null; }
        public object? GetTypeFromReference(MetadataReader reader, TypeReferenceHandle handle, byte rawTypeKind) { Names.Add(RefName(md, handle)); return null; }
        public object? GetTypeFromSpecification(MetadataReader reader, object? genericContext, TypeSpecificationHandle handle, byte rawTypeKind) { Names.AddRange(SignatureTypes(md, md.GetTypeSpecification(handle).Signature)); return null; }
        public object? GetSZArrayType(object? elementType) => null;
        public object? GetArrayType(object? elementType, ArrayShape shape) => null;
        public object? GetByReferenceType(object? elementType) => null;
        public object? GetPointerType(object? elementType) => null;
        public object? GetGenericInstantiation(object? genericType, ImmutableArray<object?> typeArguments) => null;
        public object? GetGenericMethodParameter(object? genericContext, int index) => null;
        public object? GetGenericTypeParameter(object? genericContext, int index) => null;
        public object? GetFunctionPointerType(MethodSignature<object?> signature) => null;
        public object? GetModifiedType(object? modifier, object? unmodifiedType, bool isRequired) => null;
        public object? GetPinnedType(object? elementType) => null;
    }

    /// <summary>The metadata tokens IL instructions carry (every operand of a token-taking opcode).</summary>
    private static IEnumerable<int> Tokens(byte[] il)
    {
        int i = 0;
        while (i < il.Length)
        {
            int code = il[i++];
            if (code == 0xFE)
                code = 0x100 | il[i++];
            var (size, isToken) = Operand(code, il, i);
            if (isToken)
                yield return BitConverter.ToInt32(il, i);
            i += size;
        }
    }

    /// <summary>The operand size of an opcode, and whether it is a metadata token (ECMA-335 III).</summary>
    private static (int Size, bool IsToken) Operand(int code, byte[] il, int at)
    {
        switch (code)
        {
            case 0x20: case 0x22: return (4, false);                               // ldc.i4, ldc.r4
            case 0x21: case 0x23: return (8, false);                               // ldc.i8, ldc.r8
            case 0x0E: case 0x0F: case 0x10: case 0x11: case 0x12: case 0x13:      // ldarg.s .. stloc.s
            case 0x1F: return (1, false);                                          // ldc.i4.s
            case >= 0x2B and <= 0x37: return (1, false);                           // short branches
            case >= 0x38 and <= 0x44: return (4, false);                           // long branches
            case 0x45: return (4 + 4 * BitConverter.ToInt32(il, at), false);       // switch
            case 0xDD: return (4, false);                                          // leave
            case 0xDE: return (1, false);                                          // leave.s
            case 0x28: case 0x29: case 0x6F: case 0x73: case 0x74: case 0x75: case 0x79: case 0x7B: case 0x7C:
            case 0x7D: case 0x7E: case 0x7F: case 0x80: case 0x81: case 0x8C: case 0x8D: case 0x8F: case 0xA3:
            case 0xA4: case 0xA5: case 0xC2: case 0xC6: case 0xD0: case 0x70: case 0x71: case 0x72:
            case 0x27:
                return (4, code != 0x72);                                          // ldstr's token is a string
            case 0x106: case 0x107: case 0x115: case 0x116: case 0x11C:            // ldftn ldvirtftn initobj constrained sizeof
                return (4, true);
            case 0x109: case 0x10A: case 0x10B: case 0x10C: case 0x10D: case 0x10E: // ldarg ldarga starg ldloc ldloca stloc
                return (2, false);
            case 0x112: return (1, false);                                         // unaligned.
            case 0x119: return (1, false);                                         // no.
            default: return (0, false);
        }
    }
}
