using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Gateway.Configuration;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Options;

namespace Gateway.Sessions;

/// <summary>
/// The gateway's cookie: it carries only the protected session key. HttpOnly, SameSite=Lax,
/// Path=/, Secure with the <c>__Host-</c> prefix on https (<c>__Secure-</c> when a domain is set).
/// The scheme comes from the connection, or from X-Forwarded-Proto of trusted proxies only.
/// </summary>
internal sealed class SessionCookies(IOptions<GatewayOptions> options, IDataProtectionProvider dataProtection)
{
    private const int MaxCookieLength = 512;

    // Unprotect derives subkeys, decrypts and checks a MAC: tens of microseconds on every request. A cookie
    // value that verified once maps to the same key forever, so remember it (bounded). Only values that
    // verified are remembered; a tampered value always takes the full check. Revocation is unaffected:
    // the key is still resolved through the session cache and store on every request.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, SessionKey> _verified = new(StringComparer.Ordinal);
    private readonly int _maxVerified = Math.Max(1, options.Value.Session.CacheMaxEntries);
    private readonly IDataProtector _protector = dataProtection.CreateProtector("Gateway.SessionCookie.v1");
    private readonly GatewaySessionOptions _options = options.Value.Session;
    private readonly string _httpsName = (options.Value.Session.CookieDomain is null ? "__Host-" : "__Secure-") + options.Value.Session.CookieName;

    public string NameFor(HttpRequest request) => request.IsHttps ? _httpsName : _options.CookieName;

    /// <summary>The anti-forgery cookie of the login and logout forms; the gateway's own, never sent upstream.</summary>
    public const string AntiforgeryCookieName = "gw_af";

    /// <summary>Every cookie the gateway owns, for stripping from what goes upstream and from upstream Set-Cookie.</summary>
    public IReadOnlyList<string> AllNames => [_options.CookieName, _httpsName, AntiforgeryCookieName];

    public bool IsPresent(HttpRequest request) => request.Cookies.ContainsKey(NameFor(request));

    /// <summary>The session key, or null for a missing, tampered, truncated or foreign cookie.</summary>
    public SessionKey? Read(HttpRequest request)
    {
        if (!request.Cookies.TryGetValue(NameFor(request), out var value) || string.IsNullOrEmpty(value) || value.Length > MaxCookieLength)
            return null;
        if (_verified.TryGetValue(value, out var known)) return known;
        try
        {
            var bytes = Base64Url.DecodeFromChars(value);
            var plain = _protector.Unprotect(bytes);
            if (!SessionKey.TryParse(Encoding.ASCII.GetString(plain), out var key)) return null;
            if (_verified.Count >= _maxVerified) _verified.Clear();
            _verified[value] = key;
            return key;
        }
        catch (Exception ex) when (ex is CryptographicException or FormatException)
        {
            return null;
        }
    }

    public void Append(HttpResponse response, SessionKey key)
    {
        var value = Base64Url.EncodeToString(_protector.Protect(Encoding.ASCII.GetBytes(key.ToString())));
        response.Cookies.Append(NameFor(response.HttpContext.Request), value, CookieOptions(response.HttpContext.Request));
    }

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
