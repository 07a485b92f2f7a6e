using Gateway.Sessions;
using Microsoft.Extensions.Options;

namespace Gateway.Redis;

/// <summary>
/// The global revoke-all mark as this replica last read it, for a Redis Cluster: there the mark sits in a slot of its
/// own, so reading it beside a session's keys made every cache miss two commands. It changes only by a revoke-all,
/// which every replica hears on the revocation feed, so it is held between such messages on the session cache's own
/// terms: forgotten at every revoke-all (this replica's or another's), whenever the feed is lost or comes back, never
/// used while the cache is distrusted, and never longer than a cached session (Session:CacheDuration; not at all when
/// that is zero), so a message missed for any reason costs no more than it costs the cache. A read that a forget
/// overtook is not kept. Outside a cluster the mark joins the session's MGET and is not held.
/// </summary>
internal sealed class HeldGlobalMark(SessionCache cache, IOptions<GatewaySessionOptions> options, TimeProvider time)
{
    private sealed record Held(DateTimeOffset? Mark, long Epoch, DateTimeOffset Until);

    /// <summary>Taken before the mark is fetched, and given back to <see cref="Keep"/> with what the fetch found.</summary>
    public readonly record struct Fetch(long Epoch, DateTimeOffset StartedAt);

    private readonly TimeSpan _holdFor = options.Value.CacheDuration;
    private long _epoch;
    private Held? _held;

    public bool TryGet(out DateTimeOffset? mark)
    {
        if (Volatile.Read(ref _held) is { } held && held.Epoch == Interlocked.Read(ref _epoch) && cache.IsTrusted && held.Until > time.GetUtcNow())
        {
            mark = held.Mark;
            return true;
        }
        mark = null;
        return false;
    }

    public Fetch Begin() => new(Interlocked.Read(ref _epoch), time.GetUtcNow());

    public void Keep(DateTimeOffset? mark, Fetch fetch)
    {
        // A forget between the check and the write leaves a value of an older epoch, which TryGet never returns. The age
        // counts from before the fetch: the value can be no younger than that.
        if (_holdFor > TimeSpan.Zero && fetch.Epoch == Interlocked.Read(ref _epoch) && cache.IsTrusted)
            Volatile.Write(ref _held, new Held(mark, fetch.Epoch, fetch.StartedAt + _holdFor));
    }

    public void Forget() => Interlocked.Increment(ref _epoch);
}
