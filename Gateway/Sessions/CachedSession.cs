using System.Security.Claims;
using Gateway.Identity;

namespace Gateway.Sessions;

/// <summary>
/// A resolved session as one replica holds it between store round trips, and the one owner of everything a request
/// derives from it: the two principals, the request feature, the encoded identity header values, the signed assertion
/// and the verified cookie's place in the memo. Each is built on first use from <see cref="Record"/> and let go
/// together when the cache sheds the entry (<see cref="TryShed"/>); the access token is the record's own.
/// </summary>
internal sealed class CachedSession
{
    private long _lastTouchTicks;
    private long _cachedUntilTicks;
    private int _residency = (int)Residency.Used;
    // Reads ahead claimed since a request last used the entry (0: used since the last claim, by a request served from it
    // or by the request whose store read built or kept it). SessionRefreshes reads ahead only below ReadAheadWindow.
    private int _readsAheadSinceUse;
    // The change log's epoch and the time of the last store read that built or kept this entry (SessionChangeLog).
    private int _logEpoch;
    private long _storeReadAtTicks;
    private volatile ClaimsPrincipal? _principal;
    private volatile ClaimsPrincipal? _frameworkPrincipal;
    private volatile SessionFeature? _feature;
    private volatile IdentityHeaderValues? _headerValues;
    private volatile SignedAssertion? _assertion;
    private volatile AssertionSeal? _seal;
    private CookieDigest? _rememberedCookie;

    /// <param name="stored">The record's bytes as the store held them, when this entry is built from a read or a write of
    /// the store: a later read that finds the same bytes keeps this entry (<see cref="StillHolds"/>).</param>
    /// <param name="logEpoch">The change log's epoch taken before the store read that built it was sent (0: not read, or no log).</param>
    public CachedSession(SessionKey key, SessionRecord record, DateTimeOffset fetchedAt, DateTimeOffset cachedUntil, ReadOnlySpan<byte> stored = default,
        int logEpoch = 0)
    {
        _lastTouchTicks = fetchedAt.UtcTicks;
        _cachedUntilTicks = cachedUntil.UtcTicks;
        Key = key;
        Record = CachedRecord.Of(record);
        ShortHashBits = key.ShortHashBits;
        StoredDigest = stored.IsEmpty ? UInt128.Zero : DigestOf(stored);
        if (!stored.IsEmpty && KeyRing.BackgroundRefreshKeyRingProvider.TryReadKeyId(stored, out var keyId)) RecordKeyId = keyId;
        _logEpoch = logEpoch;
        // The read was sent at or after fetchedAt (which may be the last slide, earlier still): never later than it was.
        _storeReadAtTicks = fetchedAt.UtcTicks;
        (EstimatedBytes, ShedBytes) = Estimate(Record);
    }

    public SessionKey Key { get; }
    /// <summary>What requests read of the record; tokens and the rest stay in the store (<see cref="CachedRecord"/>).</summary>
    public CachedRecord Record { get; }
    /// <summary>The session's <see cref="SessionKey.ShortHash"/>, held as its number (the string would be 56 bytes more an entry).</summary>
    public ulong ShortHashBits { get; }

    /// <summary>Spelled out for logs and the assertion's sid_hash: not for any per-request path.</summary>
    public string ShortHash => SessionHandle.FormatShortHash(ShortHashBits);

    /// <summary>Until when this replica serves the entry without asking the store; moved on by <see cref="TryExtend"/>.</summary>
    public DateTimeOffset CachedUntil => new(Volatile.Read(ref _cachedUntilTicks), TimeSpan.Zero);

    /// <summary>
    /// The first 128 bits of the SHA-256 of the record's bytes in the store (zero when not known). Every write of a record
    /// encrypts it afresh (a new key modifier and IV), so the same bytes are the same write: the record this entry was
    /// built from, already checked as genuine and this session's.
    /// </summary>
    public UInt128 StoredDigest { get; }

    /// <summary>The DataProtection key the stored record was encrypted under (empty when not known: never vouched for by the change log).</summary>
    public Guid RecordKeyId { get; }

    /// <summary>The change log's epoch when the last store read that built or kept this entry was sent.</summary>
    public int LogEpoch => Volatile.Read(ref _logEpoch);

    /// <summary>When the last store read that built or kept this entry was sent.</summary>
    public long StoreReadAtTicks => Volatile.Read(ref _storeReadAtTicks);

