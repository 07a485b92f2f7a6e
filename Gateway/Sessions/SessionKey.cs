using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace Gateway.Sessions;

/// <summary>
/// A session's identity in the store: the user tag (a hash of the user id, so all of a user's keys
/// share a Redis Cluster hash slot) and 256 random bits. Its string form <c>tag.id</c> is what the
/// protected cookie carries. It is a secret: log <see cref="ShortHash"/>, never the value.
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

    /// <summary>16 hex chars of SHA-256: safe to log and to publish in revocations.</summary>
    public string ShortHash
    {
        get
        {
            Span<byte> hash = stackalloc byte[32];
            SHA256.HashData(Encoding.ASCII.GetBytes(ToString()), hash);
            return Convert.ToHexStringLower(hash[..8]);
        }
    }

    public override string ToString() => $"{UserTag}.{Id}";
}
