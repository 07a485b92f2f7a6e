namespace Gateway.Sessions;

/// <summary>What the store keeps for a session, protected with DataProtection before it leaves the process.</summary>
internal sealed record SessionRecord
{
    public required string UserId { get; init; }
    public string? Email { get; init; }
    public string? Name { get; init; }
    public string[] Roles { get; init; } = [];
    public required DateTimeOffset CreatedAt { get; init; }
    public required DateTimeOffset AbsoluteExpiresAt { get; init; }

    /// <summary><c>dev</c> or <c>oidc</c>.</summary>
    public required string Method { get; init; }

    /// <summary>The provider's id_token, kept server-side for the end-session id_token_hint.</summary>
    public string? IdToken { get; init; }

    /// <summary>The provider's session id (<c>sid</c>), for back-channel logout.</summary>
    public string? ProviderSessionId { get; init; }
}
