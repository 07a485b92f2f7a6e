using System.Collections.Concurrent;
using Gateway.Configuration;
using Gateway.Observability;
using Gateway.Sessions;
using Microsoft.Extensions.Options;

namespace Gateway.Connections;

/// <summary>
/// The long-lived proxied connections of this replica (WebSocket upgrades, event streams), each tied to the
/// session that opened it. A revocation (logout, "your sessions", admin, back-channel, revoke-all, from any
/// replica) aborts the matching connections at once; a loop every second aborts those whose session reached its
/// absolute lifetime, and confirms with the store those past their idle deadline (an open connection is not
/// activity; a request on any replica is). When the store cannot confirm, the connection is closed: fail closed.
/// </summary>
internal sealed partial class LiveConnectionRegistry(
    SessionCache cache,
    SessionManager sessions,
    IOptions<Sessions.GatewaySessionOptions> options,
    TimeProvider time,
    GatewayMetrics metrics,
    ILogger<LiveConnectionRegistry> logger) : BackgroundService
{
    private readonly ConcurrentDictionary<HttpContext, Tracked> _live = new();
    private readonly GatewaySessionOptions _options = options.Value;

    // Also the request's registration: one object per tracked request.
    private sealed class Tracked(LiveConnectionRegistry registry, HttpContext context, CachedSession session, DateTimeOffset nextCheck, bool counted) : IDisposable
    {
        public CachedSession Session { get; } = session;
        public DateTimeOffset NextCheck { get; set; } = nextCheck;
        // 1 once counted in the live-connections metric (announced as long-lived, or found to be an event stream).
        public int Counted = counted ? 1 : 0;

        public void Dispose() => registry.Untrack(context, this);
    }

    public int Count => _live.Count;

    /// <summary>
    /// Tracks <paramref name="context"/> until the returned handle is disposed (the request ended). A request already
    /// tracked (a response that turned out to be an event stream) is counted as long-lived from now on.
    /// </summary>
    public IDisposable Track(HttpContext context, CachedSession session, bool counted = true)
    {
        var tracked = new Tracked(this, context, session, session.LastTouchedAt + _options.IdleTimeout, counted);
        if (!_live.TryAdd(context, tracked))
        {
            if (counted && _live.TryGetValue(context, out var existing) && Interlocked.Exchange(ref existing.Counted, 1) == 0) metrics.LiveConnections(+1);
            return NotTracked.Instance;
        }
        if (counted) metrics.LiveConnections(+1);
        return tracked;
    }

    private sealed class NotTracked : IDisposable
    {
        public static readonly NotTracked Instance = new();

        public void Dispose()
        {
        }
    }

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        cache.Revoked += OnRevoked;
        return base.StartAsync(cancellationToken);
    }

    public override Task StopAsync(CancellationToken cancellationToken)
    {
        cache.Revoked -= OnRevoked;
        return base.StopAsync(cancellationToken);
    }

    private void OnRevoked(SessionRevocation revocation)
    {
        if (_live.IsEmpty) return;
        var hashes = SessionHandle.ShortHashesOf(revocation.SessionHashes);
        var users = SessionKey.TagBitsOf(revocation.UserTags);
        foreach (var (context, tracked) in _live)
        {
            var session = tracked.Session;
            if (revocation.All || hashes.Contains(session.ShortHashBits) || users.Contains(session.Key.TagBits))
                Close(context, tracked, "revoked");
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
                if (!_live.IsEmpty) await SweepAsync(stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    internal async Task SweepAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        foreach (var (context, tracked) in _live)
        {
            var session = tracked.Session;
            if (session.Record.AbsoluteExpiresAt <= now)
            {
                Close(context, tracked, "expired");
                continue;
            }
            // Ordinary requests end on their own within moments; revocations reach them by the push. Only the long-lived
            // ones are worth a store read here.
            if (Volatile.Read(ref tracked.Counted) == 0) continue;
            // Revocations are pushed; this is for idle expiry, and for every connection while the revocation feed is down.
            if (tracked.NextCheck > now && cache.IsTrusted) continue;
            try
            {
                // The one check of a stored session: present, genuinely this session's, younger than any revoke-all mark.
                if (await sessions.ReloadAsync(session.Key, cancellationToken) is null)
                {
                    Close(context, tracked, "expired");
                    continue;
                }
                tracked.NextCheck = now + _options.TouchInterval;
            }
            catch (StoreUnavailableException)
            {
                Close(context, tracked, "store-unavailable");
            }
        }
    }

    private void Close(HttpContext context, Tracked tracked, string reason)
    {
        // Only this request's entry: Kestrel reuses an HttpContext for the next request on a keep-alive connection.
        if (!_live.TryRemove(new KeyValuePair<HttpContext, Tracked>(context, tracked))) return;
        if (Volatile.Read(ref tracked.Counted) == 1) metrics.LiveConnections(-1);
        metrics.LiveConnectionClosed(reason);
        LogClosed(logger, tracked.Session.ShortHash, reason);
        try
        {
            context.Abort();
        }
        catch (ObjectDisposedException)
        {
            // The request ended meanwhile: nothing left to close.
        }
    }

    private void Untrack(HttpContext context, Tracked tracked)
    {
        if (_live.TryRemove(new KeyValuePair<HttpContext, Tracked>(context, tracked)) && Volatile.Read(ref tracked.Counted) == 1) metrics.LiveConnections(-1);
    }

    [LoggerMessage(EventId = LogEvents.LiveConnectionClosed, EventName = nameof(LogEvents.LiveConnectionClosed), Level = LogLevel.Information,
        Message = "In-flight proxied request of session {SessionHash} closed: {Reason}")]
    private static partial void LogClosed(ILogger logger, string sessionHash, string reason);
}
