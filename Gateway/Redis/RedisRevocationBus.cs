using Gateway.Sessions;
using StackExchange.Redis;

namespace Gateway.Redis;

/// <summary>
/// Publishes revocations on <c>{prefix}revocations</c> and applies every replica's revocations to
/// the local cache. The cache is distrusted until the subscription is up and whenever it drops,
/// since a revocation published meanwhile would be missed.
/// </summary>
internal sealed class RedisRevocationBus(RedisConnection connection, RedisCalls redis, SessionCache cache) : BackgroundService, ISessionRevocationBus
{
    private readonly RedisChannel _channel = RedisChannel.Literal(connection.KeyPrefix + "revocations");

    public Task PublishAsync(SessionRevocation revocation, CancellationToken cancellationToken)
    {
        cache.Apply(revocation);
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
    /// Subscribes on <paramref name="multiplexer"/> afresh (our handler off, then on again: a SUBSCRIBE the server has
    /// answered, not the client's own resubscription after a reconnect, which it sends without waiting) until it is up,
    /// or until it is no longer the connection in use (a switch started a loop of its own on the new one). Trust follows
    /// only a confirmed subscription on the connection in use, and only if no loss was reported since this attempt began.
    /// </summary>
    private async Task SubscribeAsync(ConnectionMultiplexer multiplexer, CancellationToken stoppingToken)
    {
        var subscriber = multiplexer.GetSubscriber();
        while (!stoppingToken.IsCancellationRequested && IsCurrent(multiplexer))
        {
            var losses = Interlocked.Read(ref _losses);
            try
            {
                await subscriber.UnsubscribeAsync(_channel, MessageHandler).WaitAsync(stoppingToken);
                await subscriber.SubscribeAsync(_channel, MessageHandler).WaitAsync(stoppingToken);
                if (subscriber.IsConnected(_channel) && IsCurrent(multiplexer) && TrustUnlessLostSince(losses, "revocation subscription established")) return;
            }
            catch (Exception ex) when (ex is RedisException or ObjectDisposedException or InvalidOperationException or TimeoutException)
            {
                // Redis is not reachable yet (or this connection was just retired); keep asking while it is the one in use.
            }
            await Task.Delay(TimeSpan.FromMilliseconds(250), stoppingToken);
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

    private async Task SubscribeGuardedAsync(ConnectionMultiplexer? multiplexer = null)
    {
        try
        {
            multiplexer ??= await connection.GetAsync().WaitAsync(_stopping.Token);
            await SubscribeAsync(multiplexer, _stopping.Token);
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
    }

    private readonly CancellationTokenSource _stopping = new();

    private void OnMessage(RedisValue message)
    {
        if (SessionRevocation.Decode(message) is { } revocation) cache.Apply(revocation);
    }

    // One delegate, so that a fresh subscription can take exactly this handler off before adding it again.
    private Action<RedisChannel, RedisValue> MessageHandler => field ??= (_, message) => OnMessage(message);

    // Losses reported so far, and the lock that orders them with trust: a subscription confirmed just before a loss was
    // reported must not make the cache trusted after it.
    private long _losses;
    private readonly Lock _trust = new();

    private void Distrust(string reason)
    {
        lock (_trust)
        {
            Interlocked.Increment(ref _losses);
            cache.Distrust(reason);
        }
    }

    private bool TrustUnlessLostSince(long losses, string reason)
    {
        lock (_trust)
        {
            if (Interlocked.Read(ref _losses) != losses) return false;
            cache.Trust(reason);
            return true;
        }
    }

    // The client raises these on the thread pool, not always in the order they happened (a restore has been seen before
    // the failure it ended): each only starts a fresh subscription, which trusts the cache once the server confirms it.
    private void OnFailed(object? sender, ConnectionFailedEventArgs e)
    {
        if (e.ConnectionType != ConnectionType.Subscription) return;
        Distrust($"revocation subscription lost ({e.FailureType})");
        _ = SubscribeGuardedAsync();
    }

    private void OnRestored(object? sender, ConnectionFailedEventArgs e)
    {
        if (e.ConnectionType != ConnectionType.Subscription) return;
        // Distrusted first: the fresh subscription drops ours for a moment, and a message in that moment would be missed.
        Distrust("revocation subscription restored, confirming it");
        _ = SubscribeGuardedAsync();
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
