using Gateway.Configuration;
using Gateway.KeyRing;
using Gateway.Sessions;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace Gateway.Tests.Sessions;

/// <summary>Fast in-process tables for the pure session rules: cookie names, the Cookie header, revocation messages, devices.</summary>
public sealed class SessionRuleTableTests
{
    private static readonly ServiceProvider KeyRing = TestKeyRing.Build();
    private static readonly SessionCookies Cookies = new(Options.Create(new GatewaySessionOptions()), KeyRing.GetRequiredService<IDataProtectionProvider>(),
        KeyRing.GetRequiredService<KeyRingHealth>(), KeyRing.GetRequiredService<BackgroundRefreshKeyRingProvider>(), new VerifiedCookieMemo(100));

    [Theory]
    [InlineData("gw_session", true)]
    [InlineData("GW_SESSION", true)]
    [InlineData("__Host-gw_session", true)]
    [InlineData("__HOST-Gw_Session", true)]
    [InlineData("__Secure-gw_session", true)]
    [InlineData("gw_af", true)]
    [InlineData("__Host-gw_af", true)]
    [InlineData("gw_oidc_corr.abc", true)]
    [InlineData("GW_OIDC_NONCE.x", true)]
    [InlineData(" gw_session ", true)]
    [InlineData("gw_session2", false)]
    [InlineData("my_gw_session", false)]
    [InlineData("connect.sid", false)]
    [InlineData("__Host-theme", false)]
    public void Which_cookie_names_are_the_gateways(string name, bool gateways) =>
        Assert.Equal(gateways, Cookies.IsGatewayCookieName(name));

    [Theory]
    [InlineData("gw_session=x; Path=/", true)]
    [InlineData("__Host-gw_session\t=x; Path=/; Secure", true)]
    [InlineData("=gw_session=x; Path=/", true)]
    [InlineData("=__Host-gw_af=x", true)]
    [InlineData("gw_session", true)]
    [InlineData("cms_pref=gw_session; Path=/", false)]
    [InlineData("=cms_pref=x", false)]
    [InlineData("theme=dark", false)]
    public void Which_upstream_set_cookies_would_set_a_gateway_cookie_in_a_browser(string setCookie, bool gateways) =>
        Assert.Equal(gateways, Cookies.SetsGatewayCookie(setCookie));

    [Theory]
    [InlineData("gw_session=a", 1, "a")]
    [InlineData("gw_session\t=a", 1, "a")]
    [InlineData("theme=dark; gw_session=a; x=y", 1, "a")]
    [InlineData("GW_SESSION=a", 0, "")]
    [InlineData("gw_session=a; gw_session=b", 2, "")]
    [InlineData("gw_session=\"a\"", 1, "a")]
    [InlineData("gw_sessionx=a; xgw_session=b", 0, "")]
    [InlineData("gw_session", 0, "")]
    public void The_cookie_header_is_read_by_exact_name(string header, int count, string value)
    {
        Assert.Equal(count, CookieHeader.Find(new StringValues(header), "gw_session", out var found));
        Assert.Equal(value, found.ToString());
    }

    [Fact]
    public void The_cookie_header_is_read_across_several_header_lines()
    {
        Assert.Equal(2, CookieHeader.Find(new StringValues(["gw_session=a", "gw_session=b"]), "gw_session", out _));
        Assert.Equal(["a", "b"], CookieHeader.All(new StringValues(["gw_session=a", "x=1; gw_session=b"]), "gw_session"));
    }

    [Theory]
    [InlineData("*", true, "", "")]
    [InlineData("0123456789abcdef", false, "0123456789abcdef", "")]
    [InlineData("0123456789abcdef,fedcba9876543210,u:TAG1", false, "0123456789abcdef,fedcba9876543210", "TAG1")]
    public void Revocations_round_trip_between_replicas(string wire, bool all, string hashes, string tags)
    {
        var revocation = SessionRevocation.Decode(wire)!;
        Assert.Equal(all, revocation.All);
        Assert.Equal(hashes, string.Join(",", revocation.SessionHashes));
        Assert.Equal(tags, string.Join(",", revocation.UserTags));
        Assert.Equal(wire, revocation.Encode());
    }