    /// <summary>
    /// A store read sent at <paramref name="sentAt"/> under the change log's <paramref name="epoch"/> kept this entry.
    /// Two such reads racing may leave one's epoch beside the other's time: each is a read that showed this entry's
    /// record, so either pair is one the log may vouch on.
    /// </summary>
    internal void NoteStoreRead(int epoch, DateTimeOffset sentAt)
    {
        if (sentAt.UtcTicks < Volatile.Read(ref _storeReadAtTicks)) return;
        Volatile.Write(ref _logEpoch, epoch);
        Volatile.Write(ref _storeReadAtTicks, sentAt.UtcTicks);
    }

    /// <summary>The first 128 bits of SHA-256 as a number: the stored record's digest, and what an assertion's seal compares.</summary>
    internal static UInt128 DigestOf(ReadOnlySpan<byte> stored)
    {
        Span<byte> hash = stackalloc byte[32];
        System.Security.Cryptography.SHA256.HashData(stored, hash);
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt128LittleEndian(hash);
    }

    /// <summary>
    /// True when a store read of this session (<paramref name="stored"/>) shows the record this entry holds, and no
    /// revoke-all mark read beside it covers the session: the entry may be served again as it is, with its header values
    /// and signed assertion, instead of decrypting the record and signing anew.
    /// </summary>
    public bool StillHolds(StoredSession stored) =>
        StoredDigest != UInt128.Zero && DigestOf(stored.Record) == StoredDigest && !stored.Revokes(Record.IssuedAt);

    /// <summary>Whether the session is over by the time this entry holds: past its absolute lifetime, or idle past <paramref name="idleTimeout"/>.</summary>
    public bool Ended(DateTimeOffset now, TimeSpan idleTimeout) => Record.AbsoluteExpiresAt <= now || LastTouchedAt + idleTimeout <= now;

    /// <summary>Past its cached time, whether a store read could still keep it (<see cref="StillHolds"/>) rather than rebuild it.</summary>
    public bool Revalidatable(DateTimeOffset now) => StoredDigest != UInt128.Zero && Record.AbsoluteExpiresAt > now;

    /// <summary>
    /// Serves the entry until <paramref name="until"/>; false once it is out of the cache. A request's own store read
    /// (<paramref name="byRequest"/>) is a use: the count of reads ahead since one starts afresh. A read ahead counted
    /// itself when it was claimed, and leaves the count to the requests. A read ahead only ever moves the time on: one
    /// sent before a request's own read never takes back what that read gave.
    /// </summary>
    internal bool TryExtend(DateTimeOffset until, bool byRequest)
    {
        if (State == Residency.Retired) return false;
        if (byRequest)
        {
            Volatile.Write(ref _cachedUntilTicks, until.UtcTicks);
            Volatile.Write(ref _readsAheadSinceUse, 0);
        }
        else
        {
            for (var current = Volatile.Read(ref _cachedUntilTicks); current < until.UtcTicks;)
            {
                var seen = Interlocked.CompareExchange(ref _cachedUntilTicks, until.UtcTicks, current);
                if (seen == current) break;
                current = seen;
            }
        }
        return State != Residency.Retired;
    }

    /// <summary>A request was served from this entry (a write only the first time after each read ahead).</summary>
    public void NoteRead()
    {
        if (Volatile.Read(ref _readsAheadSinceUse) != 0) Volatile.Write(ref _readsAheadSinceUse, 0);
    }

    /// <summary>
    /// True for exactly one caller per read ahead while fewer than <see cref="ReadAheadWindow"/> reads ahead went by
    /// since a request last used the entry.
    /// </summary>
    internal bool TryClaimReadAhead()
    {
        for (var seen = Volatile.Read(ref _readsAheadSinceUse); seen < ReadAheadWindow;)
        {
            var was = Interlocked.CompareExchange(ref _readsAheadSinceUse, seen + 1, seen);
            if (was == seen) return true;
            seen = was;
        }
        return false;
    }

    // Two, not one: a session whose requests come less often than every CacheDuration (uniform use of 100k sessions
    // at 5,000 req/s is one request every 20 s on average, often more than 30 s apart) would otherwise find its time
    // out and read the store on the request path, a whole round trip where a batched read costs a part of one. The
    // price: after its last request a session is read ahead up to twice (about 25 s apart, so it stays cached about
    // 50 s longer), where it used to be read once, or not at all when that request read the store itself. Measured
    // side by side at 100k with 256 MB against one, four runs: 0.841x-1.001x the CPU (median 0.92x), 0.885x-1.173x the
    // req/s (median 1.10x). Three measured lower CPU again in some runs but fewer req/s and more reads in others
    // (README, "The read ahead's window").
    internal const int ReadAheadWindow = 2;

