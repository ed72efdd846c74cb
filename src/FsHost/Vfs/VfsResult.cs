namespace BackupFs.FsHost.Vfs;

/// <summary>A value or an errno. Converts implicitly from both, so handlers can
/// <c>return Errno.ENOENT;</c> or <c>return entry;</c>.</summary>
public readonly struct VfsResult<T>
{
    /// <summary>The value; meaningful only when <see cref="IsOk"/>.</summary>
    public T Value { get; }

    /// <summary>The error; <see cref="Errno.Ok"/> on success.</summary>
    public Errno Error { get; }

    public bool IsOk => Error.IsOk;

    private VfsResult(T value, Errno error) { Value = value; Error = error; }

    public static VfsResult<T> Ok(T value) => new(value, Errno.Ok);

    public static VfsResult<T> Fail(Errno error) =>
        error.IsOk ? throw new ArgumentException("a failure needs a non-zero errno", nameof(error)) : new(default!, error);

    public static implicit operator VfsResult<T>(T value) => Ok(value);
    public static implicit operator VfsResult<T>(Errno error) => Fail(error);
}
