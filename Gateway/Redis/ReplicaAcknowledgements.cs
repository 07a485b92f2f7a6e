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
/// are followed by <c>WAIT</c> (on the primary that took the write: on a cluster, the key's shard), which counts only
/// the client's own writes and blocks that client's connection while it waits: on the shared connection it would stall
/// every session read. The replicas waited for are those connected to the primary now, read from the primary itself
/// (<c>ROLE</c>), never from Sentinel's list, which still names a dead old primary after a failover: with none
/// connected, writes go on unreplicated and the log says so.
/// </summary>
internal sealed partial class ReplicaAcknowledgements(RedisConnection connection, RedisOptions options, GatewayMetrics metrics, TimeProvider time,
    ILogger<ReplicaAcknowledgements> logger) : IAsyncDisposable
{
    // How long a primary's count of connected replicas is trusted before it is read again.
    private static readonly TimeSpan CountLifetime = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<EndPoint, ReplicaCount> _counts = new();
    private static readonly TimeSpan ConnectBudget = TimeSpan.FromSeconds(2);

    private readonly string _timeoutMs = ((long)options.WaitTimeout.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);

    private sealed record ReplicaCount(int Online, long ReadAt, bool Warned);

    /// <summary>The connection the acknowledged writes go over (its own: WAIT blocks the connection it is sent on).</summary>
    public RedisConnection Connection { get; } = Connecting(connection);

    // Connected at start-up, not by the first login: a connect inside a login's budget turned the first logins after a
    // start on a loaded machine into 503s.
    private static RedisConnection Connecting(RedisConnection connection)
    {
        _ = connection.GetAsync();
        return connection;
    }

    /// <summary>
    /// Runs <paramref name="call"/> (a write touching <paramref name="key"/>) and has it acknowledged by the replicas of
    /// the primary that holds the key (on a cluster, that shard's). The replicas are counted before the write, and the
    /// WAIT is queued right behind it on the same server's connection, never awaited apart from it: WAIT counts only
    /// the writes of the connection it is sent on, so one sent after a reconnect (or to another primary, after a
    /// switch) would acknowledge nothing and look like success. A shortfall is always a failure: replicas that left
    /// since they were counted are what a failover looks like from the primary that is about to lose.
    /// </summary>
    public async Task<T> WriteAsync<T>(string operation, RedisKey key, Func<IDatabase, Task<T>> call, CancellationToken cancellationToken)
    {
        var started = GatewayMetrics.Timestamp();
        try
        {
            IServer primary;
            int required;
            ConnectionMultiplexer multiplexer;
            try
            {
                // Still connecting (Redis was down at start-up): up to the client's connect timeout, as the other connection.
                multiplexer = await Connection.GetAsync().WaitAsync(ConnectBudget, cancellationToken);
                primary = multiplexer.GetServer(key, flags: CommandFlags.DemandMaster);
                required = options.WaitReplicas == 0 ? 0 : Math.Min(options.WaitReplicas, await OnlineReplicasAsync(primary, cancellationToken));
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                // Nothing was written.
                if (IsNotPermitted(ex)) LogNotPermitted(logger, operation, ex.Message);
                metrics.RedisError(operation);
                throw new StoreUnavailableException($"Redis {operation} failed: {ex.GetType().Name}", ex);
            }

            Task<T> write;
            Task<long>? wait = null;
            // The write is queued first; whatever WAIT is sent after this joins its batch comes after it on the connection.
            write = call(multiplexer.GetDatabase());
            if (required > 0)
            {
                var shard = _shards.GetOrAdd((multiplexer, primary.EndPoint), static _ => new Shard());
                bool startPump;
                lock (shard) (wait, startPump) = shard.Behind(required);
                if (startPump) _ = PumpAsync(shard, primary);
            }
            T result;
            try
            {
                // A write may queue behind a WAIT in flight on this connection: it has that long too.
                result = await write.WaitAsync(options.OperationTimeout + options.WaitTimeout, cancellationToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                metrics.RedisError(operation);
                throw new StoreUnavailableException($"Redis {operation} failed: {ex.GetType().Name}", ex);
            }
            if (wait is null)
            {
                if (options.WaitReplicas > 0) Unreplicated(primary);
                return result;
            }
            long acknowledged;
            try
            {
                acknowledged = await wait.WaitAsync(2 * (options.WaitTimeout + options.OperationTimeout), cancellationToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                // The write was applied; whether a replica has it is unknown: reported as unacknowledged.
                metrics.RedisWriteAck("refused");
                if (IsNotPermitted(ex)) LogNotPermitted(logger, operation, ex.Message);
                throw new UnacknowledgedWriteException($"Redis {operation}: waiting for a replica failed: {ex.GetType().Name}", result);
            }
            if (acknowledged >= required)
            {
                metrics.RedisWriteAck("acknowledged");
                return result;
            }
            metrics.RedisWriteAck("refused");
            // Counted again (for the next writes): a primary that lost its replicas waits for none until one is back.
            _counts.TryRemove(primary.EndPoint, out _);
            LogNotAcknowledged(logger, operation, primary.EndPoint.ToString() ?? "?", acknowledged, required);
            throw new UnacknowledgedWriteException($"Redis {operation}: {acknowledged} of {required} replica(s) acknowledged within {_timeoutMs} ms", result);
        }
        finally
        {
            metrics.RedisLatency(operation, System.Diagnostics.Stopwatch.GetElapsedTime(started));
        }
    }

    // One WAIT at a time per primary connection (it blocks the connection while it waits), each covering every write
    // queued before it: writes that arrive while one is in flight share the next (a group commit), so logins are not
    // serialised one replica round trip each.
    private readonly ConcurrentDictionary<(ConnectionMultiplexer, EndPoint), Shard> _shards = new();

    private sealed class Shard
    {
        private TaskCompletionSource<long>? _next;
        private int _required;
        private bool _pumping;

        /// <summary>
        /// The acknowledgement of the next WAIT, sent after the caller's write was queued (call under the shard's lock),
        /// and whether the caller starts the pump that sends it.
        /// </summary>
        public (Task<long> Acknowledged, bool StartPump) Behind(int required)
        {
            _next ??= new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
            _required = Math.Max(_required, required);
            var start = !_pumping;
            _pumping = true;
            return (_next.Task, start);
        }

        /// <summary>Takes the waiters of the next WAIT (under the shard's lock); null when there are none and pumping stops.</summary>
        public (TaskCompletionSource<long> Waiters, int Required)? Take()
        {
            if (_next is null)
            {
                _pumping = false;
                return null;
            }
            var taken = (_next, _required);
            _next = null;
            _required = 0;
            return taken;
        }
    }

    private async Task PumpAsync(Shard shard, IServer primary)
    {
        while (true)
        {
            TaskCompletionSource<long> waiters;
            Task<RedisResult> wait;
            (TaskCompletionSource<long> Waiters, int Required)? next;
            lock (shard) next = shard.Take();
            if (next is null) return;
            waiters = next.Value.Waiters;
            try
            {
                // Every write of these waiters was queued before they joined, so before this WAIT.
                wait = primary.ExecuteAsync("WAIT", next.Value.Required.ToString(CultureInfo.InvariantCulture), _timeoutMs);
                waiters.SetResult((long)await wait.WaitAsync(options.WaitTimeout + options.OperationTimeout));
            }
            catch (Exception ex)
            {
                waiters.SetException(ex);
            }
        }
    }

    private async Task<int> OnlineReplicasAsync(IServer primary, CancellationToken cancellationToken)
    {
        var now = time.GetTimestamp();
        if (_counts.TryGetValue(primary.EndPoint, out var known) && time.GetElapsedTime(known.ReadAt, now) < CountLifetime)
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
        // Once per stretch without replicas, not once per write: of the writes that find it unwarned at once, the one
        // whose update lands logs (a plain check-then-set let 128 concurrent writes log it a dozen times).
        if (_counts.TryGetValue(primary.EndPoint, out var count) && !count.Warned && _counts.TryUpdate(primary.EndPoint, count with { Warned = true }, count))
            LogUnreplicated(logger, (primary.EndPoint.ToString() ?? "?"));
    }

    /// <summary>The Redis user may not run ROLE or WAIT: the ACL, not Redis, is what to fix (logged as such).</summary>
    private static bool IsNotPermitted(Exception ex) => ex is RedisServerException && ex.Message.StartsWith("NOPERM", StringComparison.Ordinal);

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
