using System.Diagnostics;
using System.Net;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Amazon.Runtime.Internal.Util;
using Amazon.S3;
using Amazon.S3.Model;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Reading;

namespace BackupFs.S3.Client;

public sealed class S3ObjectClientOptions
{
    /// <summary>
    /// Deadline of one request, all its attempts, back-off waits and rate-limit waits for retries
    /// included; the clock starts when the request is first sent (queueing for the PUT rate limit
    /// before that is not network time).
    /// </summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Cap of one attempt within <see cref="Timeout"/>, enforced with a CancellationToken (the SDK Timeout is not reliable).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(60);
    public S3RetryPolicy Retry { get; init; } = new();
    public PutRateLimiter? PutRateLimiter { get; init; }
    /// <summary>Fail fast while the endpoint does not answer; null = every request waits its own deadline.</summary>
    public S3CircuitBreakerOptions? CircuitBreaker { get; init; } = new();
    /// <summary>Sink for the breaker's two lines per outage (stopped answering, answers again); null = silent.</summary>
    public Action<string>? Log { get; init; }
    /// <summary>Removes the credentials from error messages.</summary>
    public S3SecretRedactor Redactor { get; init; } = S3SecretRedactor.None;
}

/// <summary>One object of a listing.</summary>
public readonly record struct S3ObjectEntry(string Key, long Size, DateTime? LastModified, string? ETag);

/// <summary>
/// The object-store operations BackupFs needs, on one bucket, with a deadline per attempt,
/// retries with back-off on transient errors, the PUT rate limit, request counters, and errors
/// translated to one clear line (<see cref="S3RequestException"/>).
/// </summary>
public sealed class S3ObjectClient : IDisposable
{
    /// <summary>DeleteObjects takes at most this many keys per request.</summary>
    public const int MaxDeleteBatch = 1000;

    private readonly IAmazonS3 _s3;
    private readonly bool _ownsClient;
    private readonly S3ObjectClientOptions _options;
    private readonly S3SecretRedactor _redactor;

    public string Bucket { get; }
    /// <summary>Endpoint URL for messages.</summary>
    public string Endpoint { get; }
    public S3RequestCounters Counters { get; } = new();
    /// <summary>When set, every writing request (PUT, DELETE, COPY) is refused before it is sent, with this reason.</summary>
    public string? ReadOnlyReason { get; set; }

    /// <summary>Deadline of one request including retries.</summary>
    public TimeSpan Timeout => _options.Timeout;
    /// <summary>Cap of one attempt.</summary>
    public TimeSpan RequestTimeout => _options.RequestTimeout;
    /// <summary>Open while the endpoint does not answer (null when disabled).</summary>
    public S3CircuitBreaker? Breaker { get; }
    public int MaxAttempts => _options.Retry.MaxAttempts;
    /// <summary>The PUT rate limit in requests per second, or null when unlimited.</summary>
    public double? PutRequestsPerSecond => _options.PutRateLimiter?.RequestsPerSecond;

    public S3ObjectClient(IAmazonS3 s3, string bucket, string endpoint, S3ObjectClientOptions? options = null, bool ownsClient = false)
    {
        _s3 = s3;
        Bucket = bucket;
        Endpoint = S3SecretRedactor.RedactUrls(endpoint);
        _options = options ?? new S3ObjectClientOptions();
        _redactor = _options.Redactor;
        _ownsClient = ownsClient;
        if (_options.CircuitBreaker is { } breaker)
            Breaker = new S3CircuitBreaker(ProbeAsync, Endpoint, breaker, _options.Log);
    }

    /// <summary>The breaker's probe: HEAD of the bucket, sent past the breaker, no retries.</summary>
    private Task ProbeAsync(CancellationToken ct) => _s3.HeadBucketAsync(new HeadBucketRequest { BucketName = Bucket }, ct);

    /// <summary>
    /// Uploads an object. With <paramref name="noReplace"/> the PUT carries If-None-Match: * and a
    /// 412 means the object already exists: returns false then (success, nothing written).
    /// </summary>
    public Task<bool> PutAsync(string key, ReadOnlyMemory<byte> data, bool noReplace, CancellationToken ct = default) =>
        RunAsync(S3RequestKind.Put, "PUT", key, async token =>
        {
            var request = new PutObjectRequest
            {
                BucketName = Bucket,
                Key = key,
                InputStream = AsStream(data),
                AutoCloseStream = true,
                ContentType = "application/octet-stream",
                // Sign the whole body's SHA-256 instead of aws-chunked framing (as PBS does; faster on radosgw).
                UseChunkEncoding = false,
            };
            if (noReplace) request.IfNoneMatch = "*";
            try
            {
                await _s3.PutObjectAsync(request, token).ConfigureAwait(false);
                return true;
            }
            catch (AmazonS3Exception e) when (noReplace && e.StatusCode == HttpStatusCode.PreconditionFailed)
            {
                return false;
            }
        }, ct);

