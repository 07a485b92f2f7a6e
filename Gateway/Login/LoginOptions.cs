namespace Gateway.Login;

/// <summary><c>Gateway:Login</c>.</summary>
public sealed class LoginOptions
{
    /// <summary>Users for the built-in login form. Honoured only in Development unless <see cref="AllowDevUsers"/>.</summary>
    public List<DevUser> DevUsers { get; set; } = [];

    /// <summary>Allows dev users outside Development (a test rig, a demo). Default false: production refuses to start with them.</summary>
    public bool AllowDevUsers { get; set; }

    /// <summary>Failed logins allowed per user name per minute, across all client addresses. Default 10.</summary>
    public int AttemptsPerMinute { get; set; } = 10;

    /// <summary>Failed logins allowed per client address per minute, across all user names. Default 30.</summary>
    public int AddressAttemptsPerMinute { get; set; } = 30;

    /// <summary>Longest user name the form accepts; a longer one is a clear 400, never a table entry. Fixed at 256.</summary>
    internal const int MaxUserNameLength = 256;

    public OidcOptions Oidc { get; set; } = new();

    internal bool OidcEnabled => !string.IsNullOrWhiteSpace(Oidc.Authority);

    internal void Validate(Action<string, string> add, bool isDevelopment)
    {
        if (DevUsers.Count > 0 && !isDevelopment && !AllowDevUsers)
            add("Login:DevUsers", "dev users are configured outside Development; remove them, or set Gateway:Login:AllowDevUsers=true on purpose.");
        for (var i = 0; i < DevUsers.Count; i++)
        {
            var u = DevUsers[i];
            if (string.IsNullOrWhiteSpace(u.Name)) add($"Login:DevUsers:{i}:Name", "is required.");
            if (string.IsNullOrEmpty(u.Password)) add($"Login:DevUsers:{i}:Password", "is required.");
        }
        if (AttemptsPerMinute < 1) add("Login:AttemptsPerMinute", "must be at least 1.");
        if (AddressAttemptsPerMinute < 1) add("Login:AddressAttemptsPerMinute", "must be at least 1.");
        if (OidcEnabled) Oidc.Validate(add);
        else if (DevUsers.Count == 0 && isDevelopment is false && !AllowDevUsers)
            add("Login:Oidc:Authority", "no way to sign in: set an OIDC authority (or dev users in Development).");
    }
}

/// <summary>One entry of <c>Gateway:Login:DevUsers</c>.</summary>
public sealed class DevUser
{
    public string Name { get; set; } = "";
    public string Password { get; set; } = "";
    public string? Email { get; set; }
    public string[] Roles { get; set; } = [];
}
