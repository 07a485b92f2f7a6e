using Gateway.Sessions;
using Microsoft.Extensions.Options;

namespace Gateway.Redis;

/// <summary>
/// The global revoke-all mark as this replica last read it, for a Redis Cluster: there the mark sits in a slot of its
/// own, so reading it beside a session's keys made every cache miss two commands. It is a value fetched from the store
/// like a cached session, and held on the session cache's own terms: good only while the cache's
/// <see cref="SessionCache.Generation"/> has not moved since it was fetched (every revocation, this replica's or
/// another's, and every loss or return of the revocation feed moves it), never while the cache is distrusted, and never
/// longer than a cached session (Session:CacheDuration; not at all when that is zero), so a message missed for any
/// reason costs no more than it costs the cache. Outside a cluster the mark joins the session's MGET and is not held.
/// </summary>
internal sealed class HeldGlobalMark(SessionCache cache, IOptions<GatewaySessionOptions> options, TimeProvider time)
{
    private sealed record Held(DateTimeOffset? Mark, long Generation, DateTimeOffset Until);

    /// <summary>Taken before the mark is fetched, and given back to <see cref="Keep"/> with what the fetch found.</summary>
    public readonly record struct Fetch(long Generation, DateTimeOffset StartedAt);

    private readonly TimeSpan _holdFor = options.Value.CacheDuration;
    private Held? _held;

    public bool TryGet(out DateTimeOffset? mark)
    {
        if (Volatile.Read(ref _held) is { } held && held.Generation == cache.Generation && cache.IsTrusted && held.Until > time.GetUtcNow())
        {
            mark = held.Mark;
            return true;
        }
        mark = null;
        return false;
    }

    public Fetch Begin() => new(cache.Generation, time.GetUtcNow());

    public void Keep(DateTimeOffset? mark, Fetch fetch)
    {
        // A revocation between the check and the write leaves a value of an older generation, which TryGet never returns.
        // The age counts from before the fetch: the value can be no younger than that.
        if (_holdFor > TimeSpan.Zero && fetch.Generation == cache.Generation && cache.IsTrusted)
            Volatile.Write(ref _held, new Held(mark, fetch.Generation, fetch.StartedAt + _holdFor));
    }
}
