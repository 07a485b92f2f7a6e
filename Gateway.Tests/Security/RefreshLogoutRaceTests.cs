using Gateway.Redis;
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

    /// <summary>What the provider would be asked to revoke: every record a revocation hands to the end observers.</summary>
    private sealed class EndedRecords : ISessionEndObserver
    {
        public List<SessionRecord> Records { get; } = [];

        public Task SessionsEndedAsync(IReadOnlyList<SessionRecord> records, CancellationToken cancellationToken)
        {
            lock (Records) Records.AddRange(records);
            return Task.CompletedTask;
        }
    }

    /// <summary>
    /// The real Redis store, with a token refresh landing at the worst moment for the revocation under test: right after
    /// a record is read, or right before it is taken (an atomic take leaves no moment inside it).
    /// </summary>
    private sealed class RefreshAtTheWorstMomentStore(ISessionStore inner) : DelegatingSessionStore(inner)
    {
        public Func<Task>? Refresh { get; set; }

        private async Task RefreshOnceAsync()
        {
            var refresh = Refresh;
            Refresh = null;
            if (refresh is not null) await refresh();
        }

        public override async Task<StoredSession?> GetAsync(SessionHandle session, CancellationToken cancellationToken)
        {
            var stored = await Inner.GetAsync(session, cancellationToken);
            await RefreshOnceAsync();
            return stored;
        }

        /// <summary>How many takes succeed before the store fails (a Redis outage part-way through a bulk revocation).</summary>
        public int? TakesBeforeFailure { get; set; }

        public override async Task<byte[]?> TakeAsync(SessionHandle session, CancellationToken cancellationToken)
        {
            if (TakesBeforeFailure is { } left)
            {
                if (left == 0) throw new StoreUnavailableException("the store went away part-way through");
                TakesBeforeFailure = left - 1;
            }
            await RefreshOnceAsync();
            return await Inner.TakeAsync(session, cancellationToken);
        }

    }

    /// <summary>A gateway on the real Redis store, behind <see cref="RefreshAtTheWorstMomentStore"/>, with its end observers recorded.</summary>
    private async Task<(GatewayHost Gateway, EndedRecords Ended, RefreshAtTheWorstMomentStore Store)> StartObservedAsync()
    {
        var ended = new EndedRecords();
        RefreshAtTheWorstMomentStore? store = null;
        var gateway = await GatewayHost.StartAsync(new GatewayConfig().WithRedis(redis.Configuration), services: s =>
        {
            s.AddSingleton<ISessionEndObserver>(ended);
            s.AddSingleton<ISessionStore>(sp => store = new RefreshAtTheWorstMomentStore(ActivatorUtilities.CreateInstance<RedisSessionStore>(sp)));
        });
        // Resolved now, so the decorator exists before the test arms it.
        gateway.Services.GetRequiredService<ISessionStore>();
        return (gateway, ended, store!);
    }

    public static TheoryData<string> BulkRevocations => ["logout-everywhere", "backchannel-logout-by-sid", "your-sessions"];

    [Theory]
    [MemberData(nameof(BulkRevocations))]
    public async Task A_refresh_racing_a_bulk_revocation_is_in_the_record_it_ends_so_the_rotated_token_is_what_gets_revoked(string revocation)
    {
        var (gateway, ended, store) = await StartObservedAsync();
        await using var _ = gateway;
        var sessions = gateway.Services.GetRequiredService<SessionManager>();
        var userId = "racer-" + Guid.NewGuid().ToString("N")[..8];
        var key = await sessions.CreateAsync(Record("rt-1") with { UserId = userId, ProviderSessionId = "idp-sid-1" }, default);
        store.Refresh = async () => Assert.True(await sessions.ReplaceRecordAsync(key,
            Record("rt-2") with { UserId = userId, ProviderSessionId = "idp-sid-1" }, default));

        var count = revocation switch
        {
            "logout-everywhere" => await sessions.RevokeUserAsync(userId, revocation, null, default),
            "backchannel-logout-by-sid" => await sessions.RevokeUserAsync(userId, revocation, r => r.ProviderSessionId == "idp-sid-1", default),
            _ => await sessions.RevokeHandlesAsync([key.Handle], revocation, default),
        };

        Assert.Equal(1, count);
        Assert.Null(store.Refresh);
        // The token handed to the provider's revocation is the rotated one; none of the session is left to refresh.
        Assert.Equal(["rt-2"], ended.Records.Where(r => r.UserId == userId).Select(r => r.RefreshToken));
        Assert.Null(await sessions.ReloadAsync(key, default));
        Assert.False(await sessions.ReplaceRecordAsync(key, Record("rt-3") with { UserId = userId }, default));
    }

    [Theory]
    [InlineData("logout-everywhere")]
    [InlineData("your-sessions")]
    public async Task A_store_failure_part_way_through_a_bulk_revocation_still_revokes_the_tokens_of_what_was_taken(string revocation)
    {
        var (gateway, ended, store) = await StartObservedAsync();
        await using var _ = gateway;
        var sessions = gateway.Services.GetRequiredService<SessionManager>();
        var userId = "halfway-" + Guid.NewGuid().ToString("N")[..8];
        var first = await sessions.CreateAsync(Record("rt-a") with { UserId = userId }, default);
        var second = await sessions.CreateAsync(Record("rt-b") with { UserId = userId }, default);
        store.TakesBeforeFailure = 1;

        await Assert.ThrowsAsync<StoreUnavailableException>(() => revocation == "logout-everywhere"
            ? sessions.RevokeUserAsync(userId, revocation, null, default)
            : sessions.RevokeHandlesAsync([first.Handle, second.Handle], revocation, default));

        // The one record taken before the failure held the only copy of its token: it is still handed to revocation.
        var revoked = Assert.Single(ended.Records, r => r.UserId == userId);
        Assert.True(revoked.RefreshToken is "rt-a" or "rt-b");
    }
}
