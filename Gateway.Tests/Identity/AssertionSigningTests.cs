using System.Security.Cryptography;
using Gateway.Identity;
using Gateway.Sessions;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Gateway.Tests.Identity;

/// <summary>
/// The assertion signer builds each token in buffers its thread reuses and caches each key's encoded header: a token
/// must never carry a byte of the one signed before it on the thread, nor another key's header.
/// </summary>
public sealed class AssertionSigningTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.UtcNow;

    private static (AssertionIssuer Issuer, IdentityOptions Options) Issuer()
    {
        var options = new IdentityOptions();
        var ring = new SigningKeyRing(new InMemorySigningKeyStore(), new EphemeralDataProtectionProvider(), Options.Create(options), TimeProvider.System,
            NullLogger<SigningKeyRing>.Instance);
        return (new AssertionIssuer(ring, Options.Create(options), TimeProvider.System), options);
    }

    private static SigningKey NewKey(string kid)
    {
        var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var p = ecdsa.ExportParameters(false);
        return new SigningKey(kid, Now.AddMinutes(-1), ecdsa, Base64UrlEncoder.Encode(p.Q.X), Base64UrlEncoder.Encode(p.Q.Y));
    }

    private static CachedSession Session(string user, string? name, string[] roles) => new(SessionKey.NewFor(user), new SessionRecord
    {
        UserId = user, Email = $"{user}@example.test", Name = name, Roles = [.. roles], CreatedAt = Now, AbsoluteExpiresAt = Now.AddHours(8), Method = "dev",
    }, Now, Now.AddSeconds(30));

    private static async Task<JsonWebToken> ValidAsync(string token, SigningKey key, IdentityOptions options, string audience)
    {
        var result = await new JsonWebTokenHandler().ValidateTokenAsync(token, new TokenValidationParameters
        {
            ValidIssuer = options.AssertionIssuer, ValidAudience = audience, ValidAlgorithms = ["ES256"],
            IssuerSigningKey = new ECDsaSecurityKey(key.Algorithm) { KeyId = key.Kid },
        });
        Assert.True(result.IsValid, result.Exception?.Message);
        return (JsonWebToken)result.SecurityToken;
    }

    [Fact]
    public async Task A_short_token_signed_after_a_long_one_on_the_same_thread_carries_only_its_own_claims()
    {
        var (issuer, options) = Issuer();
        var key = NewKey("k1");
        // 300 roles: a payload several times the buffers' first size, so they grow, then a short one reuses them.
        var manyRoles = Enumerable.Range(0, 300).Select(i => $"group-{i:D4}-with-a-long-name").ToArray();
        var long1 = issuer.Sign(key, Session("long-user", "Lóng \"Náme\" <script>", manyRoles), "cms", Now);
        var short1 = issuer.Sign(key, Session("s", null, []), "cms", Now);

        var big = await ValidAsync(long1, key, options, "cms");
        Assert.Equal("long-user", big.Subject);
        Assert.Equal("Lóng \"Náme\" <script>", big.GetClaim("name").Value);
        Assert.Equal(manyRoles, big.Claims.Where(c => c.Type == "roles").Select(c => c.Value));

        var small = await ValidAsync(short1, key, options, "cms");
        Assert.Equal("s", small.Subject);
        Assert.False(small.TryGetClaim("name", out _));
        Assert.DoesNotContain(small.Claims, c => c.Type == "roles");
        Assert.True(short1.Length < long1.Length / 10, $"the short token is {short1.Length} characters after one of {long1.Length}");
    }

    [Fact]
    public async Task Each_token_carries_the_header_of_the_key_that_signed_it_when_keys_alternate()
    {
        var (issuer, options) = Issuer();
        var (first, second) = (NewKey("kid-first"), NewKey("kid-second-longer"));
        var session = Session("alice", "Alice", ["editor"]);
        foreach (var key in new[] { first, second, first, second })
        {
            var token = await ValidAsync(issuer.Sign(key, session, "cms", Now), key, options, "cms");
            Assert.Equal(key.Kid, token.Kid);
            Assert.Equal("ES256", token.Alg);
            Assert.Equal("JWT", token.Typ);
        }
        // Signed by one key, it does not verify under the other.
        var byFirst = issuer.Sign(first, session, "cms", Now);
        var underSecond = await new JsonWebTokenHandler().ValidateTokenAsync(byFirst, new TokenValidationParameters
        {
            ValidIssuer = options.AssertionIssuer, ValidAudience = "cms", ValidAlgorithms = ["ES256"],
            IssuerSigningKey = new ECDsaSecurityKey(second.Algorithm) { KeyId = first.Kid },
        });
        Assert.False(underSecond.IsValid);
    }

    [Fact]
    public async Task Tokens_signed_on_many_threads_at_once_each_verify_and_name_their_own_session()
    {
        var (issuer, options) = Issuer();
        var key = NewKey("k1");
        var sessions = Enumerable.Range(0, 64).Select(i => Session($"user-{i}", new string('n', i * 7), Enumerable.Range(0, i).Select(r => $"role{r}").ToArray())).ToArray();
        var tokens = await Task.WhenAll(sessions.Select(s => Task.Run(() => issuer.Sign(key, s, "cms", Now))));
        var ids = new HashSet<string>();
        for (var i = 0; i < sessions.Length; i++)
        {
            var token = await ValidAsync(tokens[i], key, options, "cms");
            Assert.Equal($"user-{i}", token.Subject);
            Assert.Equal(sessions[i].ShortHash, token.GetClaim("sid_hash").Value);
            Assert.Equal(i, token.Claims.Count(c => c.Type == "roles"));
            Assert.True(ids.Add(token.Id), "each token has its own jti");
        }
    }

    [Fact]
    public async Task A_key_that_is_not_P256_fails_its_token_and_the_next_token_on_the_thread_is_whole()
    {
        var (issuer, options) = Issuer();
        var key = NewKey("k1");
        // A P-384 key cannot make an ES256 signature: refused after the payload is written and the token half built.
        var p384 = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        var wrong = new SigningKey("k384", Now.AddMinutes(-1), p384, "x", "y");
        var refused = Assert.Throws<CryptographicException>(() => issuer.Sign(wrong, Session("broken", "Broken", ["admin"]), "cms", Now));
        Assert.Contains("k384", refused.Message);
        var token = await ValidAsync(issuer.Sign(key, Session("whole", "Whole", ["viewer"]), "cms", Now), key, options, "cms");
        Assert.Equal("whole", token.Subject);
        Assert.Equal("Whole", token.GetClaim("name").Value);
        Assert.Equal("viewer", token.GetClaim("roles").Value);
        Assert.Equal("k1", token.Kid);
    }

    [Fact]
    public async Task An_outsized_token_is_signed_whole_and_the_tokens_after_it_are_too()
    {
        var (issuer, options) = Issuer();
        var key = NewKey("k1");
        // Thousands of provider groups: past what a thread keeps its buffers at.
        var groups = Enumerable.Range(0, 3000).Select(i => $"provider-group-{i:D5}").ToArray();
        var outsized = await ValidAsync(issuer.Sign(key, Session("many", "Many", groups), "cms", Now), key, options, "cms");
        Assert.Equal(groups.Length, outsized.Claims.Count(c => c.Type == "roles"));
        for (var i = 0; i < 3; i++)
        {
            var after = await ValidAsync(issuer.Sign(key, Session($"after-{i}", null, ["editor"]), "cms", Now), key, options, "cms");
            Assert.Equal($"after-{i}", after.Subject);
            Assert.Equal("editor", after.GetClaim("roles").Value);
        }
    }

    [Fact]
    public async Task Threads_signing_with_two_keys_at_once_each_put_their_own_key_s_kid_in_the_header()
    {
        var (issuer, options) = Issuer();
        var keys = new[] { NewKey("kid-a"), NewKey("kid-b-rotated") };
        var session = Session("alice", "Alice", ["editor"]);
        var signed = new System.Collections.Concurrent.ConcurrentBag<(SigningKey Key, string Token)>();
        // Two threads (the machine's cores), each turning between the keys, so the header cache changes hands under them.
        var threads = Enumerable.Range(0, 2).Select(t => new Thread(() =>
        {
            for (var i = 0; i < 400; i++)
            {
                var key = keys[(i + t) % 2];
                signed.Add((key, issuer.Sign(key, session, "cms", Now)));
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.Equal(800, signed.Count);
        foreach (var (key, token) in signed) Assert.Equal(key.Kid, (await ValidAsync(token, key, options, "cms")).Kid);
    }

    [Fact]
    public async Task The_issuer_reuses_a_session_s_assertion_for_its_audience_and_signs_anew_for_another()
    {
        var (issuer, options) = Issuer();
        var session = Session("alice", "Alice", ["editor"]);
        var first = await issuer.GetAsync(session, "cms", CancellationToken.None);
        Assert.Same(first, await issuer.GetAsync(session, "cms", CancellationToken.None));
        var other = await issuer.GetAsync(session, "reports", CancellationToken.None);
        Assert.NotEqual(first, other);
        Assert.Equal("reports", new JsonWebToken(other).Audiences.Single());
        Assert.Equal(options.AssertionIssuer, new JsonWebToken(first).Issuer);
    }
}
