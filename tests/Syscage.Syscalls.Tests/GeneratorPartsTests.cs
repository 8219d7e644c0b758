using Syscage.Generator;

namespace Syscage.Syscalls.Tests;

/// <summary>The generator's pieces on small inputs, so a change in the headers' style fails close to its cause.</summary>
public class GeneratorPartsTests
{
    private static readonly Dictionary<string, MacroDefinition> NoMacros = new();

    [Theory]
    [InlineData("1 + 2 * 3", 7)]
    [InlineData("(1 + 2) * 3", 9)]
    [InlineData("0x40000000 + 520", 0x40000000 + 520)]
    [InlineData("010", 8)]
    [InlineData("1UL << 4", 16)]
    [InlineData("!0 && (3 == 3) || 0", 1)]
    [InlineData("2 != 2 ? 5 : 6", 6)]
    [InlineData("0xC000003E | 0", 0xC000003E)]
    [InlineData("-1 + ~0", -2)]
    [InlineData("_IO(0xAA, 0x00)", 0xAA00)]          // USERFAULTFD_IOC_NEW
    [InlineData("_IO(0x54, 0x12) | 1", 0x5413)]
    public void IntegerExpressionsEvaluateLikeC(string text, long expected)
        => Assert.Equal(expected, IntegerExpression.Evaluate(text, NoMacros, inCondition: false, "test"));

    [Fact]
    public void ConditionsUseDefinedAndTreatUnknownNamesAsZero()
    {
        var p = new HeaderPreprocessor();
        p.Define("__BITS_PER_LONG", "64");
        p.Define("__ARCH_WANT_NEW_STAT");
        p.Process(
            """
            #if defined(__ARCH_WANT_TIME32_SYSCALLS) || __BITS_PER_LONG != 32
            #define __NR_a 1
            #endif
            #if __BITS_PER_LONG == 32 || defined(__SYSCALL_COMPAT)
            #define __NR_b 2
            #elif defined __ARCH_WANT_NEW_STAT
            #define __NR_c 3
            #else
            #define __NR_d 4
            #endif
            #ifdef __NR_c
            #undef __NR_c
            #define __NR_e (__NR_a + \
                            4) /* continued */
            #endif
            #if UNDEFINED_THING
            #define __NR_f 6
            #endif
            __SYSCALL(__NR_a, sys_a)
            """,
            "test.h");
        var numbers = SyscallTableGenerator.Numbers(p.Macros, "test");
        Assert.Equal(new[] { ("a", 1), ("e", 5) }, numbers);
    }

    [Fact]
    public void NestedInactiveBranchesStayInactive()
    {
        var p = new HeaderPreprocessor();
        p.Process(
            """
            #ifdef NOPE
            #if 1
            #define __NR_x 1
            #else
            #define __NR_y 2
            #endif
            #else
            #define __NR_z 3
            #endif
            """,
            "test.h");
        Assert.Equal(new[] { ("z", 3) }, SyscallTableGenerator.Numbers(p.Macros, "test"));
    }

    [Fact]
    public void UnbalancedConditionalsAreErrors()
    {
        Assert.Throws<FormatException>(() => new HeaderPreprocessor().Process("#if 1\n#define A 1\n", "test.h"));
        Assert.Throws<FormatException>(() => new HeaderPreprocessor().Process("#endif\n", "test.h"));
    }

    [Fact]
    public void BookkeepingMacrosAreNotSyscalls()
    {
        var p = new HeaderPreprocessor();
        p.Process(
            """
            #define __NR3264_fcntl 25
            #define __NR_fcntl __NR3264_fcntl
            #define __NR_arch_specific_syscall 244
            #define __NR_riscv_flush_icache (__NR_arch_specific_syscall + 15)
            #define __NR_syscalls 451
            """,
            "test.h");
        Assert.Equal(new[] { ("fcntl", 25), ("riscv_flush_icache", 259) }, SyscallTableGenerator.Numbers(p.Macros, "test"));
    }

