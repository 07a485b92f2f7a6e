using Gateway.Sessions;

namespace Gateway.Redis;

/// <summary>
/// The global revoke-all mark as this replica last read it, for a Redis Cluster: there the mark sits in a slot of its
/// own, so reading it beside a session's keys made every cache miss two commands. It changes only by a revoke-all,
/// which every replica hears on the revocation feed, so it is held between such messages with the session cache's own
/// trust: forgotten at every revoke-all (this replica's or another's), whenever the feed is lost or comes back, and
/// never used while the cache is distrusted (a message may have been missed). A read that a forget overtook is not kept.
/// Outside a cluster the mark joins the session's MGET and is not held.
/// </summary>
internal sealed class HeldGlobalMark(SessionCache cache)
{
    private sealed record Held(DateTimeOffset? Mark, long Epoch);

    private long _epoch;
    private Held? _held;

    /// <summary>Read before the mark is fetched, and given back to <see cref="Keep"/> with what the fetch found.</summary>
    public long Epoch => Interlocked.Read(ref _epoch);

    public bool TryGet(out DateTimeOffset? mark)
    {
        if (Volatile.Read(ref _held) is { } held && held.Epoch == Epoch && cache.IsTrusted)
        {
            mark = held.Mark;
            return true;
        }
        mark = null;
        return false;
    }

    public void Keep(DateTimeOffset? mark, long epochAtFetch)
    {
        // A forget between the check and the write leaves a value of an older epoch, which TryGet never returns.
        if (epochAtFetch == Epoch && cache.IsTrusted) Volatile.Write(ref _held, new Held(mark, epochAtFetch));
    }

    public void Forget() => Interlocked.Increment(ref _epoch);
}
