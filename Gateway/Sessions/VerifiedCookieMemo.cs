using System.Collections.Concurrent;
using System.Text;

namespace Gateway.Sessions;

/// <summary>
/// Cookie values that verified once, and the session key each carries. Unprotect derives subkeys, decrypts and checks
/// a MAC: tens of microseconds on every request; a value that verified once maps to the same key forever. Only values
/// that verified are remembered, matched byte for byte: a value that differs anywhere takes the full check. Held as
/// ASCII (a protected value is base64url), half the memory of a string; a value with any other character is never
/// here. Bounded: when full it starts over.
/// </summary>
internal sealed class VerifiedCookieMemo
{
    public const int MaxValueLength = 512;

    private readonly ConcurrentDictionary<byte[], SessionKey> _entries = new(AsciiComparer.Instance);
    private readonly ConcurrentDictionary<byte[], SessionKey>.AlternateLookup<ReadOnlySpan<byte>> _bySpan;
    private readonly int _maxEntries;
    // Not the dictionary's Count, which takes all of its locks (up to 1024) on every call. Approximate by at most the
    // values being remembered while it starts over, which the bound does not need to be exact about.
    private int _count;

    /// <summary>No more remembered cookies than the session cache could hold sessions in use (each at least ~2 KB).</summary>
    public static VerifiedCookieMemo For(GatewaySessionOptions options) =>
        new((int)Math.Max(1, Math.Min(options.CacheMaxEntries, options.CacheMaxMegabytes * 1024L * 1024L / 2048)));

    public VerifiedCookieMemo(int maxEntries)
    {
        _maxEntries = maxEntries;
        _bySpan = _entries.GetAlternateLookup<ReadOnlySpan<byte>>();
    }

    public int Count => Volatile.Read(ref _count);

    /// <summary>The key a remembered value carries, and (<paramref name="remembered"/>) the value as held here, for <see cref="Forget"/>.</summary>
    public bool TryGet(ReadOnlySpan<char> value, out SessionKey key, out byte[]? remembered)
    {
        Span<byte> ascii = stackalloc byte[MaxValueLength];
        if (value.Length > MaxValueLength || Ascii.FromUtf16(value, ascii, out var written) != System.Buffers.OperationStatus.Done)
        {
            key = default;
            remembered = null;
            return false;
        }
        return _bySpan.TryGetValue(ascii[..written], out remembered, out key);
    }

    /// <summary>Remembers a value that verified; returns it as held here (null when it cannot be held), for <see cref="Forget"/>.</summary>
    public byte[]? Remember(ReadOnlySpan<char> value, SessionKey key)
    {
        if (value.Length > MaxValueLength || !Ascii.IsValid(value)) return null;
        if (Volatile.Read(ref _count) >= _maxEntries)
        {
            _entries.Clear();
            Interlocked.Exchange(ref _count, 0);
        }
        var ascii = new byte[value.Length];
        Ascii.FromUtf16(value, ascii, out _);
        // A value that verified always carries the same key: one already here needs no update.
        if (_entries.TryAdd(ascii, key)) Interlocked.Increment(ref _count);
        // Equal bytes name the same entry: this copy forgets it as well as the one held.
        return ascii;
    }

    /// <summary>Makes a remembered value carry <paramref name="key"/>'s own strings (an equal key), so the two share them.</summary>
    public void Canonicalize(byte[] remembered, SessionKey key)
    {
        if (_entries.TryGetValue(remembered, out var held) && held == key
            && !(ReferenceEquals(held.UserTag, key.UserTag) && ReferenceEquals(held.Id, key.Id)))
            _entries.TryUpdate(remembered, key, held);
    }

    /// <summary>Lets go of a remembered value (its session was shed or evicted): its next use takes the full check.</summary>
    public void Forget(byte[] remembered)
    {
        if (_entries.TryRemove(remembered, out _)) Interlocked.Decrement(ref _count);
    }

    /// <summary>Exact bytes; the hash is <see cref="HashCode"/>'s, seeded per process, so colliding values cannot be prepared.</summary>
    private sealed class AsciiComparer : IEqualityComparer<byte[]>, IAlternateEqualityComparer<ReadOnlySpan<byte>, byte[]>
    {
        public static readonly AsciiComparer Instance = new();

        public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);

        public int GetHashCode(byte[] value) => GetHashCode((ReadOnlySpan<byte>)value);

        public bool Equals(ReadOnlySpan<byte> alternate, byte[] other) => alternate.SequenceEqual(other);

        public int GetHashCode(ReadOnlySpan<byte> alternate)
        {
            var hash = new HashCode();
            hash.AddBytes(alternate);
            return hash.ToHashCode();
        }

        public byte[] Create(ReadOnlySpan<byte> alternate) => alternate.ToArray();
    }
}
