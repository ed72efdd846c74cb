using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.FsHost.Fuse;
using BackupFs.FsHost.Staging;
using BackupFs.FsHost.Tests.Cli;
using BackupFs.FsHost.Tests.Fuse;
using BackupFs.FsHost.Tests.Tree;
using Xunit.Abstractions;

namespace BackupFs.FsHost.Tests.Staging;

/// <summary>
/// POSIX ACLs, modes and real tools in staging, checked against the same commands run on a
/// local ext4 directory (the oracle), and the committed snapshot read back by restoring it with
/// the CLI and listing it with find/getfattr.
/// </summary>
[Collection("fuse")]
public class StagingAclTests : IDisposable
{
    private static readonly StagingOptions Manual = new() { CommitDelay = TimeSpan.FromHours(1), OpenFilesWait = TimeSpan.FromSeconds(1) };
    private readonly ITestOutputHelper _output;
    // Trees compared with a local copy live on the disk (their listing follows its readdir order);
    // the datastore lives in memory: its 65,536 chunk directories take ~20 s to create on this disk.
    private readonly TempDir _tmp = new(onDisk: true);
    private readonly TempDir _mem = new();
    public StagingAclTests(ITestOutputHelper output) => _output = output;

    /// <summary>null: as `backupfs mount` (passthrough as root); the derived class runs every test over the writeback cache.</summary>
    protected virtual (FuseIoUring, bool)? Transport => null;
    public void Dispose() { _tmp.Dispose(); _mem.Dispose(); }

    private static bool ToolsPresent(ITestOutputHelper output, params string[] tools)
    {
        foreach (var t in tools)
            if (Bounded.Run("bash", "-c", $"command -v {t}").ExitCode != 0) { output.WriteLine($"skipped: {t} is not installed (scripts/test.sh installs it)"); return false; }
        return true;
    }

    private static string Sh(string cwd, string script, bool check = true)
    {
        var r = Bounded.RunWithTimeout(TimeSpan.FromMinutes(3), "bash", "-c", $"cd \"$1\" && {script}", "_", cwd);
        if (check) Assert.True(r.ExitCode == 0, $"'{script}' failed ({r.ExitCode}): {r.Stderr}");
        return r.Stdout + r.Stderr;
    }

    private static string Commit(string session)
    {
        var (code, stdout, stderr) = Task.Run(() => CliRunner.RunAsync("commit", session)).WaitAsync(TimeSpan.FromMinutes(3)).GetAwaiter().GetResult();
        Assert.True(code == 0, $"backupfs commit failed: {stderr}");
        return stdout.Trim();
    }

    private string Restore(DataStore store, string snapshot, string name)
    {
        var target = _tmp.Sub("restored-" + name);
        CliRunner.RunOkAsync("restore", store.Root, snapshot, "root.pxar", target).WaitAsync(TimeSpan.FromMinutes(3)).GetAwaiter().GetResult();
        return target;
    }

    /// <summary>The ACL operations a local filesystem supports, run in staging and on ext4: same modes, same ACLs, same errors.</summary>
    [FuseFact]
    public void AclSemanticsMatchALocalFilesystem()
    {
        if (!FuseEnvironment.Usable(_output) || !ToolsPresent(_output, "setfacl", "getfattr")) return;
        if (Environment.UserName != "root") { _output.WriteLine("skipped: chown to other ids needs root"); return; }
        const string script = """
            umask 022
            touch f1; setfacl -m u:1234:rw f1
            touch f2; setfacl --set u::rw,g::r,o::- f2
            getfattr -n system.posix_acl_access f2 2>&1 | sed 's/^.*: //'
            touch f3; chmod 600 f3; setfacl -m u:1234:rwx f3; chmod 640 f3
            touch f4; setfacl -m u:1234:r,m::rw f4; setfacl -b f4
            touch f5; setfacl -m g:5678:rwx f5; setfacl -x g:5678 f5; chmod 751 f5
            touch f6; setfacl -m d:u:1:r f6 2>&1 | sed 's/^.*: //'; echo "default on a file: ${PIPESTATUS[0]}"
            mkdir d; setfacl -d -m u:1234:rwx d; setfacl -d -m g::rx,o::- d
            touch d/file; mkdir d/sub; mkfifo d/fifo; ln -s x d/sym
            (umask 077; touch d/masked; mkdir d/masked-dir)
            (umask 000; install -m 777 /dev/null d/all)
            mkdir plain; (umask 027; touch plain/u027; mkdir plain/d027)
            mkdir sg; chown :1234 sg; chmod 2775 sg; touch sg/f; mkdir sg/d
            echo hi > src644; chmod 644 src644; cp -a src644 copy644
            mkdir srcd; chmod 751 srcd; cp -a srcd copyd
            setfacl -k d/sub; setfacl -m u:99:r copy644; chmod 4755 copy644
            getfacl -R -p -n . 2>&1 | grep -v '^# file' | sort | uniq -c
            """;
        var local = _tmp.Sub("local");
        Directory.CreateDirectory(local);
        var expected = Sh(local, script);
        var store = DataStore.CreateLocal(_mem.Sub("ds"));
        using var mount = new DatastoreMount(store, staging: Manual, transport: Transport);
        var session = mount.PathOf("staging/host/acl");
        Assert.Equal(0, Bounded.Run("mkdir", session).ExitCode);
        var actual = Sh(session, script);
        _output.WriteLine(expected);
        Assert.Equal(expected, actual);
        var want = TreeListing.Of(local, TreeListing.Times.None);
        Assert.Equal(want, TreeListing.Of(session, TreeListing.Times.None));
        AssertJournalReplaysTo(store, mount.Staging!.Sessions.Single());

        var name = Commit(session);
        Assert.Equal(want, TreeListing.Of(Restore(store, name, "acl"), TreeListing.Times.None));
        // Read through the mount's snapshot tree too (its ACL xattrs are rebuilt from pxar ACL items).
        Assert.Equal(want, Bounded.Io(() => TreeListing.Of(mount.PathOf(name + "/root.pxar"), TreeListing.Times.None), TimeSpan.FromMinutes(2)));
        Assert.Empty(mount.Errors);
    }

