using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Gateway.LegacySignIn;

/// <summary>
/// express-session 1.x with connect-redis and Passport, byte for byte:
/// <list type="bullet">
/// <item>session id: uid-safe's <c>uid(24)</c>, 24 random bytes in base64url without padding (32 characters);</item>
/// <item>cookie: <c>'s:' + cookie-signature.sign(sid, secrets[0])</c>, i.e. <c>s:&lt;sid&gt;.&lt;base64(HMAC-SHA256(secret, sid))
/// without '='&gt;</c>, serialized by the <c>cookie</c> package with encodeURIComponent (so <c>s%3A…</c>, <c>+</c> as
/// <c>%2B</c>, <c>/</c> as <c>%2F</c>); every secret verifies (express-session's unsigncookie tries each);</item>
/// <item>record: connect-redis's <c>JSON.stringify(session)</c> under <c>&lt;prefix&gt;&lt;sid&gt;</c>: the Cookie's toJSON first
/// (<c>originalMaxAge</c> in ms, <c>expires</c> as Date.toISOString, <c>httpOnly</c>, <c>path</c>; undefined fields left out),
/// then Passport's <c>{"passport":{"user":&lt;serializeUser's value&gt;}}</c>.</item>
/// </list>
/// </summary>
internal sealed class ExpressSessionFormat(IReadOnlyList<string> secrets, string keyPrefix, string cookiePath) : ICmsSessionFormat
{
    private const int MaxCookieLength = 1024;

    public string NewSessionId() => Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(24));

    public string CookieValue(string sessionId) => Uri.EscapeDataString("s:" + Sign(sessionId, secrets[0]));

    public string? SessionIdOf(string? cookieValue) => VerifiedSessionId(cookieValue, secrets);

    public string RecordKey(string sessionId) => keyPrefix + sessionId;

    public string NewRecord(string userIdJson, DateTimeOffset now, DateTimeOffset expiresAt)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteStartObject("cookie");
            json.WriteNumber("originalMaxAge", (long)Math.Max(0, (expiresAt - now).TotalMilliseconds));
            // Date.prototype.toISOString: always milliseconds and Z.
            json.WriteString("expires", expiresAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
            json.WriteBoolean("httpOnly", true);
            json.WriteString("path", cookiePath);
            json.WriteEndObject();
            json.WriteStartObject("passport");
            json.WritePropertyName("user");
            json.WriteRawValue(userIdJson);
            json.WriteEndObject();
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    public string? UserIdOf(string record)
    {
        try
        {
            using var document = JsonDocument.Parse(record);
            if (document.RootElement.ValueKind == JsonValueKind.Object &&
                document.RootElement.TryGetProperty("passport", out var passport) && passport.ValueKind == JsonValueKind.Object &&
                passport.TryGetProperty("user", out var user) && user.ValueKind is JsonValueKind.Number or JsonValueKind.String)
                return user.GetRawText();
            return null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>cookie-signature's sign: <c>value + '.' + base64(HMAC-SHA256(secret, value))</c> with the padding removed.</summary>
    private static string Sign(string value, string secret) =>
        value + "." + Convert.ToBase64String(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(value))).TrimEnd('=');

    /// <summary>The session id of an express-session cookie (raw or URL-encoded) whose signature verifies with one of the secrets.</summary>
    public static string? VerifiedSessionId(string? value, IReadOnlyList<string> secrets)
    {
        if (string.IsNullOrEmpty(value) || value.Length > MaxCookieLength) return null;
        if (value.Contains('%'))
        {
            try { value = Uri.UnescapeDataString(value); }
            catch (UriFormatException) { return null; }
        }
        if (!value.StartsWith("s:", StringComparison.Ordinal)) return null;
        var dot = value.LastIndexOf('.');
        if (dot <= 2) return null;
        var id = value[2..dot];
        var signature = Encoding.UTF8.GetBytes(value[(dot + 1)..]);
        var matched = false;
        foreach (var secret in secrets)
        {
            var expected = Encoding.UTF8.GetBytes(Convert.ToBase64String(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(id))).TrimEnd('='));
            // Every secret is tried, so the time taken does not say which one matched.
            matched |= CryptographicOperations.FixedTimeEquals(expected, signature);
        }
        return matched ? id : null;
    }
}
