using Gateway.Redis;
using Gateway.Sessions;
using Microsoft.Extensions.Options;

namespace Gateway.Tests.Sessions;

/// <summary>The plain store's contract, held by the in-memory store and by the Redis store against a real redis-server.</summary>
public sealed class SessionStoreContractTests(SharedRedis redis)
{
    public static TheoryData<string> Stores => new() { "memory", "redis" };

    private async Task<(ISessionStore Store, IAsyncDisposable Owner)> CreateAsync(string kind)
    {
        var config = new GatewayConfig();
        if (kind == "redis") config.WithRedis(redis.Configuration);
        var host = await GatewayHost.StartAsync(config);
        return (host.Services.GetRequiredService<ISessionStore>(), host);
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task Create_get_touch_and_delete_round_trip(string kind)
    {
        var (store, owner) = await CreateAsync(kind);
        await using var _ = owner;
        var key = SessionKey.NewFor("user-1").Handle;
        await store.CreateAsync(key, [1, 2, 3], TimeSpan.FromMinutes(5), default);
        Assert.Equal(new byte[] { 1, 2, 3 }, (await store.GetAsync(key, default))!.Record);
        var slidLive = await store.TouchAsync([new(key, TimeSpan.FromMinutes(5))], default);
        Assert.Equal([SlideOutcome.Slid], slidLive);
        Assert.True(await store.DeleteAsync(key, default));
        Assert.Null(await store.GetAsync(key, default));
        Assert.False(await store.DeleteAsync(key, default));
        var slidGone = await store.TouchAsync([new(key, TimeSpan.FromMinutes(5))], default);
        Assert.Equal([SlideOutcome.Gone], slidGone);
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task One_read_for_sessions_of_several_users_answers_each_in_order_with_its_record_its_users_mark_or_gone(string kind)
    {
        var (store, owner) = await CreateAsync(kind);
        await using var _ = owner;
        var marked = $"user-{Guid.NewGuid():N}";
        var live = SessionKey.NewFor($"user-{Guid.NewGuid():N}").Handle;
        var revoked = SessionKey.NewFor(marked).Handle;
        var deleted = SessionKey.NewFor(marked).Handle;
        var never = SessionKey.NewFor(marked).Handle;
        await store.CreateAsync(live, [1], TimeSpan.FromMinutes(5), default);
        await store.CreateAsync(revoked, [2], TimeSpan.FromMinutes(5), default);
        await store.CreateAsync(deleted, [3], TimeSpan.FromMinutes(5), default);
        Assert.True(await store.DeleteAsync(deleted, default));
        // The user's revoke-all mark, moved past the session without deleting it (what a revoke-all leaves while it runs).
        var markedAt = DateTimeOffset.UtcNow;
        await store.MarkRevokedAsync(revoked.UserTag, markedAt, TimeSpan.FromHours(1), default);

        var reads = await store.GetEachAsync([live, revoked, deleted, never, live], default);

        Assert.Equal(5, reads.Length);
        Assert.All(reads, r => Assert.False(r.Failed));
        Assert.Equal(new byte[] { 1 }, reads[0].Stored!.Record);
        Assert.Null(reads[0].Stored!.RevokedBefore);
        Assert.Equal(new byte[] { 2 }, reads[1].Stored!.Record);
        Assert.NotNull(reads[1].Stored!.RevokedBefore);
        Assert.Null(reads[2].Stored);
        Assert.Null(reads[3].Stored);
        Assert.Equal(new byte[] { 1 }, reads[4].Stored!.Record);
        // The same answers as one read each.
        foreach (var (session, read) in new[] { live, revoked }.Zip(reads))
            Assert.Equal((await store.GetAsync(session, default))!.RevokedBefore, read.Stored!.RevokedBefore);
        Assert.Empty(await store.GetEachAsync([], default));
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task A_users_sessions_are_listed_and_deleted_together_and_no_one_elses(string kind)
    {
        var (store, owner) = await CreateAsync(kind);
        await using var _ = owner;
        var user = $"user-{Guid.NewGuid():N}";
        var a = SessionKey.NewFor(user).Handle;
        var b = SessionKey.NewFor(user).Handle;
        var other = SessionKey.NewFor(user + "-other").Handle;
        foreach (var k in new[] { a, b, other }) await store.CreateAsync(k, [9], TimeSpan.FromMinutes(5), default);

        Assert.Equal(new[] { a, b }.OrderBy(k => k.Hash), (await store.ListByUserAsync(a.UserTag, 100, default)).Select(s => s.Handle).OrderBy(k => k.Hash));
        var revokedAt = DateTimeOffset.UtcNow;
        Assert.Equal(2, await store.DeleteByUserAsync(a.UserTag, revokedAt, TimeSpan.FromHours(8), default));
        Assert.Empty(await store.ListByUserAsync(a.UserTag, 100, default));
        Assert.NotNull(await store.GetAsync(other, default));
        Assert.Null((await store.GetAsync(other, default))!.RevokedBefore);

        // A session of that user stored after the revoke-all started carries the marker, so the caller can refuse it.
        var late = SessionKey.NewFor(user).Handle;
        await store.CreateAsync(late, [9], TimeSpan.FromMinutes(5), default);
        Assert.InRange((await store.GetAsync(late, default))!.RevokedBefore!.Value, revokedAt.AddMilliseconds(-1), revokedAt.AddMilliseconds(1));
        var end = DateTimeOffset.UtcNow;
        await store.MarkRevokedAsync(a.UserTag, end, TimeSpan.FromHours(8), default);
        Assert.InRange((await store.GetAsync(late, default))!.RevokedBefore!.Value, end.AddMilliseconds(-1), end.AddMilliseconds(1));

        Assert.True(await store.DeleteAllAsync(DateTimeOffset.UtcNow, TimeSpan.FromHours(8), default) >= 1);
        Assert.Null(await store.GetAsync(other, default));
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task A_revocation_mark_never_moves_back_when_two_revocations_of_a_user_finish_out_of_order(string kind)
    {
        var (store, owner) = await CreateAsync(kind);
        await using var _ = owner;
        var user = $"user-{Guid.NewGuid():N}";
        var session = SessionKey.NewFor(user).Handle;
        await store.CreateAsync(session, [9], TimeSpan.FromMinutes(5), default);
        var now = DateTimeOffset.UtcNow;
        var later = now.AddSeconds(2);

        // The revocation that started later finishes first; the earlier one's end must not pull its mark back.
        await store.MarkRevokedAsync(session.UserTag, later, TimeSpan.FromHours(8), default);
        await store.MarkRevokedAsync(session.UserTag, now, TimeSpan.FromHours(8), default);
        await store.DeleteByUserAsync(session.UserTag, now, TimeSpan.FromHours(8), default);
        var survivor = SessionKey.NewFor(user).Handle;
        await store.CreateAsync(survivor, [9], TimeSpan.FromMinutes(5), default);

        Assert.InRange((await store.GetAsync(survivor, default))!.RevokedBefore!.Value, later, later.AddMilliseconds(2));
    }

    [Fact]
    public async Task Redis_layout_keeps_a_users_keys_under_one_hash_tag_named_by_a_hash_never_the_session_id()
    {
        var config = new GatewayConfig().WithRedis(redis.Configuration);
        await using var host = await GatewayHost.StartAsync(config);
        var store = host.Services.GetRequiredService<ISessionStore>();
        var prefix = config.Settings["Gateway:Redis:KeyPrefix"];
        var key = SessionKey.NewFor("layout-user");
        await store.CreateAsync(key.Handle, [1], TimeSpan.FromMinutes(20), default);

        using var mux = await redis.Server.ConnectAsync();
        var db = mux.GetDatabase();
        var sessionKey = $"{prefix}{{u:{key.UserTag}}}:s:{key.Handle.Hash}";
        var ttl = await db.KeyTimeToLiveAsync(sessionKey);
        Assert.InRange(ttl!.Value, TimeSpan.FromMinutes(19.9), TimeSpan.FromMinutes(20));
        var index = $"{prefix}{{u:{key.UserTag}}}:idx";
        // Scored by when the record expires; living as long as a session could (the absolute lifetime, 8 h by default).
        var expires = DateTimeOffset.UtcNow.AddMinutes(20).ToUnixTimeMilliseconds();
        Assert.InRange(await db.SortedSetScoreAsync(index, key.Handle.Hash) ?? 0, expires - 10_000, expires);
        Assert.InRange((await db.KeyTimeToLiveAsync(index))!.Value, TimeSpan.FromHours(7.99), TimeSpan.FromHours(8));
        Assert.True(await db.SetContainsAsync($"{prefix}users", key.UserTag));
        // The id the cookie carries appears nowhere: not in a key name, not in the index.
        var server = mux.GetServer(mux.GetEndPoints()[0]);
        var id = key.CookiePayload().Split('.')[1];
        Assert.DoesNotContain(server.Keys(pattern: prefix + "*"), k => ((string)k!).Contains(id, StringComparison.Ordinal));
        Assert.DoesNotContain(await db.SortedSetRangeByRankAsync(index), m => m == id);
    }
}
