using Gateway.Configuration;
using Gateway.Observability;
using Microsoft.Extensions.Options;

namespace Gateway.Sessions;

/// <summary>
/// Reads the store ahead for cached sessions in use, so their requests do not wait on it. A cached entry is served
/// for <c>CacheDuration</c> after the store last showed its record; past that, the request that finds it reads the
/// store before it is served. Here, every tenth of <c>CacheDuration</c> (at least a second), the entries a request
/// used within their last two reads ahead (<see cref="CachedSession.ReadAheadWindow"/>), not ended, and whose cached
/// time runs out within two of those periods, are read in the background, a batch at a time in one round trip, and
/// the entry is kept only as the request's read would keep it: its record unchanged, no revocation mark covering it,
/// its key still held, not ended on this replica. It is then served for <c>CacheDuration</c> from when this read was
/// sent, so no entry is ever served longer after the store last showed it than before. A session found gone, revoked
/// or changed is dropped at once (its next request reads the store); a failed read, or one never sent, leaves the
/// entry to its next request (which reads past the cached time, as it always did) and it is not read ahead again
/// until a request uses it; a batch the store fails whole, or times out on in part, ends the look. The reads are not
/// retried and do not count in the requests' circuit breaker; none is sent while it is open. Not a request: nothing
/// slides, and an entry let go of what a request rebuilds stays so. Off with <c>Gateway:Session:ReadAhead</c> false.
/// </summary>
internal sealed partial class SessionRefreshes(ISessionStore store, SessionCache cache, SessionRecordProtector protector, EndedHere endedHere,
    IOptions<GatewaySessionOptions> options, TimeProvider time, GatewayMetrics metrics, ILogger<SessionRefreshes> logger) : BackgroundService
{
    // Small enough that one batch's replies (records with their tokens) do not hold up a request's reply for long on the
    // shared connection, and fit one call's timeout.
    private const int Batch = 128;

    private readonly TimeSpan _cacheDuration = options.Value.CacheDuration;
    private readonly Throttle _failureLog = new(TimeSpan.FromSeconds(10));

    /// <summary>How often the cache is looked over: a tenth of <c>CacheDuration</c>, at least a second.</summary>
    public TimeSpan Period => TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerSecond, _cacheDuration.Ticks / 10));

    /// <summary>Whether this replica reads ahead at all (a cache, held long enough for it to matter).</summary>
    public bool Enabled => options.Value.ReadAhead && options.Value.CachesForBackgroundWork;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!Enabled) return;
        using var timer = new PeriodicTimer(Period, time);
        var due = new List<CachedSession>();
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await RefreshDueAsync(due, stoppingToken);
                }
                // Whatever went wrong with one look, the next goes on: entries it did not keep are read by their requests.
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    LogLookFailed(logger, ex);
                    // Which were read is not known: none is read again before a request uses it.
                    LeaveToRequests(due, 0, due.Count);
                    due.Clear();
                }
            }
        }
        // Stopping: whatever the look in flight met as the host tore things down is no failure of the service.
        catch (Exception) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// One look: every entry due is read, a batch at a time. A batch the store fails whole ends the look, and so does one
    /// some of whose reads timed out (a store that hangs or crawls), once the answers that came are used.
    /// </summary>
    internal async Task RefreshDueAsync(List<CachedSession> due, CancellationToken cancellationToken)
    {
        due.Clear();
        cache.CollectDue(time.GetUtcNow(), 2 * Period, due);
        for (var start = 0; start < due.Count; start += Batch)
        {
            if (await RefreshAsync(due, start, Math.Min(Batch, due.Count - start), cancellationToken)) continue;
            // Redis failing: the rest are left to their requests, as without the read ahead.
            var rest = start + Math.Min(Batch, due.Count - start);
            metrics.CacheRefreshed("failed", due.Count - rest);
            LeaveToRequests(due, rest, due.Count - rest);
            break;
        }
        due.Clear();
    }

    /// <summary>One batch; false when the look should end: the store failed it whole, or timed out on some of it.</summary>
    private async Task<bool> RefreshAsync(List<CachedSession> due, int start, int count, CancellationToken cancellationToken)
    {
        var handles = new SessionHandle[count];
        for (var i = 0; i < count; i++) handles[i] = due[start + i].Key.Handle;
        // Taken before the read is sent: an entry is never served longer than CacheDuration after the store showed it.
        var sentAt = time.GetUtcNow();
        var epoch = cache.LogEpoch;
        SessionRead[] reads;
        try
        {
            reads = await store.GetEachAsync(handles, cancellationToken);
        }
        catch (StoreUnavailableException ex)
        {
            metrics.CacheRefreshed("failed", count);
            LeaveToRequests(due, start, count);
            NoteFailure(sentAt, ex.Message);
            return false;
        }
        int kept = 0, dropped = 0, failed = 0, raced = 0;
        var timedOut = false;
        for (var i = 0; i < count; i++)
        {
            var entry = due[start + i];
            var read = i < reads.Length ? reads[i] : SessionRead.Failure;
            if (read.Failed)
            {
                entry.ReadAheadFailed();
                failed++;
                timedOut |= read.TimedOut;
            }
            // Ended: on this replica without a replica's acknowledgement (refused here whatever the store shows), gone,
            // revoked, or under a key no longer held.
            else if (endedHere.Contains(entry.Key, sentAt) || read.Stored is not { } stored || stored.Revokes(entry.Record.IssuedAt)
                || !protector.StillReadable(stored.Record))
            {
                cache.Discard(entry, ended: true);
                dropped++;
            }
            else if (entry.StillHolds(stored))
            {
                // Not kept when it left the cache meanwhile (a revocation, an eviction): its next request reads the store.
                if (cache.Refresh(entry, sentAt + _cacheDuration, epoch, sentAt)) kept++;
                else raced++;
            }
            else
            {
                // Changed (another replica wrote it): its next request rebuilds it.
                cache.Discard(entry);
                dropped++;
            }
        }
        if (kept > 0) metrics.CacheRefreshed("kept", kept);
        if (dropped > 0) metrics.CacheRefreshed("dropped", dropped);
        if (raced > 0) metrics.CacheRefreshed("raced", raced);
        if (failed > 0)
        {
            metrics.CacheRefreshed("failed", failed);
            NoteFailure(sentAt, $"{failed} of {count} sessions' reads failed{(timedOut ? " (timed out; the look ends here)" : "")}");
        }
        // Each further batch would wait the whole timeout again beside the requests' own reads.
        return !timedOut;
    }

    /// <summary>Claimed and not read: not claimed again by the next look (no retry), left to their requests.</summary>
    private static void LeaveToRequests(List<CachedSession> due, int start, int count)
    {
        for (var i = start; i < start + count; i++) due[i].ReadAheadFailed();
    }

    private void NoteFailure(DateTimeOffset now, string reason)
    {
        if (_failureLog.TryPass(now)) LogFailed(logger, reason);
    }

    [LoggerMessage(EventId = LogEvents.SessionRefreshLookFailed, EventName = nameof(LogEvents.SessionRefreshLookFailed), Level = LogLevel.Error,
        Message = "A look over the cached sessions to read ahead failed; the next look goes on")]
    private static partial void LogLookFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = LogEvents.SessionRefreshFailed, EventName = nameof(LogEvents.SessionRefreshFailed), Level = LogLevel.Warning,
        Message = "Cached sessions could not be read ahead ({Reason}); their requests read the store once their cached time is out")]
    private static partial void LogFailed(ILogger logger, string reason);
}
