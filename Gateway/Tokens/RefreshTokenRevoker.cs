using Gateway.Observability;
using Gateway.Sessions;

namespace Gateway.Tokens;

/// <summary>
/// When a session ends, its refresh token is revoked at the provider (RFC 7009), so tokens handed out for the APIs
/// behind stop working too. A provider that is down does not block the logout: the failure is logged and counted.
/// </summary>
internal sealed partial class RefreshTokenRevoker(TokenEndpointClient provider, GatewayMetrics metrics, ILogger<RefreshTokenRevoker> logger) : ISessionEndObserver
{
    public async Task SessionsEndedAsync(IReadOnlyList<SessionRecord> records, CancellationToken cancellationToken)
    {
        // Several at once, bounded: ending many sessions must not take the many calls' latency in sequence.
        await Parallel.ForEachAsync(records.Where(r => r.RefreshToken is not null),
            new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellationToken },
            async (record, token) =>
            {
                if (await provider.RevokeAsync(record.RefreshToken!, token))
                {
                    metrics.TokenRevocation("revoked");
                    return;
                }
                metrics.TokenRevocation("failed");
                LogFailed(logger);
            });
    }

    [LoggerMessage(EventId = LogEvents.RefreshTokenRevocationFailed, EventName = nameof(LogEvents.RefreshTokenRevocationFailed), Level = LogLevel.Warning,
        Message = "A refresh token could not be revoked at the provider (down, or no revocation endpoint); the session itself has ended")]
    private static partial void LogFailed(ILogger logger);
}
