using Gateway.Observability;
using Gateway.Sessions;
using StackExchange.Redis;

namespace Gateway.Redis;

/// <summary>
/// Reads the store's change log (<c>{prefix}changes</c>, a stream <see cref="RedisSessionStore"/> appends to in the same
/// script as every write that ends or changes a session) every second, applies each entry to the cache as a revocation
/// message would be, and tells <see cref="SessionChangeLog"/> how far it read, unbroken. Each read starts at the last
/// entry applied and must find it again, with the random token it was written with: an entry trimmed away, a log
/// rewritten by a failover that lost what this replica had seen, or a log deleted all break it, and the log is anchored
/// afresh at its end (a new epoch). Not on a cluster, where the log would sit in a slot of its own and the writes that
/// log to it could not be atomic with it: there every cached session is read again every <c>CacheDuration</c>.
/// </summary>
internal sealed partial class RedisChangeLog(RedisConnection connection, RedisCalls redis, SessionCache cache, SessionChangeLog log, TimeProvider time,
    ILogger<RedisChangeLog> logger) : BackgroundService
{
    // Entries a read asks for at once, beyond the one it starts from.
    private const int Page = 512;

    private readonly Throttle _failureLog = new(TimeSpan.FromSeconds(10));
    private RedisValue _lastId = RedisValue.Null;
    private RedisValue _lastToken = RedisValue.Null;

    private RedisKey Key => redis.Key(RedisSessionStore.ChangeLogSuffix);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!log.Enabled) return;
        using var timer = new PeriodicTimer(SessionChangeLog.ReadPeriod, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await ReadAsync(stoppingToken);
                }
                // A read that failed vouches for nothing more: entries past their cached time read the store once the last
                // complete read is CacheDuration old. The next read goes on from the same entry.
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    // Redis's own words (a NOPERM names the missing command of the ACL), never a key or a value.
                    if (_failureLog.TryPass(time.GetUtcNow())) LogReadFailed(logger, ex.GetType().Name, (ex.InnerException ?? ex).Message);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>One read: anchors the log when it has no place in it, else reads on to its end. True when it read through.</summary>
    internal async Task<bool> ReadAsync(CancellationToken cancellationToken)
    {
        // Known not to be a cluster, or not read at all: on a cluster no write logs.
        if (connection.IsCluster != false) return false;
        if (_lastId.IsNull)
        {
            await AnchorAsync(cancellationToken);
            return false;
        }
        var epoch = log.Epoch;
        // Taken before the read is sent: what it shows is the store as it stood at some moment after this.
        var sentAt = time.GetUtcNow();
        // Applied once for the whole read, not entry by entry: each application bumps the cache's generation (refusing
        // the store reads out at the time) and looks over every entry, and a revoke-all logs an entry a user.
        var changes = new List<SessionRevocation>();
        while (true)
        {
            var from = _lastId;
            var entries = await redis.BackgroundReadAsync("session.change_log",
                db => db.StreamRangeAsync(Key, minId: from, maxId: null, count: Page + 1), cancellationToken);
            if (entries.Length == 0 || entries[0].Id != from || entries[0][TokenField] != _lastToken)
            {
                _lastId = RedisValue.Null;
                log.Broken(entries.Length == 0 ? "the entry last read is gone" : "the entry last read was replaced");
                return false;
            }
            for (var i = 1; i < entries.Length; i++)
            {
                if (SessionRevocation.Decode(entries[i][ChangeField]) is { } change) changes.Add(change);
                (_lastId, _lastToken) = (entries[i].Id, entries[i][TokenField]);
            }
            if (entries.Length <= Page) break;
        }
        if (changes.Count > 0) cache.Apply(SessionRevocation.Merge(changes));
        log.ReadThrough(epoch, sentAt);
        return true;
    }

    /// <summary>
    /// Takes the log's last entry as the place to read on from, or writes one when the log is empty (an empty log cannot
    /// show later that it was deleted and written again). A new epoch: only store reads sent after this are vouched for.
    /// </summary>
    private async Task AnchorAsync(CancellationToken cancellationToken)
    {
        var last = await redis.BackgroundReadAsync("session.change_log",
            db => db.StreamRangeAsync(Key, minId: null, maxId: null, count: 1, messageOrder: Order.Descending), cancellationToken);
        if (last.Length == 1)
        {
            (_lastId, _lastToken) = (last[0].Id, last[0][TokenField]);
        }
        else
        {
            var token = RedisSessionStore.NewChangeToken();
            _lastId = await redis.WriteAsync("session.change_log", db => db.StreamAddAsync(Key,
                [new NameValueEntry(TokenField, token), new NameValueEntry(ChangeField, "")], maxLength: RedisSessionStore.ChangeLogLength,
                useApproximateMaxLength: true), cancellationToken);
            _lastToken = token;
        }
        log.Anchored();
    }

    // The fields RedisSessionStore's scripts write: the entry's random token, and the revocation as the bus spells it.
    private const string TokenField = "t";
    private const string ChangeField = "r";

    [LoggerMessage(EventId = LogEvents.SessionChangeLogReadFailed, EventName = nameof(LogEvents.SessionChangeLogReadFailed), Level = LogLevel.Warning,
        Message = "The session change log could not be read ({Error}: {Reason}); cached sessions are read from the store once the last read is CacheDuration old")]
    private static partial void LogReadFailed(ILogger logger, string error, string reason);
}
