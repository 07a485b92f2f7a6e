using Gateway.KeyRing;
using Microsoft.Extensions.Options;

namespace Gateway.Sessions;

/// <summary>
/// What this replica knows from the store's change log (<c>Gateway:Session:ChangeLog</c>): every write that ends or
/// changes a session appends to the log in the same script as the write, so a write and its entry are one. A reader
/// (on Redis, <c>RedisChangeLog</c>) applies each entry to the cache as the revocation bus does, and proves each time
/// that it read on from exactly the entry it last saw. While it has, a cached entry whose store read came after the log
/// was anchored has seen every change since: had one been written, the entry would have been dropped (or refused, if
/// the change came in while its read was out: the cache's generation). Such an entry is served past its
/// <c>CacheDuration</c> for <c>CacheDuration</c> from when the last complete read of the log was sent, and never
/// longer than <c>FullReadInterval</c> after its own store read (the bound for a change no gateway wrote). A break in
/// the log (trimmed past, rewritten by a failover, deleted) starts a new epoch: no entry read before it is vouched for
/// again until its store is read.
/// </summary>
internal sealed partial class SessionChangeLog(IOptions<GatewaySessionOptions> options, BackgroundRefreshKeyRingProvider keys,
    ILogger<SessionChangeLog> logger)
{
    private readonly TimeSpan _cacheDuration = options.Value.CacheDuration;
    private readonly long _fullReadTicks = options.Value.FullReadInterval.Ticks;
    private readonly long _idleTicks = options.Value.IdleTimeout.Ticks;
    // 0 until a reader anchors the log: no entry is built under epoch 0 that could be vouched for.
    private int _epoch;
    private long _vouchedUntilTicks;

    /// <summary>Whether this replica may serve on the log at all (a reader still has to anchor it).</summary>
    public bool Enabled => options.Value.ChangeLog && options.Value.CachesForBackgroundWork && options.Value.FullReadInterval > _cacheDuration;

    /// <summary>How often the reader reads the log: a second, well inside the shortest <c>CacheDuration</c> it runs with.</summary>
    public static TimeSpan ReadPeriod => TimeSpan.FromSeconds(1);

    /// <summary>Taken before a store read is sent: the entry it builds or keeps is vouched for only while the log stays in this epoch.</summary>
    public int Epoch => Volatile.Read(ref _epoch);

    /// <summary>Until when the last complete, unbroken read of the log lets entries be served (zero: not at all).</summary>
    public DateTimeOffset VouchedUntil => new(Volatile.Read(ref _vouchedUntilTicks), TimeSpan.Zero);

    /// <summary>
    /// For an entry past its cached time: until when the log lets it be served without a store read, or null when it
    /// does not. Its epoch is the log's, the log was read through within <c>CacheDuration</c>, its own store read was
    /// within <c>FullReadInterval</c>, it is not idle past its timeout by this replica's reckoning, and the key its
    /// record was encrypted under is still held and not revoked (what a store read would check before keeping it).
    /// </summary>
    public DateTimeOffset? Vouches(CachedSession entry, DateTimeOffset now)
    {
        var epoch = entry.LogEpoch;
        if (epoch == 0 || epoch != Volatile.Read(ref _epoch)) return null;
        var until = Math.Min(Volatile.Read(ref _vouchedUntilTicks), OwnBoundTicks(entry));
        if (until <= now.UtcTicks || Volatile.Read(ref _epoch) != epoch || !keys.StillUnrevoked(entry.RecordKeyId)) return null;
        return new DateTimeOffset(until, TimeSpan.Zero);
    }

    // What bounds an entry whatever the log shows: FullReadInterval after its own store read, and this replica's idle
    // bound for it (a session kept alive by requests elsewhere, whose slides this replica never sees, would be refused as
    // idle here, where its store read finds it alive).
    private long OwnBoundTicks(CachedSession entry) => Math.Min(entry.StoreReadAtTicks + _fullReadTicks, entry.LastTouchedAt.UtcTicks + _idleTicks);

    /// <summary>Whether the log, as it stands, would still vouch for <paramref name="entry"/> at <paramref name="at"/> (so no read ahead is due).</summary>
    public bool WouldVouch(CachedSession entry, DateTimeOffset now, DateTimeOffset at)
    {
        var epoch = entry.LogEpoch;
        return epoch != 0 && epoch == Volatile.Read(ref _epoch) && Volatile.Read(ref _vouchedUntilTicks) > now.UtcTicks && OwnBoundTicks(entry) > at.UtcTicks;
    }

    /// <summary>The reader found the log's end and will read on from it: a new epoch, vouching for nothing until its first complete read.</summary>
    internal void Anchored()
    {
        NewEpoch();
        LogAnchored(logger);
    }

    /// <summary>The log is not what the reader last saw (trimmed past it, rewritten, gone): nothing read before is vouched for again.</summary>
    internal void Broken(string reason)
    {
        NewEpoch();
        LogBroken(logger, reason);
    }

    // Vouching stops before the epoch moves: a Vouches that read the old epoch and then this zero vouches for nothing.
    private void NewEpoch()
    {
        Volatile.Write(ref _vouchedUntilTicks, 0);
        Interlocked.Increment(ref _epoch);
    }

    /// <summary>
    /// The reader applied every entry up to the log's end as it stood when the read sent at <paramref name="sentAt"/>
    /// ran, unbroken since <paramref name="epoch"/> began. One reader calls this, <see cref="Anchored"/> and
    /// <see cref="Broken"/>, one after another: nothing races the write.
    /// </summary>
    internal void ReadThrough(int epoch, DateTimeOffset sentAt)
    {
        // Never for an epoch that ended while the read was out.
        if (Volatile.Read(ref _epoch) == epoch) Volatile.Write(ref _vouchedUntilTicks, (sentAt + _cacheDuration).UtcTicks);
    }

    [LoggerMessage(EventId = Observability.LogEvents.SessionChangeLogAnchored, EventName = nameof(Observability.LogEvents.SessionChangeLogAnchored),
        Level = LogLevel.Information, Message = "Session change log anchored: sessions read from the store from now on may be served on it")]
    private static partial void LogAnchored(ILogger logger);

    [LoggerMessage(EventId = Observability.LogEvents.SessionChangeLogBroken, EventName = nameof(Observability.LogEvents.SessionChangeLogBroken),
        Level = LogLevel.Warning, Message = "Session change log broken ({Reason}): cached sessions are read from the store again")]
    private static partial void LogBroken(ILogger logger, string reason);
}
