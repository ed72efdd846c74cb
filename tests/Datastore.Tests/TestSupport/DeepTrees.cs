using System.Diagnostics;
using BackupFs.Datastore.Platform;

namespace BackupFs.Datastore.Tests.TestSupport;

/// <summary>Directory chains deeper than PATH_MAX: made and read one name at a time, removed with rm (which walks with descriptors).</summary>
public static class DeepTrees
{
    /// <summary>Creates <paramref name="depth"/> nested directories called <paramref name="name"/> below <paramref name="root"/>; returns the deepest, open.</summary>
    public static DirectoryHandle MakeChain(string root, int depth, string name)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(name);
        var at = DirectoryHandle.Open(Posix.PathBytes(root));
        for (int i = 0; i < depth; i++)
        {
            at.MakeDirectory(bytes, 0x1ED);
            var next = at.OpenDirectory(bytes);
            at.Dispose();
            at = next;
        }
        return at;
    }

    /// <summary>Opens the directory <paramref name="depth"/> levels of <paramref name="name"/> below <paramref name="root"/>.</summary>
    public static DirectoryHandle OpenChain(string root, int depth, string name)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(name);
        var at = DirectoryHandle.Open(Posix.PathBytes(root));
        for (int i = 0; i < depth; i++)
        {
            var next = at.OpenDirectory(bytes);
            at.Dispose();
            at = next;
        }
        return at;
    }

    /// <summary>Removes a tree of any depth.</summary>
    public static void Remove(string path)
    {
        if (!Directory.Exists(path)) return;
        using var p = Process.Start(new ProcessStartInfo("rm", ["-rf", "--", path]) { RedirectStandardError = true })!;
        p.WaitForExit(300_000);
    }

    /// <summary>Runs <paramref name="work"/> on a thread with a small stack: recursion in proportion to input would overflow it.</summary>
    public static T OnSmallStack<T>(Func<Task<T>> work, int stackBytes = 512 * 1024)
    {
        T result = default!;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try { result = work().GetAwaiter().GetResult(); }
            catch (Exception e) { error = e; }
        }, stackBytes);
        thread.Start();
        thread.Join();
        if (error is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
        return result;
    }
}
