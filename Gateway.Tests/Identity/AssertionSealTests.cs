using System.Diagnostics.Metrics;
using Gateway.Identity;
using Gateway.Observability;
using Gateway.Sessions;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Gateway.Tests.Identity;

/// <summary>
/// A shed session keeps a seal of its assertion (signature, iat, jti, the hash of what was signed) instead of the token:
/// woken while the assertion is good, it gets the very same token spelled out again without signing. The seal serves
/// only the audience and key it was made for, only until the assertion is due anew, and never a spelling it does not
/// cover.
/// </summary>
public sealed class AssertionSealTests : IDisposable
{
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly FakeClock _clock = new(DateTimeOffset.UtcNow);
    private readonly MetricsRecorder _metrics;
    // One for every issuer a test makes: a second instance on the same meter would not be the one read.
    private readonly GatewayMetrics _gatewayMetrics;

    public AssertionSealTests()
    {
        _metrics = new MetricsRecorder(_services, "gateway.assertions");
        _gatewayMetrics = new GatewayMetrics(_services.GetRequiredService<IMeterFactory>());
    }

    public void Dispose()
    {
        _metrics.Dispose();
        _services.Dispose();
    }

    private (AssertionIssuer Issuer, SigningKeyRing Ring) Issuer(string issuer = "gateway")
    {
        var options = new IdentityOptions { AssertionIssuer = issuer };
        var ring = new SigningKeyRing(new InMemorySigningKeyStore(), new EphemeralDataProtectionProvider(), Options.Create(options), _clock,
            NullLogger<SigningKeyRing>.Instance);
        return (new AssertionIssuer(ring, Options.Create(options), _clock, _gatewayMetrics), ring);
    }

    private CachedSession Session()
    {
        var now = _clock.GetUtcNow();
        return new CachedSession(SessionKey.NewFor("alice"), new SessionRecord
        {
            UserId = "alice", Email = "alice@example.org", Name = "Alice Ä \"Q\"", Roles = ["editor", "staff"], CreatedAt = now,
            AbsoluteExpiresAt = now.AddHours(8), AuthenticatedAt = now, Acr = "mfa", Method = "oidc",
        }, now, now.AddSeconds(30));
    }

    /// <summary>Sheds <paramref name="session"/> the way the cache does: read, then two looks without a read.</summary>
    private void Shed(CachedSession session)
    {
        session.MarkUsed();
        Assert.True(session.TryMarkIdle());
        Assert.True(session.TryShed(_clock.GetUtcNow(), out _));
    }

    /// <summary>The token, checked as an upstream checks it (the test clock's time aside) against the ring's current key.</summary>
    private static async Task<JsonWebToken> ValidAsync(string token, SigningKeyRing ring, string issuer)
    {
        var key = await ring.CurrentAsync(default);
        var result = await new JsonWebTokenHandler().ValidateTokenAsync(token, new TokenValidationParameters
        {
            ValidIssuer = issuer, ValidAudience = "cms", ValidAlgorithms = ["ES256"],
            IssuerSigningKey = new ECDsaSecurityKey(key.Algorithm) { KeyId = key.Kid }, LifetimeValidator = (_, _, _, _) => true,
        });
        Assert.True(result.IsValid, result.Exception?.Message);
        return (JsonWebToken)result.SecurityToken;
    }

    private long Count(string result) => _metrics.Sum("gateway.assertions", $"result={result}");

    [Fact]
    public async Task A_woken_session_gets_its_very_token_spelled_out_again_without_a_signature()
    {
        var (issuer, ring) = Issuer();
        var session = Session();
        var signed = await issuer.GetAsync(session, "cms", default);
        Shed(session);
        Assert.Null(session.Assertion);
        Assert.NotNull(session.Seal);

        _clock.Advance(TimeSpan.FromSeconds(20));
        var woken = await issuer.GetAsync(session, "cms", default);

        Assert.Equal(signed, woken);
        Assert.NotSame(signed, woken);
        Assert.Equal((1, 1, 0), (Count("signed"), Count("respelled"), Count("seal_mismatch")));
        // Held as a token again, the seal is let go: an entry in use holds one or the other.
        Assert.Null(session.Seal);
        Assert.Same(woken, await issuer.GetAsync(session, "cms", default));
        var valid = await ValidAsync(woken, ring, "gateway");
        Assert.Equal("Alice Ä \"Q\"", valid.GetClaim("name").Value);
    }

