using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace Gateway.Sessions;

/// <summary>
/// Cookie values that verified once, and the session key each carries. Unprotect derives subkeys, decrypts and checks
/// a MAC: tens of microseconds on every request; a value that verified once maps to the same key forever. Only values
/// that verified are remembered, each by the SHA-256 of its characters (<see cref="CookieDigest"/>): 32 bytes a
/// session instead of the ~230-byte value, for half a microsecond a request. A value that differs anywhere has another
/// digest (finding a second value with the same one is a SHA-256 second preimage) and takes the full check. A value
/// with a character outside ASCII is never here. Bounded: when full it starts over.
/// </summary>
internal sealed class VerifiedCookieMemo
{
    public const int MaxValueLength = 512;

    private readonly ConcurrentDictionary<CookieDigest, SessionKey> _entries = new(CookieDigest.Comparer.Instance);
    private readonly ConcurrentDictionary<CookieDigest, SessionKey>.AlternateLookup<ReadOnlySpan<byte>> _byDigest;
    private readonly int _maxEntries;
    // Not the dictionary's Count, which takes all of its locks (up to 1024) on every call. Approximate by at most the
    // values being remembered while it starts over, which the bound does not need to be exact about.
    private int _count;

    /// <summary>No more remembered cookies than the session cache could hold sessions in use (each at least ~1 KB).</summary>
    public static VerifiedCookieMemo For(GatewaySessionOptions options) =>
        new((int)Math.Max(1, Math.Min(options.CacheMaxEntries, options.CacheMaxMegabytes * 1024L * 1024L / 1024)));

    public VerifiedCookieMemo(int maxEntries)
    {
        _maxEntries = maxEntries;
        _byDigest = _entries.GetAlternateLookup<ReadOnlySpan<byte>>();
    }

    public int Count => Volatile.Read(ref _count);

    /// <summary>The key a remembered value carries, and (<paramref name="remembered"/>) its digest as held here, for <see cref="Forget"/>.</summary>
    public bool TryGet(ReadOnlySpan<char> value, out SessionKey key, out CookieDigest? remembered)
    {
        Span<byte> digest = stackalloc byte[CookieDigest.Length];
        if (!TryDigest(value, digest))
        {
            key = default;
            remembered = null;
            return false;
        }
        return _byDigest.TryGetValue(digest, out remembered, out key);
    }

    /// <summary>
    /// Remembers a value that verified under the DataProtection key <paramref name="keyId"/>; returns its digest as held
    /// here (null when it cannot be held), for <see cref="Forget"/>.
    /// </summary>
    public CookieDigest? Remember(ReadOnlySpan<char> value, SessionKey key, Guid keyId = default)
    {
        Span<byte> digest = stackalloc byte[CookieDigest.Length];
        if (!TryDigest(value, digest)) return null;
        if (Volatile.Read(ref _count) >= _maxEntries)
        {
            _entries.Clear();
            Interlocked.Exchange(ref _count, 0);
        }
        var held = new CookieDigest(digest, keyId);
        // A value that verified always carries the same key: one already here needs no update.
        if (_entries.TryAdd(held, key)) Interlocked.Increment(ref _count);
        // Equal digests name the same entry: this copy forgets it as well as the one held.
        return held;
    }

    /// <summary>Lets go of a remembered value (its session was shed, dropped for room, ended or revoked): its next use takes the full check.</summary>
    public void Forget(CookieDigest remembered)
    {
        if (_entries.TryRemove(remembered, out _)) Interlocked.Decrement(ref _count);
    }

    private static bool TryDigest(ReadOnlySpan<char> value, Span<byte> digest)
    {
        Span<byte> ascii = stackalloc byte[MaxValueLength];
        if (value.Length > MaxValueLength || Ascii.FromUtf16(value, ascii, out var written) != System.Buffers.OperationStatus.Done) return false;
        SHA256.HashData(ascii[..written], digest);
        return true;
    }
}

/// <summary>
/// A verified cookie value as the memo holds it: the SHA-256 of its characters, never the value, and the id of the
/// DataProtection key it was protected under, so that revoking that key still refuses the value at once.
/// </summary>
internal sealed class CookieDigest
{
    public const int Length = 32;

    private readonly ulong _a, _b, _c, _d;

    public CookieDigest(ReadOnlySpan<byte> digest, Guid keyId = default)
    {
        var words = MemoryMarshal.Cast<byte, ulong>(digest);
        (_a, _b, _c, _d) = (words[0], words[1], words[2], words[3]);
        KeyId = keyId;
    }

    /// <summary>The DataProtection key the value was protected under (not part of its identity here: equal values have equal keys).</summary>
    public Guid KeyId { get; }

    private bool Is(ReadOnlySpan<byte> digest)
    {
        var words = MemoryMarshal.Cast<byte, ulong>(digest);
        return words[0] == _a && words[1] == _b && words[2] == _c && words[3] == _d;
    }

    /// <summary>By value; the hash is <see cref="HashCode"/>'s, seeded per process.</summary>
    public sealed class Comparer : IEqualityComparer<CookieDigest>, IAlternateEqualityComparer<ReadOnlySpan<byte>, CookieDigest>
    {
        public static readonly Comparer Instance = new();

        public bool Equals(CookieDigest? x, CookieDigest? y) =>
            ReferenceEquals(x, y) || (x is not null && y is not null && x._a == y._a && x._b == y._b && x._c == y._c && x._d == y._d);

        public int GetHashCode(CookieDigest value) => HashCode.Combine(value._a, value._b, value._c, value._d);

        public bool Equals(ReadOnlySpan<byte> alternate, CookieDigest other) => other.Is(alternate);

        public int GetHashCode(ReadOnlySpan<byte> alternate)
        {
            var words = MemoryMarshal.Cast<byte, ulong>(alternate);
            return HashCode.Combine(words[0], words[1], words[2], words[3]);
        }

        public CookieDigest Create(ReadOnlySpan<byte> alternate) => new(alternate);
    }
}
