using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Runtime.InteropServices;
using System.Text;

namespace Gateway.Sessions;

/// <summary>
/// The part of a session record a replica keeps between store round trips: what requests read (who the user is, when
/// the session ends, the access token of routes that forward it). The id_token, refresh token, provider sid, device,
/// network and the record's own hash stay in the store and are read from it by what needs them (logout, refresh,
/// revocation, "your sessions"): an OIDC id_token alone is larger than everything here. A separate type, not a record
/// with those fields emptied, so no code can read a token from the cache and find it missing.
/// </summary>
internal sealed class CachedRecord
{
    private CachedRecord(SessionRecord record)
    {
        _identity = new[] { record.UserId, record.Email, record.Name };
        (_userIdLength, _emailLength, _nameLength) = (record.UserId.Length, record.Email?.Length ?? -1, record.Name?.Length ?? -1);
        _packable = Ascii.IsValid(record.UserId) && (record.Email is null || Ascii.IsValid(record.Email)) && (record.Name is null || Ascii.IsValid(record.Name));
        Roles = RoleSets.Default.Shared(record.Roles, out var pooled);
        RolesOwned = !pooled;
        // Literals are interned: every session of a method shares one string.
        Method = record.Method switch { "oidc" => "oidc", "dev" => "dev", "adopted" => "adopted", "unknown" => "unknown", var other => other };
        _absoluteExpiresTicks = record.AbsoluteExpiresAt.UtcTicks;
        AccessToken = record.AccessToken;
        _accessTokenExpiresTicks = TicksOf(record.AccessTokenExpiresAt);
        CmsSession = record.CmsSession;
        BindingHash = record.BindingHash;
        CmsUserId = record.CmsUserId;
        _authenticatedTicks = TicksOf(record.AuthenticatedAt);
        Acr = record.Acr;
        _issuedTicks = record.IssuedOrCreatedAt().UtcTicks;
    }

    // Instants as UTC ticks, 8 bytes each where a DateTimeOffset takes 16 and a nullable one 24: 48 bytes less an entry.
    // Every reader compares instants or takes Unix seconds, which the offset does not change. None is a negative count,
    // which no instant has (the year 1 is zero: an expiry there must still read as long past, not as none).
    private readonly long _absoluteExpiresTicks;
    private readonly long _accessTokenExpiresTicks;
    private readonly long _authenticatedTicks;
    private readonly long _issuedTicks;

    private const long None = -1;

    private static long TicksOf(DateTimeOffset? at) => at?.UtcTicks ?? None;

    private static DateTimeOffset? OrNone(long ticks) => ticks == None ? null : new DateTimeOffset(ticks, TimeSpan.Zero);

    public static CachedRecord Of(SessionRecord record) => new(record);

    // Who the user is: its three strings while the entry is in use (the header values share them), and, once the cache
    // sheds the entry, their ASCII bytes in one array, id then email then name: about 120 bytes less a shed entry (two
    // string headers and an array fewer, a byte a character instead of two). Woken, the strings are spelled out again.
    // One reference swapped whole, so a reader sees one form or the other, each giving the same values. Values that are
    // not all ASCII stay strings (a lone surrogate has no byte form, and two ids must never read back as one).
    private object _identity;
    private readonly int _userIdLength;
    private readonly int _emailLength;
    private readonly int _nameLength;
    private readonly bool _packable;

    public string UserId => Identity(0)!;
    public string? Email => Identity(1);
    public string? Name => Identity(2);

    private string? Identity(int index) => Volatile.Read(ref _identity) switch
    {
        string?[] strings => strings[index],
        var packed => Spelled((byte[])packed, index),
    };

    /// <summary>Value <paramref name="index"/> (id, email, name) read from the packed bytes.</summary>
    private string? Spelled(byte[] packed, int index) => index switch
    {
        0 => Encoding.ASCII.GetString(packed, 0, _userIdLength),
        1 => _emailLength < 0 ? null : Encoding.ASCII.GetString(packed, _userIdLength, _emailLength),
        _ => _nameLength < 0 ? null : Encoding.ASCII.GetString(packed, _userIdLength + Math.Max(0, _emailLength), _nameLength),
    };

    /// <summary>The identity held as its bytes (the entry is shed), when its values are all ASCII (<see cref="Packable"/>).</summary>
    internal void Pack()
    {
        if (!_packable || Volatile.Read(ref _identity) is not string?[] strings) return;
        var packed = new byte[IdentityChars];
        var at = 0;
        foreach (var value in strings)
            if (value is not null) at += Encoding.ASCII.GetBytes(value, packed.AsSpan(at));
        Interlocked.CompareExchange(ref _identity, packed, strings);
    }

