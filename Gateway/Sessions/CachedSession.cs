using System.Security.Claims;

namespace Gateway.Sessions;

/// <summary>A resolved session as one replica holds it between store round trips.</summary>
internal sealed class CachedSession(SessionKey key, SessionRecord record, DateTimeOffset fetchedAt, DateTimeOffset cachedUntil)
{
    private long _lastTouchTicks = fetchedAt.UtcTicks;

    public SessionKey Key { get; } = key;
    public SessionRecord Record { get; } = record;
    public string ShortHash { get; } = key.ShortHash;
    public DateTimeOffset CachedUntil { get; } = cachedUntil;
    public ClaimsPrincipal Principal { get; } = GatewayClaims.ToPrincipal(record);

    /// <summary>The signed assertion for this session and audience, reused until close to its expiry (set by Identity).</summary>
    public volatile object? AssertionCache;

    /// <summary>True for exactly one caller once <paramref name="interval"/> has passed since the last sliding-expiry write.</summary>
    public bool TryClaimTouch(DateTimeOffset now, TimeSpan interval)
    {
        var last = Interlocked.Read(ref _lastTouchTicks);
        return now.UtcTicks - last >= interval.Ticks && Interlocked.CompareExchange(ref _lastTouchTicks, now.UtcTicks, last) == last;
    }

    public DateTimeOffset LastTouchedAt => new(Interlocked.Read(ref _lastTouchTicks), TimeSpan.Zero);
}
