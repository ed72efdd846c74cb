namespace BackupFs.FsHost.Vfs;

/// <summary>Seconds and nanoseconds since the Unix epoch, as the kernel carries them.</summary>
public readonly record struct Timestamp(long Seconds, uint Nanoseconds)
{
    public static Timestamp FromDateTimeOffset(DateTimeOffset t)
    {
        var ticks = t.UtcTicks - DateTime.UnixEpoch.Ticks;
        var seconds = Math.DivRem(ticks, TimeSpan.TicksPerSecond, out var rest);
        if (rest < 0) { seconds--; rest += TimeSpan.TicksPerSecond; }
        return new Timestamp(seconds, (uint)(rest * 100));
    }

    public static Timestamp Now => FromDateTimeOffset(DateTimeOffset.UtcNow);

    public DateTimeOffset ToDateTimeOffset() =>
        new(DateTime.UnixEpoch.Ticks + Seconds * TimeSpan.TicksPerSecond + Nanoseconds / 100, TimeSpan.Zero);
}
