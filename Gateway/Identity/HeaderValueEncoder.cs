using System.Text;

namespace Gateway.Identity;

/// <summary>
/// Makes a claim value safe for an HTTP header. Printable ASCII other than '%' passes as is; every
/// other character (non-ASCII as UTF-8, '%', control characters) is percent-encoded, so CR/LF can
/// never split a header and "José" arrives as "Jos%C3%A9" (decodeURIComponent / Uri.UnescapeDataString
/// restores it). Values are capped at 1024 bytes.
/// </summary>
internal static class HeaderValueEncoder
{
    public const int MaxLength = 1024;

    public static string Encode(string value)
    {
        var clean = true;
        foreach (var c in value)
            if (c is < (char)0x20 or > (char)0x7E or '%') { clean = false; break; }
        if (clean) return value.Length <= MaxLength ? value : value[..MaxLength];

        var builder = new StringBuilder(value.Length + 16);
        Span<byte> utf8 = stackalloc byte[4];
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c is >= (char)0x20 and <= (char)0x7E and not '%')
            {
                if (builder.Length + 1 > MaxLength) break;
                builder.Append(c);
                continue;
            }
            int rune;
            if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1])) rune = char.ConvertToUtf32(c, value[++i]);
            else if (char.IsSurrogate(c)) rune = 0xFFFD;
            else rune = c;
            var written = new Rune(rune).EncodeToUtf8(utf8);
            // Never cut an escape sequence in half.
            if (builder.Length + 3 * written > MaxLength) break;
            for (var b = 0; b < written; b++) builder.Append('%').Append(utf8[b].ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
        }
        return builder.ToString();
    }
}
