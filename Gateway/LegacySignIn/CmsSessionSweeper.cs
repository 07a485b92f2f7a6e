using Gateway.Observability;
using Gateway.Sessions;
using Microsoft.Extensions.Options;

namespace Gateway.LegacySignIn;

/// <summary>
/// A gateway session that expires idle leaves no trace to act on (its record simply times out in Redis), and the CMS
/// resets its own record's TTL on every request it serves. So each replica looks, every <c>SweepInterval</c>, for CMS
/// sessions no gateway session has used for longer than the idle timeout (plus the cache duration, the most a check can
/// lag) and deletes them. Several replicas sweeping at once delete the same keys twice, which is harmless.
/// </summary>
internal sealed partial class CmsSessionSweeper(
    IOptions<LegacySignInOptions> options, IOptions<Sessions.GatewaySessionOptions> session,
    CmsSessions cms,
    TimeProvider time,
    ILogger<CmsSessionSweeper> logger) : BackgroundService
{
    private readonly TimeSpan _interval = options.Value.SweepInterval;
    private readonly TimeSpan _unusedFor = session.Value.IdleTimeout + session.Value.CacheDuration;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(_interval, time, stoppingToken);
                var ended = await cms.EndUnusedAsync(time.GetUtcNow() - _unusedFor, stoppingToken);
                if (ended > 0) LogSwept(logger, ended);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (StoreUnavailableException ex)
            {
                LogFailed(logger, ex.Message);
            }
        }
    }

    [LoggerMessage(EventId = LogEvents.CmsSessionsSwept, EventName = nameof(LogEvents.CmsSessionsSwept), Level = LogLevel.Information,
        Message = "{Count} CMS session(s) of gateway sessions that expired idle deleted")]
    private static partial void LogSwept(ILogger logger, int count);

    [LoggerMessage(EventId = LogEvents.CmsSweepFailed, EventName = nameof(LogEvents.CmsSweepFailed), Level = LogLevel.Warning,
        Message = "Sweep of idle CMS sessions skipped, the store is unavailable: {Reason}")]
    private static partial void LogFailed(ILogger logger, string reason);
}
