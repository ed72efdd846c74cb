// The tests use Unix file modes, signals and the Linux gateway.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
