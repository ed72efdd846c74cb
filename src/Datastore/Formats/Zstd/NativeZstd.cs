using System.Runtime.InteropServices;

namespace BackupFs.Datastore.Formats.Zstd;

/// <summary>
/// zstd through the system's libzstd (Debian's libzstd1, which apt itself depends on): the
/// reference implementation, 3-4x ZstdSharp's speed here at level 1. Bound by hand to nine of its
/// functions (contexts, one-shot compress and decompress, errors, version), looked up once; each
/// thread keeps its own contexts, freed with the thread.
/// </summary>
internal sealed unsafe class NativeZstd : ZstdEngine
{
    /// <summary>1.4.0 made the one-shot functions and error codes below stable.</summary>
    private const uint MinimumVersion = 1_04_00;
    private static readonly string[] LibraryNames = ["libzstd.so.1", "libzstd.so", "libzstd.1.dylib", "libzstd.dll"];

    private readonly delegate* unmanaged<nint> _createCctx;
    private readonly delegate* unmanaged<nint, nuint> _freeCctx;
    private readonly delegate* unmanaged<nint, void*, nuint, void*, nuint, int, nuint> _compressCctx;
    private readonly delegate* unmanaged<nint> _createDctx;
    private readonly delegate* unmanaged<nint, nuint> _freeDctx;
    private readonly delegate* unmanaged<nint, void*, nuint, void*, nuint, nuint> _decompressDctx;
    private readonly delegate* unmanaged<nuint, uint> _isError;
    private readonly delegate* unmanaged<nuint, nint> _getErrorName;

    [ThreadStatic] private static Context? t_compress;
    [ThreadStatic] private static Context? t_decompress;

    public string Version { get; }
    public override string Name => "libzstd " + Version;

    private NativeZstd(nint library, uint version)
    {
        _createCctx = (delegate* unmanaged<nint>)NativeLibrary.GetExport(library, "ZSTD_createCCtx");
        _freeCctx = (delegate* unmanaged<nint, nuint>)NativeLibrary.GetExport(library, "ZSTD_freeCCtx");
        _compressCctx = (delegate* unmanaged<nint, void*, nuint, void*, nuint, int, nuint>)NativeLibrary.GetExport(library, "ZSTD_compressCCtx");
        _createDctx = (delegate* unmanaged<nint>)NativeLibrary.GetExport(library, "ZSTD_createDCtx");
        _freeDctx = (delegate* unmanaged<nint, nuint>)NativeLibrary.GetExport(library, "ZSTD_freeDCtx");
        _decompressDctx = (delegate* unmanaged<nint, void*, nuint, void*, nuint, nuint>)NativeLibrary.GetExport(library, "ZSTD_decompressDCtx");
        _isError = (delegate* unmanaged<nuint, uint>)NativeLibrary.GetExport(library, "ZSTD_isError");
        _getErrorName = (delegate* unmanaged<nuint, nint>)NativeLibrary.GetExport(library, "ZSTD_getErrorName");
        Version = $"{version / 10000}.{version / 100 % 100}.{version % 100}";
    }

    /// <summary>The engine, or null when no libzstd of at least 1.4 loads (then ZstdSharp serves).</summary>
    public static NativeZstd? TryLoad()
    {
        foreach (var name in LibraryNames)
        {
            if (!NativeLibrary.TryLoad(name, out var library)) continue;
            try
            {
                if (NativeLibrary.TryGetExport(library, "ZSTD_versionNumber", out var versionFn)
                    && ((delegate* unmanaged<uint>)versionFn)() is var version and >= MinimumVersion)
                {
                    var engine = new NativeZstd(library, version);
                    engine.SelfCheck();
                    return engine;
                }
            }
            catch (Exception e) when (e is EntryPointNotFoundException or InvalidDataException or FormatCorruptException)
            {
                // a library that lacks a function or round-trips wrongly is not used
            }
            NativeLibrary.Free(library);
        }
        return null;
    }

    public override bool TryCompress(ReadOnlySpan<byte> data, Span<byte> destination, out int written)
    {
        var context = t_compress ??= new Context(_createCctx(), _freeCctx);
        nuint result;
        fixed (byte* src = data)
        fixed (byte* dst = destination)
            result = _compressCctx(context.Handle, dst, (nuint)destination.Length, src, (nuint)data.Length, Level);
        if (_isError(result) != 0)
        {
            written = 0;
            if (ErrorCode(result) == DestinationTooSmall) return false;
            throw new InvalidOperationException("zstd compression failed: " + ErrorName(result));
        }
        written = checked((int)result);
        return true;
    }

    public override int DecompressInto(ReadOnlySpan<byte> frame, Span<byte> destination)
    {
        var context = t_decompress ??= new Context(_createDctx(), _freeDctx);
        nuint result;
        fixed (byte* src = frame)
        fixed (byte* dst = destination)
            result = _decompressDctx(context.Handle, dst, (nuint)destination.Length, src, (nuint)frame.Length);
        if (_isError(result) != 0) throw new FormatCorruptException("bad zstd frame: " + ErrorName(result));
        return checked((int)result);
    }

    /// <summary>zstd's error codes are negated small integers in a size_t; 70 is dstSize_tooSmall (stable since 1.3).</summary>
    private const int DestinationTooSmall = 70;
    private static int ErrorCode(nuint result) => (int)(0 - result);
    private string ErrorName(nuint result) => Marshal.PtrToStringUTF8(_getErrorName(result)) ?? $"error {ErrorCode(result)}";

    /// <summary>A round trip of a small text before the engine is trusted with a datastore's bytes.</summary>
    private void SelfCheck()
    {
        var text = new byte[4096];
        for (int i = 0; i < text.Length; i++) text[i] = (byte)"backup chunk index "[i % 19];
        var frame = new byte[text.Length];
        if (!TryCompress(text, frame, out int written) || written >= text.Length)
            throw new InvalidDataException("libzstd did not compress a repetitive text");
        var back = new byte[text.Length];
        if (DecompressInto(frame.AsSpan(0, written), back) != text.Length || !back.AsSpan().SequenceEqual(text))
            throw new InvalidDataException("libzstd did not round-trip a text");
    }

    /// <summary>A compression or decompression context; its finalizer frees it once its thread has ended.</summary>
    private sealed class Context(nint handle, delegate* unmanaged<nint, nuint> free)
    {
        public nint Handle { get; } = handle != 0 ? handle : throw new OutOfMemoryException("libzstd could not allocate a context");
        ~Context() => free(Handle);
    }
}
