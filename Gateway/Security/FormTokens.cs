using System.Buffers.Text;
using System.Security.Cryptography;
using Gateway.Hosting;
using Gateway.Sessions;
using Microsoft.AspNetCore.DataProtection;

namespace Gateway.Security;

/// <summary>
/// Anti-forgery tokens for the gateway's own forms (login, logout confirmation and retry, session admin):
/// a random value in a cookie (<c>__Host-gw_af</c> on https, so a sibling subdomain cannot plant one; read by
/// exact name, and refused when sent twice) and, in the form, that value protected with DataProtection. They
/// prove the post came from a page this browser loaded from us. They are deliberately not bound to the
/// signed-in user: a logout retry page rendered while the store was down (the user looked anonymous) must
/// still be accepted once the store is back.
/// </summary>
internal sealed class FormTokens(IDataProtectionProvider dataProtection, KeyRing.KeyRingHealth keyRing)
{
    public const string FieldName = "__gw_af";
    private const int SecretBytes = 32;
    private readonly IDataProtector _protector = dataProtection.CreateProtector("Gateway.FormToken.v1");

    public sealed record Tokens(string FormFieldName, string RequestToken);

    /// <summary>The token for a form on this page, setting the cookie when the browser has none yet.</summary>
    public Tokens Issue(HttpContext context)
    {
        var secret = CookieSecret(context.Request);
        if (secret is null)
        {
            secret = RandomNumberGenerator.GetBytes(SecretBytes);
            context.Response.Cookies.Append(CookieName(context.Request), Base64Url.EncodeToString(secret), new CookieOptions
            {
                HttpOnly = true, Secure = context.Request.IsHttps, SameSite = SameSiteMode.Lax, Path = "/", IsEssential = true,
            });
        }
        return new Tokens(FieldName, Base64Url.EncodeToString(_protector.Protect(secret)));
    }

    /// <summary>
    /// The hidden input carrying the token, or nothing while the key ring cannot be read (a replica started during a
    /// Redis outage): the form still works from a same-origin page, which every browser marks with Origin.
    /// </summary>
    public string HiddenField(HttpContext context)
    {
        try
        {
            var tokens = Issue(context);
            return $"<input type=\"hidden\" name=\"{GatewayResponses.Encode(tokens.FormFieldName)}\" value=\"{GatewayResponses.Encode(tokens.RequestToken)}\">";
        }
        catch (CryptographicException) when (!keyRing.Usable)
        {
            return "";
        }
    }

    /// <summary>
    /// A change asked through a browser session came from our own page: the browser says so (same Origin, or
    /// <c>Sec-Fetch-Site: same-origin</c>, neither of which another site can forge), or the form carries our token.
    /// </summary>
    public async Task<bool> IsFromOurPageAsync(HttpContext context) =>
        CrossSiteGuard.HasSameOrigin(context.Request)
        || string.Equals(context.Request.Headers["Sec-Fetch-Site"], "same-origin", StringComparison.OrdinalIgnoreCase)
        || await IsValidAsync(context);

    /// <summary>Whether this browser holds a form cookie at all: without one no posted token can be valid, so the form need not be read.</summary>
    public static bool HasCookie(HttpRequest request) => CookieSecret(request) is not null;

    /// <summary>True when the posted form carries a token for the cookie this browser holds.</summary>
    public async Task<bool> IsValidAsync(HttpContext context)
    {
        var secret = CookieSecret(context.Request);
        if (secret is null || !context.Request.HasFormContentType) return false;
        var form = await context.Request.ReadFormAsync(context.RequestAborted);
        var token = form[FieldName].ToString();
        if (token.Length is 0 or > 512) return false;
        try
        {
            return CryptographicOperations.FixedTimeEquals(_protector.Unprotect(Base64Url.DecodeFromChars(token)), secret);
        }
        catch (Exception ex) when (ex is CryptographicException or FormatException)
        {
            return false;
        }
    }

    private static string CookieName(HttpRequest request) => GatewayCookieNames.HostOnly(GatewayCookieNames.Antiforgery, request.IsHttps);

    private static byte[]? CookieSecret(HttpRequest request)
    {
        if (CookieHeader.Find(request.Headers.Cookie, CookieName(request), out var value) != 1) return null;
        var bytes = new byte[SecretBytes];
        return Base64Url.TryDecodeFromChars(value, bytes, out var written) && written == SecretBytes ? bytes : null;
    }
}
