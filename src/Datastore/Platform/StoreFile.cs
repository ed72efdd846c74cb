using System.Runtime.InteropServices;
using BackupFs.Datastore.Formats;
using Microsoft.Win32.SafeHandles;

namespace BackupFs.Datastore.Platform;

/// <summary>
/// Opens files of a datastore it did not write, at the file level: only regular files are read. The
/// open uses O_NOFOLLOW (a symlink where a file is expected is refused, so a link to /dev/zero or
/// /etc/shadow is never read) and O_NONBLOCK (a FIFO cannot block the open); fstat on the descriptor
/// then refuses FIFOs, devices and sockets, and a size above the caller's limit, before any byte is
/// read. So a hostile file fails with one clear error within bounded time and memory.
/// </summary>
public static class StoreFile
{
    /// <summary>Opens a regular file for reading; <paramref name="length"/> is its size.</summary>
    /// <exception cref="FileNotFoundException">it does not exist</exception>
    /// <exception cref="UnsafePathException">it is a symlink, FIFO, device, socket or directory</exception>
    /// <exception cref="FormatCorruptException">it is larger than <paramref name="maxBytes"/></exception>
    public static unsafe SafeFileHandle OpenRegular(string path, long maxBytes, out long length)
    {
        var p = Posix.Terminate(Posix.PathBytes(path));
        int fd;
        fixed (byte* pp = p)
            fd = LibC.open(pp, OpenFlags.ReadOnly | OpenFlags.NoFollow | OpenFlags.NonBlock | OpenFlags.CloseOnExec, 0);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno == Errno.ENOENT) throw new FileNotFoundException($"{path} does not exist", path);
            if (errno == Errno.ENOTDIR) throw new DirectoryNotFoundException($"{path}: a parent is not a directory");
            if (errno == Errno.ELOOP) throw new UnsafePathException($"refusing to read {path}: it is a symbolic link, not a regular file");
            throw new PosixException("open", path, errno);
        }
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            byte empty = 0;
            var st = Posix.StatAt(fd, &empty, LibC.AtEmptyPath) ?? throw new PosixException("fstat", path, Marshal.GetLastPInvokeError());
            if (!st.IsRegular)
                throw new UnsafePathException($"refusing to read {path}: it is a {FileTypeBits.Describe(st.Mode)}, not a regular file");
            if (st.Size > maxBytes)
                throw new FormatCorruptException($"{path} is too large ({st.Size} bytes; at most {maxBytes} expected)");
            length = st.Size;
            return handle;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>The whole content of a regular file of at most <paramref name="maxBytes"/> bytes (see <see cref="OpenRegular"/>).</summary>
    public static byte[] ReadAll(string path, long maxBytes)
    {
        using var handle = OpenRegular(path, maxBytes, out long length);
        var bytes = new byte[length];
        int total = 0;
        while (total < length)
        {
            int n = RandomAccess.Read(handle, bytes.AsSpan(total), total);
            if (n == 0) throw new FormatCorruptException($"{path} shrank while being read");
            total += n;
        }
        return bytes;
    }

    public static async Task<byte[]> ReadAllAsync(string path, long maxBytes, CancellationToken ct = default)
    {
        using var handle = OpenRegular(path, maxBytes, out long length);
        var bytes = new byte[length];
        int total = 0;
        while (total < length)
        {
            int n = await RandomAccess.ReadAsync(handle, bytes.AsMemory(total), total, ct).ConfigureAwait(false);
            if (n == 0) throw new FormatCorruptException($"{path} shrank while being read");
            total += n;
        }
        return bytes;
    }

    /// <summary>Whether a regular file (not a symlink) exists at the path.</summary>
    public static bool IsRegularFile(string path) => Posix.TryLStat(Posix.PathBytes(path)) is { IsRegular: true };
}
