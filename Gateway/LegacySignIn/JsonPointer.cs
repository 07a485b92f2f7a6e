using System.Text.Json;

namespace Gateway.LegacySignIn;

/// <summary>RFC 6901 JSON pointers over a parsed document: <c>""</c> is the whole document, <c>/a/0/b~1c</c> walks objects and arrays.</summary>
internal static class JsonPointer
{
    public static bool IsValid(string pointer) => pointer.Length == 0 || (pointer[0] == '/' && !HasBadEscape(pointer));

    /// <summary>The element the pointer names, or null when there is none.</summary>
    public static JsonElement? Resolve(JsonElement root, string pointer)
    {
        if (pointer.Length == 0) return root;
        var current = root;
        foreach (var raw in pointer[1..].Split('/'))
        {
            var token = raw.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
            if (current.ValueKind == JsonValueKind.Object)
            {
                if (!current.TryGetProperty(token, out current)) return null;
            }
            else if (current.ValueKind == JsonValueKind.Array)
            {
                // RFC 6901 §4: array indexes are decimal without leading zeros.
                if (token.Length == 0 || (token.Length > 1 && token[0] == '0') || !token.All(char.IsAsciiDigit) ||
                    !int.TryParse(token, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var index) ||
                    index >= current.GetArrayLength()) return null;
                current = current[index];
            }
            else return null;
        }
        return current;
    }

    private static bool HasBadEscape(string pointer)
    {
        for (var i = 0; i < pointer.Length; i++)
            if (pointer[i] == '~' && (i + 1 >= pointer.Length || (pointer[i + 1] != '0' && pointer[i + 1] != '1'))) return true;
        return false;
    }
}
