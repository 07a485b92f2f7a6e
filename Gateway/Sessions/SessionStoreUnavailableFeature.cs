namespace Gateway.Sessions;

/// <summary>Marks a request whose session could not be resolved because the store was down.</summary>
internal sealed class SessionStoreUnavailableFeature
{
    public static readonly SessionStoreUnavailableFeature Instance = new();
}