    /// <summary>The identity spelled out as strings again (the entry is in use).</summary>
    internal void Unpack()
    {
        if (Volatile.Read(ref _identity) is byte[] packed)
            Interlocked.CompareExchange(ref _identity, new[] { Spelled(packed, 0), Spelled(packed, 1), Spelled(packed, 2) }, packed);
    }

    /// <summary>The identity values' characters, for the cache's estimate of what an entry derives from them.</summary>
    internal int IdentityChars => _userIdLength + Math.Max(0, _emailLength) + Math.Max(0, _nameLength);

    /// <summary>How many of the identity values there are (the id, and the email and name when present), for the cache's estimate.</summary>
    internal int IdentityStrings => 1 + (_emailLength < 0 ? 0 : 1) + (_nameLength < 0 ? 0 : 1);

    /// <summary>Whether a shed entry holds the identity as bytes (<see cref="Pack"/>), for the cache's estimate.</summary>
    internal bool Packable => _packable;
    public ImmutableArray<string> Roles { get; }
    /// <summary>True when <see cref="Roles"/> is this session's own copy, not the shared one: its memory is this entry's.</summary>
    public bool RolesOwned { get; }
    public string Method { get; }
    public DateTimeOffset AbsoluteExpiresAt => new(_absoluteExpiresTicks, TimeSpan.Zero);
    public string? AccessToken { get; }
    public DateTimeOffset? AccessTokenExpiresAt => OrNone(_accessTokenExpiresTicks);
    /// <summary>The CMS session cookie value sent upstream for this session (<c>Gateway:LegacySignIn</c>).</summary>
    public string? CmsSession { get; }
    public string? CmsUserId { get; }
    /// <summary>See <see cref="SessionRecord.BindingHash"/>.</summary>
    public string? BindingHash { get; }
    /// <summary>See <see cref="SessionRecord.AuthenticatedAt"/>.</summary>
    public DateTimeOffset? AuthenticatedAt => OrNone(_authenticatedTicks);
    /// <summary>See <see cref="SessionRecord.Acr"/>.</summary>
    public string? Acr { get; }
    /// <summary>What a revoke-all mark is compared with (<see cref="SessionRecord.IssuedOrCreatedAt"/>).</summary>
    public DateTimeOffset IssuedAt => new(_issuedTicks, TimeSpan.Zero);
}

/// <summary>
/// One copy of each distinct role set, shared by every cached session that has it: a thousand editors hold one array
/// and one string per role, not a thousand. Bounded by sets and by characters, since role sets come from the provider
/// (one that sends hundreds of group ids per user must not fill it): past either bound a set stays the session's own
/// copy, and the session's memory estimate counts it.
/// </summary>
internal sealed class RoleSets(int maxSets, int maxChars)
{
    public const int DefaultMaxSets = 1024;
    public const int DefaultMaxChars = 256 * 1024;

    public static readonly RoleSets Default = new(DefaultMaxSets, DefaultMaxChars);

    private readonly ConcurrentDictionary<ImmutableArray<string>, ImmutableArray<string>> _sets = new(SequenceComparer.Instance);
    // Not the dictionary's Count, which takes all of its locks on every call.
    private int _count;
    private long _chars;

    public int Count => Volatile.Read(ref _count);

    /// <summary>The shared copy of <paramref name="roles"/>, or (<paramref name="pooled"/> false) a copy of its own.</summary>
    public ImmutableArray<string> Shared(string[] roles, out bool pooled)
    {
        pooled = true;
        if (roles.Length == 0) return [];
        // Looked up without a copy; a caller's array is never kept, only a copy of it.
        if (_sets.TryGetValue(ImmutableCollectionsMarshal.AsImmutableArray(roles), out var shared)) return shared;
        var copy = ImmutableArray.Create(roles);
        var chars = CharsOf(copy);
        if (Count < maxSets && Interlocked.Read(ref _chars) + chars <= maxChars)
        {
            if (_sets.TryAdd(copy, copy))
            {
                Interlocked.Increment(ref _count);
                Interlocked.Add(ref _chars, chars);
                return copy;
            }
            if (_sets.TryGetValue(copy, out shared)) return shared;
        }
        pooled = false;
        return copy;
    }

    public static long CharsOf(ImmutableArray<string> roles)
    {
        long chars = 0;
        foreach (var role in roles) chars += role.Length;
        return chars;
    }

    private sealed class SequenceComparer : IEqualityComparer<ImmutableArray<string>>
    {
        public static readonly SequenceComparer Instance = new();

        public bool Equals(ImmutableArray<string> x, ImmutableArray<string> y) => x.AsSpan().SequenceEqual(y.AsSpan());

        public int GetHashCode(ImmutableArray<string> roles)
        {
            var hash = new HashCode();
            foreach (var role in roles) hash.Add(role, StringComparer.Ordinal);
            return hash.ToHashCode();
        }
    }
}