    [Theory]
    [InlineData("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", "Firefox on Linux")]
    [InlineData("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36 Edg/126.0", "Edge on Windows")]
    [InlineData("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", "Safari on iOS")]
    [InlineData("curl/8.5.0", "curl")]
    [InlineData("", "Unknown browser")]
    public void Devices_are_described_coarsely(string userAgent, string expected) =>
        Assert.Equal(expected, DeviceDescription.Of(userAgent));

    [Theory]
    [InlineData("203.0.113.77", "203.0.113.0/24")]
    [InlineData("::ffff:198.51.100.9", "198.51.100.0/24")]
    [InlineData("2001:db8:1234:5678::1", "2001:db8:1234::/48")]
    public void Addresses_are_truncated(string address, string expected) =>
        Assert.Equal(expected, DeviceDescription.Network(IPAddress.Parse(address)));

    [Fact]
    public void Session_keys_never_print_their_secret()
    {
        var key = SessionKey.NewFor("alice");
        var id = key.CookiePayload().Split('.')[1];
        Assert.Equal(43, id.Length);
        Assert.DoesNotContain(id, key.ToString());
        Assert.DoesNotContain(id, key.Handle.Hash);
        Assert.Equal($"session {key.ShortHash}", key.ToString());
        Assert.True(SessionKey.TryParse(key.CookiePayload(), out var parsed));
        Assert.Equal(key, parsed);
        Assert.Equal(key.GetHashCode(), parsed.GetHashCode());
        Assert.NotEqual(key, SessionKey.NewFor("alice"));
    }

    [Fact]
    public void A_session_key_is_the_store_handle_and_tag_it_always_was()
    {
        // Held as bytes now: the handle the store keys a session by must be what the strings gave, or every session
        // signed in before an upgrade would be lost (SHA-256 of the id's base64url spelling; the tag, the first 16
        // characters of the base64url SHA-256 of the user id).
        Assert.True(SessionKey.TryParse("Qp0kZ8n1yvFz3mJr.AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", out var key));
        Assert.Equal("Qp0kZ8n1yvFz3mJr", key.UserTag);
        var expectedHash = System.Buffers.Text.Base64Url.EncodeToString(System.Security.Cryptography.SHA256.HashData("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"u8));
        Assert.Equal(new SessionHandle("Qp0kZ8n1yvFz3mJr", expectedHash), key.Handle);
        Assert.Equal(System.Buffers.Text.Base64Url.EncodeToString(System.Security.Cryptography.SHA256.HashData("alice"u8))[..16], SessionKey.TagFor("alice"));
        Assert.Equal(SessionKey.TagFor("alice"), SessionKey.NewFor("alice").UserTag);
        Assert.Equal("Qp0kZ8n1yvFz3mJr.AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", key.CookiePayload());
    }

    [Theory]
    [InlineData("Qp0kZ8n1yvFz3mJr.AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9", "unused low bits set: the same bytes by a second spelling")]
    [InlineData("Qp0kZ8n1yvFz3mJr.AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "padding")]
    [InlineData("Qp0kZ8n1yvFz3mJr.AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd Hh8", "white space the decoder would skip")]
    [InlineData("Qp0kZ8n1yvFz3mJr.AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd h8", "white space in place of a character, the same length")]
    [InlineData("Qp0kZ8n1yvFz3mJr.AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd.h8", "a second dot inside the id, the same length")]
    [InlineData("Qp0kZ8n1yvFz3mJr.AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh", "one character short")]
    [InlineData("Qp0kZ8n1yvFz3mJrXAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", "no dot")]
    [InlineData("Qp0kZ8n1yvFz3mJr.AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdH+8", "a character outside base64url")]
    [InlineData("Qp0kZ8n1yvFz3m/r.AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", "a tag character outside base64url")]
    [InlineData("", "empty")]
    public void A_session_key_has_exactly_one_spelling(string payload, string why)
    {
        Assert.False(SessionKey.TryParse(payload, out _), why);
    }
}
