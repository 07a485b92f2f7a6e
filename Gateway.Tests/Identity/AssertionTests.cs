using Gateway.Identity;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Gateway.Tests.Identity;

public sealed class AssertionTests(SharedRedis redis)
{
    [Fact]
    public async Task The_assertion_verifies_with_the_jwks_and_carries_the_documented_claims()
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        using var browser = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        var first = (await browser.Http.GetFromJsonAsync<JsonElement>("/admin/whoami")).GetProperty("headers").GetProperty("x-auth-assertion").GetString()!;
        var second = (await browser.Http.GetFromJsonAsync<JsonElement>("/admin/whoami")).GetProperty("headers").GetProperty("x-auth-assertion").GetString()!;
        Assert.Equal(first, second);

        var jwks = new JsonWebKeySet(await browser.Http.GetStringAsync("/.well-known/jwks.json"));
        var result = await new JsonWebTokenHandler().ValidateTokenAsync(first, new TokenValidationParameters
        {
            ValidIssuer = "gateway", ValidAudience = "cms", IssuerSigningKeys = jwks.GetSigningKeys(), ValidAlgorithms = ["ES256"],
        });
        Assert.True(result.IsValid, result.Exception?.Message);
        var token = (JsonWebToken)result.SecurityToken;
        Assert.Equal("alice", token.Subject);
        Assert.Equal("alice@example.test", token.GetClaim("email").Value);
        Assert.Equal("editor", token.GetClaim("roles").Value);
        Assert.Matches("^[0-9a-f]{16}$", token.GetClaim("sid_hash").Value);
        Assert.NotEmpty(token.Id);
        Assert.NotEmpty(token.Kid);
        Assert.InRange((token.ValidTo - token.IssuedAt).TotalSeconds, 60, 300);
    }

    [Fact]
    public async Task Keys_rotate_with_overlap_new_key_published_before_it_signs_old_key_kept_after()
    {
        var clock = new FakeClock();
        await using var gateway = await GatewayHost.StartAsync(new GatewayConfig()
            .Set("Gateway:Identity:SigningKeyRotation", "1.00:00:00").Set("Gateway:Identity:SigningKeyOverlap", "01:00:00"), clock);
        var ring = gateway.Services.GetRequiredService<SigningKeyRing>();
        var first = await ring.CurrentAsync(default);
        Assert.Equal([first.Kid], (await ring.PublishedAsync(default)).Select(k => k.Kid));

        clock.Advance(TimeSpan.FromHours(23.5));
        await ring.RefreshAsync(default);
        var published = (await ring.PublishedAsync(default)).Select(k => k.Kid).ToList();
        Assert.Equal(2, published.Count);
        Assert.Equal(first.Kid, (await ring.CurrentAsync(default)).Kid);
        var next = published.Single(k => k != first.Kid);

        // Created at 23.5 h, it signs one overlap later (24.5 h).
        clock.Advance(TimeSpan.FromMinutes(61));
        await ring.RefreshAsync(default);
        Assert.Equal(next, (await ring.CurrentAsync(default)).Kid);
        Assert.Contains(first.Kid, (await ring.PublishedAsync(default)).Select(k => k.Kid));

        clock.Advance(TimeSpan.FromMinutes(61));
        await ring.RefreshAsync(default);
        Assert.Equal([next], (await ring.PublishedAsync(default)).Select(k => k.Kid));
    }

    [Fact]
    public async Task Replicas_on_one_redis_share_signing_keys()
    {
        var config = new GatewayConfig().WithRedis(redis.Configuration);
        await using var a = await GatewayHost.StartAsync(config);
        await using var b = await GatewayHost.StartAsync(config);
        var keyA = await a.Services.GetRequiredService<SigningKeyRing>().CurrentAsync(default);
        await b.Services.GetRequiredService<SigningKeyRing>().RefreshAsync(default);
        var keyB = await b.Services.GetRequiredService<SigningKeyRing>().CurrentAsync(default);
        Assert.Equal(keyA.Kid, keyB.Kid);
    }

    public static TheoryData<string, string> HeaderValues => new()
    {
        { "alice", "alice" },
        { "José Łukasz", "Jos%C3%A9 %C5%81ukasz" },
        { "Eve\r\nX-Auth-Roles: admin", "Eve%0D%0AX-Auth-Roles: admin" },
        { "tab\there\0nul\u007f", "tab%09here%00nul%7F" },
        { "100%", "100%25" },
        { "emoji 😀", "emoji %F0%9F%98%80" },
    };

    [Theory]
    [MemberData(nameof(HeaderValues))]
    public void Header_values_never_carry_control_characters_and_non_ascii_is_percent_encoded(string claim, string header)
    {
        var encoded = HeaderValueEncoder.Encode(claim);
        Assert.Equal(header, encoded);
        Assert.Equal(claim, Uri.UnescapeDataString(encoded));
    }

    [Fact]
    public void Very_long_values_are_cut_without_splitting_an_escape()
    {
        var encoded = HeaderValueEncoder.Encode(new string('é', 2000));
        Assert.True(encoded.Length <= HeaderValueEncoder.MaxLength);
        Assert.Matches("^(%C3%A9)+$", encoded);
    }
}
