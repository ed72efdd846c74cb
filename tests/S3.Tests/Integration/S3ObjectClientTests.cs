using System.Text;
using Amazon.S3.Model;
using BackupFs.S3.Client;
using BackupFs.S3.Tests.Support;

namespace BackupFs.S3.Tests.Integration;

[Collection(S3GatewayCollection.Name)]
public class S3ObjectClientTests(S3GatewayFixture gw)
{
    [Fact]
    public async Task PutIfAbsentKeepsTheFirstObjectAndReports412AsAlreadyThere()
    {
        var bucket = await gw.NewBucketAsync();
        using var client = gw.Client(bucket);
        Assert.True(await client.PutAsync("s/.chunks/k", "first"u8.ToArray(), noReplace: true));
        Assert.False(await client.PutAsync("s/.chunks/k", "second"u8.ToArray(), noReplace: true));
        Assert.Equal("first", Encoding.UTF8.GetString((await client.GetAsync("s/.chunks/k"))!));
        Assert.True(await client.PutAsync("s/.chunks/k", "third"u8.ToArray(), noReplace: false));
        Assert.Equal("third", Encoding.UTF8.GetString((await client.GetAsync("s/.chunks/k"))!));
        var counts = client.Counters.Snapshot();
        Assert.Equal(3, counts.Put);
        Assert.Equal(2, counts.Get);
    }

    [Fact]
    public async Task AGetCheckedByTheCallerReturnsTheSameBytesAndNullForAMissingKey()
    {
        var bucket = await gw.NewBucketAsync();
        using var client = gw.Client(bucket);
        var payload = new byte[3 * 1024 * 1024 + 17];
        new Random(7).NextBytes(payload);
        await client.PutAsync("s/.chunks/big", payload, noReplace: false);
        Assert.Equal(payload, await client.GetAsync("s/.chunks/big", checkedByCaller: true));
        Assert.Equal(payload, await client.GetAsync("s/.chunks/big"));
        Assert.Null(await client.GetAsync("s/.chunks/none", checkedByCaller: true));
    }

    [Fact]
    public async Task AGetIntoAPooledBufferHoldsExactlyTheObject()
    {
        var bucket = await gw.NewBucketAsync();
        using var client = gw.Client(bucket);
        var payload = new byte[1024 * 1024 + 5];
        new Random(8).NextBytes(payload);
        await client.PutAsync("s/.chunks/b", payload, noReplace: false);
        await client.PutAsync("s/.chunks/empty", Array.Empty<byte>(), noReplace: false);
        var buffer = (await client.GetChunkBufferAsync("s/.chunks/b", checkedByCaller: true))!;
        try { Assert.Equal(payload, buffer.Span.ToArray()); }
        finally { buffer.Release(); }
        var empty = (await client.GetChunkBufferAsync("s/.chunks/empty"))!;
        Assert.Equal(0, empty.Length);
        empty.Release();
        Assert.Null(await client.GetChunkBufferAsync("s/.chunks/none"));
    }

    [Fact]
    public async Task AnObjectLargerThanAnyChunkIsRefusedAsAChunk()
    {
        var bucket = await gw.NewBucketAsync();
        using var client = gw.Client(bucket);
        await client.PutAsync("s/.chunks/huge", new byte[17 * 1024 * 1024], noReplace: false);
        var e = await Assert.ThrowsAsync<S3RequestException>(() => client.GetChunkBufferAsync("s/.chunks/huge", checkedByCaller: true));
        Assert.Contains("too large", e.Message);
    }

    [Fact]
    public async Task MissingKeysAreNullForGetAndHead()
    {
        var bucket = await gw.NewBucketAsync();
        using var client = gw.Client(bucket);
        Assert.Null(await client.GetAsync("s/none"));
        Assert.Null(await client.HeadAsync("s/none"));
        await client.PutAsync("s/one", new byte[123], noReplace: false);
        Assert.Equal(123, await client.HeadAsync("s/one"));
    }

    [Fact]
    public async Task ListingFollowsContinuationTokensAndDeleteManyBatchesBy1000()
    {
        var bucket = await gw.NewBucketAsync();
        using var client = gw.Client(bucket);
        var keys = Enumerable.Range(0, 1105).Select(i => $"s/many/{i:d5}").ToList();
        await Parallel.ForEachAsync(keys, new ParallelOptions { MaxDegreeOfParallelism = 16 },
            async (k, ct) => await client.PutAsync(k, "x"u8.ToArray(), noReplace: false, ct));
        var before = client.Counters.Snapshot();
        var listed = new List<string>();
        await foreach (var o in client.ListAsync("s/many/", pageSize: 500)) listed.Add(o.Key);
        Assert.Equal(keys, listed);
        Assert.Equal(3, (client.Counters.Snapshot() - before).List);

        before = client.Counters.Snapshot();
        Assert.Equal(1105, await client.DeletePrefixAsync("s/many/"));
        var used = client.Counters.Snapshot() - before;
        Assert.Equal(2, used.Delete);
        Assert.Empty(await gw.KeysAsync(bucket, "s/many/"));
    }

