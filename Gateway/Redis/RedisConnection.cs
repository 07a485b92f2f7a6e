using Gateway.Configuration;
using Gateway.Observability;
using Microsoft.Extensions.Options;
using System.Net;
using StackExchange.Redis;

namespace Gateway.Redis;

/// <summary>
/// The one multiplexer per process. Connects without aborting when Redis is down at start-up
/// (the gateway still serves public routes) and reconnects by itself.
/// </summary>
internal sealed partial class RedisConnection : IAsyncDisposable
{
    private readonly Lazy<Task<ConnectionMultiplexer>> _first;
    private readonly ILogger<RedisConnection> _logger;
    private readonly ConfigurationOptions _config;
    private readonly SemaphoreSlim _switching = new(1, 1);
    // The multiplexer in use: the first one, or (with Sentinel) the one to the primary the sentinels named last.
    private Task<ConnectionMultiplexer>? _current;
    private SentinelPrimaryWatch? _sentinel;
    // With Sentinel, a second connection (the acknowledged writes') follows this one's primary instead of asking the
    // sentinels itself: the two never write to different primaries.
    private readonly RedisConnection? _follows;
    private readonly List<ConnectionMultiplexer> _retiring = [];

    public RedisConnection(IOptions<RedisOptions> options, ILogger<RedisConnection> logger, GatewayMetrics metrics)
        : this(options.Value, options.Value.Configuration!, "gateway", logger, metrics, observe: true, password: options.Value.Password)
    {
    }

