using System.Collections.Concurrent;

namespace Gateway.Sessions;

/// <summary>
/// Sessions this replica ended whose end the store applied but no replica acknowledged (a logout during a failover,
/// say): a failover could bring the record back, and this replica refuses it regardless until its absolute lifetime
/// has passed. Bounded: past <see cref="Capacity"/> the entries nearest their end go first.
/// </summary>
internal sealed class EndedHere
{
    public const int Capacity = 10_000;

    private readonly ConcurrentDictionary<SessionKey, DateTimeOffset> _until = new();
    private int _count;

    public void Add(SessionKey key, DateTimeOffset until, DateTimeOffset now)
    {
        if (_until.TryAdd(key, until) && Interlocked.Increment(ref _count) > Capacity) Prune(now);
        else _until[key] = until;
    }

    /// <summary>Only a dictionary lookup while there is anything at all; nothing on the usual path.</summary>
    public bool Contains(SessionKey key, DateTimeOffset now)
    {
        if (Volatile.Read(ref _count) == 0 || !_until.TryGetValue(key, out var until)) return false;
        if (until > now) return true;
        if (_until.TryRemove(key, out _)) Interlocked.Decrement(ref _count);
        return false;
    }

    private void Prune(DateTimeOffset now)
    {
        var expired = _until.Where(e => e.Value <= now).Select(e => e.Key).ToList();
        if (_until.Count - expired.Count > Capacity)
            expired.AddRange(_until.Where(e => e.Value > now).OrderBy(e => e.Value).Take(_until.Count - expired.Count - Capacity).Select(e => e.Key));
        foreach (var key in expired)
            if (_until.TryRemove(key, out _)) Interlocked.Decrement(ref _count);
    }
}
