using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Gateway.Configuration;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Options;

using Gateway.Security;

namespace Gateway.Sessions;

/// <summary>
/// The gateway's cookie: it carries only the protected session key. HttpOnly, SameSite=Lax,
/// Path=/, Secure with the <c>__Host-</c> prefix on https (<c>__Secure-</c> when a domain is set).
/// The scheme comes from the connection, or from X-Forwarded-Proto of trusted proxies only.
/// </summary>
internal sealed class SessionCookies
{
    private const int MaxCookieLength = VerifiedCookieMemo.MaxValueLength;
    private static readonly System.Buffers.SearchValues<char> Base64UrlCharacters =
        System.Buffers.SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");

    private readonly VerifiedCookieMemo _verified;
    private readonly IDataProtector _protector;
    private readonly GatewaySessionOptions _options;
    private readonly string _httpsName;
    private readonly KeyRing.KeyRingHealth _keyRing;
    private readonly KeyRing.BackgroundRefreshKeyRingProvider _keys;

    public SessionCookies(IOptions<GatewaySessionOptions> options, IDataProtectionProvider dataProtection, KeyRing.KeyRingHealth keyRing,
        KeyRing.BackgroundRefreshKeyRingProvider keys, VerifiedCookieMemo verified)
    {
        _keys = keys;
        _options = options.Value;
        _verified = verified;
        _protector = dataProtection.CreateProtector("Gateway.SessionCookie.v1");
        _httpsName = (_options.CookieDomain is null ? GatewayCookieNames.HostPrefix : GatewayCookieNames.SecurePrefix) + _options.CookieName;
        _keyRing = keyRing;
    }

    public string NameFor(HttpRequest request) => NameFor(request.IsHttps);

    public string NameFor(bool https) => https ? _httpsName : _options.CookieName;

    /// <summary>Whether sessions are bound to this host by <see cref="GatewayCookieNames.Binding"/> (only with a cookie domain).</summary>
    public bool BindsToHost => _options.CookieDomain is not null;

    private static string BindingNameFor(HttpRequest request) => GatewayCookieNames.HostOnly(GatewayCookieNames.Binding, request.IsHttps);

    /// <summary>A new binding: the companion cookie is set on <paramref name="response"/>; the record keeps the returned hash.</summary>
    public string? Bind(HttpResponse response)
    {
        if (NewBinding() is not var (token, hash)) return null;
        AppendBinding(response, token);
        return hash;
    }

    /// <summary>A new binding token and the hash the record keeps, or null without a cookie domain.</summary>
    public (string Token, string Hash)? NewBinding()
    {
        if (!BindsToHost) return null;
        var token = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
        return (token, BindingHash(token));
    }

    public static void AppendBinding(HttpResponse response, string token) =>
        response.Cookies.Append(BindingNameFor(response.HttpContext.Request), token, BindingOptions(response.HttpContext.Request));

    /// <summary>Host-only by construction: no Domain, ever (the point of the companion).</summary>
    private static CookieOptions BindingOptions(HttpRequest request) => new()
    {
        HttpOnly = true, SameSite = SameSiteMode.Lax, Path = "/", Secure = request.IsHttps, IsEssential = true,
    };