    /// <summary>
    /// A claimed read ahead failed or was never sent: the entry is left to its next request, as it was before the claim
    /// (reads ahead are not retried), unless a request used it meanwhile.
    /// </summary>
    internal void ReadAheadFailed()
    {
        for (var seen = Volatile.Read(ref _readsAheadSinceUse); seen is not 0 and < ReadAheadWindow;)
        {
            var was = Interlocked.CompareExchange(ref _readsAheadSinceUse, ReadAheadWindow, seen);
            if (was == seen) return;
            seen = was;
        }
    }

    /// <summary>The principal proxied requests carry: claims built only if something reads them (<see cref="SessionIdentity"/>).</summary>
    public ClaimsPrincipal Principal => _principal ?? (_principal = GatewayClaims.ToLazyPrincipal(Record));

    /// <summary>
    /// The principal the authentication handler gives the framework (the gateway's own endpoints): an ordinary claims
    /// identity, so the framework and any claims code there see exactly what they expect. Built on first use: most
    /// cached sessions only ever make proxied requests.
    /// </summary>
    public ClaimsPrincipal FrameworkPrincipal => _frameworkPrincipal ?? (_frameworkPrincipal = GatewayClaims.ToPrincipal(Record));

    /// <summary>This session as a request feature: one object per cached session, not one per request.</summary>
    public SessionFeature Feature => _feature ?? (_feature = new SessionFeature(this));

    /// <summary>This session's identity header values, encoded once (computed at most a few times under a race, each the same).</summary>
    public IdentityHeaderValues HeaderValues => _headerValues ?? (_headerValues = IdentityHeaderValues.Of(Record));

    /// <summary>
    /// The assertion last signed for this session (<see cref="AssertionIssuer"/> decides when it is still good). Holding
    /// one lets go of the seal the entry kept while shed.
    /// </summary>
    public SignedAssertion? Assertion
    {
        get => _assertion;
        set
        {
            _assertion = value;
            if (value is not null) _seal = null;
        }
    }

    /// <summary>What shedding kept of the assertion (<see cref="AssertionSeal"/>): its next use spells it out instead of signing.</summary>
    public AssertionSeal? Seal => _seal;

    /// <summary>
    /// The cookie value this session was last read from, as <see cref="VerifiedCookieMemo"/> remembers it: shedding the
    /// session forgets it there too (keeping it measured no gain: 104 bytes more a shed session, so fewer held, against
    /// 14 µs less to wake one). Noted once per residency, when a request's cookie resolved to this session; true when
    /// this call noted it.
    /// </summary>
    internal bool NoteCookie(CookieDigest? remembered) =>
        remembered is not null && Volatile.Read(ref _rememberedCookie) is null && Interlocked.CompareExchange(ref _rememberedCookie, remembered, null) is null;

    /// <summary>True for exactly one caller once <paramref name="interval"/> has passed since the last sliding-expiry write.</summary>
    public bool TryClaimTouch(DateTimeOffset now, TimeSpan interval)
    {
        var last = Interlocked.Read(ref _lastTouchTicks);
        return now.UtcTicks - last >= interval.Ticks && Interlocked.CompareExchange(ref _lastTouchTicks, now.UtcTicks, last) == last;
    }

    /// <summary>
    /// True for exactly one caller once <paramref name="interval"/> has passed since the CMS session was last checked on
    /// this replica (at once for a session just fetched): <c>Gateway:LegacySignIn</c> reads the CMS record then.
    /// </summary>
    public bool TryClaimCmsCheck(DateTimeOffset now, TimeSpan interval)
    {
        var last = Interlocked.Read(ref _cmsCheckedTicks);
        return (last == 0 || now.UtcTicks - last >= interval.Ticks) && Interlocked.CompareExchange(ref _cmsCheckedTicks, now.UtcTicks, last) == last;
    }

    /// <summary>The next request checks the CMS session again (the CMS answered as if it saw a guest, or the check failed).</summary>
    public void DueCmsCheck() => Interlocked.Exchange(ref _cmsCheckedTicks, 0);

    private long _cmsCheckedTicks;

    public DateTimeOffset LastTouchedAt => new(Interlocked.Read(ref _lastTouchTicks), TimeSpan.Zero);

