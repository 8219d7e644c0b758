// Syscage drives Linux seccomp: the library is for Linux only.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
