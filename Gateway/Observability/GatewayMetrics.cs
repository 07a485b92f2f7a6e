using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Gateway.Observability;

/// <summary>The gateway's own instruments (meter <c>Gateway</c>), exported over OTLP when configured.</summary>
internal sealed class GatewayMetrics : IDisposable
{
    public const string MeterName = "Gateway";

    private readonly Meter _meter;
    private readonly Counter<long> _sessionsCreated;
    private readonly Counter<long> _logouts;
    private readonly Counter<long> _revocations;
    private readonly Counter<long> _authFailures;
    private readonly Counter<long> _configReloads;
    // Lookups happen on every signed-in request: counted with Interlocked and observed at export time, so a
    // listening exporter costs nothing per request (a Counter.Add dispatches to every listener each time).
    private long _cacheHits;
    private long _cacheMisses;
    private long _cacheRevalidations;
    private long _changeLogVouches;
    private readonly Counter<long> _cacheEvictions;
    private readonly Counter<long> _cacheShed;
    private readonly Counter<long> _tokenRefreshes;
    private readonly Counter<long> _tokenRevocations;
    private readonly UpDownCounter<long> _liveConnections;
    private readonly Counter<long> _liveConnectionsClosed;
    private readonly Counter<long> _redisErrors;
    private readonly Counter<long> _redisWriteAcks;
    private readonly Counter<long> _sessionTouches;
    private readonly Counter<long> _cacheRefreshes;
    private readonly Histogram<double> _redisLatency;
    private readonly Counter<long> _cmsSessions;
    private readonly Counter<long> _keyRingReads;
    // Counted per payload under a key this replica does not hold, which a client can send at will: Interlocked, as above.
    private long _unknownKeyIds;
    // One per cache miss or woken session: Interlocked, as above.
    private long _assertionsSigned;
    private long _assertionsRespelled;
    private long _assertionSealMismatches;

    public GatewayMetrics(IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(MeterName);
        _sessionsCreated = _meter.CreateCounter<long>("gateway.sessions.created", description: "Sessions created by login.");
        _logouts = _meter.CreateCounter<long>("gateway.logouts", description: "Logouts by outcome.");
        _revocations = _meter.CreateCounter<long>("gateway.sessions.revoked", description: "Sessions revoked, by reason.");
        _authFailures = _meter.CreateCounter<long>("gateway.auth.failures", description: "Authentication failures, by reason.");
        _configReloads = _meter.CreateCounter<long>("gateway.config.reloads", description: "Route file reloads, by result.");
        _meter.CreateObservableCounter("gateway.session_cache.lookups", () => new[]
        {
            new Measurement<long>(Interlocked.Read(ref _cacheHits), new KeyValuePair<string, object?>("result", "hit")),
            new Measurement<long>(Interlocked.Read(ref _cacheMisses), new KeyValuePair<string, object?>("result", "miss")),
        }, description: "Session cache lookups, by hit or miss.");
        _meter.CreateObservableCounter("gateway.session_cache.revalidations", () => Interlocked.Read(ref _cacheRevalidations),
            description: "Misses on an entry past its cached time that the store's read found unchanged: the entry is kept, nothing is decrypted or signed again.");
        _meter.CreateObservableCounter("gateway.session_cache.change_log_vouches", () => Interlocked.Read(ref _changeLogVouches),
            description: "Cached sessions past their cache duration served on the store's change log instead of a store read");
        _liveConnections = _meter.CreateUpDownCounter<long>("gateway.live_connections", description: "Long-lived proxied connections (WebSocket, event stream) open on this replica.");
        _liveConnectionsClosed = _meter.CreateCounter<long>("gateway.live_connections.closed", description: "Long-lived connections closed because their session ended, by reason.");
        _tokenRefreshes = _meter.CreateCounter<long>("gateway.tokens.refreshes", description: "Access token refreshes at the provider, by outcome.");
        _tokenRevocations = _meter.CreateCounter<long>("gateway.tokens.revocations", description: "Refresh token revocations at the provider, by outcome.");
        _cacheEvictions = _meter.CreateCounter<long>("gateway.session_cache.evictions", description: "Times a full session cache made room.");
        _cacheShed = _meter.CreateCounter<long>("gateway.session_cache.shed", description: "Idle cached sessions that let go of what their next request rebuilds, to make room.");
        _redisErrors = _meter.CreateCounter<long>("gateway.redis.errors", description: "Redis calls that failed or were refused by the circuit breaker.");
        _cmsSessions = _meter.CreateCounter<long>("gateway.cms_sessions", description: "The CMS's own sessions the gateway wrote, wrote again, followed, ended or adopted (Gateway:LegacySignIn), by outcome.");
        _keyRingReads = _meter.CreateCounter<long>("gateway.keyring.reads", description: "Reads of the DataProtection key ring from the shared store, by result.");
        _meter.CreateObservableCounter("gateway.keyring.unknown_key_ids", () => Interlocked.Read(ref _unknownKeyIds),
            description: "Cookies, forms and records protected under a key id this replica's key ring does not hold (forged, or a key it has yet to refresh).");
        _meter.CreateObservableCounter("gateway.assertions", () => new[]
        {
            new Measurement<long>(Interlocked.Read(ref _assertionsSigned), new KeyValuePair<string, object?>("result", "signed")),
            new Measurement<long>(Interlocked.Read(ref _assertionsRespelled), new KeyValuePair<string, object?>("result", "respelled")),
            new Measurement<long>(Interlocked.Read(ref _assertionSealMismatches), new KeyValuePair<string, object?>("result", "seal_mismatch")),
        }, description: "Signed assertions made for sessions: signed anew, or spelled out again from the seal a shed session kept (no signature); a seal that did not match its spelling is signed anew and should never be counted.");
        _cacheRefreshes = _meter.CreateCounter<long>("gateway.session_cache.refreshes",
            description: "Cached sessions in use read from the store in the background before their cached time ran out, by outcome (kept: unchanged, served on; dropped: gone, revoked, changed or ended on this replica; raced: left the cache while read; failed: left to the request past its cached time).");
        _sessionTouches = _meter.CreateCounter<long>("gateway.sessions.touches", description: "Sliding-expiry writes made in the background, by outcome (written, gone, failed, dropped).");
        _redisWriteAcks = _meter.CreateCounter<long>("gateway.redis.write_acks", description: "Writes the user is told succeeded, by how replicas acknowledged them (acknowledged, unreplicated: no replica connected, refused: not acknowledged in time).");
        _redisLatency = _meter.CreateHistogram<double>("gateway.redis.duration", unit: "ms", description: "Redis call latency.");
    }

