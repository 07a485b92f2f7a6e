using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Gateway.Sessions;

/// <summary>SHA-256 of a cookie value: what <see cref="SessionCookies"/> remembers a verified value by.</summary>
internal readonly struct CookieDigest : IEquatable<CookieDigest>
{
    private readonly ulong _a, _b, _c, _d;

    private CookieDigest(ReadOnlySpan<byte> hash)
    {
        _a = BinaryPrimitives.ReadUInt64LittleEndian(hash);
        _b = BinaryPrimitives.ReadUInt64LittleEndian(hash[8..]);
        _c = BinaryPrimitives.ReadUInt64LittleEndian(hash[16..]);
        _d = BinaryPrimitives.ReadUInt64LittleEndian(hash[24..]);
    }

    public static CookieDigest Of(ReadOnlySpan<char> value)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(MemoryMarshal.AsBytes(value), hash);
        return new CookieDigest(hash);
    }

    public bool Equals(CookieDigest other) => _a == other._a && _b == other._b && _c == other._c && _d == other._d;

    public override bool Equals(object? obj) => obj is CookieDigest other && Equals(other);

    // The bits of a hash are already uniform.
    public override int GetHashCode() => (int)_a;
}
