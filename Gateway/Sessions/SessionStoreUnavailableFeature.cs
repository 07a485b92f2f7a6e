namespace Gateway.Sessions;

/// <summary>Marks a request whose session could not be resolved because the store was down.</summary>
internal sealed class SessionStoreUnavailableFeature
{
    public static readonly SessionStoreUnavailableFeature Instance = new();
}

/// <summary>The resolved session of this request, for the identity headers and logout.</summary>
internal sealed class SessionFeature(CachedSession session)
{
    public CachedSession Session { get; } = session;
}
