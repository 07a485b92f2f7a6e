using System.Collections.Concurrent;

namespace Gateway.Logout;

/// <summary>Remembers token ids (jti) for their lifetime so a token is accepted once.</summary>
internal interface IReplayGuard
{
    /// <summary>True the first time <paramref name="id"/> is seen; false for a replay.</summary>
    Task<bool> TryUseAsync(string id, TimeSpan lifetime, CancellationToken cancellationToken);
}

internal sealed class InMemoryReplayGuard(TimeProvider time) : IReplayGuard
{
    private readonly ConcurrentDictionary<string, DateTimeOffset> _seen = new(StringComparer.Ordinal);

    public Task<bool> TryUseAsync(string id, TimeSpan lifetime, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        foreach (var (key, expires) in _seen)
            if (expires <= now) _seen.TryRemove(key, out _);
        return Task.FromResult(_seen.TryAdd(id, now + lifetime));
    }
}
