namespace Gateway.LegacySignIn;

/// <summary>
/// <c>Gateway:LegacySignIn</c>: the gateway signs the CMS in through the CMS's own session (express-session +
/// Passport), so a CMS that trusts only its session cookie sees the gateway's user with no change to it.
/// </summary>
public sealed class LegacySignInOptions
{
    /// <summary>Off by default.</summary>
    public bool Enabled { get; set; }

    /// <summary>The CMS's session cookie. Default <c>connect.sid</c>.</summary>
    public string CookieName { get; set; } = "connect.sid";

    /// <summary>The CMS cookie's path, used when the browser holds it (<see cref="HoldCookie"/> false) and to clear it. Default <c>/</c>.</summary>
    public string CookiePath { get; set; } = "/";

    /// <summary>The CMS cookie's domain, when it sets one. Default none (host-only).</summary>
    public string? CookieDomain { get; set; }

    /// <summary>express-session secrets: the first signs, every one verifies (rotation). Required when enabled.</summary>
    public string[] Secrets { get; set; } = [];

    /// <summary>connect-redis key prefix. Default <c>sess:</c>.</summary>
    public string RedisKeyPrefix { get; set; } = "sess:";

    /// <summary>The CMS's Redis; default the gateway's own <c>Gateway:Redis:Configuration</c>.</summary>
    public LegacyRedisOptions Redis { get; set; } = new();

    /// <summary>How the CMS user id is learnt at sign-in: a claim, or a lookup.</summary>
    public CmsUserIdOptions UserId { get; set; } = new();

    /// <summary>
    /// The proxy.json clusters that are the CMS: only requests to them carry the held CMS cookie (every route still
    /// strips the browser's). Default: every cluster (a gateway in front of the CMS alone).
    /// </summary>
    public string[] Clusters { get; set; } = [];

    /// <summary>The CMS cookie lives in the gateway session, never in the browser. Default true.</summary>
    public bool HoldCookie { get; set; } = true;

    /// <summary>Cut-over: a valid CMS session becomes a gateway session.</summary>
    public AdoptOptions Adopt { get; set; } = new();

    /// <summary>
    /// How often each replica ends the CMS sessions of gateway sessions that expired idle (unused for longer than
    /// <c>Gateway:Session:IdleTimeout</c> plus <c>CacheDuration</c>). Default 1 minute.
    /// </summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Timeout of one lookup request to the CMS. Default 5 s.</summary>
    public TimeSpan LookupTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Whether requests to this cluster carry the CMS session (see <see cref="Clusters"/>).</summary>
    internal bool IsCms(string? clusterId) =>
        Clusters.Length == 0 || (clusterId is not null && Clusters.Contains(clusterId, StringComparer.OrdinalIgnoreCase));