    /// <summary>A connection of its own to <paramref name="configuration"/> (the CMS's Redis), with the gateway's timeouts.</summary>
    internal RedisConnection(RedisOptions redis, string configuration, string clientName, ILogger<RedisConnection> logger, GatewayMetrics metrics, bool observe,
        TimeSpan? commandTimeout = null, string? password = null, RedisConnection? follows = null)
    {
        _follows = follows;
        _logger = logger;
        redis = new RedisOptions { Configuration = configuration, KeyPrefix = redis.KeyPrefix, OperationTimeout = redis.OperationTimeout, BreakDuration = redis.BreakDuration };
        KeyPrefix = redis.KeyPrefix;
        var config = ConfigurationOptions.Parse(redis.Configuration!);
        config.AbortOnConnectFail = false;
        if (!string.IsNullOrEmpty(password)) config.Password = password;
        // StackExchange.Redis waits 5 s by default; start-up and reconnects should not stall that long unless ops ask.
        if (!Mentions(redis.Configuration!, "connectTimeout")) config.ConnectTimeout = 2000;
        // A command sent while the socket is down fails at once instead of queueing in the client's backlog: the
        // caller answers 503 (or retries a read) within its own budget rather than waiting out a reconnect.
        config.BacklogPolicy = BacklogPolicy.FailFast;
        // Probe a broken link every 250 ms and reconnect on the next probe after Redis answers again, so a restart
        // costs well under a second of 503s (the 2.x default backs off exponentially to several seconds).
        config.HeartbeatInterval = TimeSpan.FromMilliseconds(250);
        if (!Mentions(redis.Configuration!, "reconnectRetryPolicy")) config.ReconnectRetryPolicy = new LinearRetry(250);
        // The client's own timeout matches the gateway's per-call budget; Polly's timeout stays the outer bound.
        if (!Mentions(redis.Configuration!, "asyncTimeout")) config.AsyncTimeout = (int)Math.Max((commandTimeout ?? redis.OperationTimeout).TotalMilliseconds, 10);
        // The one synchronous caller is DataProtection reading the key ring (on a background task once loaded): bounded
        // near the per-call budget instead of the client's 5 s.
        if (!Mentions(redis.Configuration!, "syncTimeout")) config.SyncTimeout = (int)Math.Max(redis.OperationTimeout.TotalMilliseconds * 4, 1000);
        // The client's own primary-election helpers (a tie-breaker key, a broadcast channel) outside the gateway's key prefix:
        // the gateway connects to one primary (or a cluster) and needs neither, so its ACL user need not reach them.
        if (!Mentions(redis.Configuration!, "tiebreaker")) config.TieBreaker = "";
        if (!Mentions(redis.Configuration!, "configChannel")) config.ConfigurationChannel = "";
        // The client reads CONFIG at connect only to learn settings the gateway does not use; an ACL user should not be
        // granted CONFIG GET (it reveals passwords), so the client is told the command is not there.
        if (!redis.Configuration!.Contains("$CONFIG", StringComparison.OrdinalIgnoreCase))
            config.CommandMap = CommandMap.Create(new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "CONFIG" }, available: false);
        config.ClientName ??= clientName;
        // Replies are read on the client's own reader threads (its default), not the .NET thread pool: with the pool
        // (SocketManager.ThreadPool, 0.913x the CPU per request at 100,000 live sessions in one side-by-side run), a
        // synchronous key-ring read (DataProtection's LRANGE) timed out under load with the pool's queue full, and every
        // protected request of RedisHangTests answered 401. DataProtection's key-ring reads are synchronous by design.
        _config = config;
        _first = new(() => string.IsNullOrEmpty(config.ServiceName) ? ConnectAsync(config) : ConnectThroughSentinelAsync(config), LazyThreadSafetyMode.ExecutionAndPublication);
        if (observe) metrics.ObserveRedisConnected(() => Volatile.Read(ref _current) is { IsCompletedSuccessfully: true } current && current.Result.IsConnected);
    }

    public string KeyPrefix { get; }

    private static bool Mentions(string configuration, string option) => configuration.Contains(option + "=", StringComparison.OrdinalIgnoreCase);

    public event EventHandler<ConnectionFailedEventArgs>? ConnectionFailed;
    public event EventHandler<ConnectionFailedEventArgs>? ConnectionRestored;

    /// <summary>Sentinel named another primary and the connection now goes to it: subscriptions are to be made again.</summary>
    public event Action<ConnectionMultiplexer>? PrimarySwitched;

    public Task<ConnectionMultiplexer> GetAsync() => Volatile.Read(ref _current) ?? First();

    private Task<ConnectionMultiplexer> First()
    {
        var first = _first.Value;
        Interlocked.CompareExchange(ref _current, first, null);
        return Volatile.Read(ref _current)!;
    }

    public async Task<IDatabase> DatabaseAsync() => (await GetAsync()).GetDatabase();

    /// <summary>
    /// For DataProtection's synchronous key repository only: it reads the key ring at start-up and on refresh, never per
    /// request. Waits at most the client's sync timeout for a connection still being made.
    /// </summary>
    public IDatabase Database()
    {
        // Bounded: with Sentinel the first connection waits for a sentinel to name a primary, which may take long.
        var connecting = GetAsync();
        if (!connecting.Wait(TimeSpan.FromMilliseconds(_config.SyncTimeout)))
            throw new TimeoutException("Redis is not connected yet (no primary known)");
        return connecting.Result.GetDatabase();
    }

    private async Task<ConnectionMultiplexer> ConnectThroughSentinelAsync(ConfigurationOptions config)
    {
        if (_follows is { } leader)
        {
            leader.PrimarySwitched += replacement => _ = OnPrimaryNamedAsync(replacement.GetEndPoints()[0]);
            while (true)
            {
                var leaders = (await leader.GetAsync()).GetEndPoints()[0];
                var connected = await ConnectAsync(SentinelPrimaryWatch.ForPrimary(config, leaders));
                // The leader may have switched while this connected (its event found nothing to replace yet).
                if ((await leader.GetAsync()).GetEndPoints()[0].Equals(leaders)) return connected;
                await connected.CloseAsync(allowCommandsToComplete: false);
            }
        }
        _sentinel = new SentinelPrimaryWatch(config, OnPrimaryNamedAsync, _logger);
        var primary = await _sentinel.StartAsync();
        return await ConnectAsync(SentinelPrimaryWatch.ForPrimary(config, primary));
    }

    /// <summary>
    /// Sentinel named <paramref name="primary"/>: a connection to another endpoint is replaced by a new one to it (the
    /// old one is closed a little later, so commands in flight end on their own).
    /// </summary>
    private async Task OnPrimaryNamedAsync(EndPoint primary)
    {
        if (Volatile.Read(ref _current) is not { IsCompletedSuccessfully: true } current) return;
        if (current.Result.GetEndPoints().Any(e => e.Equals(primary))) return;
        await _switching.WaitAsync();
        try
        {
            var old = Volatile.Read(ref _current)!.Result;
            if (old.GetEndPoints().Any(e => e.Equals(primary))) return;
            var replacement = await ConnectAsync(SentinelPrimaryWatch.ForPrimary(_config, primary));
            Volatile.Write(ref _current, Task.FromResult(replacement));
            lock (_retiring) _retiring.Add(old);
            _ = RetireAsync(old);
            if (_logger.IsEnabled(LogLevel.Warning)) LogSwitched(_logger, string.Join(",", old.GetEndPoints().Select(e => e.ToString())), primary.ToString() ?? "?");
            try
            {
                PrimarySwitched?.Invoke(replacement);
            }
            catch (Exception ex) when (ex is RedisException or ObjectDisposedException or InvalidOperationException)
            {
                // A subscriber's own failure; it retries on its own.
            }
        }
        finally
        {
            _switching.Release();
        }
    }

    /// <summary>A connection replaced after a switch: what happens to it (its close, above all) is no longer news.</summary>
    private bool IsRetired(ConnectionMultiplexer multiplexer) =>
        Volatile.Read(ref _current) is { IsCompletedSuccessfully: true } current && !ReferenceEquals(current.Result, multiplexer);

    private async Task RetireAsync(ConnectionMultiplexer old)
    {
        await Task.Delay(TimeSpan.FromSeconds(5));
        lock (_retiring)
            if (!_retiring.Remove(old)) return;
        await old.CloseAsync(allowCommandsToComplete: false);
    }

    /// <summary>
    /// True once connected to a Redis Cluster, false once connected to anything else; null until then. Keys of different
    /// users' slots may share one command only when this is false.
    /// </summary>
    public bool? IsCluster { get; private set; }

    private void LearnKind(ConnectionMultiplexer multiplexer)
    {
        var servers = multiplexer.GetServers();
        if (servers.Any(s => s.IsConnected)) IsCluster = servers.Any(s => s.ServerType == ServerType.Cluster);
    }

    private async Task<ConnectionMultiplexer> ConnectAsync(ConfigurationOptions config)
    {
        var multiplexer = await ConnectionMultiplexer.ConnectAsync(config);
        LearnKind(multiplexer);
        multiplexer.ConnectionFailed += (s, e) =>
        {
            if (IsRetired(multiplexer)) return;
            if (_logger.IsEnabled(LogLevel.Error)) LogFailed(_logger, e.ConnectionType.ToString(), e.EndPoint?.ToString(), e.FailureType.ToString());
            ConnectionFailed?.Invoke(s, e);
        };
        multiplexer.ConnectionRestored += (s, e) =>
        {
            if (IsRetired(multiplexer)) return;
            // Started while Redis was down: what kind of deployment it is shows once a server answers.
            if (IsCluster is null) LearnKind(multiplexer);
            if (_logger.IsEnabled(LogLevel.Information)) LogRestored(_logger, e.ConnectionType.ToString(), e.EndPoint?.ToString());
            ConnectionRestored?.Invoke(s, e);
        };
        return multiplexer;
    }

    public async ValueTask DisposeAsync()
    {
        if (_sentinel is not null) await _sentinel.DisposeAsync();
        List<ConnectionMultiplexer> retiring;
        lock (_retiring)
        {
            retiring = [.. _retiring];
            _retiring.Clear();
        }
        foreach (var old in retiring) await old.CloseAsync(allowCommandsToComplete: false);
        if (Volatile.Read(ref _current) is { IsCompletedSuccessfully: true } current)
            await current.Result.CloseAsync(allowCommandsToComplete: false);
    }

    [LoggerMessage(EventId = LogEvents.RedisPrimarySwitched, EventName = nameof(LogEvents.RedisPrimarySwitched), Level = LogLevel.Warning,
        Message = "Redis Sentinel named a new primary: connection moved from {Old} to {New}")]
    private static partial void LogSwitched(ILogger logger, string old, string @new);

    [LoggerMessage(EventId = LogEvents.RedisUnavailable, EventName = nameof(LogEvents.RedisUnavailable), Level = LogLevel.Error,
        Message = "Redis {ConnectionType} connection to {Endpoint} failed: {FailureType}")]
    private static partial void LogFailed(ILogger logger, string connectionType, string? endpoint, string failureType);

    [LoggerMessage(EventId = LogEvents.RedisRestored, EventName = nameof(LogEvents.RedisRestored), Level = LogLevel.Information,
        Message = "Redis {ConnectionType} connection to {Endpoint} restored")]
    private static partial void LogRestored(ILogger logger, string connectionType, string? endpoint);
}
