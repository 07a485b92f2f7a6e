using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace Gateway.Sessions;

/// <summary>
/// A session's identity as the browser holds it: the user tag (a hash of the user id, so all of a user's keys
/// share a Redis Cluster hash slot) and 256 random bits. <see cref="CookiePayload"/> is what the protected
/// cookie carries; it is a secret and never leaves the process otherwise. The store only ever sees
/// <see cref="Handle"/>, a one-way hash of the id, so a reader of the store cannot turn what it sees into a cookie.
/// </summary>
internal readonly record struct SessionKey(string UserTag, string Id)
{
    private const int TagLength = 16;
    private const int IdLength = 43;

    public static SessionKey NewFor(string userId) =>
        new(TagFor(userId), Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32)));

    public static string TagFor(string userId)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(userId), hash);
        return Base64Url.EncodeToString(hash)[..TagLength];
    }

    public static bool TryParse(ReadOnlySpan<char> value, out SessionKey key)
    {
        key = default;
        if (value.Length != TagLength + 1 + IdLength || value[TagLength] != '.') return false;
        foreach (var c in value)
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')) return false;
        key = new SessionKey(value[..TagLength].ToString(), value[(TagLength + 1)..].ToString());
        return true;
    }

    /// <summary>What the store keys the session by: the user tag and SHA-256 of the id.</summary>
    public SessionHandle Handle
    {
        get
        {
            Span<byte> hash = stackalloc byte[32];
            SHA256.HashData(Encoding.ASCII.GetBytes(Id), hash);
            return new SessionHandle(UserTag, Base64Url.EncodeToString(hash));
        }
    }

    /// <summary>Safe to log and to publish in revocations.</summary>
    public string ShortHash => Handle.ShortHash;

    /// <summary><see cref="ShortHash"/> as the number its 16 hex digits spell.</summary>
    public ulong ShortHashBits => Handle.ShortHashBits;

    /// <summary>The secret the protected cookie carries.</summary>
    public string CookiePayload() => $"{UserTag}.{Id}";

    /// <summary>Never the secret: a key printed by mistake shows its short hash.</summary>
    public override string ToString() => $"session {ShortHash}";
}

/// <summary>A session as the store knows it: the user tag and a one-way hash of the session id, never the id.</summary>
internal readonly record struct SessionHandle(string UserTag, string Hash)
{
    /// <summary>16 hex characters: what logs, revocation messages and "your sessions" name a session by.</summary>
    public string ShortHash => FormatShortHash(ShortHashBits);

    /// <summary>The first 64 bits of SHA-256 over the tag and hash: <see cref="ShortHash"/> as a number, which a cached session holds instead of the string.</summary>
    public ulong ShortHashBits
    {
        get
        {
            Span<byte> hash = stackalloc byte[32];
            SHA256.HashData(Encoding.ASCII.GetBytes($"{UserTag}.{Hash}"), hash);
            return System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(hash);
        }
    }

    public const int ShortHashLength = 16;

    public static string FormatShortHash(ulong bits) => string.Create(ShortHashLength, bits, static (chars, b) => FormatShortHash(b, chars));

    /// <summary>The 16 lower-case hex digits of <paramref name="bits"/> into <paramref name="chars"/> (a span of <see cref="ShortHashLength"/>).</summary>
    public static void FormatShortHash(ulong bits, Span<char> chars) => bits.TryFormat(chars, out _, "x16", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// A short hash as a revocation message names it: exactly 16 lower-case hex digits, as <see cref="ShortHash"/> spells
    /// them; anything else names no session.
    /// </summary>
    public static bool TryParseShortHash(string text, out ulong bits)
    {
        bits = 0;
        if (text.Length != ShortHashLength) return false;
        foreach (var c in text)
            if (!char.IsAsciiDigit(c) && c is not (>= 'a' and <= 'f')) return false;
        return ulong.TryParse(text, System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture, out bits);
    }

    /// <summary>The sessions a revocation names, as <see cref="ShortHashBits"/>.</summary>
    public static HashSet<ulong> ShortHashesOf(IEnumerable<string> hashes)
    {
        var set = new HashSet<ulong>();
        foreach (var text in hashes)
            if (TryParseShortHash(text, out var bits)) set.Add(bits);
        return set;
    }
}
