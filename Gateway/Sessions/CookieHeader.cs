using Microsoft.Extensions.Primitives;

namespace Gateway.Sessions;

/// <summary>
/// Reads the request's Cookie header the way RFC 6265 names cookies: by exact, case-sensitive name. ASP.NET
/// Core's <c>Request.Cookies</c> matches names case-insensitively and keeps one of several duplicates, which
/// would let a planted <c>GW_SESSION</c> or a second <c>gw_session</c> decide who a request is.
/// </summary>
internal static class CookieHeader
{
    /// <summary>What browsers trim around cookie names and values (RFC 6265 §5.2): space and horizontal tab.</summary>
    internal const string Whitespace = " \t";

    /// <summary>How many cookies named exactly <paramref name="name"/> the request carries, and the value when there is exactly one.</summary>
    public static int Find(StringValues headers, string name, out ReadOnlySpan<char> value)
    {
        value = default;
        var count = 0;
        foreach (var header in headers)
        {
            var rest = header.AsSpan();
            while (!rest.IsEmpty)
            {
                var end = rest.IndexOf(';');
                var pair = (end < 0 ? rest : rest[..end]).Trim(Whitespace);
                rest = end < 0 ? default : rest[(end + 1)..];
                var eq = pair.IndexOf('=');
                if (eq < 0 || !pair[..eq].Trim(Whitespace).SequenceEqual(name)) continue;
                count++;
                value = pair[(eq + 1)..].Trim(Whitespace).Trim('"');
            }
        }
        if (count != 1) value = default;
        return count;
    }

    /// <summary>Every value of cookies named exactly <paramref name="name"/> (logout and login end each one that verifies).</summary>
    public static List<string> All(StringValues headers, string name)
    {
        var values = new List<string>();
        foreach (var header in headers)
        {
            foreach (var pair in (header ?? "").Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                var eq = pair.IndexOf('=');
                if (eq > 0 && pair.AsSpan(0, eq).Trim(Whitespace).SequenceEqual(name)) values.Add(pair.AsSpan(eq + 1).Trim(Whitespace).Trim('"').ToString());
            }
        }
        return values;
    }
}