    [Fact]
    public void TroffEscapesAreRemoved()
    {
        Assert.Equal("int openat(int dirfd, ...)", ManPages.Unescape(@"int \fBopenat\fP(int \fIdirfd\fR, \&...\/)"));
        Assert.Equal("a-b ~c", ManPages.Unescape(@"a\-b \[ti]c\,"));
        Assert.Equal("x", ManPages.Unescape(@"x\"" a comment"));
    }

    private static List<Prototype> Parse(string synopsis)
        => ManPages.Prototypes("test.2", ".TH test 2 2023-01-01 \"Linux man-pages 6.03\"\n.SH SYNOPSIS\n.nf\n" + synopsis + "\n.fi\n.SH DESCRIPTION\nText.\n").ToList();

    private static string[] Names(Prototype p) => p.Parameters.Select(q => q.Name).ToArray();

    [Fact]
    public void AlternatingFontMacrosAndContinuationLinesMakeOnePrototype()
    {
        List<Prototype> found = Parse(
            """
            .B #include <fcntl.h>
            .PP
            .BI "int openat(int " dirfd ", const char *" pathname ", int " flags \
            ", mode_t " mode );
            """);
        Prototype openat = Assert.Single(found);
        Assert.Equal("openat", openat.Function);
        Assert.Equal(new[] { "dirfd", "pathname", "flags", "mode" }, Names(openat));
        Assert.Equal("SYNOPSIS", openat.Section);
        Assert.False(openat.IsRawSyscall);
    }

    [Fact]
    public void MultiLinePrototypesArraysAndQualifiers()
    {
        List<Prototype> found = Parse(
            """
            .BI "ssize_t read(int " fd ", void " buf [. count "], size_t " count );
            .BI "int prlimit(pid_t "  pid ", int " resource ,
            .BI "            const struct rlimit *_Nullable " new_limit ,
            .BI "            struct rlimit *_Nullable restrict " old_limit );
            .BI "[[deprecated]] int ustat(dev_t " dev ", struct ustat *" ubuf );
            .B pid_t getpid(void);
            """);
        Assert.Equal(new[] { "read", "prlimit", "ustat", "getpid" }, found.Select(p => p.Function));
        Assert.Equal(new[] { "fd", "buf", "count" }, Names(found[0]));
        Assert.Equal(new[] { "pid", "resource", "new_limit", "old_limit" }, Names(found[1]));
        Assert.Equal(new[] { "dev", "ubuf" }, Names(found[2]));
        Assert.Empty(found[3].Parameters);
        Assert.False(found[0].Parameters[1].IsByValue);
        Assert.True(found[0].Parameters[2].IsByValue);
    }

    [Fact]
    public void OptionalArgumentsInACommentAfterTheEllipsisAreRead()
    {
        List<Prototype> found = Parse(
            """
            .BI "int fcntl(int " fd ", int " cmd ", ... /* " arg " */ );"
            .BI "int ioctl(int " fd ", unsigned long " request ", ...);"
            .BI "long syscall(SYS_futex, uint32_t *" uaddr ", int " futex_op ", uint32_t " val ,
            .BI "             const struct timespec *" timeout ,   \fR/* or: \fBuint32_t \fIval2\fP */
            .BI "             uint32_t *" uaddr2 ", uint32_t " val3 );
            """);
        Assert.Equal(new[] { "fd", "cmd", "arg" }, Names(found[0]));
        Assert.Equal(new[] { "fd", "request" }, Names(found[1]));
        Assert.Equal("futex", found[2].Function);
        Assert.True(found[2].IsRawSyscall);
        Assert.Equal(new[] { "uaddr", "futex_op", "val", "timeout", "uaddr2", "val3" }, Names(found[2]));
    }

    [Fact]
    public void FunctionPointerParametersAreNamed()
    {
        Prototype clone = Assert.Single(Parse(
            """
            .BI "int clone(int (*" "fn" ")(void *_Nullable), void *" stack ", int " flags ,
            .BI "          void *_Nullable " "arg" ", ..." "  \fR/*\fP" " pid_t *_Nullable " parent_tid ,
            .BI "                                       void *_Nullable " tls ,
            .BI "                                       pid_t *_Nullable " child_tid " \fR*/\fP );"
            """));
        Assert.Equal(new[] { "fn", "stack", "flags", "arg", "parent_tid", "tls", "child_tid" }, Names(clone));
    }

    [Fact]
    public void ConstantsInPlaceOfParametersAndProseAreNotPrototypes()
    {
        List<Prototype> found = Parse(
            """
            .BI "int ioctl(int " fd ", FICLONE, int " src_fd );
            glibc provides no wrapper for
            .BR clone3 (),
            necessitating the use of
            .BR syscall (2).
            .BI "long syscall(long " number ", ...);"
            """);
        Assert.Empty(found);
    }
}