    /// <summary>What a remount would rebuild from the journal (the ACL changes are plain records) equals the live tree.</summary>
    private static void AssertJournalReplaysTo(DataStore store, StagingSession live)
    {
        using var chunks = new BackupFs.Datastore.Reading.CachedChunkSource(new BackupFs.Datastore.Reading.DecodingChunkSource(store.Chunks), 16 << 20);
        var area = new StagingArea(new StagingContext(store, chunks, Manual, _ => { }));
        area.RecoverAsync(CancellationToken.None).WaitAsync(TimeSpan.FromMinutes(1)).GetAwaiter().GetResult();
        var replayed = area.Sessions.Single(); // not disposed as an area: that would commit
        try { Assert.Equal(Describe(live), Describe(replayed)); }
        finally { replayed.Dispose(); }
    }

    private static string Describe(StagingSession session)
    {
        var lines = new List<string>();
        var pending = new Stack<(string, StagedInode)>([("", session.Root)]);
        while (pending.TryPop(out var item))
        {
            var (path, inode) = item;
            var xattrs = session.GetXattrsAsync(inode, CancellationToken.None).AsTask().GetAwaiter().GetResult()
                .Select(x => System.Text.Encoding.ASCII.GetString(x.Name) + "=" + Convert.ToHexString(x.Value)).Order();
            lines.Add($"{path} {Convert.ToString(inode.Mode, 8)} {inode.Uid}:{inode.Gid} {string.Join(' ', xattrs)}");
            if (!inode.IsDirectory) continue;
            foreach (var (name, child) in session.ListAsync(inode, CancellationToken.None).AsTask().GetAwaiter().GetResult().Value)
                pending.Push((path + "/" + System.Text.Encoding.UTF8.GetString(name), child));
        }
        lines.Sort(StringComparer.Ordinal);
        return string.Join('\n', lines);
    }

    /// <summary>Builds a source tree with every kind of metadata a copy tool carries.</summary>
    private string MakeSource()
    {
        var src = _tmp.Sub("src");
        Directory.CreateDirectory(src);
        Sh(src, """
            umask 022
            mkdir -p dir/sub acl sticky priv empty
            echo a > f644; chmod 644 f644
            head -c 300000 /dev/urandom > dir/big; chown 1234:5678 dir/big
            echo s > suid; chmod 4755 suid
            echo g > sgid; chmod 2750 sgid
            chmod 1777 sticky; chmod 700 priv; echo p > priv/secret; chmod 600 priv/secret
            echo x > exec; chmod 755 exec; echo r > ro; chmod 444 ro
            echo e > acl/ext; setfacl -m u:1234:rw,g:5678:r acl/ext
            setfacl -d -m u:1234:rwx,g::rx,o::- acl
            echo i > acl/inherited; mkdir acl/inner
            setfattr -n user.k -v value f644; setfattr -n user.dir -v d dir
            ln f644 dir/hard
            ln -s ../f644 dir/sym; ln -s /nonexistent dangling
            find . -depth -exec touch -h -d '2021-02-03 04:05:06.123456789' {} +
            """);
        return src;
    }

