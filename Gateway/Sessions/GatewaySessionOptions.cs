namespace Gateway.Sessions;

/// <summary><c>Gateway:Session</c>.</summary>
public sealed class GatewaySessionOptions
{
    /// <summary>Cookie name. On https it gets the <c>__Host-</c> prefix (or <c>__Secure-</c> when a domain is set). Default <c>gw_session</c>.</summary>
    public string CookieName { get; set; } = Security.GatewayCookieNames.Session;

    /// <summary>Cookie domain. Default none (host-only), which allows the <c>__Host-</c> prefix.</summary>
    public string? CookieDomain { get; set; }

    /// <summary>Sliding idle timeout, enforced in the store. Default 20 min.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(20);

    /// <summary>Absolute lifetime from login, enforced in the store. Default 8 h.</summary>
    public TimeSpan AbsoluteLifetime { get; set; } = TimeSpan.FromHours(8);

    /// <summary>At most one sliding-expiry write per session per replica in this interval. Default 1 min.</summary>
    public TimeSpan TouchInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How long a replica trusts its in-memory copy of a session (revocations drop it at once). Default 30 s.</summary>
    public TimeSpan CacheDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Whether the store is read in the background for cached sessions in use shortly before their <c>CacheDuration</c>
    /// runs out, so their requests do not wait on it (kept only as a request's read would keep them). Default true.
    /// </summary>
    public bool ReadAhead { get; set; } = true;

    /// <summary>
    /// Whether a cached session past its <c>CacheDuration</c> may be served on the store's change log alone (Redis,
    /// not a cluster): every write that ends or changes a session appends to the log in the same script, each replica
    /// reads the log every second, and while it has read all of it, unbroken, within <c>CacheDuration</c>, a session it
    /// has cached since is what the store holds. Every replica of this version writes the log whatever this says; turn it
    /// on once no replica of an earlier version (whose writes do not log) still runs. Default false.
    /// </summary>
    public bool ChangeLog { get; set; }

    /// <summary>
    /// With the change log, how long after the store last showed it a cached session is still served without reading
    /// it again: the bound for a change no gateway wrote (a key deleted by hand, evicted under maxmemory, expired after
    /// its slides failed, or lost to a restore from a snapshot). Default 5 min.
    /// </summary>
    public TimeSpan FullReadInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Most sessions one replica caches. Default 100000.</summary>
    public int CacheMaxEntries { get; set; } = 100_000;

    /// <summary>Live sessions one user may have; at the cap, signing in again ends the least recently used one. Default 100.</summary>
    public int MaxPerUser { get; set; } = 100;

    /// <summary>
    /// Most memory the cached sessions of one replica may take, by the cache's own estimate of each entry (record,
    /// principal, signed assertion, header values). Default 64 MB: with the rest of the process, a replica stays well
    /// inside the 512 Mi the k8s manifests give the pod. Whichever of the two limits is reached first applies.
    /// </summary>
    public int CacheMaxMegabytes { get; set; } = 64;

    /// <summary>
    /// Whether sessions are cached at all, and long enough that work in the background for them (reading ahead, reading the
    /// change log) comes less often than a request's own read would: below 5 s it would not.
    /// </summary>
    internal bool CachesForBackgroundWork => CacheDuration >= TimeSpan.FromSeconds(5) && CacheMaxEntries > 0 && CacheMaxMegabytes > 0;

    internal void Validate(Action<string, string> add)
    {
        if (MaxPerUser is < 1 or > 1_000_000) add("Session:MaxPerUser", "must be between 1 and 1000000.");
        if (string.IsNullOrWhiteSpace(CookieName) || CookieName.Any(c => c <= ' ' || c >= 127 || "()<>@,;:\\\"/[]?={}".Contains(c)))
            add("Session:CookieName", $"'{CookieName}' is not a valid cookie name.");
        if (CookieName.StartsWith("__", StringComparison.Ordinal))
            add("Session:CookieName", "must not carry a __Host-/__Secure- prefix; the gateway adds the right one for https.");
        if (IdleTimeout < TimeSpan.FromMinutes(1)) add("Session:IdleTimeout", "must be at least 00:01:00.");
        if (AbsoluteLifetime < IdleTimeout) add("Session:AbsoluteLifetime", "must be at least Session:IdleTimeout.");
        if (TouchInterval <= TimeSpan.Zero || TouchInterval >= IdleTimeout) add("Session:TouchInterval", "must be positive and shorter than Session:IdleTimeout.");
        if (CacheDuration < TimeSpan.Zero || CacheDuration > TimeSpan.FromMinutes(5)) add("Session:CacheDuration", "must be between 0 and 00:05:00.");
        if (FullReadInterval < TimeSpan.Zero || FullReadInterval > TimeSpan.FromHours(1))
            add("Session:FullReadInterval", "must be between 0 and 01:00:00.");
        else if (ChangeLog && FullReadInterval <= CacheDuration)
            add("Session:FullReadInterval", "must be longer than Session:CacheDuration while Session:ChangeLog is on (else nothing is served on the log).");
        if (CacheMaxEntries < 0) add("Session:CacheMaxEntries", "must not be negative.");
        if (CacheMaxMegabytes is < 0 or > 65_536) add("Session:CacheMaxMegabytes", "must be between 0 and 65536.");
    }
}
