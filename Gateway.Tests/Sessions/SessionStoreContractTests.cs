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
        var key = SessionKey.NewFor("user-1");
        await store.CreateAsync(key, [1, 2, 3], TimeSpan.FromMinutes(5), default);
        Assert.Equal(new byte[] { 1, 2, 3 }, await store.GetAsync(key, default));
        Assert.True(await store.TouchAsync(key, TimeSpan.FromMinutes(5), default));
        Assert.True(await store.DeleteAsync(key, default));
        Assert.Null(await store.GetAsync(key, default));
        Assert.False(await store.DeleteAsync(key, default));
        Assert.False(await store.TouchAsync(key, TimeSpan.FromMinutes(5), default));
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task A_users_sessions_are_listed_and_deleted_together_and_no_one_elses(string kind)
    {
        var (store, owner) = await CreateAsync(kind);
        await using var _ = owner;
        var user = $"user-{Guid.NewGuid():N}";
        var a = SessionKey.NewFor(user);
        var b = SessionKey.NewFor(user);
        var other = SessionKey.NewFor(user + "-other");
        foreach (var k in new[] { a, b, other }) await store.CreateAsync(k, [9], TimeSpan.FromMinutes(5), default);

        Assert.Equal(new[] { a, b }.OrderBy(k => k.Id), (await store.ListByUserAsync(a.UserTag, default)).OrderBy(k => k.Id));
        Assert.Equal(2, (await store.DeleteByUserAsync(a.UserTag, default)).Count);
        Assert.Empty(await store.ListByUserAsync(a.UserTag, default));
        Assert.NotNull(await store.GetAsync(other, default));

        var all = await store.DeleteAllAsync(default);
        Assert.Contains(other, all);
        Assert.Null(await store.GetAsync(other, default));
    }

    [Fact]
    public async Task Redis_layout_keeps_a_users_keys_under_one_hash_tag_with_ttl_no_longer_than_asked()
    {
        var config = new GatewayConfig().WithRedis(redis.Configuration);
        await using var host = await GatewayHost.StartAsync(config);
        var store = host.Services.GetRequiredService<ISessionStore>();
        var prefix = config.Settings["Gateway:Redis:KeyPrefix"];
        var key = SessionKey.NewFor("layout-user");
        await store.CreateAsync(key, [1], TimeSpan.FromMinutes(20), default);

        using var mux = await redis.Server.ConnectAsync();
        var db = mux.GetDatabase();
        var sessionKey = $"{prefix}{{u:{key.UserTag}}}:s:{key.Id}";
        var ttl = await db.KeyTimeToLiveAsync(sessionKey);
        Assert.InRange(ttl!.Value, TimeSpan.FromMinutes(19.9), TimeSpan.FromMinutes(20));
        Assert.True(await db.SetContainsAsync($"{prefix}{{u:{key.UserTag}}}:idx", key.Id));
        Assert.True(await db.SetContainsAsync($"{prefix}users", key.UserTag));
    }
}
