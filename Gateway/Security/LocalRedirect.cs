namespace Gateway.Security;

/// <summary>
/// Decides whether a redirect target is a local path on this host. Anything else (another host,
/// a scheme, a path a browser reads as another host) is refused and the caller uses its default.
/// </summary>
internal static class LocalRedirect
{
    public const int MaxLength = 2048;

    public static string OrDefault(string? candidate, string fallback) => IsLocal(candidate) ? candidate! : fallback;

    public static bool IsLocal(string? url)
    {
        if (string.IsNullOrEmpty(url) || url.Length > MaxLength) return false;
        // One leading '/', then not '/' or '\' (protocol-relative and its backslash twin that browsers normalise).
        if (url[0] != '/') return false;
        if (url.Length > 1 && (url[1] == '/' || url[1] == '\\')) return false;
        foreach (var c in url)
        {
            // Browsers drop tab/newline inside URLs ("/\t/evil.com" becomes "//evil.com"), treat '\' as '/',
            // and non-ASCII look-alikes (fullwidth solidus, etc.) can normalise to '/' too.
            if (c < 0x20 || c == 0x7F || c == '\\' || c > 0x7E) return false;
        }
        // Encoded slashes and backslashes can be decoded by a proxy or framework further on.
        var decoded = url;
        for (var i = 0; i < 3 && decoded.Contains('%'); i++)
        {
            var next = Uri.UnescapeDataString(decoded);
            if (next == decoded) break;
            decoded = next;
            if (decoded.Length > 1 && decoded[0] == '/' && (decoded[1] == '/' || decoded[1] == '\\')) return false;
            foreach (var c in decoded)
                if (c < 0x20 || c == 0x7F || c == '\\' || c > 0x7E) return false;
        }
        return true;
    }
}
