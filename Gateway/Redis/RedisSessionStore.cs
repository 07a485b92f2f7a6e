using System.Globalization;
using Gateway.Sessions;
using StackExchange.Redis;

namespace Gateway.Redis;

/// <summary>
/// Sessions in Redis. Layout, under the configured prefix (default <c>gw:</c>), HASH being SHA-256 of the
/// session id (the id itself, which the cookie carries, never reaches Redis):
/// <c>gw:{u:TAG}:s:HASH</c> the protected record (TTL = min(idle, absolute left));
/// <c>gw:{u:TAG}:idx</c> a sorted set of the user's HASHes scored by when each record expires (so "last used" is the
/// score less the idle timeout), pruned as members die, and living as long as a session could (the absolute
/// lifetime since the last login); <c>gw:{u:TAG}:revoked</c> the user's revoke-all marker; <c>gw:users</c> the set of
/// user tags; <c>gw:revoked</c> the global revoke-all marker; <c>gw:changes</c> the change log (a stream every write that
/// ends or changes a session appends to in its own script, first; not on a cluster: <see cref="RedisChangeLog"/>). A slide is two commands sent together, neither a script:
/// PEXPIRE on the record and ZADD XX GT on its index entry. (<c>gw:{u:TAG}:seen</c>, where an earlier layout kept
/// "last used", is no longer written; its entries are still deleted with their sessions, and replicas of that
/// version read the same scores, so a rolling update in either direction loses nothing.)
/// The <c>{u:TAG}</c> hash tag keeps a user's keys in one Redis Cluster slot, so the scripts that touch a
/// record and its index together run atomically on a cluster too. Every script does bounded work (one
/// session, or one batch of <see cref="Batch"/>) so no user, however many sessions, blocks Redis.
/// </summary>
internal sealed class RedisSessionStore(RedisCalls redis, Microsoft.Extensions.Options.IOptions<Sessions.GatewaySessionOptions> options, HeldGlobalMark globalMark)
    : ISessionStore
{
    // A revoked session's tombstone outlives any record that could be restored for it: no record lives longer than this.
    private readonly string _tombstoneMs = ((long)options.Value.AbsoluteLifetime.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);
    private readonly long _lifetimeMs = (long)options.Value.AbsoluteLifetime.TotalMilliseconds;
    private readonly TimeSpan _idle = options.Value.IdleTimeout;

    private const int Batch = 250;

    // KEYS: session, index, seen. ARGV: record, ttl ms, member, now ms, absolute lifetime ms. Prunes dead members (a
    // bounded batch per login). The index outlives every member however often each is slid (a slide does not touch
    // the index's own TTL): a session lives at most the absolute lifetime from its login.
    private const string CreateScript = """
        redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
        local dead = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[4], 'LIMIT', 0, 250)
        if #dead > 0 then
          redis.call('ZREM', KEYS[2], unpack(dead))
          redis.call('HDEL', KEYS[3], unpack(dead))
        end
        redis.call('ZADD', KEYS[2], tonumber(ARGV[4]) + tonumber(ARGV[2]), ARGV[3])
        if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[5]) then redis.call('PEXPIRE', KEYS[2], ARGV[5]) end
        return redis.call('ZCARD', KEYS[2])
        """;

    // Appends to the change log (KEYS[5], when given: not on a cluster) in the same script as the write it records, and
    // before it: Redis does not undo a script's earlier writes when a later command fails, so a log entry that cannot be
    // written (an ACL without XADD, a key that is not a stream) fails the write whole instead of leaving it unlogged
    // and the caller's steps after it undone. ARGV[3] the revocation as the bus spells it, ARGV[4] the entry's random
    // token, ARGV[5] the log's length.
    private const string LogChange = "\nif KEYS[5] then redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[5], '*', 't', ARGV[4], 'r', ARGV[3]) end\n";

    // KEYS: session, index, seen, tombstone[, change log]. ARGV: session hash, tombstone lifetime (ms)[, log entry]. The
    // tombstone is what a restored record cannot carry back: a session revoked here stays refused if its record reappears.
    private const string DeleteScript = LogChange + """
        local n = redis.call('DEL', KEYS[1])
        redis.call('ZREM', KEYS[2], ARGV[1])
        redis.call('HDEL', KEYS[3], ARGV[1])
        redis.call('SET', KEYS[4], '1', 'PX', ARGV[2])
        return n
        """;

    // KEYS: session, index, seen, tombstone[, change log]. ARGV: session hash, tombstone lifetime (ms)[, log entry]. The
    // record as it was, deleted with its index entries in one step, and the tombstone left.
    private const string TakeScript = LogChange + """
        local v = redis.call('GET', KEYS[1])
        redis.call('DEL', KEYS[1])
        redis.call('ZREM', KEYS[2], ARGV[1])
        redis.call('HDEL', KEYS[3], ARGV[1])
        redis.call('SET', KEYS[4], '1', 'PX', ARGV[2])
        return v
        """;

    // KEYS: index, seen. ARGV: session key prefix, batch size. One batch: delete up to ARGV[2] sessions and their index entries.
    // KEYS[5], ARGV[3..5]: the change log, as LogChange (the user's sessions, each batch: one created after the mark
    // that began this and deleted here reaches every cache even when no message does).
    private const string DeleteBatchScript = LogChange + """
        local members = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)
        local deleted = 0
        for _, m in ipairs(members) do deleted = deleted + redis.call('DEL', ARGV[1] .. m) end
        if #members > 0 then
          redis.call('ZREM', KEYS[1], unpack(members))
          redis.call('HDEL', KEYS[2], unpack(members))
        end
        return { #members, deleted }
        """;

    public async Task<int> CreateAsync(SessionHandle session, byte[] record, TimeSpan ttl, CancellationToken cancellationToken)
    {
        var count = (int)await redis.AcknowledgedWriteAsync("session.create", SessionKeyOf(session), db => db.ScriptEvaluateAsync(CreateScript,
            [SessionKeyOf(session), IndexKeyOf(session.UserTag), SeenKeyOf(session.UserTag)],
            [record, Ms(ttl), session.Hash, NowMs(), _lifetimeMs]), cancellationToken);
        await redis.WriteAsync("session.create", db => db.SetAddAsync(UsersKey, session.UserTag), cancellationToken);
        return count;
    }

    public async Task<IReadOnlyList<StoredSession?>> GetManyAsync(string userTag, IReadOnlyList<SessionHandle> sessions, CancellationToken cancellationToken)
    {
        if (sessions.Count == 0) return [];
        return await redis.ReadAsync("session.get_many", async db =>
        {
            // One MGET (every key shares the user's slot): the records, their tombstones and the user's marker; and the
            // global marker beside it unless held. At most two commands for any number of sessions.
            var keys = new RedisKey[sessions.Count * 2 + 1];
            for (var i = 0; i < sessions.Count; i++)
            {
                keys[i] = SessionKeyOf(sessions[i]);
                keys[sessions.Count + i] = TombstoneOf(sessions[i]);
            }
            keys[^1] = UserMarkerOf(userTag);
            var local = db.StringGetAsync(keys);
            var everyone = await GlobalMarkAsync(db);
            var values = await local;
            var marker = Latest(MarkerTime(values[^1]), everyone);
            var result = new StoredSession?[sessions.Count];
            for (var i = 0; i < sessions.Count; i++)
                result[i] = values[i].IsNull || !values[sessions.Count + i].IsNull ? null : new StoredSession((byte[])values[i]!, marker);
            return (IReadOnlyList<StoredSession?>)result;
        }, cancellationToken);
    }

    public Task<StoredSession?> GetAsync(SessionHandle session, CancellationToken cancellationToken) =>
        redis.AnyKeysTogether ? GetTogetherAsync(session, cancellationToken) : redis.ReadAsync("session.get", async db =>
        {
            // The record, the user's marker and the session's tombstone share a slot; the global marker does not, so it
            // is held between revoke-alls (one command), and fetched beside the MGET in the same round trip when not.
            var local = db.StringGetAsync(ReadKeysOf(session, withGlobal: false));
            var everyone = await GlobalMarkAsync(db);
            return StoredOf(await local, everyone);
        }, cancellationToken);

    /// <summary>
    /// The global revoke-all mark, read pipelined with what the caller already sent; on a cluster, as held
    /// (<see cref="HeldGlobalMark"/>) when it may be, and else held for the next.
    /// </summary>
    private async ValueTask<DateTimeOffset?> GlobalMarkAsync(IDatabaseAsync db)
    {
        if (!redis.IsCluster) return MarkerTime(await db.StringGetAsync(GlobalMarker));
        if (globalMark.TryGet(out var held)) return held;
        var fetch = globalMark.Begin();
        var mark = MarkerTime(await db.StringGetAsync(GlobalMarker));
        globalMark.Keep(mark, fetch);
        return mark;
    }

    /// <summary>Outside a cluster the global marker joins the same MGET: a cache miss is one command.</summary>
    private Task<StoredSession?> GetTogetherAsync(SessionHandle session, CancellationToken cancellationToken) =>
        redis.ReadAsync("session.get", async db =>
        {
            var values = await db.StringGetAsync(ReadKeysOf(session, withGlobal: true));
            return StoredOf(values, MarkerTime(values[3]));
        }, cancellationToken);

    /// <summary>
    /// One MGET a session as <see cref="GetAsync"/> sends it, the batch's all sent together in one call (one round trip,
    /// one timeout for the lot); on a cluster the global marker once for the batch, as held. A background read
    /// (<see cref="RedisCalls.BackgroundReadAsync"/>): no retry, and no weight in the requests' breaker. Whatever answered
    /// counts: a shard that fails or hangs fails only the sessions it holds, also when the call's time runs out on it.
    /// </summary>
    public async Task<SessionRead[]> GetEachAsync(IReadOnlyList<SessionHandle> sessions, CancellationToken cancellationToken)
    {
        if (sessions.Count == 0) return [];
        var together = redis.AnyKeysTogether;
        Task<RedisValue[]>[]? sent = null;
        Task<DateTimeOffset?>? globalMark = null;
        try
        {
            return await redis.BackgroundReadAsync("session.get_each", async db =>
            {
                sent = new Task<RedisValue[]>[sessions.Count];
                for (var i = 0; i < sessions.Count; i++) sent[i] = db.StringGetAsync(ReadKeysOf(sessions[i], withGlobal: together));
                // On a cluster, beside the reads (held, most of the time: no command).
                globalMark = together ? Task.FromResult<DateTimeOffset?>(null) : GlobalMarkAsync(db).AsTask();
                try
                {
                    await Task.WhenAll(sent);
                }
                // Some answered (one shard of a cluster failing, say): only the sessions whose reads failed are failed.
                // Nothing answered is the store failing, thrown to the caller.
                catch (Exception) when (Array.Exists(sent, read => read.IsCompletedSuccessfully))
                {
                }
                return ReadsOf(sent, together, await globalMark, unanswered: SessionRead.Failure);
            }, cancellationToken);
        }
        // The call's time ran out waiting on a shard that hangs: the sessions on the shards that answered are read all the
        // same, the others marked as timed out (the read ahead then ends its look: the store is slow). Not when nothing
        // answered, nor without the global marker the answers are judged by.
        catch (StoreUnavailableException) when (sent is not null && Array.Exists(sent, read => read.IsCompletedSuccessfully)
            && globalMark is { IsCompletedSuccessfully: true })
        {
            return ReadsOf(sent, together, globalMark.Result, unanswered: SessionRead.TimeOut);
        }
    }

    private static SessionRead[] ReadsOf(Task<RedisValue[]>[] sent, bool together, DateTimeOffset? everyone, SessionRead unanswered)
    {
        var reads = new SessionRead[sent.Length];
        for (var i = 0; i < reads.Length; i++)
            reads[i] = sent[i].IsCompletedSuccessfully
                ? new SessionRead(StoredOf(sent[i].Result, together ? MarkerTime(sent[i].Result[3]) : everyone), Failed: false)
                : unanswered;
        return reads;
    }

    /// <summary>What a read of a session fetches, in one slot: its record, its user's marker, its tombstone; and the global marker when keys need not share a slot.</summary>
    private RedisKey[] ReadKeysOf(SessionHandle session, bool withGlobal) => withGlobal
        ? [SessionKeyOf(session), UserMarkerOf(session.UserTag), TombstoneOf(session), GlobalMarker]
        : [SessionKeyOf(session), UserMarkerOf(session.UserTag), TombstoneOf(session)];

    /// <summary>The session <see cref="ReadKeysOf"/> found: null when its record is gone or a tombstone stands for it.</summary>
    private static StoredSession? StoredOf(RedisValue[] values, DateTimeOffset? everyone) =>
        values[0].IsNull || !values[2].IsNull ? null : new StoredSession((byte[])values[0]!, Latest(MarkerTime(values[1]), everyone));

    /// <summary>
    /// Two commands a session, the batch's all sent together in one call (one round trip, no script, one pass through
    /// the breaker and timeout for the lot): PEXPIRE on the record, and ZADD XX GT moving its index entry to the new
    /// expiry (XX: never adds an entry for a session that ended; GT: never moves one back). A record gone takes its
    /// entry out. PEXPIRE, never EXPIRE (which the documented ACL does not grant): the client sends EXPIRE for whole
    /// seconds, so a whole-second TTL is sent a millisecond short.
    /// </summary>
    public async Task<SlideOutcome[]> TouchAsync(IReadOnlyList<SessionSlide> slides, CancellationToken cancellationToken)
    {
        if (slides.Count == 0) return [];
        var now = NowMs();
        var outcomes = await redis.WriteAsync("session.touch", async db =>
        {
            // Records first, index entries after: a session's two commands are i and n + i.
            var sent = new Task<bool>[slides.Count * 2];
            for (var i = 0; i < slides.Count; i++)
            {
                var (session, ttl) = slides[i];
                var ms = Math.Max(1, Ms(ttl));
                if (ms % 1000 == 0) ms--;
                sent[i] = db.KeyExpireAsync(SessionKeyOf(session), TimeSpan.FromMilliseconds(ms));
                sent[slides.Count + i] = db.SortedSetAddAsync(IndexKeyOf(session.UserTag), session.Hash, now + ms, SortedSetWhen.Exists | SortedSetWhen.GreaterThan);
            }
            try
            {
                await Task.WhenAll(sent);
            }
            // Some answered (one shard of a cluster failing, say): only the sessions whose commands failed are failed.
            // Nothing answered is the store failing, for the breaker to count.
            catch (Exception) when (Array.Exists(sent, command => command.IsCompletedSuccessfully))
            {
            }
            var answers = new SlideOutcome[slides.Count];
            for (var i = 0; i < answers.Length; i++) answers[i] = OutcomeOf(sent[i], sent[slides.Count + i]);
            return answers;
        }, cancellationToken);
        if (Array.IndexOf(outcomes, SlideOutcome.Gone) >= 0)
        {
            try
            {
                await UnlistAsync(slides, outcomes, cancellationToken);
            }
            // The answers stand: an entry left behind is past its score (the record's expiry), so no list shows it and the
            // user's next login prunes it.
            catch (StoreUnavailableException)
            {
            }
        }
        return outcomes;
    }

    /// <summary>A record found gone is gone whatever its index entry did; a slide counts only with both commands done.</summary>
    private static SlideOutcome OutcomeOf(Task<bool> record, Task<bool> index) =>
        !record.IsCompletedSuccessfully ? SlideOutcome.Failed
        : !record.Result ? SlideOutcome.Gone
        : index.IsCompletedSuccessfully ? SlideOutcome.Slid : SlideOutcome.Failed;

    /// <summary>The index entries of the sessions a slide found gone, in one round trip.</summary>
    private async Task UnlistAsync(IReadOnlyList<SessionSlide> slides, SlideOutcome[] outcomes, CancellationToken cancellationToken) =>
        await redis.WriteAsync("session.unlist", async db =>
        {
            var removals = new List<Task<bool>>();
            for (var i = 0; i < outcomes.Length; i++)
                if (outcomes[i] == SlideOutcome.Gone) removals.Add(db.SortedSetRemoveAsync(IndexKeyOf(slides[i].Session.UserTag), slides[i].Session.Hash));
            return await Task.WhenAll(removals);
        }, cancellationToken);

    // KEYS: session[, -, -, -, change log]. ARGV: record, -, [log entry]. SET XX KEEPTTL, and the change logged with it.
    // Logged first (a change logged for a record that was gone only costs caches a read).
    private const string ReplaceScript = LogChange + """
        if not redis.call('SET', KEYS[1], ARGV[1], 'XX', 'KEEPTTL') then return 0 end
        return 1
        """;

    public async Task<bool> ReplaceAsync(SessionHandle session, byte[] record, CancellationToken cancellationToken) =>
        (long)await redis.WriteAsync("session.replace", db => db.ScriptEvaluateAsync(ReplaceScript,
            Logged([SessionKeyOf(session)]), Logged([record, RedisValue.EmptyString], SessionRevocation.OfChange(session.ShortHash))), cancellationToken) == 1;

    public async Task<string?> TryLockAsync(SessionHandle session, string purpose, TimeSpan ttl, CancellationToken cancellationToken)
    {
        var holder = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));
        return await redis.WriteAsync("session.lock", db => db.StringSetAsync(LockKeyOf(session, purpose), holder, ttl, When.NotExists), cancellationToken)
            ? holder : null;
    }

    // KEYS: lock. ARGV: holder. Deletes the lock only if it is still ours.
    private const string UnlockScript = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
        return 0
        """;

    public Task UnlockAsync(SessionHandle session, string purpose, string holder, CancellationToken cancellationToken) =>
        redis.WriteAsync("session.unlock", db => db.ScriptEvaluateAsync(UnlockScript, [LockKeyOf(session, purpose)], [holder]), cancellationToken);

    public async Task<bool> DeleteAsync(SessionHandle session, CancellationToken cancellationToken) =>
        (long)await redis.WriteAsync("session.delete", db => db.ScriptEvaluateAsync(DeleteScript,
            Logged([SessionKeyOf(session), IndexKeyOf(session.UserTag), SeenKeyOf(session.UserTag), TombstoneOf(session)]),
            Logged([session.Hash, _tombstoneMs], new SessionRevocation([session.ShortHash]))), cancellationToken) == 1;

    public async Task<byte[]?> TakeAsync(SessionHandle session, CancellationToken cancellationToken)
    {
        try
        {
            return (byte[]?)await redis.AcknowledgedWriteAsync("session.take", SessionKeyOf(session), db => db.ScriptEvaluateAsync(TakeScript,
                Logged([SessionKeyOf(session), IndexKeyOf(session.UserTag), SeenKeyOf(session.UserTag), TombstoneOf(session)]),
                Logged([session.Hash, _tombstoneMs], new SessionRevocation([session.ShortHash]))), cancellationToken);
        }
        catch (UnacknowledgedWriteException ex) when (ex.Result is RedisResult taken)
        {
            // Taken, but not acknowledged: the record goes with the exception, so what follows a take still happens.
            throw new UnacknowledgedWriteException(ex.Message, (byte[]?)taken);
        }
    }

    // KEYS: marker. ARGV: lifetime ms. A write on the user's shard that changes nothing a read sees: its acknowledgement
    // covers every earlier write of this connection there (a retry confirming what an unacknowledged attempt did).
    public async Task ConfirmAsync(string userTag, CancellationToken cancellationToken) =>
        await redis.AcknowledgedWriteAsync("session.confirm", ConfirmKeyOf(userTag), db => db.StringSetAsync(ConfirmKeyOf(userTag), "1", TimeSpan.FromMinutes(1)), cancellationToken);

    /// <summary>
    /// The user's live sessions, least recently used first: one command however many. Each entry's score is when its
    /// record expires, so it was last used an idle timeout before that (a slide capped by the absolute end reads as
    /// used earlier than it was; <see cref="SessionManager"/> never shows a session used before it was created).
    /// </summary>
    public async Task<IReadOnlyList<IndexedSession>> ListByUserAsync(string userTag, int max, CancellationToken cancellationToken)
    {
        var entries = await redis.ReadAsync("session.list", db => db.SortedSetRangeByScoreWithScoresAsync(IndexKeyOf(userTag),
            start: DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), take: max), cancellationToken);
        return entries.Select(e => new IndexedSession(new SessionHandle(userTag, e.Element!),
            DateTimeOffset.FromUnixTimeMilliseconds((long)e.Score) - _idle)).ToList();
    }

    public async Task<int> DeleteByUserAsync(string userTag, DateTimeOffset revokedBefore, TimeSpan markerLifetime, CancellationToken cancellationToken)
    {
        await SetMarkAsync("session.revoke_user", UserMarkerOf(userTag), userTag, revokedBefore.ToUnixTimeMilliseconds(), markerLifetime, cancellationToken);
        var deleted = await DeleteIndexedAsync(userTag, cancellationToken);
        await redis.WriteAsync("session.revoke_user", db => db.SetRemoveAsync(UsersKey, userTag), cancellationToken);
        return deleted;
    }

    public async Task<int> DeleteAllAsync(DateTimeOffset revokedBefore, TimeSpan markerLifetime, CancellationToken cancellationToken)
    {
        await SetMarkAsync("session.revoke_all", GlobalMarker, null, revokedBefore.ToUnixTimeMilliseconds(), markerLifetime, cancellationToken);
        var deleted = 0;
        while (true)
        {
            var tags = await redis.WriteAsync("session.revoke_all", db => db.SetPopAsync(UsersKey, Batch), cancellationToken);
            if (tags.Length == 0) return deleted;
            foreach (var tag in tags) deleted += await DeleteIndexedAsync(tag!, cancellationToken);
        }
    }

    private async Task<int> DeleteIndexedAsync(string userTag, CancellationToken cancellationToken)
    {
        var deleted = 0;
        while (true)
        {
            var result = (RedisResult[])(await redis.WriteAsync("session.delete_batch", db => db.ScriptEvaluateAsync(DeleteBatchScript,
                Logged([IndexKeyOf(userTag), SeenKeyOf(userTag)]), Logged([SessionPrefixOf(userTag), Batch], SessionRevocation.OfUser(userTag))),
                cancellationToken))!;
            deleted += (int)result[1];
            if ((int)result[0] < Batch) return deleted;
        }
    }

    public async Task MarkRevokedAsync(string? userTag, DateTimeOffset revokedBefore, TimeSpan markerLifetime, CancellationToken cancellationToken)
    {
        // Rounded up to the next millisecond: a session created earlier in the same millisecond is older than the mark.
        await SetMarkAsync("session.revoke_mark", userTag is null ? GlobalMarker : UserMarkerOf(userTag), userTag, revokedBefore.ToUnixTimeMilliseconds() + 1,
            markerLifetime, cancellationToken);
    }

    // KEYS: marker. ARGV: mark (ms), lifetime (ms). A mark only moves forward: of two revocations running at once, the one
    // that finishes first must not pull back the later one's mark (and let sessions created meanwhile live).
    // KEYS[5], ARGV[3..5]: the change log, as LogChange.
    private const string KeepLaterMarkScript = """
        local current = tonumber(redis.call('GET', KEYS[1]))
        if current ~= nil and current >= tonumber(ARGV[1]) then return 0 end
        """ + LogChange + """
        redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
        return 1
        """;

    /// <param name="userTag">The user whose mark it is; null for everyone's.</param>
    private Task<RedisResult> SetMarkAsync(string operation, RedisKey marker, string? userTag, long mark, TimeSpan lifetime, CancellationToken cancellationToken) =>
        redis.AcknowledgedWriteAsync(operation, marker, db => db.ScriptEvaluateAsync(KeepLaterMarkScript, Logged([marker]),
            Logged([mark, Ms(lifetime)], userTag is null ? SessionRevocation.Everything : SessionRevocation.OfUser(userTag))), cancellationToken);

    /// <summary>
    /// A script's keys with the change log's in fifth place (the places between unused), unless this is known to be a
    /// cluster (where the log would be another slot; no replica reads it there). Not known yet, it is logged: on a
    /// cluster that write fails (CROSSSLOT) rather than go unlogged where a replica may be reading the log.
    /// </summary>
    private RedisKey[] Logged(RedisKey[] keys)
    {
        if (redis.IsCluster) return keys;
        var logged = new RedisKey[5];
        keys.CopyTo(logged, 0);
        for (var i = keys.Length; i < 4; i++) logged[i] = keys[0];
        logged[4] = ChangeLogKey;
        return logged;
    }

    /// <summary>A script's arguments with the change log entry's three in third to fifth place (the places between unused).</summary>
    private RedisValue[] Logged(RedisValue[] args, SessionRevocation change)
    {
        if (redis.IsCluster) return args;
        var logged = new RedisValue[5];
        args.CopyTo(logged, 0);
        for (var i = args.Length; i < 2; i++) logged[i] = RedisValue.EmptyString;
        logged[2] = change.Encode();
        logged[3] = NewChangeToken();
        logged[4] = ChangeLogLength;
        return logged;
    }

    /// <summary>About how many entries the change log keeps: a replica that falls further behind finds it broken, and reads the store again.</summary>
    internal const int ChangeLogLength = 10_000;

    internal RedisKey ChangeLogKey => redis.Key(ChangeLogSuffix);

    /// <summary>The change log's key under the prefix, for its reader too.</summary>
    internal const string ChangeLogSuffix = "changes";

    /// <summary>An entry's random token: what its reader must find again to know the log is the one it read.</summary>
    internal static string NewChangeToken() => System.Security.Cryptography.RandomNumberGenerator.GetHexString(16, lowercase: true);

    public async Task<DateTimeOffset> NowAsync(CancellationToken cancellationToken) =>
        await redis.ReadAsync("time", async db =>
        {
            var time = (RedisResult[])(await db.ExecuteAsync("TIME"))!;
            return DateTimeOffset.FromUnixTimeMilliseconds((long)time[0] * 1000 + (long)time[1] / 1000);
        }, cancellationToken);

    private static DateTimeOffset? MarkerTime(RedisValue value) =>
        !value.IsNull && value.TryParse(out long ms) ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null;

    private static DateTimeOffset? Latest(DateTimeOffset? a, DateTimeOffset? b) => a is null ? b : b is null ? a : a > b ? a : b;

    private static long Ms(TimeSpan span) => (long)span.TotalMilliseconds;

    private static long NowMs() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    private RedisKey UsersKey => redis.Key("users");
    private RedisKey GlobalMarker => redis.Key("revoked");
    private RedisKey SessionKeyOf(SessionHandle session) => redis.Key($"{{u:{session.UserTag}}}:s:{session.Hash}");
    private RedisKey TombstoneOf(SessionHandle session) => redis.Key($"{{u:{session.UserTag}}}:gone:{session.Hash}");
    private string SessionPrefixOf(string userTag) => redis.Key($"{{u:{userTag}}}:s:");
    private RedisKey IndexKeyOf(string userTag) => redis.Key($"{{u:{userTag}}}:idx");
    private RedisKey LockKeyOf(SessionHandle session, string purpose) => redis.Key($"{{u:{session.UserTag}}}:lock:{purpose}:{session.Hash}");
    private RedisKey SeenKeyOf(string userTag) => redis.Key($"{{u:{userTag}}}:seen");
    private RedisKey ConfirmKeyOf(string userTag) => redis.Key($"{{u:{userTag}}}:confirm");
    private RedisKey UserMarkerOf(string userTag) => redis.Key($"{{u:{userTag}}}:revoked");
}