    public void SessionCreated(string method) => _sessionsCreated.Add(1, new KeyValuePair<string, object?>("method", method));
    public void Logout(string outcome) => _logouts.Add(1, new KeyValuePair<string, object?>("outcome", outcome));
    public void SessionsRevoked(long count, string reason) => _revocations.Add(count, new KeyValuePair<string, object?>("reason", reason));
    public void AuthFailure(string reason) => _authFailures.Add(1, new KeyValuePair<string, object?>("reason", reason));
    public void ConfigReloaded(bool success) => _configReloads.Add(1, new KeyValuePair<string, object?>("result", success ? "success" : "rejected"));
    public void CacheEvicted() => _cacheEvictions.Add(1);
    public void CacheShed(int sessions) => _cacheShed.Add(sessions);
    public void TokenRefresh(string outcome) => _tokenRefreshes.Add(1, new KeyValuePair<string, object?>("outcome", outcome));
    public void TokenRevocation(string outcome) => _tokenRevocations.Add(1, new KeyValuePair<string, object?>("outcome", outcome));
    public void LiveConnections(int delta) => _liveConnections.Add(delta);
    public void LiveConnectionClosed(string reason) => _liveConnectionsClosed.Add(1, new KeyValuePair<string, object?>("reason", reason));
    public void CacheLookup(bool hit)
    {
        if (hit) Interlocked.Increment(ref _cacheHits);
        else Interlocked.Increment(ref _cacheMisses);
    }
    public void AssertionIssued(AssertionOutcome outcome)
    {
        if (outcome == AssertionOutcome.Signed) Interlocked.Increment(ref _assertionsSigned);
        else if (outcome == AssertionOutcome.Respelled) Interlocked.Increment(ref _assertionsRespelled);
        else Interlocked.Increment(ref _assertionSealMismatches);
    }
    public void CacheRevalidated() => Interlocked.Increment(ref _cacheRevalidations);
    public void ChangeLogVouched() => Interlocked.Increment(ref _changeLogVouches);
    public void CmsSession(string outcome) => _cmsSessions.Add(1, new KeyValuePair<string, object?>("outcome", outcome));
    public void KeyRingRead(bool success) => _keyRingReads.Add(1, new KeyValuePair<string, object?>("result", success ? "success" : "failed"));
    public void UnknownKeyId() => Interlocked.Increment(ref _unknownKeyIds);
    public void RedisError(string operation) => _redisErrors.Add(1, new KeyValuePair<string, object?>("operation", operation));
    public void CacheRefreshed(string outcome, int count) => _cacheRefreshes.Add(count, new KeyValuePair<string, object?>("outcome", outcome));
    public void SessionTouch(string outcome) => _sessionTouches.Add(1, new KeyValuePair<string, object?>("outcome", outcome));
    public void RedisWriteAck(string result) => _redisWriteAcks.Add(1, new KeyValuePair<string, object?>("result", result));
    public void RedisLatency(string operation, TimeSpan elapsed) => _redisLatency.Record(elapsed.TotalMilliseconds, new KeyValuePair<string, object?>("operation", operation));

    /// <summary>1 while the Redis connection is up, 0 while it is down: the outage /readyz reports without failing on it.</summary>
    public void ObserveRedisConnected(Func<bool> connected) =>
        _meter.CreateObservableGauge("gateway.redis.connected", () => connected() ? 1 : 0, description: "Whether this replica's Redis connection is up.");

    public static long Timestamp() => Stopwatch.GetTimestamp();

    public void Dispose() => _meter.Dispose();
}

/// <summary>How a session's signed assertion was made (<c>gateway.assertions</c>).</summary>
internal enum AssertionOutcome { Signed, Respelled, SealMismatch }
