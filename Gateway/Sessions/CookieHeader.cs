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

    /// <summary>
    /// The <c>name=value</c> pairs of every Cookie header line: split on ';', trimmed of <see cref="Whitespace"/>, empty
    /// ones skipped. The one place the header is split; nothing is allocated.
    /// </summary>
    public static PairEnumerator Pairs(StringValues headers) => new(headers);

    /// <summary>How many cookies named exactly <paramref name="name"/> the request carries, and the value when there is exactly one.</summary>
    public static int Find(StringValues headers, string name, out ReadOnlySpan<char> value)
    {
        value = default;
        var count = 0;
        foreach (var pair in Pairs(headers))
        {
            var eq = pair.IndexOf('=');
            if (eq < 0 || !pair[..eq].Trim(Whitespace).SequenceEqual(name)) continue;
            count++;
            value = pair[(eq + 1)..].Trim(Whitespace).Trim('"');
        }
        if (count != 1) value = default;
        return count;
    }

    /// <summary>Every value of cookies named exactly <paramref name="name"/> (logout and login end each one that verifies).</summary>
    public static List<string> All(StringValues headers, string name)
    {
        var values = new List<string>();
        foreach (var raw in Pairs(headers))
        {
            // Trimmed of all white space, as these pairs always were here (only the name is compared exactly).
            var pair = raw.Trim();
            var eq = pair.IndexOf('=');
            if (eq > 0 && pair[..eq].Trim(Whitespace).SequenceEqual(name)) values.Add(pair[(eq + 1)..].Trim(Whitespace).Trim('"').ToString());
        }
        return values;
    }

    public ref struct PairEnumerator(StringValues headers)
    {
        private int _line;
        private ReadOnlySpan<char> _rest;

        public ReadOnlySpan<char> Current { get; private set; }

        public readonly PairEnumerator GetEnumerator() => this;

        public bool MoveNext()
        {
            while (true)
            {
                while (_rest.IsEmpty)
                {
                    if (_line >= headers.Count) return false;
                    _rest = headers[_line++].AsSpan();
                }
                var end = _rest.IndexOf(';');
                var pair = (end < 0 ? _rest : _rest[..end]).Trim(Whitespace);
                _rest = end < 0 ? default : _rest[(end + 1)..];
                if (pair.IsEmpty) continue;
                Current = pair;
                return true;
            }
        }
    }
}
