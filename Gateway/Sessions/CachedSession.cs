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
    /// <summary>The principal proxied requests carry: claims built only if something reads them (<see cref="SessionIdentity"/>).</summary>
    public ClaimsPrincipal Principal { get; } = GatewayClaims.ToLazyPrincipal(record);

    /// <summary>
    /// The principal the authentication handler gives the framework (the gateway's own endpoints): an ordinary claims
    /// identity, so the framework and any claims code there see exactly what they expect. Built on first use: most
    /// cached sessions only ever make proxied requests.
    /// </summary>
    public ClaimsPrincipal FrameworkPrincipal => field ??= GatewayClaims.ToPrincipal(Record);

    /// <summary>This session as a request feature: one object per cached session, not one per request.</summary>
    public SessionFeature Feature => field ??= new SessionFeature(this);

    /// <summary>The signed assertion for this session and audience, reused until close to its expiry (set by Identity).</summary>
    public volatile object? AssertionCache;

    /// <summary>This session's encoded identity header values (set by Identity).</summary>
    public volatile object? HeaderValuesCache;

    /// <summary>True for exactly one caller once <paramref name="interval"/> has passed since the last sliding-expiry write.</summary>
    public bool TryClaimTouch(DateTimeOffset now, TimeSpan interval)
    {
        var last = Interlocked.Read(ref _lastTouchTicks);
        return now.UtcTicks - last >= interval.Ticks && Interlocked.CompareExchange(ref _lastTouchTicks, now.UtcTicks, last) == last;
    }

    public DateTimeOffset LastTouchedAt => new(Interlocked.Read(ref _lastTouchTicks), TimeSpan.Zero);

    /// <summary>
    /// What this entry keeps alive, estimated from its strings: the record, the principal over it, the signed
    /// assertion and identity header values a signed-in request adds. Calibrated against the heap (bench --scale).
    /// </summary>
    public int EstimatedBytes { get; } = Estimate(record);

    // Calibrated with bench --cache-memory (heap after a full collection, 20,000 sessions): the objects of the entry,
    // its key, its record and its principal (claims built lazily, so none), its cookie value as SessionCookies remembers
    // it (ASCII, ~230), and the fixed part of the signed assertion, header and signature (~800), before its own strings.
    private const int FixedBytes = 2_030;
    // Per role: a string in the record, its part of the roles header and of the assertion.
    private const int PerRoleBytes = 100;

    private static int Estimate(SessionRecord record)
    {
        long chars = Len(record.UserId) + Len(record.Email) + Len(record.Name) + Len(record.Device) + Len(record.Network)
            + Len(record.SessionHash) + Len(record.IdToken) + Len(record.AccessToken) + Len(record.RefreshToken) + Len(record.ProviderSessionId);
        foreach (var role in record.Roles) chars += role.Length;
        // Each identity string lives in the record, a claim, a header value and (base64url, 4/3) the assertion.
        var identityChars = Len(record.UserId) + Len(record.Email) + Len(record.Name);
        var bytes = FixedBytes + 2 * chars + 2 * identityChars * 3 + record.Roles.Length * PerRoleBytes;
        return (int)Math.Min(int.MaxValue, bytes);
    }

    private static int Len(string? value) => value?.Length ?? 0;
}