    [Fact]
    public async Task A_seal_past_its_refresh_time_is_not_kept_nor_used_and_the_woken_session_signs_anew()
    {
        var (issuer, _) = Issuer();
        var session = Session();
        var first = await issuer.GetAsync(session, "cms", default);
        // Past two thirds of the 120-s lifetime the assertion is due anew: shed then, nothing is kept of it.
        _clock.Advance(TimeSpan.FromSeconds(81));
        Shed(session);
        Assert.Null(session.Seal);
        var second = await issuer.GetAsync(session, "cms", default);
        Assert.NotEqual(first, second);

        // Shed while good, woken after: the seal is there but no longer serves.
        Shed(session);
        Assert.NotNull(session.Seal);
        _clock.Advance(TimeSpan.FromSeconds(81));
        var third = await issuer.GetAsync(session, "cms", default);
        Assert.NotEqual(second, third);
        Assert.Equal((3, 0), (Count("signed"), Count("respelled")));
        Assert.Equal(new JsonWebToken(second).IssuedAt.AddSeconds(81), new JsonWebToken(third).IssuedAt);
    }

    [Fact]
    public async Task A_seal_serves_only_the_audience_and_the_key_it_was_signed_for()
    {
        var (issuer, _) = Issuer();
        var session = Session();
        var forCms = await issuer.GetAsync(session, "cms", default);
        Shed(session);
        var forApi = await issuer.GetAsync(session, "api", default);
        Assert.Equal("api", new JsonWebToken(forApi).Audiences.Single());
        Assert.Equal((2, 0), (Count("signed"), Count("respelled")));

        // Another ring (a key rotated in): its key signs, whatever the session kept.
        var (rotated, ring) = Issuer();
        Shed(session);
        Assert.NotNull(session.Seal);
        var afterRotation = await rotated.GetAsync(session, "api", default);
        Assert.Equal((await ring.CurrentAsync(default)).Kid, new JsonWebToken(afterRotation).Kid);
        Assert.NotEqual(new JsonWebToken(forCms).Kid, new JsonWebToken(afterRotation).Kid);
        Assert.Equal((3, 0), (Count("signed"), Count("respelled")));
    }

    [Fact]
    public async Task A_seal_that_does_not_cover_its_spelling_is_never_sent_and_the_session_signs_anew()
    {
        // Two issuers on one key ring that spell the claims differently (their iss): the second's spelling of the
        // first's seal hashes to something else than the signature covers.
        var options = new IdentityOptions { AssertionIssuer = "gateway-a" };
        var ring = new SigningKeyRing(new InMemorySigningKeyStore(), new EphemeralDataProtectionProvider(), Options.Create(options), _clock,
            NullLogger<SigningKeyRing>.Instance);
        var a = new AssertionIssuer(ring, Options.Create(options), _clock, _gatewayMetrics);
        var b = new AssertionIssuer(ring, Options.Create(new IdentityOptions { AssertionIssuer = "gateway-b" }), _clock, _gatewayMetrics);
        var session = Session();
        var fromA = await a.GetAsync(session, "cms", default);
        Shed(session);

        var fromB = await b.GetAsync(session, "cms", default);

        Assert.Equal("gateway-b", new JsonWebToken(fromB).Issuer);
        Assert.NotEqual(new JsonWebToken(fromA).Id, new JsonWebToken(fromB).Id);
        await ValidAsync(fromB, ring, "gateway-b");
        Assert.Equal((2, 0, 1), (Count("signed"), Count("respelled"), Count("seal_mismatch")));
    }

    [Theory]
    [InlineData("assertion")]
    [InlineData("a.b")]
    [InlineData("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2hvcnQ")]
    [InlineData("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.AAAA AAAA")]
    [InlineData("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    public void Nothing_is_kept_of_a_token_that_is_not_three_parts_with_a_P256_signature(string token)
    {
        var now = _clock.GetUtcNow();
        Assert.Null(AssertionSeal.Of(new SignedAssertion("cms", "kid", token, now.AddMinutes(1)), now));
    }

    [Fact]
    public async Task Sessions_woken_on_many_threads_at_once_each_get_their_own_token_back()
    {
        var (issuer, _) = Issuer();
        var sessions = Enumerable.Range(0, 64).Select(_ => Session()).ToArray();
        var signed = await Task.WhenAll(sessions.Select(s => issuer.GetAsync(s, "cms", default).AsTask()));
        foreach (var session in sessions) Shed(session);

        var woken = await Task.WhenAll(sessions.Select(s => Task.Run(async () => await issuer.GetAsync(s, "cms", default))));

        Assert.Equal(signed, woken);
        Assert.Equal(64, signed.Distinct().Count());
        Assert.Equal((64, 64, 0), (Count("signed"), Count("respelled"), Count("seal_mismatch")));
    }
}
