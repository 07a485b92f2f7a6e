using System.Collections.Concurrent;

namespace Gateway.Logout;

/// <summary>Remembers token ids (jti) for their lifetime so a token is acted on once.</summary>
internal interface IReplayGuard
{
    /// <summary>True when <paramref name="id"/> was already acted on.</summary>
    Task<bool> IsUsedAsync(string id, CancellationToken cancellationToken);

    /// <summary>Records <paramref name="id"/> as acted on; called only once the action succeeded, so a retry after a failure is not a replay.</summary>
    Task MarkUsedAsync(string id, TimeSpan lifetime, CancellationToken cancellationToken);
}

internal sealed class InMemoryReplayGuard(TimeProvider time) : IReplayGuard
{
    private readonly ConcurrentDictionary<string, DateTimeOffset> _seen = new(StringComparer.Ordinal);

    public Task<bool> IsUsedAsync(string id, CancellationToken cancellationToken) =>
        Task.FromResult(_seen.TryGetValue(id, out var expires) && expires > time.GetUtcNow());

    public Task MarkUsedAsync(string id, TimeSpan lifetime, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        foreach (var (key, expires) in _seen)
            if (expires <= now) _seen.TryRemove(key, out _);
        _seen[id] = now + lifetime;
        return Task.CompletedTask;
    }
}
