using System.Diagnostics;
using Syscage.Ebpf;
using Syscage.Ebpf.Btf;
using Syscage.Ebpf.Elf;
using Syscage.Ebpf.Isa;
using Syscage.Ebpf.Maps;
using Syscage.Ebpf.Verifier;
using static Syscage.Ebpf.Isa.EbpfOpcode;

namespace Syscage.EbpfLoader.Tests;

/// <summary>
/// Property tests: whatever bytes or instructions come in, the loader and the verifier answer with a result or
/// their documented error (<see cref="EbpfLoadException"/>, a <see cref="VerificationError"/>) — never another
/// exception, never a hang. Seeds are fixed so a failure names a reproducible input.
/// </summary>
public class FuzzTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly TimeSpan PerInputLimit = TimeSpan.FromSeconds(5);

    private static void Bounded(string what, Action action)
    {
        var sw = Stopwatch.StartNew();
        try
        {
            action();
        }
        catch (EbpfLoadException)
        {
        }
        catch (Exception e)
        {
            Assert.Fail($"{what}: unexpected {e.GetType().Name}: {e}");
        }
        Assert.True(sw.Elapsed < PerInputLimit, $"{what}: took {sw.Elapsed}");
    }

    private static void LoadAndVerify(byte[] bytes)
    {
        var o = EbpfObject.Load(bytes);
        foreach (var p in o.Programs)
            o.TryVerify(p, out _, out _);
    }

    [Fact]
    public void Random_bytes_into_the_loader()
    {
        var rng = new Random(6001);
        for (int iter = 0; iter < 3000; iter++)
        {
            var bytes = new byte[rng.Next(0, 2048)];
            rng.NextBytes(bytes);
            if (iter % 2 == 0 && bytes.Length >= 64)
            {
                // A valid ELF header prefix, so the fuzzing reaches the section table.
                byte[] header = [0x7f, (byte)'E', (byte)'L', (byte)'F', 2, 1, 1, 0];
                header.CopyTo(bytes, 0);
                bytes[16] = 1; bytes[17] = 0; bytes[18] = 247; bytes[19] = 0; bytes[58] = 64; bytes[59] = 0;
            }
            Bounded($"random object #{iter}", () => LoadAndVerify(bytes));
        }
    }

    [Fact]
    public void Mutated_real_objects_into_the_loader_and_verifier()
    {
        var rng = new Random(6002);
        var samples = Clang.SampleNames.Select(Clang.Sample).ToArray();
        int loaded = 0;
        for (int iter = 0; iter < 4000; iter++)
        {
            var bytes = (byte[])samples[iter % samples.Length].Clone();
            int mutations = 1 + rng.Next(8);
            for (int m = 0; m < mutations; m++)
            {
                switch (rng.Next(4))
                {
                    case 0: bytes[rng.Next(bytes.Length)] ^= (byte)(1 << rng.Next(8)); break;
                    case 1: bytes[rng.Next(bytes.Length)] = (byte)rng.Next(256); break;
                    case 2: Array.Resize(ref bytes, rng.Next(bytes.Length)); break;
                    default:
                        // Interesting values at random 4-byte positions: sizes and offsets in headers.
                        int at = rng.Next(Math.Max(1, bytes.Length - 4));
                        uint[] interesting = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 8, 64, 0xffff];
                        if (at + 4 <= bytes.Length)
                            BitConverter.TryWriteBytes(bytes.AsSpan(at), interesting[rng.Next(interesting.Length)]);
                        break;
                }
                if (bytes.Length == 0)
                    break;
            }
            Bounded($"mutated object #{iter}", () =>
            {
                LoadAndVerify(bytes);
                loaded++;
            });
        }
        output.WriteLine($"mutated objects: 4000, loaded: {loaded}");
        Assert.True(loaded > 100, $"only {loaded} mutated objects loaded: the mutations are too destructive to test the verifier");
    }

    [Fact]
    public void Random_btf_sections()
    {
        var rng = new Random(6003);
        for (int iter = 0; iter < 3000; iter++)
        {
            int typeLen = rng.Next(0, 400), strLen = rng.Next(1, 64);
            var bytes = new byte[24 + typeLen + strLen];
            rng.NextBytes(bytes);
            BitConverter.TryWriteBytes(bytes.AsSpan(0), (ushort)0xeB9F);
            bytes[2] = 1;
            BitConverter.TryWriteBytes(bytes.AsSpan(4), 24u);
            BitConverter.TryWriteBytes(bytes.AsSpan(8), 0u);
            BitConverter.TryWriteBytes(bytes.AsSpan(12), (uint)typeLen);
            BitConverter.TryWriteBytes(bytes.AsSpan(16), (uint)typeLen);
            BitConverter.TryWriteBytes(bytes.AsSpan(20), (uint)strLen);
            // Mostly small kinds and vlens, so that parsing goes on past the first type.
            for (int p = 24; p + 12 <= 24 + typeLen; p += 12)
            {
                bytes[p + 7] = (byte)rng.Next(0, 21);
                bytes[p + 5] = 0;
                bytes[p + 4] = (byte)rng.Next(0, 3);
            }
            Bounded($"random BTF #{iter}", () =>
            {
                var btf = BtfInfo.Parse(bytes);
                for (int id = 0; id < btf.Types.Count; id++)
                {
                    try { btf.SizeOf(id); } catch (EbpfLoadException) { }
                    try { btf.SkipModifiers(id); } catch (EbpfLoadException) { }
                }
            });
        }
    }

    private static readonly byte[] Opcodes = BuildOpcodes();

    private static byte[] BuildOpcodes()
    {
        var list = new List<byte> { BPF_LD | BPF_DW | BPF_IMM, BPF_JMP | BPF_EXIT, BPF_JMP | BPF_CALL, BPF_JMP | BPF_JA, BPF_JMP32 | BPF_JA };
        foreach (byte size in new[] { BPF_B, BPF_H, BPF_W, BPF_DW })
        {
            list.Add((byte)(BPF_LDX | BPF_MEM | size));
            list.Add((byte)(BPF_ST | BPF_MEM | size));
            list.Add((byte)(BPF_STX | BPF_MEM | size));
        }
        list.Add(BPF_STX | BPF_ATOMIC | BPF_W);
        list.Add(BPF_STX | BPF_ATOMIC | BPF_DW);
        for (int op = 0; op <= 0xc0; op += 0x10)
            foreach (byte cls in new[] { BPF_ALU, BPF_ALU64 })
                foreach (byte src in new[] { BPF_K, BPF_X })
                    list.Add((byte)(cls | op | src));
        for (int op = 0x10; op <= 0xd0; op += 0x10)
            if (op is not (0x80 or 0x90))
                foreach (byte cls in new[] { BPF_JMP, BPF_JMP32 })
                    foreach (byte src in new[] { BPF_K, BPF_X })
                        list.Add((byte)(cls | op | src));
        return [.. list];
    }

    private static EbpfInstruction RandomInstruction(Random rng, int length)
    {
        byte code = rng.Next(10) == 0 ? (byte)rng.Next(256) : Opcodes[rng.Next(Opcodes.Length)];
        byte dst = (byte)(rng.Next(20) == 0 ? rng.Next(16) : rng.Next(11));
        byte src = (byte)(rng.Next(20) == 0 ? rng.Next(16) : rng.Next(11));
        if (code == (BPF_LD | BPF_DW | BPF_IMM) || code == (BPF_JMP | BPF_CALL))
            src = (byte)rng.Next(3);
        short off = (short)(rng.Next(3) switch { 0 => rng.Next(-length, length), 1 => -8 * rng.Next(0, 70), _ => rng.Next(-64, 64) });
        int imm = rng.Next(4) switch
        {
            0 => rng.Next(-4, 140),
            1 => rng.Next(),
            2 => rng.Next(-length, length),
            _ => new[] { 0, 1, 2, 4, 8, 16, 32, 64, 0x81, 0xe1, 0xf1, -1, int.MinValue }[rng.Next(13)],
        };
        if (Class(code) is BPF_ALU or BPF_ALU64 && rng.Next(3) > 0)
            off = 0;
        return new EbpfInstruction(code, dst, src, off, imm);
    }

    [Fact]
    public void Random_instruction_streams_into_the_verifier()
    {
        var rng = new Random(6004);
        var maps = new MapDefinition[]
        {
            new("hash", MapType.Hash, 4, 8, 16),
            new("array", MapType.Array, 4, 16, 1, 0, new byte[16]),
            new("ring", MapType.RingBuf, 0, 0, 4096),
            new(".rodata", MapType.Array, 4, 8, 1, MapDefinition.BPF_F_RDONLY_PROG, new byte[8]),
        };
        int accepted = 0;
        var contexts = new[] { ContextDescription.SeccompData, ContextDescription.Memory(16) };
        for (int iter = 0; iter < 30_000; iter++)
        {
            int length = rng.Next(1, 40);
            var insns = new EbpfInstruction[length];
            for (int k = 0; k < length; k++)
                insns[k] = RandomInstruction(rng, length);
            // Often end properly, so that more programs get past the structural checks.
            if (rng.Next(2) == 0)
            {
                insns[^1] = new EbpfInstruction(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
                if (length > 1)
                    insns[0] = new EbpfInstruction(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, rng.Next(3));
            }
            var options = new VerifierOptions
            {
                Maps = [.. maps],
                Context = contexts[iter % 2],
                ContextSizeInR2 = iter % 2 == 1,
                MaxInstructionsProcessed = 200_000,
            };
            Bounded($"random program #{iter}", () =>
            {
                if (EbpfVerifier.TryVerify(insns, options, out var program, out var error))
                {
                    accepted++;
                    Assert.NotNull(program.Facts);
                }
                else
                    Assert.False(string.IsNullOrEmpty(error.Reason));
            });
        }
        output.WriteLine($"random programs: 30000, accepted: {accepted}");
        Assert.True(accepted > 100, $"only {accepted} random programs were accepted: the generator does not reach the deeper checks");
    }
}
