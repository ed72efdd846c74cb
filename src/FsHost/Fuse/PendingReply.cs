namespace BackupFs.FsHost.Fuse;

/// <summary>Awaits an operation that did not complete inline and replies from the thread that
/// completes it (kept out of the unsafe dispatcher because unsafe code cannot await).</summary>
internal static class PendingReply
{
    public static async Task Run<T>(FuseDispatcher dispatcher, RequestSlot slot, ValueTask<T> task, Action<FuseDispatcher, RequestSlot, T> reply)
    {
        Exception? failure = null;
        try
        {
            var result = await task.ConfigureAwait(false);
            reply(dispatcher, slot, result);
        }
        catch (Exception e)
        {
            failure = e;
        }
        dispatcher.FinishPending(slot, failure);
    }
}
