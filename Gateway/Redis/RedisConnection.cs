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

    public RedisConnection(IOptions<GatewayOptions> options, ILogger<RedisConnection> logger)
    {
        _logger = logger;
        var redis = options.Value.Redis;
        KeyPrefix = redis.KeyPrefix;
        var config = ConfigurationOptions.Parse(redis.Configuration!);
        config.AbortOnConnectFail = false;
        // StackExchange.Redis waits 5 s by default; start-up and reconnects should not stall that long unless ops ask.
        if (!redis.Configuration!.Contains("connectTimeout", StringComparison.OrdinalIgnoreCase)) config.ConnectTimeout = 2000;
        config.ClientName ??= "gateway";
        _connection = new(() => ConnectAsync(config), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    public string KeyPrefix { get; }

    public event EventHandler<ConnectionFailedEventArgs>? ConnectionFailed;
    public event EventHandler<ConnectionFailedEventArgs>? ConnectionRestored;

    public Task<ConnectionMultiplexer> GetAsync() => _connection.Value;

    public async Task<IDatabase> DatabaseAsync() => (await _connection.Value).GetDatabase();

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
