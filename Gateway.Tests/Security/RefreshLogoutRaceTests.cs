using Gateway.Sessions;

namespace Gateway.Tests.Security;

/// <summary>
/// Audit round two, finding 8: a token refresh racing a logout cannot outlive it. The race is made deterministic by a
/// hook that runs at the exact moment the old code was open to it: after logout read the record, before it deleted it.
/// </summary>
public sealed class RefreshLogoutRaceTests(SharedRedis redis)
{
    private sealed class RefreshAtTheWorstMoment : ISessionEndingHook
    {
        public Func<SessionRecord, Task>? OnEnding { get; set; }

        public Task EndingAsync(SessionRecord record, CancellationToken cancellationToken) => OnEnding?.Invoke(record) ?? Task.CompletedTask;
    }

    private static SessionRecord Record(string refreshToken) => new()
    {
        UserId = "racer", Method = "oidc", CreatedAt = DateTimeOffset.UtcNow, AbsoluteExpiresAt = DateTimeOffset.UtcNow.AddHours(1),
        AccessToken = "at-1", AccessTokenExpiresAt = DateTimeOffset.UtcNow.AddMinutes(5), RefreshToken = refreshToken,
    };

    [Fact]
    public async Task A_refresh_that_lands_between_logouts_read_and_delete_is_in_the_record_logout_ends_so_its_token_is_revoked()
    {
        var hook = new RefreshAtTheWorstMoment();
        await using var gateway = await GatewayHost.StartAsync(new GatewayConfig().WithRedis(redis.Configuration),
            services: s => s.AddSingleton<ISessionEndingHook>(hook));
        var sessions = gateway.Services.GetRequiredService<SessionManager>();
        var key = await sessions.CreateAsync(Record("rt-1"), default);
        // The refresh rotates the refresh token while logout is between reading and deleting.
        hook.OnEnding = async record => Assert.True(await sessions.ReplaceRecordAsync(key, record with { RefreshToken = "rt-2" }, default));

        var ended = await sessions.RevokeAsync(key, "logout", default);

        // What logout ended (and hands to the provider's revocation) is the rotated token, not the one it first read.
        Assert.Equal("rt-2", ended?.RefreshToken);
        Assert.Null(await sessions.ReloadAsync(key, default));
    }

    [Fact]
    public async Task A_refresh_that_lands_after_logout_finds_the_session_gone_and_its_token_is_not_stored()
    {
        await using var gateway = await GatewayHost.StartAsync(new GatewayConfig().WithRedis(redis.Configuration));
        var sessions = gateway.Services.GetRequiredService<SessionManager>();
        var key = await sessions.CreateAsync(Record("rt-1"), default);
        Assert.Equal("rt-1", (await sessions.RevokeAsync(key, "logout", default))?.RefreshToken);

        // AccessTokenService revokes its new token at the provider when this is false.
        Assert.False(await sessions.ReplaceRecordAsync(key, Record("rt-2"), default));
        Assert.Null(await sessions.ReloadAsync(key, default));
    }
}
