using System.Net;
using StackExchange.Redis;

namespace Gateway.Redis;

/// <summary>
/// Follows the primary that Redis Sentinel names for <c>serviceName</c>, asynchronously. StackExchange.Redis's own
/// Sentinel mode handles a failover on thread-pool threads that it blocks for up to its connect timeout (a synchronous
/// sentinel query over PLINQ, then <c>ReconfigureAsync(...).Wait()</c> in <c>SwitchPrimary</c>, run from the
/// <c>+switch-master</c> handler and a reconnect timer at once); on two cores, whose pool starts with two threads, that
/// stalled the whole process for 2 to 5 s, <c>/healthz</c> included. Here the sentinels are only asked (their
/// <c>+switch-master</c> message, and a poll each second in case it was missed), and the data connection is a plain
/// one to the primary they name, replaced by a new one when they name another. Nothing waits on a thread.
/// </summary>
internal sealed partial class SentinelPrimaryWatch(ConfigurationOptions configured, Func<EndPoint, Task> primaryNamed, ILogger logger) : IAsyncDisposable
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(1);

    private readonly string _serviceName = configured.ServiceName!;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _asking = new(1, 1);
    private ConnectionMultiplexer? _sentinels;
    private Task? _poll;

    /// <summary>The configuration for a plain connection to <paramref name="primary"/>: the user's own, minus Sentinel.</summary>
    public static ConfigurationOptions ForPrimary(ConfigurationOptions configured, EndPoint primary)
    {
        var data = configured.Clone();
        data.ServiceName = null;
        data.EndPoints.Clear();
        data.EndPoints.Add(primary);
        return data;
    }

    /// <summary>Connects to the sentinels and returns the primary they name, asking until one does.</summary>
    public async Task<EndPoint> StartAsync()
    {
        var sentinels = configured.Clone();
        sentinels.ServiceName = null;
        sentinels.CommandMap = CommandMap.Sentinel;
        sentinels.AbortOnConnectFail = false;
        // The sentinel connection's own failure handler still waits synchronously (for a sentinel that went away): bounded.
        sentinels.ConnectTimeout = Math.Min(sentinels.ConnectTimeout, 1000);
        sentinels.ClientName = configured.ClientName is { } name ? name + "-sentinel" : null;
        _sentinels = await ConnectionMultiplexer.SentinelConnectAsync(sentinels);
        await _sentinels.GetSubscriber().SubscribeAsync(RedisChannel.Literal("+switch-master"), (channel, message) =>
        {
            // "<service> <old ip> <old port> <new ip> <new port>": ours only; the sentinels are then asked, not trusted from the message.
            if (((string?)message)?.StartsWith(_serviceName + " ", StringComparison.Ordinal) == true) _ = AskAsync("switch-master");
        });
        while (true)
        {
            if (await PrimaryAsync() is { } primary)
            {
                _poll = PollAsync(_stop.Token);
                return primary;
            }
            await Task.Delay(TimeSpan.FromMilliseconds(250), _stop.Token);
        }
    }

    private async Task PollAsync(CancellationToken stop)
    {
        using var timer = new PeriodicTimer(PollInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(stop)) await AskAsync("poll");
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    private async Task AskAsync(string reason)
    {
        if (!await _asking.WaitAsync(0)) return;
        try
        {
            if (await PrimaryAsync() is { } primary) await primaryNamed(primary);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !_stop.IsCancellationRequested)
        {
            // Whatever went wrong, the poll goes on: the next tick asks again.
            if (logger.IsEnabled(LogLevel.Warning)) LogAskFailed(logger, reason, ex.GetType().Name);
        }
        finally
        {
            _asking.Release();
        }
    }

    /// <summary>The primary the first sentinel that answers names, or null when none does.</summary>
    private async Task<EndPoint?> PrimaryAsync()
    {
        foreach (var endpoint in _sentinels!.GetEndPoints())
        {
            var sentinel = _sentinels.GetServer(endpoint);
            if (!sentinel.IsConnected) continue;
            try
            {
                if (await sentinel.SentinelGetMasterAddressByNameAsync(_serviceName).WaitAsync(TimeSpan.FromSeconds(1), _stop.Token) is { } primary)
                    return primary;
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                // The next sentinel may answer.
            }
        }
        return null;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_poll is not null) await _poll;
        if (_sentinels is not null) await _sentinels.CloseAsync(allowCommandsToComplete: false);
        _stop.Dispose();
    }

    [LoggerMessage(EventId = Observability.LogEvents.RedisSentinelUnavailable, EventName = nameof(Observability.LogEvents.RedisSentinelUnavailable), Level = LogLevel.Warning,
        Message = "Asking the Redis sentinels for the primary ({Reason}) failed: {FailureType}")]
    private static partial void LogAskFailed(ILogger logger, string reason, string failureType);
}
