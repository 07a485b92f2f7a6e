namespace Gateway.Sessions;

/// <summary>The resolved session of this request, for the identity headers and logout.</summary>
internal sealed class SessionFeature(CachedSession session)
{
    public CachedSession Session { get; } = session;
}