    // What this entry holds beyond its identity, and so what SessionCache counts for it. Every change is one
    // compare-and-swap, and the cache adds or subtracts exactly what the winning transition says: the count stays exact
    // when a request wakes an entry while an eviction sheds or drops it.
    //   Used:    read by a request since the cache last looked; everything below may be built.
    //   Idle:    not read since the cache last looked (second chance: the next look sheds it).
    //   Shed:    the principals, feature, header values, assertion and remembered cookie are let go; the next request
    //            rebuilds them from the record (a cookie check, and the assertion spelled out from the seal kept of it
    //            while that is still good, else a signature), without a store round trip. The record holds its
    //            user's identity as bytes meanwhile (CachedRecord.Pack), as strings again once woken.
    //   Retired: out of the cache; counts nothing.
    internal enum Residency { Shed, Idle, Used, Retired }

    internal Residency State => (Residency)Volatile.Read(ref _residency);

    /// <summary>
    /// What this entry keeps alive when in use, estimated from its strings: the record, the principal over it, the
    /// remembered cookie, the signed assertion and identity header values a signed-in request adds. Calibrated against
    /// the heap (bench --cache-memory).
    /// </summary>
    public int EstimatedBytes { get; }

    /// <summary>What it keeps alive once shed: the entry, its key and its record.</summary>
    public int ShedBytes { get; }

    /// <summary>What shedding lets go and a request builds again.</summary>
    public int DerivedBytes => EstimatedBytes - ShedBytes;

    /// <summary>Marks the entry read by a request; true when it had been shed, so the cache counts its derived part again.</summary>
    internal bool MarkUsed()
    {
        while (true)
        {
            var state = Volatile.Read(ref _residency);
            if (state is (int)Residency.Used or (int)Residency.Retired) return false;
            if (Interlocked.CompareExchange(ref _residency, (int)Residency.Used, state) != state) continue;
            if (state != (int)Residency.Shed) return false;
            Record.Unpack();
            return true;
        }
    }

    /// <summary>Used to Idle: true when it had been read since the cache last looked (it keeps everything this time).</summary>
    internal bool TryMarkIdle() =>
        Interlocked.CompareExchange(ref _residency, (int)Residency.Idle, (int)Residency.Used) == (int)Residency.Used;

    /// <summary>
    /// Idle to Shed: lets go of everything a request can rebuild from the record. True when this call shed it (the
    /// cache then subtracts <see cref="DerivedBytes"/>); <paramref name="rememberedCookie"/> is the memo entry to forget.
    /// A request that wakes the entry meanwhile may have its freshly built values let go here: it is counted as in use,
    /// and its next request builds them again. The other way round, a request that read the entry before two looks
    /// went by (each a walk of the whole cache) may build them after this: they are then held while counted as shed,
    /// until the entry's next read or its drop (its cached time bounds it).
    /// </summary>
    internal bool TryShed(DateTimeOffset now, out CookieDigest? rememberedCookie)
    {
        rememberedCookie = null;
        if (Interlocked.CompareExchange(ref _residency, (int)Residency.Shed, (int)Residency.Idle) != (int)Residency.Idle) return false;
        LetGoOfRebuilt();
        Record.Pack();
        // Woken meanwhile (a request's MarkUsed came between the exchange above and the packing): strings again.
        if (State != Residency.Shed) Record.Unpack();
        // A session woken and shed again without a request that needed its assertion keeps the seal it had, while good.
        _seal = AssertionSeal.Of(_assertion, now) ?? (_seal is { } kept && kept.RefreshAfter > now ? kept : null);
        _assertion = null;
        rememberedCookie = Interlocked.Exchange(ref _rememberedCookie, null);
        return true;
    }

    /// <summary>
    /// Out of the cache: what the cache counted for it (zero if already retired). What a request builds again is let
    /// go as in shedding, seal and all: a revoked or ended session's assertion is not kept for whatever still refers to
    /// the entry (a request in flight, the cache's clock hand).
    /// </summary>
    internal int Retire(out CookieDigest? rememberedCookie)
    {
        rememberedCookie = Volatile.Read(ref _rememberedCookie);
        var counted = BytesIn((Residency)Interlocked.Exchange(ref _residency, (int)Residency.Retired));
        LetGoOfRebuilt();
        _assertion = null;
        _seal = null;
        return counted;
    }

    /// <summary>What a request builds again from the record, the assertion apart (shedding keeps a seal of it).</summary>
    private void LetGoOfRebuilt()
    {
        _principal = null;
        _frameworkPrincipal = null;
        _feature = null;
        _headerValues = null;
    }

