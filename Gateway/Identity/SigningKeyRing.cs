using System.Buffers.Text;
using System.Security.Cryptography;
using Gateway.Configuration;
using Gateway.Observability;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Options;

namespace Gateway.Identity;

/// <summary>
/// ES256 keys with rotation and overlap: a new key is created <c>SigningKeyOverlap</c> before the
/// current one's rotation is due and published in the JWKS at once, but signs only from its
/// activation time, so verifiers have fetched it before they see it. A replaced key stays in the
/// JWKS for the overlap, so assertions it signed still verify until they expire. If the store loses
/// the keys while this replica holds a ring (a flushed Redis), the replacement is published for the
/// JWKS cache time before it signs, and the key in memory signs meanwhile. Keys configured under
/// <c>Gateway:Identity:SigningKeys</c> (a Secret) replace the generated ring altogether.
/// </summary>
internal sealed partial class SigningKeyRing(
    ISigningKeyStore store,
    IDataProtectionProvider dataProtection,
    IOptions<IdentityOptions> options,
    TimeProvider time,
    ILogger<SigningKeyRing> logger) : BackgroundService
{
    private readonly IDataProtector _protector = dataProtection.CreateProtector("Gateway.AssertionSigningKey.v1");
    private readonly IdentityOptions _options = options.Value;
    private readonly SemaphoreSlim _refreshLock = new(1, 1);
    private volatile Ring? _ring;
    private (SigningKey Key, DateTimeOffset Until)? _orphan;

    internal sealed record Ring(SigningKey Current, IReadOnlyList<SigningKey> Published, DateTimeOffset RefreshAfter);

    /// <summary>The key that signs now; refreshed in the background, so callers never wait on the store.</summary>
    public async ValueTask<SigningKey> CurrentAsync(CancellationToken cancellationToken)
    {
        var ring = _ring;
        if (ring is not null && ring.Current.ActivatesAt <= time.GetUtcNow()) return ring.Current;
        return (await RefreshAsync(cancellationToken)).Current;
    }

    public async ValueTask<IReadOnlyList<SigningKey>> PublishedAsync(CancellationToken cancellationToken) =>
        (_ring ?? await RefreshAsync(cancellationToken)).Published;

    /// <summary>How long verifiers may cache the JWKS: never longer than the overlap, so a new key is fetched before it signs.</summary>
    public TimeSpan JwksCacheTime => _options.SigningKeyOverlap < MaxJwksCacheTime ? _options.SigningKeyOverlap : MaxJwksCacheTime;

    private static readonly TimeSpan MaxJwksCacheTime = TimeSpan.FromMinutes(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await RefreshAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogRefreshFailed(logger, ex.Message);
            }
            try { await Task.Delay(TimeSpan.FromMinutes(1), time, stoppingToken); }
            catch (OperationCanceledException) { return; }
        }
    }

    /// <summary>Reads the stored keys, creates the first or the next one when due, and rebuilds the ring.</summary>
    public async Task<Ring> RefreshAsync(CancellationToken cancellationToken)
    {
        await _refreshLock.WaitAsync(cancellationToken);
        try
        {
            var now = time.GetUtcNow();
            if (_options.SigningKeys.Count > 0) return _ring = ConfiguredRing(now);
            var stored = (await store.LoadAsync(cancellationToken)).OrderBy(k => k.ActivatesAt).ThenBy(k => k.Kid, StringComparer.Ordinal).ToList();
            var active = stored.LastOrDefault(k => k.ActivatesAt <= now);
            var pending = stored.LastOrDefault(k => k.ActivatesAt > now);
            if (active is null && _ring is { } held && !stored.Any(k => k.Kid == held.Current.Kid))
            {
                // The store lost the keys under us: publish a replacement before it signs; the key in memory signs meanwhile.
                if (pending is null) await CreateAsync(now, now + JwksCacheTime, cancellationToken);
                var replacement = (await store.LoadAsync(cancellationToken)).Select(Materialize).ToList();
                // Assertions the held key signed must keep verifying for the overlap after the replacement takes over.
                _orphan = (held.Current, replacement.Max(k => k.ActivatesAt) + _options.SigningKeyOverlap);
                return _ring = new Ring(held.Current, [held.Current, .. replacement], now + TimeSpan.FromMinutes(1));
            }
            if (active is null && pending is null)
            {
                // The very first key: no verifier can hold a JWKS that lacks it (an empty JWKS is never cached). Replicas
                // starting together agree on one: only the first to write it into the empty store creates it.
                await CreateAsync(now, now, cancellationToken, first: true);
                stored = (await store.LoadAsync(cancellationToken)).OrderBy(k => k.ActivatesAt).ThenBy(k => k.Kid, StringComparer.Ordinal).ToList();
            }
            else if (active is not null && pending is null && active.ActivatesAt + _options.SigningKeyRotation - _options.SigningKeyOverlap <= now)
            {
                await CreateAsync(now, now + _options.SigningKeyOverlap, cancellationToken);
                stored = (await store.LoadAsync(cancellationToken)).OrderBy(k => k.ActivatesAt).ThenBy(k => k.Kid, StringComparer.Ordinal).ToList();
            }

            var current = stored.LastOrDefault(k => k.ActivatesAt <= now) ?? stored.First();
            var currentIndex = stored.IndexOf(current);
            // Published: the current key, every pending one, and predecessors replaced less than the overlap ago.
            var published = stored.Where((k, i) => i >= currentIndex || stored[i + 1].ActivatesAt + _options.SigningKeyOverlap > now).ToList();
            var publishedKeys = published.Select(Materialize).ToList();
            if (_orphan is { } orphan && orphan.Until > now && publishedKeys.All(k => k.Kid != orphan.Key.Kid)) publishedKeys.Add(orphan.Key);
            var ring = new Ring(Materialize(current), publishedKeys, now + TimeSpan.FromMinutes(1));
            _ring = ring;
            return ring;
        }
        finally
        {
            _refreshLock.Release();
        }
    }

    private Ring ConfiguredRing(DateTimeOffset now)
    {
        var keys = _options.SigningKeys
            .Select(k => (Options: k, Key: MaterializeConfigured(k)))
            .OrderBy(k => k.Options.ActivatesAt ?? DateTimeOffset.MinValue).ThenBy(k => k.Key.Kid, StringComparer.Ordinal).ToList();
        var current = keys.LastOrDefault(k => (k.Options.ActivatesAt ?? DateTimeOffset.MinValue) <= now).Key ?? keys[0].Key;
        return new Ring(current, keys.Select(k => k.Key).ToList(), now + TimeSpan.FromMinutes(1));
    }

    private SigningKey MaterializeConfigured(SigningKeyOptions configured)
    {
        var ecdsa = configured.TryLoad() ?? throw new InvalidOperationException("Gateway:Identity:SigningKeys holds a key that is not an EC P-256 private key.");
        // The kid is the key's own thumbprint, so every replica names a configured key the same way.
        var kid = Base64Url.EncodeToString(SHA256.HashData(ecdsa.ExportSubjectPublicKeyInfo()))[..16];
        if (_materialized.TryGetValue(kid, out var existing))
        {
            ecdsa.Dispose();
            return existing;
        }
        var parameters = ecdsa.ExportParameters(includePrivateParameters: false);
        var key = new SigningKey(kid, configured.ActivatesAt ?? DateTimeOffset.MinValue, ecdsa, Base64Url.EncodeToString(parameters.Q.X), Base64Url.EncodeToString(parameters.Q.Y));
        _materialized[kid] = key;
        return key;
    }

    private async Task CreateAsync(DateTimeOffset now, DateTimeOffset activatesAt, CancellationToken cancellationToken, bool first = false)
    {
        using var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var kid = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(12));
        var key = new StoredSigningKey(kid, now, activatesAt, _protector.Protect(ecdsa.ExportPkcs8PrivateKey()));
        if (first)
        {
            if (!await store.AddFirstAsync(key, cancellationToken)) return;
        }
        else await store.AddAsync(key, cancellationToken);
        LogKeyCreated(logger, kid, activatesAt);
    }

    private readonly Dictionary<string, SigningKey> _materialized = new(StringComparer.Ordinal);

    private SigningKey Materialize(StoredSigningKey stored)
    {
        if (_materialized.TryGetValue(stored.Kid, out var existing)) return existing;
        var ecdsa = ECDsa.Create();
        ecdsa.ImportPkcs8PrivateKey(_protector.Unprotect(stored.ProtectedPrivateKey), out _);
        var parameters = ecdsa.ExportParameters(includePrivateParameters: false);
        var key = new SigningKey(stored.Kid, stored.ActivatesAt, ecdsa, Base64Url.EncodeToString(parameters.Q.X), Base64Url.EncodeToString(parameters.Q.Y));
        _materialized[stored.Kid] = key;
        return key;
    }

    [LoggerMessage(EventId = LogEvents.SigningKeyCreated, EventName = nameof(LogEvents.SigningKeyCreated), Level = LogLevel.Information,
        Message = "Assertion signing key {Kid} created; signs from {ActivatesAt:o}")]
    private static partial void LogKeyCreated(ILogger logger, string kid, DateTimeOffset activatesAt);

    [LoggerMessage(EventId = LogEvents.SigningKeyRefreshFailed, EventName = nameof(LogEvents.SigningKeyRefreshFailed), Level = LogLevel.Warning,
        Message = "Signing keys could not be refreshed, the current ring keeps serving: {Reason}")]
    private static partial void LogRefreshFailed(ILogger logger, string reason);
}
