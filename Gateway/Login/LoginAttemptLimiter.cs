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
internal sealed class LoginAttemptLimiter(IOptions<LoginOptions> options, TimeProvider time, ILoginAttemptStore? shared = null)
{
    private static readonly TimeSpan WindowLength = TimeSpan.FromMinutes(1);

    /// <summary>Most keys tracked at once; past it, expired windows go first, then arbitrary ones.</summary>
    internal const int MaxTrackedKeys = 100_000;

    private readonly ConcurrentDictionary<ulong, Window> _windows = new();
    private readonly int _perUser = options.Value.AttemptsPerMinute;
    private readonly int _perAddress = options.Value.AddressAttemptsPerMinute;

    internal int TrackedKeys => _windows.Count;

    /// <summary>
    /// Takes one attempt from both budgets (the user name's and the address's) before the password is checked, or
    /// returns null when either is used up for this minute: on this replica (counted here all along, so never more than
    /// the limit per replica even while Redis is down) or across all replicas. Taking before checking is what makes
    /// the limit hold for guesses sent in parallel: each is counted before any is judged. A success gives its attempt
    /// back (<see cref="SucceededAsync"/>), so only failures use the budget up.
    /// </summary>
    public async Task<LoginAttempt?> BeginAsync(string userName, string? clientAddress, CancellationToken cancellationToken)
    {
        var attempt = TryTakeLocal(UserKey(userName), AddressKey(clientAddress), time.GetUtcNow());
        if (attempt is null) return null;
        if (shared is null) return attempt;
        LoginAttemptStoreTake[] taken;
        try
        {
            taken = await shared.TakeAsync(attempt.SharedKeys, [_perUser, _perAddress], WindowLength, cancellationToken);
        }
        catch (Sessions.StoreUnavailableException)
        {
            return attempt;
        }
        attempt = attempt with { SharedWindows = [taken[0].Window, taken[1].Window] };
        if (taken[0].Count <= _perUser && taken[1].Count <= _perAddress) return attempt;
        // Refused: what this attempt took is given back (a key over its limit took nothing), so a blocked caller's
        // retries do not count as guesses.
        GiveBackLocal(attempt);
        await GiveBackSharedAsync(attempt, cancellationToken);
        return null;
    }

    /// <summary>The password was right: the attempt is given back to both budgets.</summary>
    public async Task SucceededAsync(LoginAttempt attempt, CancellationToken cancellationToken)
    {
        GiveBackLocal(attempt);
        if (attempt.SharedWindows is not null) await GiveBackSharedAsync(attempt, cancellationToken);
    }

    private async Task GiveBackSharedAsync(LoginAttempt attempt, CancellationToken cancellationToken)
    {
        try
        {
            await shared!.GiveBackAsync(attempt.SharedKeys, attempt.SharedWindows!, cancellationToken);
        }
        catch (Sessions.StoreUnavailableException)
        {
            // It stays counted until its window ends: the safe side.
        }
    }

    /// <summary>This replica's own verdict.</summary>
    internal bool IsBlocked(string userName, string? clientAddress)
    {
        var now = time.GetUtcNow();
        return Failures(UserKey(userName), now) >= _perUser || Failures(AddressKey(clientAddress), now) >= _perAddress;
    }

    /// <summary>Counts a failure on this replica whatever the budgets say.</summary>
    internal void RecordFailure(string userName, string? clientAddress)
    {
        var now = time.GetUtcNow();
        if (_windows.Count >= MaxTrackedKeys) Prune(now);
        Count(UserKey(userName), now);
        Count(AddressKey(clientAddress), now);
    }

    private LoginAttempt? TryTakeLocal(ulong user, ulong address, DateTimeOffset now)
    {
        if (_windows.Count >= MaxTrackedKeys) Prune(now);
        // Each count is one atomic step that returns the new total, so of N parallel attempts exactly as many as fit pass.
        var userWindow = Count(user, now);
        var addressWindow = Count(address, now);
        var attempt = new LoginAttempt(user, address, userWindow.Until, addressWindow.Until);
        if (userWindow.Failures <= _perUser && addressWindow.Failures <= _perAddress) return attempt;
        GiveBackLocal(attempt);
        return null;
    }

    private void GiveBackLocal(LoginAttempt attempt)
    {
        Uncount(attempt.User, attempt.UserWindow);
        Uncount(attempt.Address, attempt.AddressWindow);
    }

    private int Failures(ulong key, DateTimeOffset now) =>
        _windows.TryGetValue(key, out var window) && window.Until > now ? window.Failures : 0;

    private Window Count(ulong key, DateTimeOffset now) =>
        _windows.AddOrUpdate(key, _ => new Window(now + WindowLength, 1),
            (_, w) => w.Until > now ? w with { Failures = w.Failures + 1 } : new Window(now + WindowLength, 1));

    /// <summary>One count back, into the very window it was taken in (by its end); never below zero, never into a later window.</summary>
    private void Uncount(ulong key, DateTimeOffset windowEnd)
    {
        while (_windows.TryGetValue(key, out var window) && window.Until == windowEnd && window.Failures > 0)
            if (_windows.TryUpdate(key, window with { Failures = window.Failures - 1 }, window)) return;
    }

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

/// <summary>
/// One login attempt taken from the user name's and the address's budgets (keys are hashes, never the text), with the
/// windows it was counted in, so a give-back never lands in a later window. <see cref="SharedWindows"/>: the shared
/// store's window of each key (0: that key counted nothing), or null when the shared store was not reached.
/// </summary>
internal sealed record LoginAttempt(ulong User, ulong Address, DateTimeOffset UserWindow, DateTimeOffset AddressWindow, long[]? SharedWindows = null)
{
    // Hashes, never the submitted text, in Redis too.
    public string[] SharedKeys { get; } =
        ["u:" + User.ToString("x16", System.Globalization.CultureInfo.InvariantCulture),
         "a:" + Address.ToString("x16", System.Globalization.CultureInfo.InvariantCulture)];
}
