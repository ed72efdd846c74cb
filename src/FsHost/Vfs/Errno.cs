namespace BackupFs.FsHost.Vfs;

/// <summary>
/// A POSIX error number (positive, Linux values) returned by filesystem operations instead of
/// exceptions: negative lookups and EROFS answers are frequent and must stay cheap.
/// <see cref="Ok"/> (0) means success.
/// </summary>
public readonly record struct Errno(int Code)
{
    public bool IsOk => Code == 0;

    public static readonly Errno Ok = new(0);
    public static readonly Errno EPERM = new(1);
    public static readonly Errno E2BIG = new(7);
    public static readonly Errno ENOENT = new(2);
    public static readonly Errno EINTR = new(4);
    public static readonly Errno EIO = new(5);
    public static readonly Errno EBADF = new(9);
    public static readonly Errno EAGAIN = new(11);
    public static readonly Errno ENOMEM = new(12);
    public static readonly Errno EACCES = new(13);
    public static readonly Errno EBUSY = new(16);
    public static readonly Errno EEXIST = new(17);
    public static readonly Errno EXDEV = new(18);
    public static readonly Errno ENOTDIR = new(20);
    public static readonly Errno EISDIR = new(21);
    public static readonly Errno EINVAL = new(22);
    public static readonly Errno EFBIG = new(27);
    public static readonly Errno ENOSPC = new(28);
    public static readonly Errno EROFS = new(30);
    public static readonly Errno EMLINK = new(31);
    public static readonly Errno ERANGE = new(34);
    public static readonly Errno ENAMETOOLONG = new(36);
    public static readonly Errno ENOSYS = new(38);
    public static readonly Errno ENOTEMPTY = new(39);
    public static readonly Errno ENODATA = new(61);
    public static readonly Errno EOVERFLOW = new(75);
    public static readonly Errno ENOTSUP = new(95);
    public static readonly Errno ECANCELED = new(125);

    public override string ToString() => $"errno {Code}";
}