    /// <summary>The whole object, or null when the key does not exist.</summary>
    /// <param name="checkedByCaller">the caller verifies the bytes itself (a chunk: CRC and SHA-256),
    /// so the SDK's MD5 of the body against the ETag is skipped: computed in managed code, it took
    /// 41% of the mount's CPU in a cold read from the bucket.</param>
    public Task<byte[]?> GetAsync(string key, CancellationToken ct = default, bool checkedByCaller = false) =>
        GetIntoAsync(key, checkedByCaller, static n => GC.AllocateUninitializedArray<byte>(n), static a => a, static _ => { }, ct);

    /// <summary>A chunk blob as <see cref="GetAsync"/> gets it, into a pooled buffer the caller releases: a
    /// fresh array per chunk faulted in its memory page by page (an eighth of the mount's CPU in a
    /// cold read). An object larger than any chunk blob is refused before it is read.</summary>
    public Task<ChunkBuffer?> GetChunkBufferAsync(string key, CancellationToken ct = default, bool checkedByCaller = false) =>
        GetIntoAsync(key, checkedByCaller, ChunkBuffer.Rent, static b => b.WritableMemory, static b => b.Release(), ct, StoreFileLimits.Blob);

    private Task<T?> GetIntoAsync<T>(string key, bool checkedByCaller, Func<int, T> allocate, Func<T, Memory<byte>> memoryOf,
        Action<T> discard, CancellationToken ct, long maxLength = long.MaxValue) where T : class =>
        RunAsync<T?>(S3RequestKind.Get, "GET", key, async token =>
        {
            try
            {
                using var response = await _s3.GetObjectAsync(new GetObjectRequest { BucketName = Bucket, Key = key }, token).ConfigureAwait(false);
                // Swapped out rather than bypassed: disposing the MD5 stream also checks the hash.
                if (checkedByCaller && response.ResponseStream is MD5Stream md5) response.ResponseStream = md5.GetNonWrapperBaseStream();
                var body = response.ResponseStream;
                long length = response.ContentLength;
                long limit = Math.Min(maxLength, Array.MaxLength);
                if (length > limit) throw new S3RequestException($"S3 GET '{key}': object too large ({length} bytes)", null, null, false);
                if (length < 0)
                {
                    // No Content-Length (chunked transfer): read to the end, but no further than the limit.
                    using var copy = new MemoryStream();
                    var block = new byte[81920];
                    for (int n; (n = await body.ReadAsync(block, token).ConfigureAwait(false)) > 0;)
                    {
                        if (copy.Length + n > limit) throw new S3RequestException($"S3 GET '{key}': object too large (over {limit} bytes)", null, null, false);
                        copy.Write(block, 0, n);
                    }
                    var whole = allocate((int)copy.Length);
                    copy.GetBuffer().AsSpan(0, (int)copy.Length).CopyTo(memoryOf(whole).Span);
                    return whole;
                }
                var buffer = allocate((int)length);
                try { await body.ReadExactlyAsync(memoryOf(buffer), token).ConfigureAwait(false); }
                catch
                {
                    discard(buffer);
                    throw;
                }
                return buffer;
            }
            catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound && e.ErrorCode == "NoSuchKey")
            {
                return null;
            }
        }, ct);

    /// <summary>Size of the object, or null when the key does not exist.</summary>
    public Task<long?> HeadAsync(string key, CancellationToken ct = default) =>
        RunAsync<long?>(S3RequestKind.Head, "HEAD", key, async token =>
        {
            try
            {
                var response = await _s3.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = Bucket, Key = key }, token).ConfigureAwait(false);
                return response.ContentLength;
            }
            catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound && e.ErrorCode != "NoSuchBucket")
            {
                // HEAD has no body: a missing key and a missing bucket both answer a bare 404; tell them apart.
                await HeadBucketAsync(token).ConfigureAwait(false);
                return null;
            }
        }, ct);

    /// <summary>Checks that the bucket exists and the credentials work.</summary>
    public async Task HeadBucketAsync(CancellationToken ct = default)
    {
        try
        {
            await RunAsync(S3RequestKind.Head, "HEAD bucket", null, async token =>
            {
                await _s3.HeadBucketAsync(new HeadBucketRequest { BucketName = Bucket }, token).ConfigureAwait(false);
                return true;
            }, ct).ConfigureAwait(false);
        }
        catch (S3RequestException e) when (e.StatusCode is HttpStatusCode.Forbidden or HttpStatusCode.BadRequest)
        {
            // HEAD answers carry no error body: ask with a LIST, whose XML error names the cause
            // (SignatureDoesNotMatch, InvalidAccessKeyId, NoSuchBucket, AccessDenied).
            await RunAsync(S3RequestKind.List, "LIST", null, t => _s3.ListObjectsV2Async(
                new ListObjectsV2Request { BucketName = Bucket, MaxKeys = 1 }, t), ct).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Every object below a prefix (ListObjectsV2, following continuation tokens).</summary>
    public async IAsyncEnumerable<S3ObjectEntry> ListAsync(string prefix, int pageSize = 1000, [EnumeratorCancellation] CancellationToken ct = default)
    {
        string? token = null;
        do
        {
            var page = await RunAsync(S3RequestKind.List, "LIST", prefix, t => _s3.ListObjectsV2Async(new ListObjectsV2Request
            {
                BucketName = Bucket,
                Prefix = prefix,
                ContinuationToken = token,
                MaxKeys = pageSize,
            }, t), ct).ConfigureAwait(false);
            // SDK 4: empty results give null collections.
            foreach (var o in page.S3Objects ?? [])
                yield return new S3ObjectEntry(o.Key, o.Size ?? 0, o.LastModified, o.ETag);
            token = page.IsTruncated == true ? page.NextContinuationToken : null;
            if (page.IsTruncated == true && string.IsNullOrEmpty(token))
                throw new S3RequestException($"S3 LIST '{prefix}': truncated result without a continuation token", null, null, false);
        } while (token != null);
    }

    /// <summary>
    /// One directory level below a prefix (ListObjectsV2 with a delimiter, following continuation
    /// tokens): the objects directly in it and the sub-prefixes ("directories"). At most
    /// <paramref name="maxEntries"/> entries are collected, so a hostile bucket cannot exhaust memory.
    /// </summary>
    public async Task<S3DirectoryListing> ListDirectoryAsync(string prefix, string delimiter = "/", int maxEntries = 1_000_000, CancellationToken ct = default)
    {
        var objects = new List<S3ObjectEntry>();
        var prefixes = new List<string>();
        string? token = null;
        do
        {
            var page = await RunAsync(S3RequestKind.List, "LIST", prefix, t => _s3.ListObjectsV2Async(new ListObjectsV2Request
            {
                BucketName = Bucket,
                Prefix = prefix,
                Delimiter = delimiter,
                ContinuationToken = token,
            }, t), ct).ConfigureAwait(false);
            foreach (var o in page.S3Objects ?? [])
                objects.Add(new S3ObjectEntry(o.Key, o.Size ?? 0, o.LastModified, o.ETag));
            prefixes.AddRange(page.CommonPrefixes ?? []);
            if (objects.Count + prefixes.Count > maxEntries)
                throw new S3RequestException($"S3 LIST '{prefix}': more than {maxEntries} entries in one directory", null, null, false);
            token = page.IsTruncated == true ? page.NextContinuationToken : null;
            if (page.IsTruncated == true && string.IsNullOrEmpty(token))
                throw new S3RequestException($"S3 LIST '{prefix}': truncated result without a continuation token", null, null, false);
        } while (token != null);
        return new S3DirectoryListing(objects, prefixes);
    }

    public Task DeleteAsync(string key, CancellationToken ct = default) =>
        RunAsync(S3RequestKind.Delete, "DELETE", key, async token =>
        {
            await _s3.DeleteObjectAsync(new DeleteObjectRequest { BucketName = Bucket, Key = key }, token).ConfigureAwait(false);
            return true;
        }, ct);

    /// <summary>Deletes keys with DeleteObjects in batches of at most 1000; returns how many were deleted.</summary>
    public async Task<int> DeleteManyAsync(IEnumerable<string> keys, CancellationToken ct = default)
    {
        int deleted = 0;
        foreach (var batch in keys.Chunk(MaxDeleteBatch))
        {
            var response = await RunAsync(S3RequestKind.Delete, "DELETE (batch)", batch[0], t => _s3.DeleteObjectsAsync(new DeleteObjectsRequest
            {
                BucketName = Bucket,
                Objects = batch.Select(k => new KeyVersion { Key = k }).ToList(),
            }, t), ct).ConfigureAwait(false);
            var errors = response.DeleteErrors ?? [];
            if (errors.Count > 0)
            {
                var first = errors[0];
                throw new S3RequestException($"S3 could not delete {errors.Count} of {batch.Length} objects; first: '{first.Key}': {first.Code} {first.Message}", null, first.Code, false);
            }
            deleted += batch.Length;
        }
        return deleted;
    }

    /// <summary>Every object below a prefix, listed then deleted in batches; returns the count.</summary>
    public async Task<int> DeletePrefixAsync(string prefix, CancellationToken ct = default)
    {
        var keys = new List<string>();
        await foreach (var o in ListAsync(prefix, ct: ct).ConfigureAwait(false)) keys.Add(o.Key);
        return keys.Count == 0 ? 0 : await DeleteManyAsync(keys, ct).ConfigureAwait(false);
    }

    /// <summary>Server-side copy (metadata replaced, as PBS does for corrupt-chunk renames).</summary>
    public Task CopyAsync(string sourceKey, string destinationKey, CancellationToken ct = default) =>
        RunAsync(S3RequestKind.Copy, "COPY", sourceKey, async token =>
        {
            await _s3.CopyObjectAsync(new CopyObjectRequest
            {
                SourceBucket = Bucket,
                SourceKey = sourceKey,
                DestinationBucket = Bucket,
                DestinationKey = destinationKey,
                MetadataDirective = S3MetadataDirective.REPLACE,
            }, token).ConfigureAwait(false);
            return true;
        }, ct);

    private static MemoryStream AsStream(ReadOnlyMemory<byte> data) =>
        MemoryMarshal.TryGetArray(data, out var segment) && segment.Array != null
            ? new MemoryStream(segment.Array, segment.Offset, segment.Count, writable: false)
            : new MemoryStream(data.ToArray(), writable: false);

    /// <summary>
    /// One logical request within one deadline (<see cref="S3ObjectClientOptions.Timeout"/>):
    /// attempts capped at <see cref="S3ObjectClientOptions.RequestTimeout"/> (the wait ends even if
    /// the SDK ignores cancellation), transient failures retried with back-off only while the
    /// deadline leaves room, errors translated. A failure without any answer from the server opens
    /// the circuit breaker: later requests then fail at once until the endpoint answers again.
    /// </summary>
    private async Task<T> RunAsync<T>(S3RequestKind kind, string operation, string? key, Func<CancellationToken, Task<T>> call, CancellationToken ct)
    {
        if (ReadOnlyReason is { } readOnly && kind is S3RequestKind.Put or S3RequestKind.Delete or S3RequestKind.Copy)
            throw new S3ReadOnlyException($"refusing S3 {operation} '{key}': {readOnly}");

        string what = $"S3 {operation}{(key == null ? "" : $" '{key}'")}";
        var retry = _options.Retry;
        Breaker?.ThrowIfOpen(what);
        var breakerToken = Breaker?.Token ?? CancellationToken.None;
        using var request = CancellationTokenSource.CreateLinkedTokenSource(ct, breakerToken);
        if (kind == S3RequestKind.Put && _options.PutRateLimiter is { } firstToken)
        {
            // Queueing for the rate limit is not network time: outside the deadline, but it ends when the breaker opens.
            try { await firstToken.WaitAsync(request.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested) { throw Breaker!.UnavailableNow(what); }
        }
        request.CancelAfter(_options.Timeout);
        long started = Stopwatch.GetTimestamp();
        S3RequestException? last = null;
        var backOff = TimeSpan.Zero;
        for (int attempt = 1; ; attempt++)
        {
            S3RequestException failure;
            try
            {
                if (attempt > 1)
                {
                    await Task.Delay(backOff, request.Token).ConfigureAwait(false);
                    if (kind == S3RequestKind.Put && _options.PutRateLimiter is { } limiter)
                        await limiter.WaitAsync(request.Token).ConfigureAwait(false);
                }
                Breaker?.ThrowIfOpen(what);
                return await AttemptAsync(kind, operation, key, call, request.Token, ct, breakerToken, Remaining(started)).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested) { throw; }
            catch (OperationCanceledException) when (breakerToken.IsCancellationRequested)
            {
                // Another request found the endpoint dead meanwhile: do not wait out this deadline too.
                throw Breaker!.UnavailableNow(what);
            }
            catch (OperationCanceledException e)
            {
                // The request's whole deadline ran out while waiting to retry: report why it was retried.
                if (last != null) throw Final(last, attempt - 1);
                failure = new S3TimeoutException($"{what} got no answer from {Endpoint} within {_options.Timeout.TotalSeconds:0.###} s", _options.Timeout, e);
            }
            catch (S3UnavailableException) { throw; }
            catch (S3RequestException e) { failure = e; }

            // A retry cut short by the request's deadline says nothing new about a server that
            // answered the previous attempt with an error: report that error (no network fault).
            if (failure is S3TimeoutException { Deadline: var d } && d == _options.Timeout
                && last != null && !S3CircuitBreaker.IsNetworkFault(last))
                throw Final(last, attempt);
            backOff = retry.DelayBefore(attempt + 1);
            if (!S3RetryPolicy.IsTransient(failure) || attempt >= retry.MaxAttempts || Remaining(started) - backOff < MinimumAttempt)
                throw Final(failure, attempt);
            last = failure;
        }
    }

    private TimeSpan Remaining(long started) => _options.Timeout - Stopwatch.GetElapsedTime(started);

    /// <summary>A retry is only started with at least this much of the deadline left (a quarter of it, at most 1 s).</summary>
    private TimeSpan MinimumAttempt => TimeSpan.FromMilliseconds(Math.Min(1000, _options.Timeout.TotalMilliseconds / 4));

    /// <summary>
    /// One attempt with its own cap; every failure comes back as an <see cref="S3RequestException"/>,
    /// except cancellation by the caller or by the breaker.
    /// </summary>
    private async Task<T> AttemptAsync<T>(S3RequestKind kind, string operation, string? key, Func<CancellationToken, Task<T>> call,
        CancellationToken request, CancellationToken caller, CancellationToken breaker, TimeSpan remaining)
    {
        Counters.Count(kind);
        var cap = remaining < _options.RequestTimeout ? remaining : _options.RequestTimeout;
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(request);
        attempt.CancelAfter(cap > TimeSpan.Zero ? cap : TimeSpan.FromMilliseconds(1));
        Task<T> task;
        try
        {
            task = call(attempt.Token);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw S3ErrorTranslator.Translate(e, operation, key, Bucket, Endpoint, _redactor);
        }
        try
        {
            return await task.WaitAsync(attempt.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException e) when (!caller.IsCancellationRequested && !breaker.IsCancellationRequested)
        {
            // This attempt's cap or the request's whole deadline ran out.
            Abandon(task);
            var deadline = request.IsCancellationRequested || cap < _options.RequestTimeout ? _options.Timeout : _options.RequestTimeout;
            throw new S3TimeoutException($"S3 {operation}{(key == null ? "" : $" '{key}'")} got no answer from {Endpoint} within {deadline.TotalSeconds:0.###} s", deadline, e);
        }
        catch (OperationCanceledException)
        {
            Abandon(task);
            throw;
        }
        catch (Exception e)
        {
            throw S3ErrorTranslator.Translate(e, operation, key, Bucket, Endpoint, _redactor);
        }
    }

    /// <summary>Observes an abandoned attempt's eventual exception so it is not reported as unobserved.</summary>
    private static void Abandon(Task task)
    {
        if (!task.IsCompleted) _ = task.ContinueWith(static t => _ = t.Exception, TaskContinuationOptions.OnlyOnFaulted);
    }

    /// <summary>The error a failed request reports; a network fault also opens the breaker (said once, in this message).</summary>
    private S3RequestException Final(S3RequestException failure, int attempts)
    {
        string suffix = attempts > 1 ? $" (after {attempts} attempts)" : "";
        if (Breaker != null && S3CircuitBreaker.IsNetworkFault(failure) && Breaker.Trip(failure))
            suffix += "; S3 requests fail at once until the endpoint answers again";
        if (suffix.Length == 0) return failure;
        return failure switch
        {
            S3TimeoutException timeout => new S3TimeoutException(timeout.Message + suffix, timeout.Deadline, timeout.InnerException),
            S3ConnectionException connection => new S3ConnectionException(connection.Message + suffix, connection.InnerException),
            _ => new S3RequestException(failure.Message + suffix, failure.StatusCode, failure.ErrorCode, failure.IsTransient, failure.InnerException),
        };
    }

    public void Dispose()
    {
        Breaker?.Dispose();
        if (_ownsClient) _s3.Dispose();
    }
}
