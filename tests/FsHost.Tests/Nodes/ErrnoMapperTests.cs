using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Platform;
using BackupFs.FsHost.Nodes;
using BackupFs.FsHost.Vfs;
using Errno = BackupFs.FsHost.Vfs.Errno;

namespace BackupFs.FsHost.Tests.Nodes;

public sealed class ErrnoMapperTests
{
    private readonly List<string> _lines = new();
    private ErrnoMapper Mapper() => new(new MountErrorLog(_lines.Add));

    [Fact]
    public void Refusals_keep_their_errno_and_log_nothing()
    {
        var m = Mapper();
        Assert.Equal(Errno.EEXIST, m.Map("mkdir", new ErrnoException(Errno.EEXIST)));
        Assert.Equal(Errno.ENOTEMPTY, m.Map("rmdir", new BackupFs.FsHost.Staging.StagingException(Errno.ENOTEMPTY, "not empty")));
        Assert.Equal(Errno.EINTR, m.Map("read", new OperationCanceledException()));
        Assert.Empty(_lines);
    }

    [Fact]
    public void A_full_disk_stays_ENOSPC_or_EDQUOT_by_its_errno()
    {
        var m = Mapper();
        Assert.Equal(Errno.ENOSPC, m.Map("write", new IOException("No space left on device", 28)));
        Assert.Equal(new Errno(122), m.Map("write", new IOException("Disk quota exceeded", 122)));
        Assert.Equal(Errno.ENOSPC, m.Map("write", new PosixException("write", "/spool/1", 28)));
        Assert.Empty(_lines);
    }

    [Fact]
    public void Denied_access_is_EACCES_with_one_line()
    {
        Assert.Equal(Errno.EACCES, Mapper().Map("open", new UnauthorizedAccessException("denied")));
        Assert.Equal("backupfs: open: denied", Assert.Single(_lines));
    }

    [Fact]
    public void Encrypted_data_without_its_key_is_EACCES_logged_once()
    {
        var m = Mapper();
        Assert.Equal(Errno.EACCES, m.Map("read", new EncryptedDataException("needs key 01:02")));
        Assert.Equal(Errno.EACCES, m.Map("read", new EncryptedDataException("needs key 01:02")));
        Assert.Equal("backupfs: needs key 01:02", Assert.Single(_lines));
    }

    [Fact]
    public void Corrupt_data_and_other_failures_are_EIO_with_a_line()
    {
        var m = Mapper();
        Assert.Equal(Errno.EIO, m.Map("read", new FormatCorruptException("short chunk")));
        Assert.Equal(Errno.EIO, m.Map("read", new IOException("Input/output error", 5)));
        Assert.Equal(Errno.EIO, m.Map("stat", new InvalidOperationException("bug")));
        Assert.Equal(["backupfs: read: short chunk", "backupfs: read: Input/output error", "backupfs: stat (unexpected): bug"], _lines);
    }
}
