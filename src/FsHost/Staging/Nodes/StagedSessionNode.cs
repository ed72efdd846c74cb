using System.Globalization;
using System.Text;
using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Staging.Nodes;

/// <summary>
/// The root of one group's session (staging/[ns/...]&lt;type&gt;/&lt;id&gt;): a staged directory
/// with control attributes. setxattr user.backupfs.commit commits now (the reply waits for it),
/// user.backupfs.discard drops uncommitted changes; getxattr user.backupfs.snapshot,
/// .last-commit and .error report (see <see cref="StagingControlXattrs"/>).
/// </summary>
public sealed class StagedSessionNode(StagingNodes nodes, StagedInode inode) : StagedDirNode(nodes, inode)
{
    public override ValueTask<VfsResult<int>> GetXattrAsync(RequestContext ctx, ReadOnlyMemory<byte> name, Memory<byte> destination) =>
        Control(name.Span) is { } control
            ? ValueTask.FromResult(XattrReplies.Value(ControlValue(control), destination))
            : base.GetXattrAsync(ctx, name, destination);

    public override async ValueTask<Errno> SetXattrAsync(RequestContext ctx, ReadOnlyMemory<byte> name, ReadOnlyMemory<byte> value, XattrSetFlags flags)
    {
        var control = Control(name.Span);
        // A commit or discard can run for a while before its first wait: not on the thread that
        // brought the request, which over io_uring serves every request from one CPU.
        if (control is StagingControlXattrs.CommitXattr or StagingControlXattrs.DiscardXattr) await Task.Yield();
        switch (control)
        {
            case StagingControlXattrs.CommitXattr:
                return await CommitAsync(ctx).ConfigureAwait(false);
            case StagingControlXattrs.DiscardXattr:
                await Session.DiscardAsync(ctx.SessionEnding).ConfigureAwait(false);
                Nodes.ForgetCachedTree(Inode);
                return Errno.Ok;
            case not null:
                return Errno.EPERM; // the report attributes are read-only
        }
        return await base.SetXattrAsync(ctx, name, value, flags).ConfigureAwait(false);
    }

    /// <summary>
    /// Answers once the snapshot is complete: the session's restart from it (the rebase) goes on after
    /// the reply, holding the session's gate, so what the client does next waits for it as any request
    /// arriving during the rebase does; its failures are logged by the session and the commit.
    /// </summary>
    private async Task<Errno> CommitAsync(RequestContext ctx)
    {
        var published = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var commit = Nodes.Area.CommitAsync(Session, ctx.SessionEnding, _ => published.TrySetResult());
        if (await Task.WhenAny(published.Task, commit).ConfigureAwait(false) == commit)
        {
            await commit.ConfigureAwait(false); // its failure, as the error the client sees
            return Errno.Ok;
        }
        _ = commit.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        return Errno.Ok;
    }

    private static string? Control(ReadOnlySpan<byte> name) =>
        name.StartsWith("user.backupfs."u8) ? Encoding.ASCII.GetString(name) : null;

    private byte[]? ControlValue(string name)
    {
        string? text = name switch
        {
            StagingControlXattrs.SnapshotXattr => (Session.LastCommitted ?? Session.Base)?.RelativePath,
            StagingControlXattrs.ErrorXattr => Session.LastError,
            StagingControlXattrs.LastCommitXattr when Session.LastResult is { } r => string.Create(CultureInfo.InvariantCulture,
                $"snapshot={r.Snapshot.RelativePath} reused_files={r.Split.ReusedFiles} written_files={r.Split.EncodedFiles} "
                + $"reused_bytes={r.Split.ReusedBytes} written_bytes={r.Split.EncodedBytes} prepared_files={r.Split.PreparedFiles} prepared_bytes={r.Split.PreparedBytes} "
                + $"new_chunks={r.InsertedChunks} new_chunk_bytes={r.InsertedBytes}") + TimingsText(Session.LastTimings),
            _ => null,
        };
        return text is null ? null : Encoding.UTF8.GetBytes(text);
    }

    private static string TimingsText(CommitTimings? t) => t is null ? "" : string.Create(CultureInfo.InvariantCulture,
        $" drain_ms={t.Drain.TotalMilliseconds:F0} write_ms={t.Write.TotalMilliseconds:F0}")
        + (t.Rebase is { } rebase ? string.Create(CultureInfo.InvariantCulture, $" rebase_ms={rebase.TotalMilliseconds:F0}") : " rebase=running");
}
