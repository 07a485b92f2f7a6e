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
/// are followed by <c>WAIT</c> (on the primary that took the write: on a cluster, the key's shard), which counts only the client's own writes and
/// blocks that client's connection while it waits: on the shared connection it would stall every session read.
/// The replicas waited for are those connected to the primary now, read from the primary itself (<c>ROLE</c>), never from Sentinel's list, which still names a dead old primary after a failover: with none
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

    /// <summary>Waits for the replicas of the primary that holds <paramref name="key"/> (on a cluster, that shard's).</summary>
    public async Task AcknowledgeAsync(string operation, RedisKey key, CancellationToken cancellationToken)
    {
        if (options.WaitReplicas == 0) return;
        var multiplexer = await Connection.GetAsync();
        var owner = multiplexer.GetServer(key, flags: CommandFlags.DemandMaster);
        if (!owner.IsConnected || owner.IsReplica)
            throw new UnacknowledgedWriteException($"Redis {operation}: the primary that took the write is gone");
        await AcknowledgeOnAsync(owner, operation, cancellationToken);
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
            if (ex is RedisServerException && ex.Message.StartsWith("NOPERM", StringComparison.Ordinal))
            {
                // Fail closed, and say how to fix it: without ROLE the replicas cannot be counted, without WAIT not awaited.
                LogNotPermitted(logger, operation, ex.Message);
                throw new UnacknowledgedWriteException($"Redis {operation}: the Redis user may not count or await replicas (NOPERM)");
            }
            throw new UnacknowledgedWriteException($"Redis {operation}: waiting for a replica failed: {ex.GetType().Name}");
        }
    }

    private async Task<int> OnlineReplicasAsync(IServer primary, bool fresh, CancellationToken cancellationToken)
    {
        var now = time.GetTimestamp();
        if (!fresh && _counts.TryGetValue(primary.EndPoint, out var known) && time.GetElapsedTime(known.ReadAt, now) < CountLifetime)
            return known.Online;
        // ROLE lists the replicas whose link is up (one still syncing cannot acknowledge and is left out).
        var role = await primary.RoleAsync().WaitAsync(options.OperationTimeout, cancellationToken);
        var online = role is Role.Master master ? master.Replicas.Count : 0;
        var previous = _counts.TryGetValue(primary.EndPoint, out var p) ? p : null;
        _counts[primary.EndPoint] = new ReplicaCount(online, now, Warned: online == 0 && previous?.Warned == true);
        if (online > 0 && previous is { Online: 0, Warned: true })
            LogReplicated(logger, (primary.EndPoint.ToString() ?? "?"), online);
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

    [LoggerMessage(EventId = LogEvents.RedisWaitNotPermitted, EventName = nameof(LogEvents.RedisWaitNotPermitted), Level = LogLevel.Error,
        Message = "Redis {Operation}: the gateway's Redis user may not run ROLE and WAIT ({Denial}); every login and logout fails until it may. Grant +role +wait (README, ACL), or set Gateway:Redis:WaitReplicas=0 to accept losing acknowledged writes on failover")]
    private static partial void LogNotPermitted(ILogger logger, string operation, string denial);
}
