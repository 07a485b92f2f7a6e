using Gateway.KeyRing;
using Gateway.Sessions;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.Http;

namespace Gateway.Tests.Security;

/// <summary>
/// Revoking the DataProtection keys after a compromise refuses every cookie protected under them at once, also the
/// values the memo of verified cookies remembers for sessions in use: the memo vouches for a value only while the key
/// it verified under is held and not revoked. Before, such a value was served for as long as its session stayed in use.
/// </summary>
public sealed class RevokedCookieKeyTests
{
    [Fact]
    public async Task A_remembered_cookie_under_a_revoked_key_is_refused_at_once_though_its_session_is_cached()
    {
        // Cached for five minutes: a refusal within it comes from the cookie check, not from the cached time running out.
        await using var host = await GatewayHost.StartAsync(new GatewayConfig { PrivateKeyRing = true }.Set("Gateway:Session:CacheDuration", "00:05:00"));
        var sessions = host.Services.GetRequiredService<SessionManager>();
        var cookies = host.Services.GetRequiredService<SessionCookies>();
        var authenticator = host.Services.GetRequiredService<SessionAuthenticator>();
        var cache = host.Services.GetRequiredService<SessionCache>();
        var memo = host.Services.GetRequiredService<VerifiedCookieMemo>();
        var now = DateTimeOffset.UtcNow;

        async Task<(SessionKey Key, string Value, HttpRequest Request)> SignInAsync(string user)
        {
            var key = await sessions.CreateAsync(new SessionRecord
            {
                UserId = user, Roles = ["editor"], CreatedAt = now, AbsoluteExpiresAt = now.AddHours(8), Method = "dev",
            }, default);
            var signIn = new DefaultHttpContext();
            cookies.Append(signIn.Response, key);
            var request = new DefaultHttpContext();
            request.Request.Headers.Cookie = signIn.Response.Headers.SetCookie.ToString().Split(';')[0];
            Assert.NotNull(await authenticator.AuthenticateAsync(request));
            return (key, request.Request.Headers.Cookie.ToString().Split('=', 2)[1], request.Request);
        }

        var inUse = await SignInAsync("in-use");
        var shed = await SignInAsync("shed");
        var shedEntry = cache.Peek(shed.Key)!;
        cache.ShedIdle();
        Assert.True(cache.TryGet(inUse.Key, DateTimeOffset.UtcNow, out _));
        cache.ShedIdle();
        Assert.Equal(CachedSession.Residency.Shed, shedEntry.State);
        Assert.True(memo.TryGet(inUse.Value, out _, out _));
        // A shed session's cookie went from the memo with it: its next request takes the full check anyway.
        Assert.False(memo.TryGet(shed.Value, out _, out _));
        Assert.Equal(inUse.Key, cookies.Read(inUse.Request));

        host.Services.GetRequiredService<IKeyManager>().RevokeAllKeys(DateTimeOffset.UtcNow.AddSeconds(1), "test: compromise");
        // The ring is rebuilt in the background, callers keeping the one they had meanwhile; once it has been, both
        // cookies are refused, though both sessions are still cached and the memo knew both values.
        var keys = host.Services.GetRequiredService<BackgroundRefreshKeyRingProvider>();
        var payload = Base64UrlDecode(inUse.Value);
        await Poll.Until(() => Task.FromResult<object?>(keys.StillUnrevoked(payload) ? null : true));

        Assert.Null(cookies.Read(inUse.Request));
        Assert.Null(cookies.Read(shed.Request));
        Assert.Null(await authenticator.AuthenticateAsync(new DefaultHttpContext { Request = { Headers = { Cookie = inUse.Request.Headers.Cookie } } }));
        Assert.NotNull(cache.Peek(inUse.Key));
        Assert.Same(shedEntry, cache.Peek(shed.Key));
        Assert.False(memo.TryGet(inUse.Value, out _, out _));
        Assert.False(memo.TryGet(shed.Value, out _, out _));
    }

    private static byte[] Base64UrlDecode(string value) => System.Buffers.Text.Base64Url.DecodeFromChars(value);
}
