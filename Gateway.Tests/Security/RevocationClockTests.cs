using Gateway.Sessions;

namespace Gateway.Tests.Security;

/// <summary>
/// Audit round two, finding 12: revocation marks and the sessions they are compared with are stamped by one clock
/// (Redis TIME), so a replica whose clock is minutes off can neither keep a revoked session alive nor revoke a new one.
/// </summary>
public sealed class RevocationClockTests
{
    [Theory]
    [InlineData(-5, 0)] // the revoking replica's clock is five minutes behind
    [InlineData(0, 5)]  // the replica that created the session is five minutes ahead
    public async Task A_session_created_before_a_revoke_stays_revoked_whatever_the_replicas_clocks_say(int revokerSkewMinutes, int creatorSkewMinutes)
    {
        await using var redis = await RedisServer.StartAsync();
        var config = new GatewayConfig().WithRedis(redis.Configuration);
        await using var creator = await GatewayHost.StartAsync(config, new FakeClock(DateTimeOffset.UtcNow.AddMinutes(creatorSkewMinutes)));
        await using var revoker = await GatewayHost.StartAsync(config, new FakeClock(DateTimeOffset.UtcNow.AddMinutes(revokerSkewMinutes)));
        await using var fresh = await GatewayHost.StartAsync(config);

        var onCreator = creator.Services.GetRequiredService<SessionManager>();
        var now = DateTimeOffset.UtcNow.AddMinutes(creatorSkewMinutes);
        var key = await onCreator.CreateAsync(new SessionRecord { UserId = "skewed", Method = "dev", CreatedAt = now, AbsoluteExpiresAt = now.AddHours(1) }, default);
        // A login racing the revoke: its record lands after the revoke's batches passed the user's index.
        await using var mux = await redis.ConnectAsync();
        var db = mux.GetDatabase();
        var sessionKey = mux.GetServer(mux.GetEndPoints()[0]).Keys(pattern: config.Settings["Gateway:Redis:KeyPrefix"] + "{u:*}:s:*").Single();
        var dump = await db.KeyDumpAsync(sessionKey);
        var ttl = await db.KeyTimeToLiveAsync(sessionKey);
        await Task.Delay(20);

        await revoker.Services.GetRequiredService<SessionManager>().RevokeUserAsync("skewed", "test", null, default);
        await db.KeyRestoreAsync(sessionKey, dump!, ttl);

        // Older than the revoke by the one clock that counts: refused on a replica with nothing cached.
        Assert.Null(await fresh.Services.GetRequiredService<SessionManager>().ResolveAsync(key, default));
        // And a session created after the revoke is not caught by it, on the skewed replica either. After: the mark is
        // rounded up to the next millisecond, so a login within those two milliseconds counts as racing it (revoked).
        await Task.Delay(5);
        var later = await onCreator.CreateAsync(new SessionRecord { UserId = "skewed", Method = "dev", CreatedAt = now, AbsoluteExpiresAt = now.AddHours(1) }, default);
        Assert.NotNull(await fresh.Services.GetRequiredService<SessionManager>().ResolveAsync(later, default));
    }
}
