using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using Gateway.Observability;
using Gateway.Sessions;
using StackExchange.Redis;

namespace Gateway.Redis;

/// <summary>
/// Redis replicates asynchronously: a write the primary applied and no replica received is gone after a failover (a
/// sign-in lost, a logout undone). Writes the user is told succeeded therefore go over a connection of their own and
/// are followed by <c>WAIT</c> (on every primary, so a cluster's too), which counts only the client's own writes and
/// blocks that client's connection while it waits: on the shared connection it would stall every session read.
/// The replicas waited for are those connected to the primary now, read from the primary itself (<c>INFO
/// replication</c>), never from Sentinel's list, which still names a dead old primary after a failover: with none
/// connected, writes go on unreplicated and the log says so.
/// </summary>
internal sealed partial class ReplicaAcknowledgements(RedisConnection connection, RedisOptions options, GatewayMetrics metrics, TimeProvider time,
    ILogger<ReplicaAcknowledgements> logger) : IAsyncDisposable
{
    // How long a primary's count of connected replicas is trusted before it is read again.
    private static readonly TimeSpan CountLifetime = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<EndPoint, ReplicaCount> _counts = new();
    private readonly string _timeoutMs = ((long)options.WaitTimeout.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);

    private sealed record ReplicaCount(int Online, long ReadAt, bool Warned);

    /// <summary>The connection the acknowledged writes go over.</summary>
    public RedisConnection Connection { get; } = connection;

    public async Task AcknowledgeAsync(string operation, CancellationToken cancellationToken)
    {
        if (options.WaitReplicas == 0) return;
        var multiplexer = await Connection.GetAsync();
        var primaries = multiplexer.GetServers().Where(s => s.IsConnected && !s.IsReplica).ToArray();
        if (primaries.Length == 0) throw new UnacknowledgedWriteException($"Redis {operation}: no primary connected to acknowledge the write");
        if (primaries.Length == 1) await AcknowledgeOnAsync(primaries[0], operation, cancellationToken);
        else await Task.WhenAll(primaries.Select(p => AcknowledgeOnAsync(p, operation, cancellationToken)));
    }

    private async Task AcknowledgeOnAsync(IServer primary, string operation, CancellationToken cancellationToken)
    {
        try
        {
            var required = Math.Min(options.WaitReplicas, await OnlineReplicasAsync(primary, fresh: false, cancellationToken));
            if (required == 0)
            {
                Unreplicated(primary);
                return;
            }
            var acknowledged = (long)await primary.ExecuteAsync("WAIT", required.ToString(CultureInfo.InvariantCulture), _timeoutMs)
                .WaitAsync(options.WaitTimeout + options.OperationTimeout, cancellationToken);
            if (acknowledged >= required)
            {
                metrics.RedisWriteAck("acknowledged");
                return;
            }
            // Replicas may have left since they were counted: what counts is who is connected now.
            var online = await OnlineReplicasAsync(primary, fresh: true, cancellationToken);
            if (online == 0)
            {
                Unreplicated(primary);
                return;
            }
            if (acknowledged >= Math.Min(options.WaitReplicas, online))
            {
                metrics.RedisWriteAck("acknowledged");
                return;
            }
            metrics.RedisWriteAck("refused");
            LogNotAcknowledged(logger, operation, (primary.EndPoint.ToString() ?? "?"), acknowledged, required);
            throw new UnacknowledgedWriteException($"Redis {operation}: {acknowledged} of {required} replica(s) acknowledged within {_timeoutMs} ms");
        }
        catch (Exception ex) when (ex is not UnacknowledgedWriteException && !(ex is OperationCanceledException && cancellationToken.IsCancellationRequested))
        {
            // The write may have been applied: it is reported as unacknowledged, and what it ended stays refused here.
            metrics.RedisWriteAck("refused");
            throw new UnacknowledgedWriteException($"Redis {operation}: waiting for a replica failed: {ex.GetType().Name}");
        }
    }

    private async Task<int> OnlineReplicasAsync(IServer primary, bool fresh, CancellationToken cancellationToken)
    {
        var now = time.GetTimestamp();
        if (!fresh && _counts.TryGetValue(primary.EndPoint, out var known) && time.GetElapsedTime(known.ReadAt, now) < CountLifetime)
            return known.Online;
        var info = await primary.InfoRawAsync("replication").WaitAsync(options.OperationTimeout, cancellationToken);
        var online = CountOnline(info);
        var previous = _counts.TryGetValue(primary.EndPoint, out var p) ? p : null;
        _counts[primary.EndPoint] = new ReplicaCount(online, now, Warned: online == 0 && previous?.Warned == true);
        if (online > 0 && previous is { Online: 0, Warned: true })
            LogReplicated(logger, (primary.EndPoint.ToString() ?? "?"), online);
        return online;
    }

    /// <summary>Replicas in <c>INFO replication</c> whose link is up (<c>state=online</c>); one still syncing cannot acknowledge.</summary>
    internal static int CountOnline(string? info)
    {
        if (info is null) return 0;
        var online = 0;
        foreach (var line in info.AsSpan().EnumerateLines())
            if (line.StartsWith("slave") && line.Length > 5 && char.IsAsciiDigit(line[5]) && line.Contains("state=online", StringComparison.Ordinal))
                online++;
        return online;
    }

    private void Unreplicated(IServer primary)
    {
        metrics.RedisWriteAck("unreplicated");
        // Once per stretch without replicas, not once per write.
        if (_counts.TryGetValue(primary.EndPoint, out var count) && !count.Warned)
        {
            _counts[primary.EndPoint] = count with { Warned = true };
            LogUnreplicated(logger, (primary.EndPoint.ToString() ?? "?"));
        }
    }

    public ValueTask DisposeAsync() => Connection.DisposeAsync();

    [LoggerMessage(EventId = LogEvents.RedisWritesUnreplicated, EventName = nameof(LogEvents.RedisWritesUnreplicated), Level = LogLevel.Warning,
        Message = "Redis primary {Endpoint} has no replica connected: sign-ins and logouts are stored unreplicated and a failover now would lose them")]
    private static partial void LogUnreplicated(ILogger logger, string endpoint);

    [LoggerMessage(EventId = LogEvents.RedisWritesReplicated, EventName = nameof(LogEvents.RedisWritesReplicated), Level = LogLevel.Information,
        Message = "Redis primary {Endpoint} has {Replicas} replica(s) connected again: writes wait for their acknowledgement")]
    private static partial void LogReplicated(ILogger logger, string endpoint, int replicas);

    [LoggerMessage(EventId = LogEvents.RedisWriteNotAcknowledged, EventName = nameof(LogEvents.RedisWriteNotAcknowledged), Level = LogLevel.Error,
        Message = "Redis {Operation} on {Endpoint}: {Acknowledged} of {Required} replica(s) acknowledged in time; reported to the user as failed")]
    private static partial void LogNotAcknowledged(ILogger logger, string operation, string endpoint, long acknowledged, int required);
}
