namespace Gateway.Identity;

/// <summary>Generated signing keys for a single instance (the in-memory store).</summary>
internal sealed class InMemorySigningKeyStore : ISigningKeyStore
{
    private readonly List<StoredSigningKey> _keys = [];

    public Task<IReadOnlyList<StoredSigningKey>> LoadAsync(CancellationToken cancellationToken)
    {
        lock (_keys) return Task.FromResult<IReadOnlyList<StoredSigningKey>>(_keys.ToList());
    }

    public Task<bool> AddFirstAsync(StoredSigningKey key, CancellationToken cancellationToken)
    {
        lock (_keys)
        {
            if (_keys.Count > 0) return Task.FromResult(false);
            _keys.Add(key);
            return Task.FromResult(true);
        }
    }

    public Task AddAsync(StoredSigningKey key, CancellationToken cancellationToken)
    {
        lock (_keys) if (_keys.All(k => k.Kid != key.Kid)) _keys.Add(key);
        return Task.CompletedTask;
    }
}
