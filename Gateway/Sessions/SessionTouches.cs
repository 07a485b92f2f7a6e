using System.Collections.Concurrent;
using System.Threading.Channels;
using Gateway.Configuration;
using Gateway.Observability;
using Microsoft.Extensions.Options;

namespace Gateway.Sessions;

/// <summary>
/// The sliding expiry, written off the request path: a request that finds its session (in the cache or in the store)
/// is served at once, and the write that slides the session's idle expiry (and its place in the user's index) goes
/// out in the background, batched with the others, at most once per session per <c>TouchInterval</c> on this replica.
/// The guarantees stay: the record is read, and revocations checked, before anything is served; a session idle for
/// <c>IdleTimeout</c> still expires (the write lands within milliseconds of the request, the interval is minutes
/// shorter than the timeout); a session that ended meanwhile is dropped from the cache when its write finds it gone.
/// </summary>
internal sealed partial class SessionTouches(ISessionStore store, SessionCache cache, IOptions<GatewaySessionOptions> options, TimeProvider time,
    GatewayMetrics metrics, ILogger<SessionTouches> logger) : BackgroundService
{
    /// <summary>Pending writes at most; past it a touch is left for the session's next request (it claims again).</summary>
    public const int Capacity = 100_000;

    private const int Batch = 512;

    private readonly GatewaySessionOptions _options = options.Value;
    private readonly Channel<Pending> _pending = Channel.CreateBounded<Pending>(new BoundedChannelOptions(Capacity)
    {
        FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true,
    });
    // When this replica last slid each session it fetched from the store (sessions in the cache carry their own), by a
    // 64-bit digest of the key: about 50 bytes an entry, and no reference that would keep an evicted session's strings
    // alive. Two sessions sharing a digest (odds of 2^-64 a pair) would only share when they were last slid.
    private readonly ConcurrentDictionary<long, long> _touchedAt = new();
    private int _touchedCount;
    private readonly Throttle _failureLog = new(TimeSpan.FromSeconds(10));

    private readonly record struct Pending(SessionKey Key, DateTimeOffset AbsoluteExpiresAt);

    /// <summary>
    /// A session just read from the store: when it was last slid by this replica (for the cache entry), and its slide
    /// queued when that was <c>TouchInterval</c> ago or more.
    /// </summary>
    public DateTimeOffset Fetched(SessionKey key, DateTimeOffset absoluteExpiresAt, DateTimeOffset now)
    {
        var ticks = now.UtcTicks;
        var digest = Digest(key);
        if (_touchedAt.TryGetValue(digest, out var last) && ticks - last < _options.TouchInterval.Ticks) return new DateTimeOffset(last, TimeSpan.Zero);
        if (_touchedAt.TryAdd(digest, ticks)) Forget(Interlocked.Increment(ref _touchedCount), now);
        else _touchedAt[digest] = ticks;
        Queue(key, absoluteExpiresAt);
        return now;
    }

    /// <summary>A cached session whose entry claimed the slide (<see cref="CachedSession.TryClaimTouch"/>).</summary>
    public void Claimed(CachedSession session) => Queue(session.Key, session.Record.AbsoluteExpiresAt);

    private void Queue(SessionKey key, DateTimeOffset absoluteExpiresAt)
    {
        if (!_pending.Writer.TryWrite(new Pending(key, absoluteExpiresAt)))
        {
            // Full (the store is down or far behind): the next request of this session claims the slide again.
            Unmark(key);
            metrics.SessionTouch("dropped");
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<Pending>(Batch);
        var slides = new List<SessionSlide>(Batch);
        while (await _pending.Reader.WaitToReadAsync(stoppingToken))
        {
            while (batch.Count < Batch && _pending.Reader.TryRead(out var next)) batch.Add(next);
            var now = time.GetUtcNow();
            foreach (var pending in batch)
                if (pending.AbsoluteExpiresAt <= now) Gone(pending.Key);
            batch.RemoveAll(pending => pending.AbsoluteExpiresAt <= now);
            // slides[i] is batch[i]'s: one call for the lot, which the store sends as one pipelined round trip, so the
            // breaker and timeout around each Redis call are paid once a batch instead of once a session.
            foreach (var pending in batch)
            {
                var absoluteLeft = pending.AbsoluteExpiresAt - now;
                slides.Add(new SessionSlide(pending.Key.Handle, absoluteLeft < _options.IdleTimeout ? absoluteLeft : _options.IdleTimeout));
            }
            if (slides.Count > 0) await WriteAsync(slides, batch, now, stoppingToken);
            batch.Clear();
            slides.Clear();
        }
    }

    private async Task WriteAsync(List<SessionSlide> slides, List<Pending> sent, DateTimeOffset now, CancellationToken stoppingToken)
    {
        SlideOutcome[] outcomes;
        try
        {
            outcomes = await store.TouchAsync(slides, stoppingToken);
        }
        catch (StoreUnavailableException ex)
        {
            foreach (var pending in sent) Failed(pending.Key);
            NoteFailure(now, ex.Message);
            return;
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            return;
        }
        var failed = 0;
        for (var i = 0; i < sent.Count; i++)
        {
            // A session the store did not answer for counts as failed, like one it failed.
            switch (i < outcomes.Length ? outcomes[i] : SlideOutcome.Failed)
            {
                case SlideOutcome.Slid: metrics.SessionTouch("written"); break;
                case SlideOutcome.Gone: Gone(sent[i].Key); break;
                default: Failed(sent[i].Key); failed++; break;
            }
        }
        if (failed > 0) NoteFailure(now, $"{failed} of {sent.Count} sessions' writes failed");
    }

    /// <summary>
    /// Not written (the store down, or the part of it holding the session): the session's next request tries again, or
    /// its cache entry's next claim, a touch interval after this one (the idle timeout is many intervals long).
    /// </summary>
    private void Failed(SessionKey key)
    {
        Unmark(key);
        metrics.SessionTouch("failed");
    }

    private void NoteFailure(DateTimeOffset now, string reason)
    {
        if (_failureLog.TryPass(now)) LogFailed(logger, reason);
    }

    /// <summary>Ended meanwhile (revoked, expired): no copy of it may outlive this.</summary>
    private void Gone(SessionKey key)
    {
        cache.Remove(key);
        Unmark(key);
        metrics.SessionTouch("gone");
    }

    private void Unmark(SessionKey key) => Unmark(Digest(key));

    private void Unmark(long digest)
    {
        if (_touchedAt.TryRemove(digest, out _)) Interlocked.Decrement(ref _touchedCount);
    }

    // The id is 256 random bits: 64 of them tell sessions apart; they never leave the process.
    private static long Digest(SessionKey key) => key.Fingerprint;

    // Twice the cache's entries, and never fewer than the writes that may be pending: with a small cache, or none, these
    // marks are all that holds a session read again and again to one slide a touch interval (about 50 bytes a mark).
    private readonly int _maxMarks = Math.Max(2 * options.Value.CacheMaxEntries, Capacity);

    /// <summary>Bounded: past <see cref="_maxMarks"/>, what is older than the interval goes (it would be written again anyway).</summary>
    private void Forget(int count, DateTimeOffset now)
    {
        if (count <= _maxMarks) return;
        var cutoff = now.UtcTicks - _options.TouchInterval.Ticks;
        foreach (var (digest, ticks) in _touchedAt)
            if (ticks < cutoff) Unmark(digest);
        // Still full of recent ones: forgetting only costs a write that would have been skipped.
        if (Volatile.Read(ref _touchedCount) > _maxMarks)
        {
            _touchedAt.Clear();
            Volatile.Write(ref _touchedCount, 0);
        }
    }

    [LoggerMessage(EventId = LogEvents.SessionTouchFailed, EventName = nameof(LogEvents.SessionTouchFailed), Level = LogLevel.Warning,
        Message = "Sliding session expiry could not be written ({Reason}); sessions are slid again on their next request")]
    private static partial void LogFailed(ILogger logger, string reason);
}
