namespace Gateway.Sessions;

/// <summary>Sessions every replica must drop from its cache now, named by <see cref="SessionKey.ShortHash"/>.</summary>
internal sealed record SessionRevocation(IReadOnlyList<string> SessionHashes, bool All = false)
{
    public static readonly SessionRevocation Everything = new([], All: true);
}

/// <summary>Carries revocations to every replica; with one instance, straight into its own cache.</summary>
internal interface ISessionRevocationBus
{
    /// <summary>Completes once the revocation is published; throws <see cref="StoreUnavailableException"/> otherwise.</summary>
    Task PublishAsync(SessionRevocation revocation, CancellationToken cancellationToken);
}

internal sealed class InProcessRevocationBus(SessionCache cache) : ISessionRevocationBus
{
    public Task PublishAsync(SessionRevocation revocation, CancellationToken cancellationToken)
    {
        cache.Apply(revocation);
        return Task.CompletedTask;
    }
}