    internal void Validate(Action<string, string> add, bool gatewayHasRedis)
    {
        if (!Enabled) return;
        const string k = "LegacySignIn";
        if (string.IsNullOrWhiteSpace(CookieName) || CookieName.IndexOfAny([';', '=', ',', ' ']) >= 0)
            add($"{k}:CookieName", "must be a cookie name (no ';', '=', ',' or spaces).");
        if (!CookiePath.StartsWith('/')) add($"{k}:CookiePath", "must start with '/'.");
        if (Secrets.Length == 0 || Secrets.Any(string.IsNullOrEmpty))
            add($"{k}:Secrets", "must list the CMS's express-session secret(s): the first signs the cookies the gateway writes, every one verifies.");
        if (string.IsNullOrEmpty(RedisKeyPrefix)) add($"{k}:RedisKeyPrefix", "is required (connect-redis uses 'sess:').");
        if (string.IsNullOrWhiteSpace(Redis.Configuration) && !gatewayHasRedis)
            add($"{k}:Redis:Configuration", "is empty and so is Gateway:Redis:Configuration: the CMS's sessions live in its Redis, so name it.");
        if (!string.IsNullOrWhiteSpace(Redis.Configuration))
        {
            try { StackExchange.Redis.ConfigurationOptions.Parse(Redis.Configuration); }
            catch (ArgumentException ex) { add($"{k}:Redis:Configuration", $"is not a valid StackExchange.Redis configuration string: {ex.Message}"); }
        }
        var hasClaim = !string.IsNullOrWhiteSpace(UserId.Claim);
        var hasLookup = !string.IsNullOrWhiteSpace(UserId.LookupUrl);
        if (hasClaim == hasLookup) add($"{k}:UserId", "set exactly one of UserId:Claim or UserId:LookupUrl (with UserId:JsonPointer).");
        if (hasLookup)
        {
            CheckUrl(add, $"{k}:UserId:LookupUrl", UserId.LookupUrl!, ["{username}", "{email}", "{sub}"]);
            CheckPointer(add, $"{k}:UserId:JsonPointer", UserId.JsonPointer, required: true);
        }
        if (SweepInterval < TimeSpan.FromMilliseconds(100) || SweepInterval > TimeSpan.FromHours(1)) add($"{k}:SweepInterval", "must be between 00:00:00.1 and 01:00:00.");
        if (LookupTimeout <= TimeSpan.Zero || LookupTimeout > TimeSpan.FromSeconds(60)) add($"{k}:LookupTimeout", "must be between 00:00:00.001 and 00:01:00.");
        if (Adopt.Enabled)
        {
            if (string.IsNullOrWhiteSpace(Adopt.LookupUrl)) add($"{k}:Adopt:LookupUrl", "is required with Adopt:Enabled: the CMS user id alone does not say who the user is.");
            else CheckUrl(add, $"{k}:Adopt:LookupUrl", Adopt.LookupUrl, ["{userId}"]);
            CheckPointer(add, $"{k}:Adopt:UsernamePointer", Adopt.UsernamePointer, required: true);
        }
    }

    private static void CheckUrl(Action<string, string> add, string key, string template, string[] placeholders)
    {
        if (!placeholders.Any(p => template.Contains(p, StringComparison.Ordinal)))
            add(key, $"must contain {string.Join(" or ", placeholders)}.");
        var sample = placeholders.Aggregate(template, (t, p) => t.Replace(p, "x", StringComparison.Ordinal));
        if (!Uri.TryCreate(sample, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            add(key, $"'{template}' must be an absolute http(s) URL.");
    }

    private static void CheckPointer(Action<string, string> add, string key, string? pointer, bool required)
    {
        if (pointer is null) { if (required) add(key, "is required: an RFC 6901 JSON pointer such as /user/id."); return; }
        if (!JsonPointer.IsValid(pointer)) add(key, $"'{pointer}' is not an RFC 6901 JSON pointer (empty, or starting with '/').");
    }
}

public sealed class LegacyRedisOptions
{
    /// <summary>A StackExchange.Redis configuration string (may carry <c>defaultDatabase</c>). Default: the gateway's own Redis.</summary>
    public string? Configuration { get; set; }
}

public sealed class CmsUserIdOptions
{
    /// <summary>The CMS user id is this claim of the gateway identity (<c>sub</c>, <c>email</c>, <c>name</c> or a provider claim).</summary>
    public string? Claim { get; set; }

    /// <summary>HTTP GET that answers the CMS user id; template with <c>{username}</c>, <c>{email}</c>, <c>{sub}</c>, each URL-escaped.</summary>
    public string? LookupUrl { get; set; }

    /// <summary>RFC 6901 pointer into the lookup's JSON answer; the value keeps its JSON type (number or string).</summary>
    public string? JsonPointer { get; set; }
}

public sealed class AdoptOptions
{
    /// <summary>Turn a valid CMS session into a gateway session (cut-over). Default false.</summary>
    public bool Enabled { get; set; }

    /// <summary>HTTP GET, template with <c>{userId}</c>, that says who a CMS user id is.</summary>
    public string? LookupUrl { get; set; }

    /// <summary>RFC 6901 pointer to the user name in that answer.</summary>
    public string? UsernamePointer { get; set; }

    /// <summary>The last day (UTC) on which sessions are adopted; from the next day on adoption stops by itself.</summary>
    public DateOnly? Until { get; set; }
}
