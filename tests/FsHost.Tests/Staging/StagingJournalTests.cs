using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.FsHost.Staging;

namespace BackupFs.FsHost.Tests.Staging;

/// <summary>The staging journal: records round-trip, a torn tail is cut, a bad file is refused.</summary>
public class StagingJournalTests : IDisposable
{
    private readonly TempDir _tmp = new();
    public void Dispose() => _tmp.Dispose();

    [Fact]
    public void RecordsRoundTripAndATornTailIsCut()
    {
        var dir = _tmp.Sub("s");
        using (var j = StagingJournal.Create(dir, 1_700_000_000))
        {
            j.Append(new JournalRecord { Op = JournalOp.MakeDirectory, Time = 5, Parent = 1, Number = 2, Name = "d\n\xff"u8.ToArray(), Mode = 0x1ED, Uid = 7 });
            j.Append(new JournalRecord { Op = JournalOp.SetXattr, Time = -3, Number = 2, Name = "user.a"u8.ToArray(), Value = new byte[70000] });
            j.Append(new JournalRecord { Op = JournalOp.Unlink, Time = 9, Parent = 2, Name = "x"u8.ToArray() });
        }
        var path = Path.Combine(dir, StagingJournal.FileName);
        var full = File.ReadAllBytes(path);
        File.WriteAllBytes(path, full[..^3]); // a crash in the middle of the last write

        var warnings = new List<string>();
        var (journal, baseTime, records) = StagingJournal.Open(dir, warnings.Add);
        using (journal)
        {
            Assert.Equal(1_700_000_000, baseTime);
            Assert.Equal(2, records.Count);
            Assert.Equal(JournalOp.MakeDirectory, records[0].Op);
            Assert.Equal("d\n\xff"u8.ToArray(), records[0].Name);
            Assert.Equal(7u, records[0].Uid);
            Assert.Equal(-3, records[1].Time);
            Assert.Equal(70000, records[1].Value.Length);
            Assert.Single(warnings);
            journal.Append(new JournalRecord { Op = JournalOp.Touch, Number = 2, ModificationTime = 42 });
        }
        var (again, _, reread) = StagingJournal.Open(dir);
        again.Dispose();
        Assert.Equal([JournalOp.MakeDirectory, JournalOp.SetXattr, JournalOp.Touch], reread.Select(r => r.Op));
    }

    [Fact]
    public void AJournalWithoutItsHeaderIsRefused()
    {
        var dir = _tmp.Sub("bad");
        Directory.CreateDirectory(dir);
        File.WriteAllBytes(Path.Combine(dir, StagingJournal.FileName), "not a journal at all"u8.ToArray());
        var e = Assert.Throws<InvalidDataException>(() => StagingJournal.Open(dir));
        Assert.Contains("not a staging journal", e.Message);

        using (StagingJournal.Create(dir, null)) { }
        var (j, baseTime, records) = StagingJournal.Open(dir);
        j.Dispose();
        Assert.Null(baseTime);
        Assert.Empty(records);
    }
}