    /// <summary>
    /// Each tool copies the source into its own session and, the same way, into a local
    /// directory; the committed snapshot, restored, lists exactly as the local copy.
    /// </summary>
    [FuseTheory]
    [InlineData("cp", TreeListing.Times.All)]
    [InlineData("tar", TreeListing.Times.All)]
    [InlineData("rsync", TreeListing.Times.Files)]
    [InlineData("cpio", TreeListing.Times.Files)]
    [InlineData("unzip", TreeListing.Times.Files)]
    public void ACopyToolIntoStagingCommitsWhatItWroteLocally(string tool, TreeListing.Times times)
    {
        if (!FuseEnvironment.Usable(_output) || !ToolsPresent(_output, "setfacl", "getfattr", "tar", "rsync", "cpio", "zip", "unzip")) return;
        if (Environment.UserName != "root") { _output.WriteLine("skipped: chown to other ids needs root"); return; }
        var src = MakeSource();
        var archives = _tmp.Sub("archives");
        Directory.CreateDirectory(archives);
        Sh(src, $"tar --xattrs --xattrs-include='*' --acls -cpf '{archives}/t.tar' . && find . -depth | cpio -o -H newc --quiet > '{archives}/t.cpio' && zip -q -r -y '{archives}/t.zip' .");
        string Copy(string target) => Sh(target, tool switch
        {
            "cp" => $"cp -a '{src}/.' .",
            "tar" => $"tar --xattrs --xattrs-include='*' --acls --numeric-owner -xpf '{archives}/t.tar'",
            "rsync" => $"rsync -aHAX '{src}/' ./",
            "cpio" => $"cpio -idm --quiet < '{archives}/t.cpio'",
            "unzip" => $"unzip -q -X '{archives}/t.zip'",
            _ => throw new ArgumentException(tool),
        });
        var local = _tmp.Sub("local");
        Directory.CreateDirectory(local);
        Copy(local);
        var want = TreeListing.Of(local, times);
        if (tool is "cp" or "tar" or "rsync") Assert.Equal(TreeListing.Of(src, times), want); // these copy everything

        var store = DataStore.CreateLocal(_mem.Sub("ds"));
        using var mount = new DatastoreMount(store, staging: Manual, transport: Transport);
        var session = mount.PathOf("staging/host/" + tool);
        Assert.Equal(0, Bounded.Run("mkdir", session).ExitCode);
        Copy(session);
        Assert.Equal(want, TreeListing.Of(session, times));
        var name = Commit(session);
        Assert.Equal(want, TreeListing.Of(Restore(store, name, tool), times));
        Assert.Empty(mount.Errors);
    }

    /// <summary>git's working tree and object store (modes 0644/0755/0444, renames, packing) in staging as on ext4.</summary>
    [FuseFact]
    public void GitInStagingGivesTheModesItGivesLocally()
    {
        if (!FuseEnvironment.Usable(_output) || !ToolsPresent(_output, "git")) return;
        const string script = """
            export GIT_AUTHOR_DATE='2021-01-01T00:00:00Z' GIT_COMMITTER_DATE='2021-01-01T00:00:00Z' GIT_CONFIG_NOSYSTEM=1 HOME="$PWD"
            umask 022
            git init -q -b main repo && cd repo
            git config user.email t@example.org && git config user.name t && git config pack.threads 1 && git config core.fsync none
            mkdir -p pkg/sub && echo 'print(1)' > pkg/m.py && printf '#!/bin/sh\necho hi\n' > run.sh && chmod 755 run.sh
            for i in $(seq 1 40); do echo "line $i" > pkg/sub/f$i.txt; done
            git add -A && git commit -qm one
            git mv pkg/m.py pkg/main.py && git mv run.sh start.sh && git commit -qm two
            git gc -q --prune=now
            git status --porcelain; git log --format=%H
            """;
        var local = _tmp.Sub("local");
        Directory.CreateDirectory(local);
        var expected = Sh(local, script);
        var store = DataStore.CreateLocal(_mem.Sub("ds"));
        using var mount = new DatastoreMount(store, staging: Manual, transport: Transport);
        var session = mount.PathOf("staging/host/git");
        Assert.Equal(0, Bounded.Run("mkdir", session).ExitCode);
        Assert.Equal(expected, Sh(session, script));
        // The index holds inode numbers and times: its content differs on any two filesystems.
        static bool Skip(string path) => path == "repo/.git/index";
        var want = TreeListing.Of(local, TreeListing.Times.None, Skip);
        Assert.Equal(want, TreeListing.Of(session, TreeListing.Times.None, Skip));
        var name = Commit(session);
        Assert.Equal(want, TreeListing.Of(Restore(store, name, "git"), TreeListing.Times.None, Skip));
        Assert.Equal(TreeListing.Of(session, TreeListing.Times.All), TreeListing.Of(Restore(store, name, "git-again"), TreeListing.Times.All));
        Assert.Empty(mount.Errors);
    }
}

/// <summary>The same tools and checks with the kernel's writeback cache instead of passthrough (the path without root).</summary>
public class StagingAclWritebackTests(ITestOutputHelper output) : StagingAclTests(output)
{
    protected override (FuseIoUring, bool)? Transport => (FuseTransports.Default, false);
}
