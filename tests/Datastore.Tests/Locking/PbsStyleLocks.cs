using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace BackupFs.Datastore.Tests.Locking;

/// <summary>
/// Takes the locks a PBS server takes, the way PBS takes them, written for the tests from PBS's
/// behaviour (not from BackupFs's code): the process lock is a classic POSIX record lock
/// (fcntl F_SETLK, whole file) on &lt;store&gt;/.lock, read for a backup and write for GC; group,
/// snapshot and manifest locks are non-blocking flocks on files below
/// &lt;run dir&gt;/locks/&lt;store&gt;/ named with systemd path escaping, or, with the old-locking
/// marker, flocks on the group and snapshot directories.
/// </summary>
public sealed unsafe partial class PbsStyleLocks : IDisposable
{
    private readonly List<SafeFileHandle> _held = [];
    public string RunDir { get; }
    public string LockRoot => Path.Combine(RunDir, "locks");

    /// <summary>A fake PBS host: creates its run directory and points BackupFs at it (BACKUPFS_PBS_LOCK_DIR).</summary>
    public PbsStyleLocks(string baseDir, bool oldLocking = false)
    {
        RunDir = Path.Combine(baseDir, "run", "proxmox-backup");
        Directory.CreateDirectory(RunDir);
        if (oldLocking) File.WriteAllBytes(Path.Combine(RunDir, "old-locking"), []);
        Environment.SetEnvironmentVariable("BACKUPFS_PBS_LOCK_DIR", LockRoot);
    }

    public void Dispose()
    {
        foreach (var h in _held) h.Dispose();
        _held.Clear();
        Environment.SetEnvironmentVariable("BACKUPFS_PBS_LOCK_DIR", null);
    }

    // ---- the process lock -----------------------------------------------------------------

    /// <summary>A PBS backup (or GC when <paramref name="write"/>): F_SETLK over the whole .lock; null when refused.</summary>
    public IDisposable? TryProcessLock(string storeRoot, bool write)
    {
        var h = OpenRaw(Path.Combine(storeRoot, ".lock"), 2 /* O_RDWR */ | 0x40 /* O_CREAT */, 0x1a4);
        var op = new FlockRecord { Type = (short)(write ? 1 : 0), Whence = 0, Start = 0, Len = 0, Pid = 0 };
        if (fcntl((int)h.DangerousGetHandle(), 6 /* F_SETLK */, &op) != 0)
        {
            h.Dispose();
            return null;
        }
        return Hold(h);
    }

    // ---- flock locks ------------------------------------------------------------------------

    /// <summary>PBS's group lock of "type/id" in namespace <paramref name="ns"/> ("a/b", "" for the root).</summary>
    public IDisposable? TryGroupLock(string storeRoot, string storeName, string ns, string typeId) =>
        File.Exists(Path.Combine(RunDir, "old-locking"))
            ? TryFlockDirectory(Path.Combine(storeRoot, NsDir(ns), typeId), exclusive: true)
            : TryFlockFile(LockFile(storeName, ns, typeId), exclusive: true);

    /// <summary>PBS's snapshot lock of "type/id/time".</summary>
    public IDisposable? TrySnapshotLock(string storeRoot, string storeName, string ns, string snapshot, bool exclusive) =>
        File.Exists(Path.Combine(RunDir, "old-locking"))
            ? TryFlockDirectory(Path.Combine(storeRoot, NsDir(ns), snapshot), exclusive)
            : TryFlockFile(LockFile(storeName, ns, snapshot), exclusive);

    /// <summary>PBS's manifest lock of "type/id/time".</summary>
    public IDisposable? TryManifestLock(string storeName, string ns, string snapshot) =>
        TryFlockFile(LockFile(storeName, ns, snapshot + "/.index.json.lck"), exclusive: true);

    /// <summary>The lock file PBS uses for a datastore-relative "type/id[/time[/file]]" in namespace <paramref name="ns"/>.</summary>
    public string LockFile(string storeName, string ns, string path)
    {
        var dir = Path.Combine(LockRoot, storeName, ns.Replace('/', ':'));
        var name = Escape(path);
        if (name.Length >= 255)
        {
            var hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(path))).ToLowerInvariant();
            return Path.Combine(dir, "hashed", name.Substring(0, 80) + "..." + name.Substring(name.Length - 80) + "-" + hash);
        }
        return Path.Combine(dir, name);
    }

    /// <summary>systemd-escape --path of a relative path.</summary>
    public static string Escape(string path)
    {
        var sb = new StringBuilder();
        var bytes = Encoding.UTF8.GetBytes(path);
        for (int i = 0; i < bytes.Length; i++)
        {
            char c = (char)bytes[i];
            bool keep = char.IsAsciiLetterOrDigit(c) || c == '_' || (c == '.' && i > 0);
            if (c == '/') sb.Append('-');
            else if (keep) sb.Append(c);
            else sb.Append($"\\x{bytes[i]:x2}");
        }
        return sb.ToString();
    }

    private static string NsDir(string ns) =>
        ns.Length == 0 ? "" : string.Join('/', ns.Split('/').Select(c => "ns/" + c));

    private IDisposable? TryFlockFile(string path, bool exclusive)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var h = OpenRaw(path, 2 | 0x40 | 0x400 /* O_RDWR|O_CREAT|O_APPEND */, 0x1b0 /* 0660 */);
        return TryFlock(h, exclusive);
    }

    private IDisposable? TryFlockDirectory(string path, bool exclusive) =>
        TryFlock(OpenRaw(path, 0x10000 /* O_DIRECTORY, x86-64 */, 0), exclusive);

    private IDisposable? TryFlock(SafeFileHandle h, bool exclusive)
    {
        if (flock((int)h.DangerousGetHandle(), (exclusive ? 2 : 1) | 4) != 0)
        {
            h.Dispose();
            return null;
        }
        return Hold(h);
    }

    private IDisposable Hold(SafeFileHandle h)
    {
        _held.Add(h);
        return new Release(() => { _held.Remove(h); h.Dispose(); });
    }

    private static SafeFileHandle OpenRaw(string path, int flags, uint mode)
    {
        var bytes = Encoding.UTF8.GetBytes(path + "\0");
        int fd;
        fixed (byte* p = bytes) fd = open(p, flags | 0x80000, mode);
        if (fd < 0) throw new IOException($"open {path}: errno {Marshal.GetLastPInvokeError()}");
        return new SafeFileHandle(fd, true);
    }

    private sealed class Release(Action action) : IDisposable
    {
        private Action? _action = action;
        public void Dispose() => Interlocked.Exchange(ref _action, null)?.Invoke();
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct FlockRecord { public short Type; public short Whence; public long Start; public long Len; public int Pid; }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true)]
    private static partial int open(byte* path, int flags, uint mode);
    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    private static partial int flock(int fd, int op);
    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int fcntl(int fd, int cmd, FlockRecord* arg);
}
