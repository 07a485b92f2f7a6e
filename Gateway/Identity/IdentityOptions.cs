namespace Gateway.Identity;

/// <summary><c>Gateway:Identity</c>: the headers the gateway injects upstream and strips from clients.</summary>
public sealed class IdentityOptions
{
    /// <summary>Any client header starting with this (any case, <c>_</c> read as <c>-</c>) is removed. Default <c>X-Auth-</c>.</summary>
    public string StripPrefix { get; set; } = "X-Auth-";

    public string UserHeader { get; set; } = "X-Auth-User";
    public string EmailHeader { get; set; } = "X-Auth-Email";
    public string NameHeader { get; set; } = "X-Auth-Name";
    public string RolesHeader { get; set; } = "X-Auth-Roles";
    public string AssertionHeader { get; set; } = "X-Auth-Assertion";

    /// <summary>Issuer of the assertion JWT. Default <c>gateway</c>.</summary>
    public string AssertionIssuer { get; set; } = "gateway";

    /// <summary>Audience of the assertion JWT; a route can override it with metadata <c>Gateway.AssertionAudience</c>. Default <c>cms</c>.</summary>
    public string AssertionAudience { get; set; } = "cms";

    /// <summary>Assertion lifetime, 60 to 300 s. Default 120 s.</summary>
    public TimeSpan AssertionLifetime { get; set; } = TimeSpan.FromSeconds(120);

    /// <summary>How long one signing key signs before the next takes over. Default 30 days.</summary>
    public TimeSpan SigningKeyRotation { get; set; } = TimeSpan.FromDays(30);

    /// <summary>A new key is published in the JWKS this long before it signs, and an old one stays published this long after. Default 1 h.</summary>
    public TimeSpan SigningKeyOverlap { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Signing keys from a Secret (PEM), instead of the generated ring shared through the store. Default none.</summary>
    public List<SigningKeyOptions> SigningKeys { get; set; } = [];

    internal IEnumerable<string> OutputHeaders => [UserHeader, EmailHeader, NameHeader, RolesHeader, AssertionHeader];

    internal void Validate(Action<string, string> add)
    {
        foreach (var (key, value) in new[] { ("StripPrefix", StripPrefix), ("UserHeader", UserHeader), ("EmailHeader", EmailHeader),
                     ("NameHeader", NameHeader), ("RolesHeader", RolesHeader), ("AssertionHeader", AssertionHeader) })
        {
            if (string.IsNullOrWhiteSpace(value) || value.Any(c => c <= ' ' || c >= 127 || c == ':'))
                add($"Identity:{key}", $"'{value}' is not a valid header name.");
        }
        if (AssertionLifetime < TimeSpan.FromSeconds(60) || AssertionLifetime > TimeSpan.FromSeconds(300))
            add("Identity:AssertionLifetime", "must be between 00:01:00 and 00:05:00.");
        if (string.IsNullOrWhiteSpace(AssertionIssuer)) add("Identity:AssertionIssuer", "is required.");
        if (string.IsNullOrWhiteSpace(AssertionAudience)) add("Identity:AssertionAudience", "is required.");
        if (SigningKeyRotation < TimeSpan.FromHours(1)) add("Identity:SigningKeyRotation", "must be at least 01:00:00.");
        for (var i = 0; i < SigningKeys.Count; i++)
        {
            using var loaded = SigningKeys[i].TryLoad();
            if (loaded is null) add($"Identity:SigningKeys:{i}:Pem", "must be the PEM of an EC P-256 private key (openssl ecparam -name prime256v1 -genkey -noout).");
        }
        if (SigningKeys.Count > 0 && SigningKeys.All(k => k.ActivatesAt > DateTimeOffset.UtcNow))
            add("Identity:SigningKeys", "no key is active yet: at least one needs an ActivatesAt in the past, or none.");
        if (SigningKeyOverlap < AssertionLifetime || SigningKeyOverlap * 2 >= SigningKeyRotation)
            add("Identity:SigningKeyOverlap", "must be at least the assertion lifetime and under half the rotation interval.");
    }
}
