using System.Security.Claims;

namespace Gateway.Sessions;

/// <summary>A resolved session as one replica holds it between store round trips.</summary>
internal sealed class CachedSession
{
    private long _lastTouchTicks;

    public CachedSession(SessionKey key, SessionRecord record, DateTimeOffset fetchedAt, DateTimeOffset cachedUntil)
    {
        _lastTouchTicks = fetchedAt.UtcTicks;
        Key = key;
        Record = CachedRecord.Of(record);
        ShortHash = key.ShortHash;
        CachedUntil = cachedUntil;
        Principal = GatewayClaims.ToLazyPrincipal(Record);
        EstimatedBytes = Estimate(Record);
    }

    public SessionKey Key { get; }
    /// <summary>What requests read of the record; tokens and the rest stay in the store (<see cref="CachedRecord"/>).</summary>
    public CachedRecord Record { get; }
    public string ShortHash { get; }
    public DateTimeOffset CachedUntil { get; }
    /// <summary>The principal proxied requests carry: claims built only if something reads them (<see cref="SessionIdentity"/>).</summary>
    public ClaimsPrincipal Principal { get; }

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
    public int EstimatedBytes { get; }

    // Calibrated with bench --cache-memory (heap after a full collection, 20,000 sessions): the objects of the entry,
    // its key, its record and its principal (claims built lazily, so none), its cookie value as SessionCookies remembers
    // it (ASCII, ~230), and the fixed part of the signed assertion, header and signature (~800), before its own strings.
    private const int FixedBytes = 2_030;
    // Per role, beyond its characters: its quotes in the assertion and its comma in the roles header.
    private const int PerRoleBytes = 10;
    // An array's header and a string's header and terminator, for role sets a session holds on its own.
    private const int ArrayBytes = 24;
    private const int OwnedRoleBytes = 22;

    private static int Estimate(CachedRecord record)
    {
        long identityChars = Len(record.UserId) + Len(record.Email) + Len(record.Name);
        var ownChars = identityChars + Len(record.AccessToken);
        // Each identity string is spelled out again in a header value and (base64url, 4/3) in the assertion; the role
        // strings themselves are shared between sessions (RoleSets), their spelling in the header and assertion is not.
        var roleChars = RoleSets.CharsOf(record.Roles);
        var bytes = FixedBytes + 2 * ownChars + (identityChars + roleChars) * 14 / 3 + record.Roles.Length * PerRoleBytes;
        // A role set the pool did not take: its array and strings are this entry's alone.
        if (record.RolesOwned) bytes += ArrayBytes + record.Roles.Length * (OwnedRoleBytes + 8) + 2 * roleChars;
        return (int)Math.Min(int.MaxValue, bytes);
    }

    private static int Len(string? value) => value?.Length ?? 0;
}
