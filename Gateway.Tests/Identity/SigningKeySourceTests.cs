using System.Security.Cryptography;
using Gateway.Configuration;
using Gateway.Identity;

namespace Gateway.Tests.Identity;

/// <summary>Where assertion signing keys come from, and that a verifier always holds a key before it signs.</summary>
public sealed class SigningKeySourceTests(SharedRedis redis)
{
    [Fact]
    public async Task Keys_lost_from_the_store_are_replaced_by_a_key_published_before_it_signs()
    {
        var clock = new FakeClock();
        var config = new GatewayConfig().WithRedis(redis.Configuration);
        await using var gateway = await GatewayHost.StartAsync(config, clock);
        var ring = gateway.Services.GetRequiredService<SigningKeyRing>();
        var old = await ring.CurrentAsync(default);

        // A flushed Redis: the stored keys are gone while this replica still holds its ring.
        using (var mux = await redis.Server.ConnectAsync())
            await mux.GetDatabase().KeyDeleteAsync(config.Settings["Gateway:Redis:KeyPrefix"] + "signing-keys");
        await ring.RefreshAsync(default);
        Assert.Equal(old.Kid, (await ring.CurrentAsync(default)).Kid);
        var published = (await ring.PublishedAsync(default)).Select(k => k.Kid).ToList();
        Assert.Equal(2, published.Count);
        var replacement = published.Single(k => k != old.Kid);

        // Once every verifier's cached JWKS has expired, the replacement signs; the old key stays published for the overlap.
        clock.Advance(ring.JwksCacheTime + TimeSpan.FromSeconds(1));
        await ring.RefreshAsync(default);
        Assert.Equal(replacement, (await ring.CurrentAsync(default)).Kid);
        Assert.Contains(old.Kid, (await ring.PublishedAsync(default)).Select(k => k.Kid));
    }

    [Theory]
    [InlineData("00:02:00", "public, max-age=120")]
    [InlineData("01:00:00", "public, max-age=300")]
    public async Task The_jwks_cache_time_never_exceeds_the_overlap(string overlap, string expected)
    {
        await using var gateway = await GatewayHost.StartAsync(new GatewayConfig().Set("Gateway:Identity:SigningKeyOverlap", overlap));
        using var browser = gateway.Browser();
        var response = await browser.Http.GetAsync("/.well-known/jwks.json");
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}\n{gateway.Logs.All}");
        Assert.Equal(expected, response.Headers.CacheControl!.ToString());
    }

    [Fact]
    public async Task A_signing_key_from_a_secret_signs_verifiable_assertions_and_nothing_is_stored_for_it()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var pem = key.ExportPkcs8PrivateKeyPem();
        await using var rig = await CmsRig.StartAsync(redis.Configuration, c => c.Set("Gateway:Identity:SigningKeys:0:Pem", pem));
        using var browser = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        var seen = await browser.Http.GetFromJsonAsync<JsonElement>("/admin/whoami");
        Assert.True(seen.GetProperty("identity").GetProperty("verified").GetBoolean(), seen.GetProperty("identity").ToString());

        var jwks = await browser.Http.GetFromJsonAsync<JsonElement>("/.well-known/jwks.json");
        var published = Assert.Single(jwks.GetProperty("keys").EnumerateArray());
        Assert.Equal(System.Buffers.Text.Base64Url.EncodeToString(key.ExportParameters(false).Q.X), published.GetProperty("x").GetString());
        using var mux = await redis.Server.ConnectAsync();
        Assert.False(await mux.GetDatabase().KeyExistsAsync(rig.KeyPrefix + "signing-keys"));
    }

    [Theory]
    [InlineData("not a pem")]
    [InlineData("rsa")]
    public async Task A_signing_key_that_is_not_an_ec_p256_private_key_stops_startup_naming_the_setting(string kind)
    {
        using var rsa = RSA.Create(2048);
        var pem = kind == "rsa" ? rsa.ExportPkcs8PrivateKeyPem() : kind;
        var ex = await Assert.ThrowsAsync<GatewayStartupException>(() => GatewayHost.PrepareOnlyAsync(new GatewayConfig().Set("Gateway:Identity:SigningKeys:0:Pem", pem)));
        Assert.Contains("Gateway:Identity:SigningKeys:0:Pem: must be the PEM of an EC P-256 private key", ex.Message);
    }
}
