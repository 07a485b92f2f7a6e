using System.Text.Encodings.Web;
using System.Text.Json;

namespace Gateway.LegacySignIn;

/// <summary>
/// A CMS user id as a JSON value (a number stays a number, a string a string), compared by value: the CMS writes it with
/// JSON.stringify, which escapes less than .NET does (<c>a+b</c> there, <c>a\u002Bb</c> here), so texts may differ.
/// </summary>
internal static class CmsUserId
{
    private static readonly JsonSerializerOptions Relaxed = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>A string id as JSON, escaped as little as JSON allows (as JSON.stringify writes it).</summary>
    public static string FromString(string value) => JsonSerializer.Serialize(value, Relaxed);

    public static bool Same(string? a, string? b)
    {
        if (a is null || b is null) return false;
        if (string.Equals(a, b, StringComparison.Ordinal)) return true;
        try
        {
            using var x = JsonDocument.Parse(a);
            using var y = JsonDocument.Parse(b);
            return (x.RootElement.ValueKind, y.RootElement.ValueKind) switch
            {
                (JsonValueKind.String, JsonValueKind.String) => string.Equals(x.RootElement.GetString(), y.RootElement.GetString(), StringComparison.Ordinal),
                (JsonValueKind.Number, JsonValueKind.Number) => x.RootElement.TryGetDecimal(out var m) && y.RootElement.TryGetDecimal(out var n) && m == n,
                _ => false,
            };
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
