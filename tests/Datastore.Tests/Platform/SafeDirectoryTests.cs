using BackupFs.Datastore.Platform;
using BackupFs.Datastore.Tests.TestSupport;

namespace BackupFs.Datastore.Tests.Platform;

public class SafeDirectoryTests
{
    [Fact]
    public void DeleteTreeUnlinksSymlinksInsideButNeverFollowsThem()
    {
        using var tmp = new TempDir();
        var outside = tmp.Sub("outside");
        OutsideTree.Populate(outside);
        var before = OutsideTree.Fingerprint(outside);
        var root = tmp.Sub("root");
        Directory.CreateDirectory(Path.Combine(root, "victim/sub/deeper"));
        File.WriteAllText(Path.Combine(root, "victim/file"), "x");
        File.CreateSymbolicLink(Path.Combine(root, "victim/link-to-dir"), outside);
        File.CreateSymbolicLink(Path.Combine(root, "victim/sub/link-to-file"), Path.Combine(outside, "data/secret"));
        File.CreateSymbolicLink(Path.Combine(root, "victim/sub/deeper/dangling"), Path.Combine(outside, "nothing"));

        Assert.True(SafeDelete.Tree(root, "victim"));

        Assert.False(Directory.Exists(Path.Combine(root, "victim")));
        Assert.Equal(before, OutsideTree.Fingerprint(outside));
    }

    [Theory]
    [InlineData("link")]            // the target itself
    [InlineData("link/host/y")]     // a component on the way
    [InlineData("real/link2/y")]    // a deeper component on the way
    public void DeleteRefusesASymlinkOnThePathAndChangesNothing(string relative)
    {
        using var tmp = new TempDir();
        var outside = tmp.Sub("outside");
        OutsideTree.Populate(outside);
        var before = OutsideTree.Fingerprint(outside);
        var root = tmp.Sub("root");
        Directory.CreateDirectory(Path.Combine(root, "real"));
        File.CreateSymbolicLink(Path.Combine(root, "link"), outside);
        File.CreateSymbolicLink(Path.Combine(root, "real/link2"), Path.Combine(outside, "host"));

        var e = Assert.Throws<UnsafePathException>(() => SafeDelete.Tree(root, relative));
        Assert.Contains("symbolic link", e.Message);
        Assert.Throws<UnsafePathException>(() => SafeDelete.File(root, relative + "/owner"));
        Assert.Equal(before, OutsideTree.Fingerprint(outside));
        Assert.True(IsSymlink(Path.Combine(root, "link")));
    }

    [Fact]
    public void DeleteFileOfASymlinkRemovesTheLinkNotItsTarget()
    {
        using var tmp = new TempDir();
        var target = tmp.Sub("target");
        File.WriteAllText(target, "keep");
        var root = tmp.Sub("root");
        Directory.CreateDirectory(root);
        File.CreateSymbolicLink(Path.Combine(root, "f"), target);

        Assert.True(SafeDelete.File(root, "f"));
        Assert.Equal("keep", File.ReadAllText(target));
        Assert.False(SafeDelete.File(root, "f"));
    }

    [Fact]
    public void DeleteTreeRefusesATreeDeeperThanTheLimitWithoutRecursion()
    {
        using var tmp = new TempDir();
        var root = tmp.Sub("root");
        var path = Path.Combine(root, "top");
        for (int i = 0; i < DirectoryHandle.MaxDeleteDepth + 2; i++) path = Path.Combine(path, "d");
        Directory.CreateDirectory(path);

        var e = Assert.Throws<UnsafePathException>(() => SafeDelete.Tree(root, "top"));
        Assert.Contains("deeper than", e.Message);
    }

    [Fact]
    public void RenameStaysInTheDirectoryAndDoesNotReplaceWithoutBeingAsked()
    {
        using var tmp = new TempDir();
        var root = tmp.Sub("root");
        Directory.CreateDirectory(root);
        File.WriteAllText(Path.Combine(root, "a"), "a");
        File.WriteAllText(Path.Combine(root, "b"), "b");
        using var dir = DirectoryHandle.OpenTrusted(root);

        Assert.False(dir.Rename("a", "b", replace: false));
        Assert.Equal("b", File.ReadAllText(Path.Combine(root, "b")));
        Assert.True(dir.Rename("a", "c", replace: false));
        Assert.True(dir.Rename("c", "b", replace: true));
        Assert.Equal("a", File.ReadAllText(Path.Combine(root, "b")));
        Assert.Throws<FileNotFoundException>(() => dir.Rename("missing", "x", replace: false));
        Assert.Throws<ArgumentException>(() => dir.Rename("b", "../escape", replace: true));
    }

    [Fact]
    public void CreateBelowRefusesASymlinkOnTheWay()
    {
        using var tmp = new TempDir();
        var outside = tmp.Sub("outside");
        Directory.CreateDirectory(outside);
        var root = tmp.Sub("root");
        Directory.CreateDirectory(root);
        File.CreateSymbolicLink(Path.Combine(root, "host"), outside);

        Assert.Throws<UnsafePathException>(() => DirectoryHandle.CreateBelow(root, "host/y", 0x1ED));
        Assert.Empty(Directory.EnumerateFileSystemEntries(outside));
        using (var made = DirectoryHandle.CreateBelow(root, "vm/100", 0x1ED)) Assert.True(made.StatSelf().IsDirectory);
    }

    [Fact]
    public void PrivateDirectoriesAreCreated0700AndAnOldOpenOneIsTightened()
    {
        using var tmp = new TempDir();
        var root = tmp.Sub("root");
        Directory.CreateDirectory(Path.Combine(root, ".backupfs"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);

        var logs = PrivateDirectory.Ensure(root, ".backupfs/logs");

        Assert.Equal(0x1C0u, Posix.LStat(Posix.PathBytes(logs)).Mode & 0xFFF);
        Assert.Equal(0x1C0u, Posix.LStat(Posix.PathBytes(Path.Combine(root, ".backupfs"))).Mode & 0xFFF);
    }

    [Fact]
    public void PrivateDirectoryRefusesASymlinkedStateDirectory()
    {
        using var tmp = new TempDir();
        var outside = tmp.Sub("outside");
        Directory.CreateDirectory(outside);
        var root = tmp.Sub("root");
        Directory.CreateDirectory(root);
        File.CreateSymbolicLink(Path.Combine(root, ".backupfs"), outside);

        Assert.Throws<UnsafePathException>(() => PrivateDirectory.Ensure(root, ".backupfs/locks"));
        Assert.Empty(Directory.EnumerateFileSystemEntries(outside));
    }

    private static bool IsSymlink(string path) => Posix.TryLStat(Posix.PathBytes(path)) is { IsSymlink: true };
}