    /// <summary>
    /// Whether the request carries exactly one companion cookie and it is the one <paramref name="record"/> was bound to
    /// (always true without a cookie domain). A session without a binding is refused when bindings are on.
    /// </summary>
    public bool IsBound(HttpRequest request, CachedRecord record)
    {
        if (!BindsToHost) return true;
        if (record.BindingHash is not { } expected) return false;
        if (CookieHeader.Find(request.Headers.Cookie, BindingNameFor(request), out var token) != 1 || token.Length > 64) return false;
        return CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(BindingHash(token.ToString())), Encoding.ASCII.GetBytes(expected));
    }

    public void ExpireBinding(HttpResponse response)
    {
        if (!BindsToHost) return;
        var request = response.HttpContext.Request;
        var options = BindingOptions(request);
        options.Expires = DateTimeOffset.UnixEpoch;
        options.MaxAge = TimeSpan.Zero;
        response.Cookies.Append(BindingNameFor(request), "", options);
    }

    private static string BindingHash(string token) => Base64Url.EncodeToString(SHA256.HashData(Encoding.ASCII.GetBytes(token)));

    /// <summary>
    /// Whether a cookie name is, in any case and with or without a <c>__Host-</c>/<c>__Secure-</c> prefix, one of the
    /// gateway's: such a cookie never reaches the upstream and an upstream may never set one.
    /// </summary>
    public bool IsGatewayCookieName(ReadOnlySpan<char> name) => GatewayCookieNames.IsGatewayCookie(name.Trim(CookieHeader.Whitespace), _options.CookieName);

    /// <summary>
    /// Whether an upstream <c>Set-Cookie</c> would set one of the gateway's cookies in a browser: its name as a browser
    /// reads it (space and tab trimmed), and for a nameless cookie (<c>=gw_session=x</c>, which browsers store as a
    /// cookie named by its value's first part) that part.
    /// </summary>
    public bool SetsGatewayCookie(string setCookie)
    {
        var pair = setCookie.AsSpan();
        var semicolon = pair.IndexOf(';');
        if (semicolon >= 0) pair = pair[..semicolon];
        var eq = pair.IndexOf('=');
        if (eq < 0) return IsGatewayCookieName(pair);
        var name = pair[..eq].Trim(CookieHeader.Whitespace);
        if (!name.IsEmpty) return IsGatewayCookieName(name);
        var value = pair[(eq + 1)..];
        var inner = value.IndexOf('=');
        return IsGatewayCookieName(inner < 0 ? value : value[..inner]);
    }

    /// <summary>
    /// The session key, or null for a missing, tampered, truncated or foreign cookie, and when the request carries
    /// the session cookie more than once: a second copy can only have been planted (a sibling subdomain on http, a
    /// script), and neither copy is allowed to decide who the request is.
    /// </summary>
    public SessionKey? Read(HttpRequest request) => Read(request, out _, out _);

    /// <summary>
    /// <see cref="Read(HttpRequest)"/>, also telling whether the session cookie was there at all (one parse of the
    /// header), and the value as the memo of verified cookies holds it (<see cref="CachedSession.NoteCookie"/>).
    /// </summary>
    public SessionKey? Read(HttpRequest request, out bool present, out CookieDigest? remembered)
    {
        remembered = null;
        var copies = CookieHeader.Find(request.Headers.Cookie, NameFor(request), out var value);
        present = copies > 0;
        return copies == 1 ? Verify(value, out remembered) : null;
    }

    /// <summary>Every session cookie the request carries that verifies: logout and a new login end all of them.</summary>
    public List<SessionKey> ReadAll(HttpRequest request)
    {
        var keys = new List<SessionKey>();
        foreach (var value in CookieHeader.All(request.Headers.Cookie, NameFor(request)))
            if (Verify(value, out _) is { } key && !keys.Contains(key)) keys.Add(key);
        return keys;
    }

    private SessionKey? Verify(ReadOnlySpan<char> value, out CookieDigest? remembered)
    {
        remembered = null;
        if (value.IsEmpty || value.Length > MaxCookieLength) return null;
        if (_verified.TryGet(value, out var known, out remembered))
        {
            if (_keys.StillUnrevoked(remembered!.KeyId)) return known;
            // Its key was revoked (a compromise) or is gone since it verified: the memo no longer vouches for it, and
            // the full check below refuses it.
            _verified.Forget(remembered);
            remembered = null;
        }
        // The decoder skips white space and padding: without this, one valid cookie would have endless spellings.
        if (value.ContainsAnyExcept(Base64UrlCharacters)) return null;
        try
        {
            var bytes = Base64Url.DecodeFromChars(value);
            if (!_keys.MayHold(bytes, out var keyId)) return null;
            var plain = _protector.Unprotect(bytes);
            if (plain.Length != SessionKey.PayloadLength) return null;
            Span<char> payload = stackalloc char[SessionKey.PayloadLength];
            Encoding.ASCII.GetChars(plain, payload);
            if (!SessionKey.TryParse(payload, out var key)) return null;
            remembered = _verified.Remember(value, key, keyId);
            return key;
        }
        catch (FormatException)
        {
            return null;
        }
        catch (CryptographicException) when (!_keyRing.Usable)
        {
            // The ring could not be read: the cookie may well be valid. Fail closed, never anonymous-as-forged.
            throw new StoreUnavailableException("the DataProtection key ring could not be loaded");
        }
        catch (CryptographicException)
        {
            return null;
        }
    }

    public void Append(HttpResponse response, SessionKey key) =>
        response.Cookies.Append(NameFor(response.HttpContext.Request), Protect(key), CookieOptions(response.HttpContext.Request));

    /// <summary>The cookie value for <paramref name="key"/>: a secret, like the key it carries.</summary>
    public string Protect(SessionKey key) => Base64Url.EncodeToString(_protector.Protect(Encoding.ASCII.GetBytes(key.CookiePayload())));

    /// <summary>Expires the cookie with exactly the attributes it was set with, so the browser really drops it.</summary>
    public void Expire(HttpResponse response)
    {
        var cookieOptions = CookieOptions(response.HttpContext.Request);
        cookieOptions.Expires = DateTimeOffset.UnixEpoch;
        cookieOptions.MaxAge = TimeSpan.Zero;
        response.Cookies.Append(NameFor(response.HttpContext.Request), "", cookieOptions);
    }

    private CookieOptions CookieOptions(HttpRequest request) => new()
    {
        HttpOnly = true,
        SameSite = SameSiteMode.Lax,
        Path = "/",
        Secure = request.IsHttps,
        Domain = request.IsHttps ? _options.CookieDomain : null,
        IsEssential = true,
    };
}
