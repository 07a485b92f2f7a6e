using Gateway.Sessions;

namespace Gateway.Tests.Sessions;

/// <summary>The cached record holds its instants as UTC ticks: each reads back as the same instant, an absent one as none.</summary>
public sealed class CachedRecordTests
{
    [Fact]
    public void Each_instant_reads_back_as_the_same_instant_in_UTC_and_an_absent_one_as_none()
    {
        var plus2 = new DateTimeOffset(2026, 12, 7, 10, 30, 15, 123, TimeSpan.FromHours(2)).AddTicks(4567);
        var record = new SessionRecord
        {
            UserId = "u", Method = "oidc", CreatedAt = plus2.AddHours(-1), AbsoluteExpiresAt = plus2.AddHours(8), AccessTokenExpiresAt = plus2.AddMinutes(5),
            AuthenticatedAt = plus2, IssuedAt = plus2.AddSeconds(1),
        };

        var cached = CachedRecord.Of(record);

        Assert.Equal((plus2.AddHours(8).UtcTicks, TimeSpan.Zero), (cached.AbsoluteExpiresAt.UtcTicks, cached.AbsoluteExpiresAt.Offset));
        Assert.Equal(plus2.AddMinutes(5).UtcTicks, cached.AccessTokenExpiresAt!.Value.UtcTicks);
        Assert.Equal(plus2.UtcTicks, cached.AuthenticatedAt!.Value.UtcTicks);
        Assert.Equal(plus2.ToUnixTimeSeconds(), cached.AuthenticatedAt!.Value.ToUnixTimeSeconds());
        Assert.Equal(plus2.AddSeconds(1).UtcTicks, cached.IssuedAt.UtcTicks);

        var bare = CachedRecord.Of(new SessionRecord { UserId = "u", Method = "dev", CreatedAt = plus2, AbsoluteExpiresAt = plus2.AddHours(8) });
        Assert.Null(bare.AccessTokenExpiresAt);
        Assert.Null(bare.AuthenticatedAt);
        // A record from before IssuedAt existed is compared with revoke-all marks by its creation.
        Assert.Equal(plus2.UtcTicks, bare.IssuedAt.UtcTicks);
    }
}
