using System.Collections.Concurrent;
using Gateway.Configuration;
using Gateway.Observability;
using Gateway.Sessions;
using Microsoft.Extensions.Options;

namespace Gateway.Tokens;

/// <summary>What a request forwarding the access token gets.</summary>
internal enum AccessTokenStatus { Fresh, None, Refused, Unavailable }

/// <summary>
/// The user's access token for a route that forwards it, refreshed a margin before it expires: one refresh per
/// session at a time, across concurrent requests (a gate per session on this replica) and across replicas (a
/// short lock in the store; the others wait for the new record). The refresh token is used once and replaced by
/// the rotated one. A refresh the provider refuses ends the session.
/// </summary>
internal sealed partial class AccessTokenService(
    SessionManager sessions,
    ISessionStore store,
    TokenEndpointClient provider,
    IOptions<Login.LoginOptions> options,
    TimeProvider time,
    GatewayMetrics metrics,
    ILogger<AccessTokenService> logger)
{
    private const string LockPurpose = "refresh";
    // Twice the provider call's whole budget (TokenEndpointClient: 5 s, discovery included): the lock never expires mid-refresh.
    private static readonly TimeSpan LockTime = TimeSpan.FromSeconds(10);
    private readonly TimeSpan _margin = options.Value.Oidc.AccessTokenRefreshMargin;
    private readonly ConcurrentDictionary<SessionKey, SemaphoreSlim> _gates = new();

    public async ValueTask<(AccessTokenStatus Status, string? Token)> GetAsync(CachedSession session, CancellationToken cancellationToken)
    {
        if (session.Record.AccessToken is null) return (AccessTokenStatus.None, null);
        if (IsFresh(session.Record.AccessTokenExpiresAt)) return (AccessTokenStatus.Fresh, session.Record.AccessToken);

        var gate = _gates.GetOrAdd(session.Key, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        try
        {
            return await RefreshOnceAsync(session.Key, cancellationToken);
        }
        finally
        {
            gate.Release();
            if (gate.CurrentCount == 1) _gates.TryRemove(new KeyValuePair<SessionKey, SemaphoreSlim>(session.Key, gate));
        }
    }

    private async Task<(AccessTokenStatus, string?)> RefreshOnceAsync(SessionKey key, CancellationToken cancellationToken)
    {
        // A request ahead of this one, here or on another replica, may have refreshed already.
        var latest = await sessions.ReloadAsync(key, cancellationToken);
        if (latest is null) return (AccessTokenStatus.Refused, null);
        if (IsFresh(latest)) return (AccessTokenStatus.Fresh, latest.AccessToken);

        var holder = await store.TryLockAsync(key.Handle, LockPurpose, LockTime, cancellationToken);
        if (holder is null) return await WaitForOtherReplicaAsync(key, latest, cancellationToken);
        try
        {
            latest = await sessions.ReloadAsync(key, cancellationToken);
            if (latest is null) return (AccessTokenStatus.Refused, null);
            if (IsFresh(latest)) return (AccessTokenStatus.Fresh, latest.AccessToken);
            if (latest.RefreshToken is null) return StillValid(latest);

            switch (await provider.RefreshAsync(latest.RefreshToken, cancellationToken))
            {
                case RefreshOutcome.Refreshed refreshed:
                    var updated = latest with
                    {
                        AccessToken = refreshed.AccessToken,
                        AccessTokenExpiresAt = refreshed.ExpiresAt,
                        RefreshToken = refreshed.RefreshToken ?? latest.RefreshToken,
                    };
                    if (!await sessions.ReplaceRecordAsync(key, updated, cancellationToken))
                    {
                        // The session ended while we refreshed (a logout won the race): the new tokens must not outlive it.
                        if (refreshed.RefreshToken is { } orphan) await provider.RevokeAsync(orphan, CancellationToken.None);
                        return (AccessTokenStatus.Refused, null);
                    }
                    metrics.TokenRefresh("refreshed");
                    LogRefreshed(logger, key.ShortHash);
                    return (AccessTokenStatus.Fresh, updated.AccessToken);
                case RefreshOutcome.Refused refused:
                    metrics.TokenRefresh("refused");
                    LogRefused(logger, key.ShortHash, refused.Error);
                    await sessions.RevokeAsync(key, "refresh-refused", cancellationToken);
                    return (AccessTokenStatus.Refused, null);
                case RefreshOutcome.Unavailable unavailable:
                    metrics.TokenRefresh("unavailable");
                    LogUnavailable(logger, key.ShortHash, unavailable.Reason);
                    return StillValid(latest);
                default:
                    throw new InvalidOperationException("Unknown refresh outcome.");
            }
        }
        finally
        {
            await store.UnlockAsync(key.Handle, LockPurpose, holder, CancellationToken.None);
        }
    }

    /// <summary>Another replica holds the lock: its new record arrives in the store within moments.</summary>
    private async Task<(AccessTokenStatus, string?)> WaitForOtherReplicaAsync(SessionKey key, SessionRecord latest, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            await Task.Delay(100, cancellationToken);
            var current = await sessions.ReloadAsync(key, cancellationToken);
            if (current is null) return (AccessTokenStatus.Refused, null);
            if (current.AccessToken != latest.AccessToken && IsFresh(current)) return (AccessTokenStatus.Fresh, current.AccessToken);
        }
        return StillValid(latest);
    }

    /// <summary>Within the margin but not yet expired, the old token still serves; past its expiry nothing does.</summary>
    private (AccessTokenStatus, string?) StillValid(SessionRecord record) =>
        record.AccessTokenExpiresAt is { } expires && expires > time.GetUtcNow() ? (AccessTokenStatus.Fresh, record.AccessToken) : (AccessTokenStatus.Unavailable, null);

    private bool IsFresh(SessionRecord record) => record.AccessToken is not null && IsFresh(record.AccessTokenExpiresAt);

    private bool IsFresh(DateTimeOffset? expiresAt) => expiresAt is null || expiresAt - _margin > time.GetUtcNow();

    [LoggerMessage(EventId = LogEvents.AccessTokenRefreshed, EventName = nameof(LogEvents.AccessTokenRefreshed), Level = LogLevel.Information,
        Message = "Access token of session {SessionHash} refreshed")]
    private static partial void LogRefreshed(ILogger logger, string sessionHash);

    [LoggerMessage(EventId = LogEvents.AccessTokenRefreshRefused, EventName = nameof(LogEvents.AccessTokenRefreshRefused), Level = LogLevel.Warning,
        Message = "The provider refused to refresh session {SessionHash} ({Error}); the session is ended")]
    private static partial void LogRefused(ILogger logger, string sessionHash, string error);

    [LoggerMessage(EventId = LogEvents.AccessTokenRefreshUnavailable, EventName = nameof(LogEvents.AccessTokenRefreshUnavailable), Level = LogLevel.Warning,
        Message = "Access token of session {SessionHash} could not be refreshed: {Reason}")]
    private static partial void LogUnavailable(ILogger logger, string sessionHash, string reason);
}
