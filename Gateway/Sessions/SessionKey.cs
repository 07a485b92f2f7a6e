using System.Buffers.Binary;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace Gateway.Sessions;

/// <summary>
/// A session's identity as the browser holds it: the user tag (a hash of the user id, so all of a user's keys
/// share a Redis Cluster hash slot) and 256 random bits. <see cref="CookiePayload"/> is what the protected
/// cookie carries; it is a secret and never leaves the process otherwise. The store only ever sees
/// <see cref="Handle"/>, a one-way hash of the id, so a reader of the store cannot turn what it sees into a cookie.
/// Held as its 44 bytes, not as the two strings that spell them (168 bytes more a cached session, and two allocations
/// a cookie checked); the strings are spelled out where the store and the cookie need them.
/// </summary>
internal readonly struct SessionKey : IEquatable<SessionKey>
{
    private const int TagLength = 16;
    private const int IdLength = 43;
    /// <summary>The length of <see cref="CookiePayload"/>: the tag, a dot, the id.</summary>
    public const int PayloadLength = TagLength + 1 + IdLength;
    private const int TagBytes = 12;
    private const int IdBytes = 32;

    private readonly ulong _tag0;
    private readonly uint _tag1;
    private readonly ulong _id0, _id1, _id2, _id3;

    private SessionKey(ReadOnlySpan<byte> tag, ReadOnlySpan<byte> id)
    {
        (_tag0, _tag1) = TagBitsOf(tag);
        _id0 = BinaryPrimitives.ReadUInt64LittleEndian(id);
        _id1 = BinaryPrimitives.ReadUInt64LittleEndian(id[8..]);
        _id2 = BinaryPrimitives.ReadUInt64LittleEndian(id[16..]);
        _id3 = BinaryPrimitives.ReadUInt64LittleEndian(id[24..]);
    }

    public static SessionKey NewFor(string userId)
    {
        Span<byte> tag = stackalloc byte[TagBytes];
        TagBytesFor(userId, tag);
        Span<byte> id = stackalloc byte[IdBytes];
        RandomNumberGenerator.Fill(id);
        var key = new SessionKey(tag, id);
        CryptographicOperations.ZeroMemory(id);
        return key;
    }

    /// <summary>The user tag: the first 16 characters of the base64url SHA-256 of the user id, which spell its first 12 bytes.</summary>
    public static string TagFor(string userId)
    {
        Span<byte> tag = stackalloc byte[TagBytes];
        TagBytesFor(userId, tag);
        return Base64Url.EncodeToString(tag);
    }

    private static void TagBytesFor(string userId, Span<byte> tag)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(userId), hash);
        hash[..TagBytes].CopyTo(tag);
    }

    /// <summary>
    /// The key a cookie payload spells (<see cref="CookiePayload"/>): exactly one spelling per key, so a payload that
    /// decodes to the same bytes by another spelling (white space, padding, unused low bits) is refused.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<char> value, out SessionKey key)
    {
        key = default;
        if (value.Length != PayloadLength || value[TagLength] != '.') return false;
        Span<byte> tag = stackalloc byte[TagBytes];
        Span<byte> id = stackalloc byte[IdBytes];
        if (!TryDecodeExactly(value[..TagLength], tag) || !TryDecodeExactly(value[(TagLength + 1)..], id))
        {
            CryptographicOperations.ZeroMemory(id);
            return false;
        }
        key = new SessionKey(tag, id);
        CryptographicOperations.ZeroMemory(id);
        return true;
    }

    private static readonly System.Buffers.SearchValues<char> Alphabet =
        System.Buffers.SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");

    private static bool TryDecodeExactly(ReadOnlySpan<char> text, Span<byte> bytes)
    {
        // The decoder skips white space, and throws on a character outside its alphabet or unused bits that are not zero.
        if (text.ContainsAnyExcept(Alphabet)) return false;
        int written;
        try
        {
            if (!Base64Url.TryDecodeFromChars(text, bytes, out written) || written != bytes.Length) return false;
        }
        catch (FormatException)
        {
            return false;
        }
        Span<char> spelled = stackalloc char[IdLength];
        var exact = Base64Url.TryEncodeToChars(bytes, spelled, out var length) && spelled[..length].SequenceEqual(text);
        spelled.Clear();
        return exact;
    }

    /// <summary>The user tag as the store and revocation messages spell it (allocates: not for a per-request path).</summary>
    public string UserTag
    {
        get
        {
            Span<byte> tag = stackalloc byte[TagBytes];
            WriteTag(tag);
            return Base64Url.EncodeToString(tag);
        }
    }

    /// <summary>The user tag as a number pair, for matching revocation messages without spelling each key's tag out.</summary>
    public (ulong, uint) TagBits => (_tag0, _tag1);

    /// <summary>The sessions of the user tags a revocation names, as <see cref="TagBits"/>; a tag that is not one names none.</summary>
    public static HashSet<(ulong, uint)> TagBitsOf(IEnumerable<string> tags)
    {
        var set = new HashSet<(ulong, uint)>();
        Span<byte> bytes = stackalloc byte[TagBytes];
        foreach (var text in tags)
            if (text.Length == TagLength && TryDecodeExactly(text, bytes))
                set.Add(TagBitsOf(bytes));
        return set;
    }

    private static (ulong, uint) TagBitsOf(ReadOnlySpan<byte> tag) =>
        (BinaryPrimitives.ReadUInt64LittleEndian(tag), BinaryPrimitives.ReadUInt32LittleEndian(tag[8..]));

    /// <summary>
    /// 64 of the id's random bits: tells sessions apart within this process (the sliding-expiry marks), never leaves it.
    /// </summary>
    public long Fingerprint => (long)_id0;

    /// <summary>What the store keys the session by: the user tag and SHA-256 of the id's spelling.</summary>
    public SessionHandle Handle
    {
        get
        {
            Span<byte> id = stackalloc byte[IdBytes];
            WriteId(id);
            Span<byte> spelled = stackalloc byte[IdLength];
            Base64Url.EncodeToUtf8(id, spelled);
            CryptographicOperations.ZeroMemory(id);
            Span<byte> hash = stackalloc byte[32];
            SHA256.HashData(spelled, hash);
            CryptographicOperations.ZeroMemory(spelled);
            return new SessionHandle(UserTag, Base64Url.EncodeToString(hash));
        }
    }

    /// <summary>Safe to log and to publish in revocations.</summary>
    public string ShortHash => Handle.ShortHash;

    /// <summary><see cref="ShortHash"/> as the number its 16 hex digits spell.</summary>
    public ulong ShortHashBits => Handle.ShortHashBits;

    /// <summary>The secret the protected cookie carries: the tag and the id, spelled in base64url, joined by a dot.</summary>
    public string CookiePayload()
    {
        Span<byte> id = stackalloc byte[IdBytes];
        WriteId(id);
        var payload = $"{UserTag}.{Base64Url.EncodeToString(id)}";
        CryptographicOperations.ZeroMemory(id);
        return payload;
    }

    private void WriteTag(Span<byte> tag)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(tag, _tag0);
        BinaryPrimitives.WriteUInt32LittleEndian(tag[8..], _tag1);
    }

    private void WriteId(Span<byte> id)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(id, _id0);
        BinaryPrimitives.WriteUInt64LittleEndian(id[8..], _id1);
        BinaryPrimitives.WriteUInt64LittleEndian(id[16..], _id2);
        BinaryPrimitives.WriteUInt64LittleEndian(id[24..], _id3);
    }

    // Not constant-time: keys are compared to find a session already verified, never to check a secret a client sent
    // (a cookie is checked by DataProtection's MAC, or found by its digest in the memo).
    public bool Equals(SessionKey other) =>
        _id0 == other._id0 && _id1 == other._id1 && _id2 == other._id2 && _id3 == other._id3 && _tag0 == other._tag0 && _tag1 == other._tag1;

    public override bool Equals(object? obj) => obj is SessionKey other && Equals(other);

    /// <summary><see cref="HashCode"/>'s, seeded per process.</summary>
    public override int GetHashCode() => HashCode.Combine(_id0, _id1, _id2, _id3, _tag0, _tag1);

    public static bool operator ==(SessionKey left, SessionKey right) => left.Equals(right);

    public static bool operator !=(SessionKey left, SessionKey right) => !left.Equals(right);

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
