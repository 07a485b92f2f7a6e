using Gateway.Configuration;
using Gateway.Observability;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Gateway.Redis;

/// <summary>
/// The one multiplexer per process. Connects without aborting when Redis is down at start-up
/// (the gateway still serves public routes) and reconnects by itself.
/// </summary>
internal sealed partial class RedisConnection : IAsyncDisposable
{
    private readonly Lazy<Task<ConnectionMultiplexer>> _connection;
    private readonly ILogger<RedisConnection> _logger;

    public RedisConnection(IOptions<GatewayOptions> options, ILogger<RedisConnection> logger, GatewayMetrics metrics)
        : this(options.Value.Redis, options.Value.Redis.Configuration!, "gateway", logger, metrics, observe: true)
    {
    }

    /// <summary>A connection of its own to <paramref name="configuration"/> (the CMS's Redis), with the gateway's timeouts.</summary>
    internal RedisConnection(RedisOptions redis, string configuration, string clientName, ILogger<RedisConnection> logger, GatewayMetrics metrics, bool observe)
    {
        _logger = logger;
        redis = new RedisOptions { Configuration = configuration, KeyPrefix = redis.KeyPrefix, OperationTimeout = redis.OperationTimeout, BreakDuration = redis.BreakDuration };
        KeyPrefix = redis.KeyPrefix;
        var config = ConfigurationOptions.Parse(redis.Configuration!);
        config.AbortOnConnectFail = false;
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
        if (!Mentions(redis.Configuration!, "asyncTimeout")) config.AsyncTimeout = (int)Math.Max(redis.OperationTimeout.TotalMilliseconds, 10);
        // The one synchronous caller is DataProtection reading the key ring (on a background task once loaded): bounded
        // near the per-call budget instead of the client's 5 s.
        if (!Mentions(redis.Configuration!, "syncTimeout")) config.SyncTimeout = (int)Math.Max(redis.OperationTimeout.TotalMilliseconds * 4, 1000);
        config.ClientName ??= clientName;
        _connection = new(() => ConnectAsync(config), LazyThreadSafetyMode.ExecutionAndPublication);
        if (observe) metrics.ObserveRedisConnected(() => _connection.IsValueCreated && _connection.Value.IsCompletedSuccessfully && _connection.Value.Result.IsConnected);
    }

    public string KeyPrefix { get; }

    private static bool Mentions(string configuration, string option) => configuration.Contains(option + "=", StringComparison.OrdinalIgnoreCase);

    public event EventHandler<ConnectionFailedEventArgs>? ConnectionFailed;
    public event EventHandler<ConnectionFailedEventArgs>? ConnectionRestored;

    public Task<ConnectionMultiplexer> GetAsync() => _connection.Value;

    public async Task<IDatabase> DatabaseAsync() => (await _connection.Value).GetDatabase();

    /// <summary>
    /// For DataProtection's synchronous key repository only: it reads the key ring at start-up and on refresh,
    /// never per request, and the connection is long established by then.
    /// </summary>
    public IDatabase Database() => _connection.Value.GetAwaiter().GetResult().GetDatabase();

    private async Task<ConnectionMultiplexer> ConnectAsync(ConfigurationOptions config)
    {
        var multiplexer = await ConnectionMultiplexer.ConnectAsync(config);
        multiplexer.ConnectionFailed += (s, e) =>
        {
            if (_logger.IsEnabled(LogLevel.Error)) LogFailed(_logger, e.ConnectionType.ToString(), e.EndPoint?.ToString(), e.FailureType.ToString());
            ConnectionFailed?.Invoke(s, e);
        };
        multiplexer.ConnectionRestored += (s, e) =>
        {
            if (_logger.IsEnabled(LogLevel.Information)) LogRestored(_logger, e.ConnectionType.ToString(), e.EndPoint?.ToString());
            ConnectionRestored?.Invoke(s, e);
        };
        return multiplexer;
    }

    public async ValueTask DisposeAsync()
    {
        if (_connection.IsValueCreated && _connection.Value.IsCompletedSuccessfully)
            await _connection.Value.Result.CloseAsync(allowCommandsToComplete: false);
    }

    [LoggerMessage(EventId = LogEvents.RedisUnavailable, EventName = nameof(LogEvents.RedisUnavailable), Level = LogLevel.Error,
        Message = "Redis {ConnectionType} connection to {Endpoint} failed: {FailureType}")]
    private static partial void LogFailed(ILogger logger, string connectionType, string? endpoint, string failureType);

    [LoggerMessage(EventId = LogEvents.RedisRestored, EventName = nameof(LogEvents.RedisRestored), Level = LogLevel.Information,
        Message = "Redis {ConnectionType} connection to {Endpoint} restored")]
    private static partial void LogRestored(ILogger logger, string connectionType, string? endpoint);
}