    /// <summary>What the cache counts for this entry now.</summary>
    internal int CountedBytes => BytesIn(State);

    private int BytesIn(Residency state) => state switch
    {
        Residency.Retired => 0,
        Residency.Shed => ShedBytes,
        _ => EstimatedBytes,
    };

    // Calibrated with CacheMemoryEstimateTests: the heap with 20,000 entries less the heap once they are gone, after
    // full collections, held to the estimate within a tenth. In use and shed, as the entry changed:
    //   2,460 and 808 B at first;
    //   2,492 and 840 keeping the stored record's digest and its issue time, for revalidation;
    //   2,436 and 784 holding its short hash as a number, not a 16-character string;
    //   2,460 and 928 with a shed session keeping its assertion's seal (144 B), the assertion holding its iat and jti;
    //   2,460 and 1,032 while a shed session kept its cookie's memo entry (104 B; no measured gain, taken out again);
    //   2,428 and 880 with the record's instants as ticks (48 B) and the memo holding each cookie's key id (16 B);
    //   2,356 and 776 with the session key as its 44 bytes instead of two strings (the memo's copy of the key grows by
    //   32 B, so an entry in use saves less than a shed one);
    //   2,370 and 621 with a shed entry's identity held as its ASCII bytes (CachedRecord.Pack), the strings in an array
    //   of three while in use (bench --cache-memory: 2,607 and 863 B against 2,598 and 1,018).
    // bench --cache-memory measures against the heap before the entries came, so it also counts the dictionaries'
    // grown capacity, which stays when entries go (about 2,600 and 860 B there).
    // What is counted: the objects of the entry, its key, its record, its cache node, its sliding-expiry mark and the
    // seal of its assertion (counted for every shed entry, held by those shed with a good one), before its own
    // strings, shed; then what a signed-in request adds: the principal (claims built lazily, so none), the feature,
    // the cookie's digest in the memo with its dictionary node and key id, and the fixed part of the signed assertion,
    // header and signature, less the seal shedding keeps of it (~800 B). Held as its ASCII bytes the assertion would
    // take half, but spelling the string out for each request measured 1.005 to 1.072 times the CPU on the signed-in
    // hot path (median 1.055 over three runs).
    private const int FixedShedBytes = 556;
    private const int FixedDerivedBytes = 1_122;
    // Per role, beyond its characters: its quotes in the assertion and its comma in the roles header.
    private const int PerRoleBytes = 10;
    // An array's header and a string's header and terminator, for role sets a session holds on its own.
    private const int ArrayBytes = 24;
    private const int OwnedRoleBytes = 22;
    // A string's header and terminator: the access token's, and each identity value's while it is a string.
    private const int StringBytes = 24;
    // The identity's array of three strings, while they are strings.
    private const int IdentityArrayBytes = 48;

    private static (int Estimated, int Shed) Estimate(CachedRecord record)
    {
        long identityChars = record.IdentityChars;
        var ownChars = Len(record.AccessToken) + Len(record.CmsSession) + Len(record.CmsUserId) + Len(record.BindingHash);
        // The identity as strings (in use, or shed when not all ASCII), or as its bytes (shed): CachedRecord.Pack.
        long asStrings = IdentityArrayBytes + StringBytes * record.IdentityStrings + 2 * identityChars;
        long asBytes = ArrayBytes + identityChars;
        long shed = FixedShedBytes + (record.Packable ? asBytes : asStrings) + 2 * ownChars
            + (record.AccessToken is null ? 0 : StringBytes) + (record.CmsSession is null ? 0 : 2 * StringBytes);
        // A role set the pool did not take: its array and strings are this entry's alone.
        var roleChars = RoleSets.CharsOf(record.Roles);
        if (record.RolesOwned) shed += ArrayBytes + record.Roles.Length * (OwnedRoleBytes + 8) + 2 * roleChars;
        // Each identity string is spelled out again in a header value and (base64url, 4/3) in the assertion, two bytes
        // a character; the role strings themselves are shared between sessions (RoleSets), their spelling in the
        // header and assertion is not.
        var derived = FixedDerivedBytes + (identityChars + roleChars) * 14 / 3 + record.Roles.Length * PerRoleBytes
            + (record.Packable ? asStrings - asBytes : 0);
        return ((int)Math.Min(int.MaxValue, shed + derived), (int)Math.Min(int.MaxValue, shed));
    }

    private static int Len(string? value) => value?.Length ?? 0;
}
