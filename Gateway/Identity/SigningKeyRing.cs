using System.Buffers.Text;
using System.Security.Cryptography;
using Gateway.Configuration;
using Gateway.Observability;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Options;

namespace Gateway.Identity;

/// <summary>A signing key as stored: the private key protected with DataProtection.</summary>
internal sealed record StoredSigningKey(string Kid, DateTimeOffset CreatedAt, DateTimeOffset ActivatesAt, byte[] ProtectedPrivateKey);

/// <summary>Where the signing keys live so every replica signs with, and publishes, the same ones.</summary>
internal interface ISigningKeyStore
{
    Task<IReadOnlyList<StoredSigningKey>> LoadAsync(CancellationToken cancellationToken);

    /// <summary>Adds a key unless one with the same kid exists.</summary>
    Task AddAsync(StoredSigningKey key, CancellationToken cancellationToken);
}

internal sealed class InMemorySigningKeyStore : ISigningKeyStore
{
    private readonly List<StoredSigningKey> _keys = [];

    public Task<IReadOnlyList<StoredSigningKey>> LoadAsync(CancellationToken cancellationToken)
    {
        lock (_keys) return Task.FromResult<IReadOnlyList<StoredSigningKey>>(_keys.ToList());
    }

    public Task AddAsync(StoredSigningKey key, CancellationToken cancellationToken)
    {
        lock (_keys) if (_keys.All(k => k.Kid != key.Kid)) _keys.Add(key);
        return Task.CompletedTask;
    }
}

/// <summary>A usable key: the kid, its public parameters for the JWKS, and the signer.</summary>
internal sealed record SigningKey(string Kid, DateTimeOffset ActivatesAt, ECDsa Algorithm, string X, string Y);

/// <summary>
/// ES256 keys with rotation and overlap: a new key is created <c>SigningKeyOverlap</c> before the
/// current one's rotation is due and published in the JWKS at once, but signs only from its
/// activation time, so verifiers have fetched it before they see it. A replaced key stays in the
/// JWKS for the overlap, so assertions it signed still verify until they expire.
/// </summary>
internal sealed partial class SigningKeyRing(
    ISigningKeyStore store,
    IDataProtectionProvider dataProtection,
    IOptions<GatewayOptions> options,
    TimeProvider time,
    ILogger<SigningKeyRing> logger) : BackgroundService
{
    private readonly IDataProtector _protector = dataProtection.CreateProtector("Gateway.AssertionSigningKey.v1");
    private readonly IdentityOptions _options = options.Value.Identity;
    private readonly SemaphoreSlim _refreshLock = new(1, 1);
    private volatile Ring? _ring;

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
            var stored = (await store.LoadAsync(cancellationToken)).OrderBy(k => k.ActivatesAt).ThenBy(k => k.Kid, StringComparer.Ordinal).ToList();
            var active = stored.LastOrDefault(k => k.ActivatesAt <= now);
            var pending = stored.LastOrDefault(k => k.ActivatesAt > now);
            if (active is null && pending is null)
            {
                await CreateAsync(now, now, cancellationToken);
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
            var ring = new Ring(Materialize(current), published.Select(Materialize).ToList(), now + TimeSpan.FromMinutes(1));
            _ring = ring;
            return ring;
        }
        finally
        {
            _refreshLock.Release();
        }
    }

    private async Task CreateAsync(DateTimeOffset now, DateTimeOffset activatesAt, CancellationToken cancellationToken)
    {
        using var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var kid = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(12));
        await store.AddAsync(new StoredSigningKey(kid, now, activatesAt, _protector.Protect(ecdsa.ExportPkcs8PrivateKey())), cancellationToken);
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

    [LoggerMessage(EventId = LogEvents.SigningKeyCreated + 1, EventName = "SigningKeyRefreshFailed", Level = LogLevel.Warning,
        Message = "Signing keys could not be refreshed, the current ring keeps serving: {Reason}")]
    private static partial void LogRefreshFailed(ILogger logger, string reason);
}
