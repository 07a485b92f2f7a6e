using Gateway.Sessions;

namespace Gateway.Redis;

/// <summary>Answers /readyz's "is Redis reachable" through the same pipeline the sessions use.</summary>
internal sealed class RedisReadiness(RedisCalls redis) : Health.IStoreReadiness
{
    public async Task<(bool Ready, string Detail)> CheckAsync(CancellationToken cancellationToken)
    {
        try
        {
            var latency = await redis.ReadAsync("ping", db => db.PingAsync(), cancellationToken);
            return (true, $"redis ok ({latency.TotalMilliseconds:0.0} ms)");
        }
        catch (StoreUnavailableException ex)
        {
            return (false, ex.Message);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The caller's own budget (/readyz allows 500 ms) ran out first: a Redis that hangs, reported, never a 500.
            return (false, "redis did not answer in time");
        }
    }
}
