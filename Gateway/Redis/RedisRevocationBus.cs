using Gateway.Sessions;
using StackExchange.Redis;

namespace Gateway.Redis;

/// <summary>
/// Publishes revocations on <c>{prefix}revocations</c> and applies every replica's revocations to
/// the local cache. The cache is distrusted until the subscription is up and whenever it drops,
/// since a revocation published meanwhile would be missed.
/// </summary>
internal sealed class RedisRevocationBus(RedisConnection connection, RedisCalls redis, SessionCache cache, HeldGlobalMark globalMark)
    : BackgroundService, ISessionRevocationBus
{
    private readonly RedisChannel _channel = RedisChannel.Literal(connection.KeyPrefix + "revocations");

    public Task PublishAsync(SessionRevocation revocation, CancellationToken cancellationToken)
    {
        Apply(revocation);
        return redis.PublishAsync(_channel.ToString(), revocation.Encode(), cancellationToken);
    }

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        Distrust("waiting for the revocation subscription");
        connection.ConnectionFailed += OnFailed;
        connection.ConnectionRestored += OnRestored;
        connection.PrimarySwitched += OnSwitched;
        // Start-up does not wait for Redis: ExecuteAsync subscribes in the background; until then the cache is distrusted.
        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await SubscribeAsync(await connection.GetAsync().WaitAsync(stoppingToken), stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// Subscribes on <paramref name="multiplexer"/> until it is up, or until it is no longer the connection in use (a
    /// switch started a loop of its own on the new one). Only the connection in use can make the cache trusted.
    /// </summary>
    private async Task SubscribeAsync(ConnectionMultiplexer multiplexer, CancellationToken stoppingToken)
    {
        var subscriber = multiplexer.GetSubscriber();
        while (!stoppingToken.IsCancellationRequested && IsCurrent(multiplexer))
        {
            try
            {
                await subscriber.SubscribeAsync(_channel, (_, message) => OnMessage(message)).WaitAsync(stoppingToken);
                if (subscriber.IsConnected(_channel) && IsCurrent(multiplexer)) Trust("revocation subscription established");
                return;
            }
            catch (Exception ex) when (ex is RedisException or ObjectDisposedException or InvalidOperationException or TimeoutException)
            {
                // Redis is not reachable yet (or this connection was just retired); keep asking while it is the one in use.
                await Task.Delay(TimeSpan.FromMilliseconds(250), stoppingToken);
            }
        }
    }

    private bool IsCurrent(ConnectionMultiplexer multiplexer) =>
        connection.GetAsync() is { IsCompletedSuccessfully: true } current && ReferenceEquals(current.Result, multiplexer);

    /// <summary>A new primary, a new connection: what was published while the old one died was missed, so trust waits for the new subscription.</summary>
    private void OnSwitched(ConnectionMultiplexer replacement)
    {
        Distrust("Redis primary switched");
        _ = SubscribeGuardedAsync(replacement);
    }

    private async Task SubscribeGuardedAsync(ConnectionMultiplexer replacement)
    {
        try
        {
            await SubscribeAsync(replacement, _stopping.Token);
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
    }

    private readonly CancellationTokenSource _stopping = new();

    private void OnMessage(RedisValue message)
    {
        if (SessionRevocation.Decode(message) is { } revocation) Apply(revocation);
    }

    private void Apply(SessionRevocation revocation)
    {
        if (revocation.All) globalMark.Forget();
        cache.Apply(revocation);
    }

    // The held global mark shares the cache's trust: whatever was read before a gap in the feed may have missed a revoke-all.
    private void Distrust(string reason)
    {
        cache.Distrust(reason);
        globalMark.Forget();
    }

    private void Trust(string reason)
    {
        cache.Trust(reason);
        globalMark.Forget();
    }

    private void OnFailed(object? sender, ConnectionFailedEventArgs e)
    {
        if (e.ConnectionType == ConnectionType.Subscription) Distrust($"revocation subscription lost ({e.FailureType})");
    }

    private void OnRestored(object? sender, ConnectionFailedEventArgs e)
    {
        if (e.ConnectionType == ConnectionType.Subscription) Trust("revocation subscription restored");
    }

    public override Task StopAsync(CancellationToken cancellationToken)
    {
        connection.ConnectionFailed -= OnFailed;
        connection.ConnectionRestored -= OnRestored;
        connection.PrimarySwitched -= OnSwitched;
        _stopping.Cancel();
        return base.StopAsync(cancellationToken);
    }
}
