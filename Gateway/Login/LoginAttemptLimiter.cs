using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Gateway.Configuration;
using Microsoft.Extensions.Options;

namespace Gateway.Login;

/// <summary>
/// Slows password guessing on both axes, across replicas (shared counters in Redis) and on each replica: failed logins per user name across all addresses, and
/// per client address across all user names, each in a one-minute window. Only failures count, so a user who
/// signs in often is never locked out by it. Keys are 64-bit hashes, never the submitted text, and the table
/// is bounded: a flood of distinct names cannot pin memory.
/// </summary>
internal sealed class LoginAttemptLimiter(IOptions<GatewayOptions> options, TimeProvider time, ILoginAttemptStore? shared = null)
{
    private static readonly TimeSpan WindowLength = TimeSpan.FromMinutes(1);

    /// <summary>Most keys tracked at once; past it, expired windows go first, then arbitrary ones.</summary>
    internal const int MaxTrackedKeys = 100_000;

    private readonly ConcurrentDictionary<ulong, Window> _windows = new();
    private readonly int _perUser = options.Value.Login.AttemptsPerMinute;
    private readonly int _perAddress = options.Value.Login.AddressAttemptsPerMinute;

    internal int TrackedKeys => _windows.Count;

    /// <summary>
    /// True while either the user name or the address has used up its failures for this minute: on this replica (counted
    /// here all along, so never more than the limit per replica even while Redis is down) or across all replicas.
    /// </summary>
    public async Task<bool> IsBlockedAsync(string userName, string? clientAddress, CancellationToken cancellationToken)
    {
        if (IsBlocked(userName, clientAddress)) return true;
        if (shared is null) return false;
        try
        {
            var counts = await shared.CountsAsync(SharedKeys(userName, clientAddress), cancellationToken);
            return counts[0] >= _perUser || counts[1] >= _perAddress;
        }
        catch (Sessions.StoreUnavailableException)
        {
            return false;
        }
    }

    public async Task RecordFailureAsync(string userName, string? clientAddress, CancellationToken cancellationToken)
    {
        RecordFailure(userName, clientAddress);
        if (shared is null) return;
        try
        {
            await shared.AddFailureAsync(SharedKeys(userName, clientAddress), WindowLength, cancellationToken);
        }
        catch (Sessions.StoreUnavailableException)
        {
            // Counted on this replica already.
        }
    }

    /// <summary>This replica's own verdict.</summary>
    internal bool IsBlocked(string userName, string? clientAddress)
    {
        var now = time.GetUtcNow();
        return Failures(UserKey(userName), now) >= _perUser || Failures(AddressKey(clientAddress), now) >= _perAddress;
    }

    internal void RecordFailure(string userName, string? clientAddress)
    {
        var now = time.GetUtcNow();
        if (_windows.Count >= MaxTrackedKeys) Prune(now);
        Count(UserKey(userName), now);
        Count(AddressKey(clientAddress), now);
    }

    // Hashes, never the submitted text, in Redis too.
    private static string[] SharedKeys(string userName, string? clientAddress) =>
        ["u:" + UserKey(userName).ToString("x16", System.Globalization.CultureInfo.InvariantCulture),
         "a:" + AddressKey(clientAddress).ToString("x16", System.Globalization.CultureInfo.InvariantCulture)];

    private int Failures(ulong key, DateTimeOffset now) =>
        _windows.TryGetValue(key, out var window) && window.Until > now ? window.Failures : 0;

    private void Count(ulong key, DateTimeOffset now) =>
        _windows.AddOrUpdate(key, _ => new Window(now + WindowLength, 1),
            (_, w) => w.Until > now ? w with { Failures = w.Failures + 1 } : new Window(now + WindowLength, 1));

    private void Prune(DateTimeOffset now)
    {
        foreach (var (key, window) in _windows)
            if (window.Until <= now) _windows.TryRemove(key, out _);
        // Still full of live windows (a flood): drop a tenth rather than grow; the flood's own keys are most of them.
        var excess = _windows.Count - MaxTrackedKeys * 9 / 10;
        foreach (var key in _windows.Keys)
        {
            if (excess-- <= 0) break;
            _windows.TryRemove(key, out _);
        }
    }

    private static ulong UserKey(string userName) => Hash("u:" + userName.Trim().ToLowerInvariant());

    private static ulong AddressKey(string? clientAddress) => Hash("a:" + AddressBlock(clientAddress));

    /// <summary>
    /// The unit one client controls: an IPv4 address, or an IPv6 /64 (a single host is routinely given a whole /64, so
    /// counting full IPv6 addresses would give it 2^64 fresh budgets). IPv4-mapped IPv6 counts as its IPv4 address.
    /// </summary>
    internal static string? AddressBlock(string? clientAddress)
    {
        if (!System.Net.IPAddress.TryParse(clientAddress, out var address)) return clientAddress;
        if (address.IsIPv4MappedToIPv6) return address.MapToIPv4().ToString();
        if (address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6) return address.ToString();
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        bytes[8..].Clear();
        return new System.Net.IPAddress(bytes).ToString() + "/64";
    }

    private static ulong Hash(string value) => BinaryPrimitives.ReadUInt64LittleEndian(SHA256.HashData(Encoding.UTF8.GetBytes(value)));

    private sealed record Window(DateTimeOffset Until, int Failures);
}
