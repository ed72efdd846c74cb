using BackupFs.FsHost.Nodes;
using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Staging.Nodes;

/// <summary>One open of a staged file: reads and writes go to its handle (the spool file or the base snapshot's bytes).</summary>
internal sealed class StagedOpenFile(StagingNodes nodes, StagedFileHandle handle) : IOpenFile, IFileReader, IFileWriter, IFileSyncer
{
    private StagingSession Session => handle.Inode.Session!;

    public ValueTask<int> ReadAsync(long offset, Memory<byte> destination, CancellationToken ct) => handle.ReadAsync(offset, destination, ct);

    public ValueTask<VfsResult<int>> WriteAsync(RequestContext ctx, long offset, ReadOnlyMemory<byte> data)
    {
        var written = Session.Write(handle, offset, data.Span);
        return ValueTask.FromResult(written == Errno.Ok ? VfsResult<int>.Ok(data.Length) : written);
    }

    public async ValueTask<Errno> FsyncAsync(RequestContext ctx, bool dataOnly)
    {
        return await Session.FsyncAsync(handle, ctx.SessionEnding).ConfigureAwait(false);
    }

    public async ValueTask<Errno> ReleaseAsync()
    {
        await Session.ReleaseAsync(handle, CancellationToken.None).ConfigureAwait(false);
        if (handle.FailedAt is not null) nodes.ForgetCachedSize(handle.Inode);
        return Errno.Ok;
    }
}
