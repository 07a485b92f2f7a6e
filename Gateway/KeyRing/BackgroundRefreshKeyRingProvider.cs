using System.Buffers.Binary;
using System.Security.Cryptography;
using Gateway.Observability;
using Microsoft.AspNetCore.DataProtection.AuthenticatedEncryption;
using Microsoft.AspNetCore.DataProtection.KeyManagement.Internal;

namespace Gateway.KeyRing;

/// <summary>
/// DataProtection's key ring provider, changed where a client can reach it. A payload under a key id the ring does
/// not hold is just an invalid payload: DataProtection, in a replica's first two minutes, answers one with a forced
/// refresh that blocks the request thread on a read of the store, once per payload, so a flood of forged cookies
/// became a flood of blocking Redis reads. Here the unknown id asks for a background refresh instead, at most one
/// per <see cref="MinRefreshInterval"/>, and the payload fails at once. Being a different type than
/// DataProtection's own provider is what turns its forced refresh off, for every protector in the process.
/// </summary>
internal sealed partial class BackgroundRefreshKeyRingProvider(
    IKeyRingProvider inner, RefreshableKeyManager keys, KeyRingHealth health, GatewayMetrics metrics, TimeProvider time, ILogger logger) : IKeyRingProvider
{
    /// <summary>The least time between two refreshes a client can cause, and between two first-load attempts.</summary>
    public static readonly TimeSpan MinRefreshInterval = TimeSpan.FromSeconds(1);

    // DataProtection's payload: { magic header (big-endian) || key id || ciphertext }.
    private const uint MagicHeader = 0x09F0C9F0;
    private const int HeaderLength = sizeof(uint) + 16;

    private UnknownKeyAwareRing? _current;
    private long _lastRefreshAsked;
    private long _lastFirstLoadFailure;
    private int _firstLoadRunning;

    public IKeyRing GetCurrentKeyRing()
    {
        if (!health.Usable) return LoadFirst();
        IKeyRing ring;
        try
        {
            ring = inner.GetCurrentKeyRing();
        }
        catch (Exception ex)
        {
            // A background refresh that failed surfaces on whichever call consumes it; DataProtection keeps the ring
            // it had, and so does this request instead of failing on somebody else's refresh.
            LogRefreshFailed(logger, ex.GetType().Name);
            return Volatile.Read(ref _current)!;
        }
        return Wrap(ring);
    }

    /// <summary>
    /// Whether a DataProtection payload could decrypt here: its header is DataProtection's and its key id is one the
    /// ring holds (an unknown id asks for a background refresh). No exception, so a flood of forged cookies costs a
    /// header check each. True while no ring has loaded: the caller's Unprotect then reports the ring as unusable.
    /// <paramref name="keyId"/> is the id the header names (the memo of verified cookies keeps it beside the value).
    /// </summary>
    public bool MayHold(ReadOnlySpan<byte> payload, out Guid keyId)
    {
        if (!TryReadKeyId(payload, out keyId)) return false;
        if (!health.Usable) return true;
        return GetCurrentKeyRing().GetAuthenticatedEncryptorByKeyId(keyId, out _) is not null;
    }

    /// <summary>
    /// Whether the key a payload that decrypted here once was protected under is still held and not revoked: what
    /// decrypting it again would refuse first, for a payload that is not decrypted again (a cached session kept after a
    /// store read found the same bytes, <see cref="Sessions.SessionManager"/>). Revoking a key after a compromise so
    /// still ends the sessions under it within <c>CacheDuration</c>. False while no ring has loaded.
    /// </summary>
    public bool StillUnrevoked(ReadOnlySpan<byte> payload) => TryReadKeyId(payload, out var keyId) && StillUnrevoked(keyId);

    /// <summary>
    /// <see cref="StillUnrevoked(ReadOnlySpan{byte})"/> by the key id read from the payload when it decrypted (the memo
    /// of verified cookies holds it beside each value): a lookup in the ring this replica holds, nothing allocated.
    /// </summary>
    public bool StillUnrevoked(Guid keyId) =>
        health.Usable && GetCurrentKeyRing().GetAuthenticatedEncryptorByKeyId(keyId, out var revoked) is not null && !revoked;

    /// <summary>The key id of a payload whose header is DataProtection's.</summary>
    internal static bool TryReadKeyId(ReadOnlySpan<byte> payload, out Guid keyId)
    {
        keyId = default;
        if (payload.Length < HeaderLength || BinaryPrimitives.ReadUInt32BigEndian(payload) != MagicHeader) return false;
        keyId = new Guid(payload.Slice(sizeof(uint), 16));
        return true;
    }

    /// <summary>
    /// Until a ring has loaded, DataProtection reads the store inline on every call: at most one attempt per interval
    /// here, so requests during an outage at start-up fail fast instead of each blocking on a read.
    /// </summary>
    private UnknownKeyAwareRing LoadFirst()
    {
        var failed = Interlocked.Read(ref _lastFirstLoadFailure);
        if (failed != 0 && time.GetElapsedTime(failed) < MinRefreshInterval)
            throw new CryptographicException("The DataProtection key ring has not loaded yet.");
        // One attempt at a time, and nobody waits on it: DataProtection would park every other caller on the attempt
        // (a read that can hang for the client's sync timeout). They fail at once; the ring is usable when it loads.
        if (Interlocked.CompareExchange(ref _firstLoadRunning, 1, 0) != 0)
            throw new CryptographicException("The DataProtection key ring is being loaded.");
        try
        {
            var ring = Wrap(inner.GetCurrentKeyRing());
            health.Loaded();
            return ring;
        }
        catch
        {
            Interlocked.Exchange(ref _lastFirstLoadFailure, time.GetTimestamp());
            throw;
        }
        finally
        {
            Volatile.Write(ref _firstLoadRunning, 0);
        }
    }

    private UnknownKeyAwareRing Wrap(IKeyRing ring)
    {
        var current = Volatile.Read(ref _current);
        if (current is not null && ReferenceEquals(current.Inner, ring)) return current;
        current = new UnknownKeyAwareRing(ring, this);
        Volatile.Write(ref _current, current);
        return current;
    }

    private void KeyIdUnknown()
    {
        metrics.UnknownKeyId();
        var now = time.GetTimestamp();
        var last = Interlocked.Read(ref _lastRefreshAsked);
        if (last != 0 && time.GetElapsedTime(last, now) < MinRefreshInterval) return;
        if (Interlocked.CompareExchange(ref _lastRefreshAsked, now, last) != last) return;
        keys.ExpireCachedRing();
        // With a stale ring cached, this call starts DataProtection's background rebuild and returns at once.
        ThreadPool.UnsafeQueueUserWorkItem(static provider => provider.GetCurrentKeyRing(), this, preferLocal: false);
    }

    /// <summary>The ring as DataProtection built it; a lookup it cannot answer asks for a background refresh.</summary>
    private sealed class UnknownKeyAwareRing(IKeyRing ring, BackgroundRefreshKeyRingProvider owner) : IKeyRing
    {
        public IKeyRing Inner => ring;

        public IAuthenticatedEncryptor? DefaultAuthenticatedEncryptor => ring.DefaultAuthenticatedEncryptor;

        public Guid DefaultKeyId => ring.DefaultKeyId;

        public IAuthenticatedEncryptor? GetAuthenticatedEncryptorByKeyId(Guid keyId, out bool isRevoked)
        {
            var encryptor = ring.GetAuthenticatedEncryptorByKeyId(keyId, out isRevoked);
            if (encryptor is null) owner.KeyIdUnknown();
            return encryptor;
        }
    }

    [LoggerMessage(EventId = LogEvents.KeyRingRefreshFailed, EventName = nameof(LogEvents.KeyRingRefreshFailed), Level = LogLevel.Warning,
        Message = "Refreshing the DataProtection key ring failed ({Exception}); the ring already loaded stays in use")]
    private static partial void LogRefreshFailed(ILogger logger, string exception);
}
