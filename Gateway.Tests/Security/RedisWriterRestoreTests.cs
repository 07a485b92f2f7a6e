using StackExchange.Redis;

namespace Gateway.Tests.Security;

/// <summary>Audit round two, finding 7: a Redis writer who puts a logged-out session's record back (RESTORE) does not undo the logout.</summary>
public sealed class RedisWriterRestoreTests
{
    [Fact]
    public async Task A_logged_out_session_whose_record_is_restored_stays_refused_on_every_replica()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        using var browser = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        Assert.Equal(HttpStatusCode.OK, (await browser.ApiGetAsync("/api/whoami")).StatusCode);

        await using var writer = await redis.ConnectAsync();
        var db = writer.GetDatabase();
        var server = writer.GetServer(writer.GetEndPoints()[0]);
        var sessionKey = server.Keys(pattern: rig.KeyPrefix + "{u:*}:s:*").Single();
        var dump = await db.KeyDumpAsync(sessionKey);
        var ttl = await db.KeyTimeToLiveAsync(sessionKey);
        var cookies = browser.Cookies.GetCookies(new Uri(rig.Gateway.BaseUrl)).Cast<Cookie>().Select(c => new Cookie(c.Name, c.Value, "/")).ToList();

        Assert.Equal(HttpStatusCode.SeeOther, (await browser.PostSameOriginAsync("/logout")).StatusCode);
        Assert.False(await db.KeyExistsAsync(sessionKey));
        // The writer puts the record back, byte for byte, with its TTL.
        await db.KeyRestoreAsync(sessionKey, dump!, ttl);

        // The captured cookie, replayed on this replica and on a fresh one (nothing cached), is anonymous.
        await using var fresh = await GatewayHost.StartAsync(new GatewayConfig { UpstreamUrl = rig.Cms.BaseUrl + "/" }.WithRedis(redis.Configuration, rig.KeyPrefix));
        foreach (var baseUrl in new[] { rig.Gateway.BaseUrl, fresh.BaseUrl })
        {
            using var replay = new Browser(baseUrl);
            foreach (var cookie in cookies) replay.Cookies.Add(new Uri(baseUrl), cookie);
            Assert.Equal(HttpStatusCode.Unauthorized, (await replay.ApiGetAsync("/api/whoami")).StatusCode);
        }
    }
}
