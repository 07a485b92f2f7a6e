using Gateway.Sessions;
using StackExchange.Redis;

namespace Gateway.Redis;

/// <summary>
/// Publishes revocations on <c>{prefix}revocations</c> and applies every replica's revocations to
/// the local cache. The cache is distrusted until the subscription is up and whenever it drops,
/// since a revocation published meanwhile would be missed.
/// </summary>
internal sealed class RedisRevocationBus(RedisConnection connection, RedisCalls redis, SessionCache cache) : ISessionRevocationBus, IHostedService
{
    private const string AllMarker = "*";
    private readonly string _channel = connection.KeyPrefix + "revocations";

    public Task PublishAsync(SessionRevocation revocation, CancellationToken cancellationToken)
    {
        cache.Apply(revocation);
        var message = revocation.All ? AllMarker : string.Join(',', revocation.SessionHashes);
        return redis.PublishAsync(_channel, message, cancellationToken);
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        cache.Distrust("waiting for the revocation subscription");
        connection.ConnectionFailed += OnFailed;
        connection.ConnectionRestored += OnRestored;
        // Not awaited: start-up must not wait for Redis. The loop retries until subscribed; until then the cache is distrusted.
        _ = SubscribeAsync();
        await Task.CompletedTask;
    }

    private async Task SubscribeAsync()
    {
        var multiplexer = await connection.GetAsync();
        var subscriber = multiplexer.GetSubscriber();
        while (true)
        {
            try
            {
                await subscriber.SubscribeAsync(_channel, (_, message) => OnMessage(message));
                if (subscriber.IsConnected(_channel)) cache.Trust("revocation subscription established");
                return;
            }
            catch (RedisException)
            {
                // Redis is not reachable yet; the multiplexer reconnects, keep asking.
                await Task.Delay(TimeSpan.FromMilliseconds(500));
            }
        }
    }

    private void OnMessage(RedisValue message)
    {
        var text = (string?)message;
        if (string.IsNullOrEmpty(text)) return;
        cache.Apply(text == AllMarker ? SessionRevocation.Everything : new SessionRevocation(text.Split(',')));
    }

    private void OnFailed(object? sender, ConnectionFailedEventArgs e)
    {
        if (e.ConnectionType == ConnectionType.Subscription) cache.Distrust($"revocation subscription lost ({e.FailureType})");
    }

    private void OnRestored(object? sender, ConnectionFailedEventArgs e)
    {
        if (e.ConnectionType == ConnectionType.Subscription) cache.Trust("revocation subscription restored");
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        connection.ConnectionFailed -= OnFailed;
        connection.ConnectionRestored -= OnRestored;
        return Task.CompletedTask;
    }
}