    [Fact]
    public async Task CopyDuplicatesAnObject()
    {
        var bucket = await gw.NewBucketAsync();
        using var client = gw.Client(bucket);
        await client.PutAsync("s/a", "payload"u8.ToArray(), noReplace: false);
        await client.CopyAsync("s/a", "s/b");
        Assert.Equal("payload", Encoding.UTF8.GetString((await client.GetAsync("s/b"))!));
    }

    [Fact]
    public async Task WrongSecretIsOneClearLine()
    {
        var bucket = await gw.NewBucketAsync();
        using var client = gw.Client(bucket, credentials: new Config.S3Credentials(gw.AccessKey, "definitely-wrong-secret", "test"));
        var e = await Assert.ThrowsAsync<S3RequestException>(() => client.PutAsync("s/x", new byte[1], noReplace: false));
        Assert.Equal("SignatureDoesNotMatch", e.ErrorCode);
        Assert.Contains("secret key does not match", e.Message);
        Assert.DoesNotContain("definitely-wrong-secret", e.Message);
        Assert.DoesNotContain("\n", e.Message);
    }

    [Fact]
    public async Task UnknownAccessKeyIsOneClearLine()
    {
        var bucket = await gw.NewBucketAsync();
        using var client = gw.Client(bucket, credentials: new Config.S3Credentials("no-such-access-key", "x", "test"));
        var e = await Assert.ThrowsAsync<S3RequestException>(() => client.GetAsync("s/x"));
        Assert.Contains("access key is unknown", e.Message);
    }

    [Fact]
    public async Task MissingBucketIsOneClearLine()
    {
        using var client = gw.Client("no-such-bucket-" + Guid.NewGuid().ToString("N")[..8]);
        var e = await Assert.ThrowsAsync<S3RequestException>(() => client.HeadBucketAsync());
        Assert.Contains("does not exist", e.Message);
        e = await Assert.ThrowsAsync<S3RequestException>(() => client.GetAsync("s/x"));
        Assert.Contains("does not exist", e.Message);
        e = await Assert.ThrowsAsync<S3RequestException>(() => client.HeadAsync("s/x"));
        Assert.Contains("does not exist", e.Message);
        e = await Assert.ThrowsAsync<S3RequestException>(() => client.PutAsync("s/x", new byte[1], noReplace: true));
        Assert.Contains("does not exist", e.Message);
    }

    [Fact]
    public async Task HungGatewayTimesOutWithinTheDeadlineThenRecovers()
    {
        var bucket = await gw.NewBucketAsync();
        using var proxy = new TcpFaultProxy(new Uri(gw.Endpoint));
        using var client = gw.Client(bucket, endpoint: proxy.Endpoint, timeoutSeconds: 2, attempts: 2);
        await client.PutAsync("s/warm", new byte[10], noReplace: false);   // a pooled keep-alive connection exists now

        proxy.Blackhole = true;
        var started = DateTime.UtcNow;
        var e = await Assert.ThrowsAsync<S3TimeoutException>(() => client.GetAsync("s/warm"));
        var elapsed = DateTime.UtcNow - started;
        Assert.Contains("got no answer", e.Message);
        // 2 attempts x 1.5 s + back-off: bounded, never a hang (generous bound, not a speed assert).
        Assert.True(elapsed < TimeSpan.FromSeconds(30), $"took {elapsed}");

        proxy.Blackhole = false;
        proxy.Down = true;      // drop the poisoned connections, like a restarted gateway
        proxy.Down = false;
        await S3GatewayFixture.UntilAnsweringAsync(client);   // requests fail at once until the breaker's probe got an answer
        Assert.Equal(10, (await client.GetAsync("s/warm"))!.Length);
    }

    [Fact]
    public async Task StoppedGatewayGivesAClearErrorThenRecovers()
    {
        var bucket = await gw.NewBucketAsync();
        using var proxy = new TcpFaultProxy(new Uri(gw.Endpoint));
        using var client = gw.Client(bucket, endpoint: proxy.Endpoint, timeoutSeconds: 2, attempts: 2);
        await client.PutAsync("s/a", new byte[5], noReplace: false);
        proxy.Down = true;
        var e = await Assert.ThrowsAnyAsync<S3RequestException>(() => client.GetAsync("s/a"));
        Assert.True(e.IsTransient);
        Assert.DoesNotContain("\n", e.Message);
        proxy.Down = false;
        await S3GatewayFixture.UntilAnsweringAsync(client);
        Assert.Equal(5, (await client.GetAsync("s/a"))!.Length);
    }

    [Fact]
    public async Task AdminSeesWhatTheClientWrote()
    {
        var bucket = await gw.NewBucketAsync();
        using var client = gw.Client(bucket);
        await client.PutAsync("s/.cnt/vm/100/owner", "root@pam\n"u8.ToArray(), noReplace: false);
        var o = await gw.Admin.GetObjectAsync(new GetObjectRequest { BucketName = bucket, Key = "s/.cnt/vm/100/owner" });
        using var reader = new StreamReader(o.ResponseStream);
        Assert.Equal("root@pam\n", await reader.ReadToEndAsync());
    }
}
