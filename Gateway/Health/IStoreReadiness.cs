namespace Gateway.Health;

/// <summary>Whether the session store can be reached, for /readyz.</summary>
internal interface IStoreReadiness
{
    Task<(bool Ready, string Detail)> CheckAsync(CancellationToken cancellationToken);
}

internal sealed class InMemoryStoreReadiness : IStoreReadiness
{
    public Task<(bool Ready, string Detail)> CheckAsync(CancellationToken cancellationToken) =>
        Task.FromResult((true, "in-memory session store (single instance)"));
}
