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
    private readonly Counter<long> _cacheLookups;
    private readonly Counter<long> _redisErrors;
    private readonly Histogram<double> _redisLatency;

    public GatewayMetrics(IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(MeterName);
        _sessionsCreated = _meter.CreateCounter<long>("gateway.sessions.created", description: "Sessions created by login.");
        _logouts = _meter.CreateCounter<long>("gateway.logouts", description: "Logouts by outcome.");
        _revocations = _meter.CreateCounter<long>("gateway.sessions.revoked", description: "Sessions revoked, by reason.");
        _authFailures = _meter.CreateCounter<long>("gateway.auth.failures", description: "Authentication failures, by reason.");
        _configReloads = _meter.CreateCounter<long>("gateway.config.reloads", description: "Route file reloads, by result.");
        _cacheLookups = _meter.CreateCounter<long>("gateway.session_cache.lookups", description: "Session cache lookups, by hit or miss.");
        _redisErrors = _meter.CreateCounter<long>("gateway.redis.errors", description: "Redis calls that failed or were refused by the circuit breaker.");
        _redisLatency = _meter.CreateHistogram<double>("gateway.redis.duration", unit: "ms", description: "Redis call latency.");
    }

    public void SessionCreated(string method) => _sessionsCreated.Add(1, new KeyValuePair<string, object?>("method", method));
    public void Logout(string outcome) => _logouts.Add(1, new KeyValuePair<string, object?>("outcome", outcome));
    public void SessionsRevoked(long count, string reason) => _revocations.Add(count, new KeyValuePair<string, object?>("reason", reason));
    public void AuthFailure(string reason) => _authFailures.Add(1, new KeyValuePair<string, object?>("reason", reason));
    public void ConfigReloaded(bool success) => _configReloads.Add(1, new KeyValuePair<string, object?>("result", success ? "success" : "rejected"));
    public void CacheLookup(bool hit) => _cacheLookups.Add(1, new KeyValuePair<string, object?>("result", hit ? "hit" : "miss"));
    public void RedisError(string operation) => _redisErrors.Add(1, new KeyValuePair<string, object?>("operation", operation));
    public void RedisLatency(string operation, TimeSpan elapsed) => _redisLatency.Record(elapsed.TotalMilliseconds, new KeyValuePair<string, object?>("operation", operation));

    public static long Timestamp() => Stopwatch.GetTimestamp();

    public void Dispose() => _meter.Dispose();
}
