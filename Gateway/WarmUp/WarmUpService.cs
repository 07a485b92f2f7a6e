using System.Diagnostics;
using Gateway.Configuration;
using Gateway.Health;
using Gateway.Observability;
using Gateway.Sessions;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy;

namespace Gateway.WarmUp;

/// <summary>
/// Once the server listens, sends the replica's own pipeline the requests it will serve (signed in with headers and
/// assertion, a public route with and without the cookie) over loopback until the JIT has settled: until a whole second
/// of such traffic compiles (almost) no new method, which is when the hot code runs at its final tier and the request
/// rate stops climbing (bench/ --cold-start). The signed-in session lives only in this replica's session cache, never
/// in the store, and is never touched; its routes lead to a sink inside the process, which answers with a nonce: a
/// request answered without it stops the warm-up, so nothing more reaches an upstream. Then the session and routes are
/// removed, the endpoint table rebuilt without them, and /readyz turns ready. Everything that can stop it (no http listener, the key ring not loaded, the cache
/// not trusted, an error) ends it early with a logged reason: a warm-up never keeps a replica unready past
/// <see cref="WarmUpOptions.MaxDuration"/>, and a replica shutting down never turns ready.
/// </summary>
internal sealed partial class WarmUpService(
    IServer server,
    IHostApplicationLifetime lifetime,
    WarmUpState state,
    WarmUpRoutes routes,
    WarmUpStoreReads storeReads,
    IProxyStateLookup proxyState,
    SessionCookies cookies,
    SessionCache cache,
    KeyRing.KeyRingHealth keyRing,
    IConfiguration configuration,
    IOptions<WarmUpOptions> options, IOptions<Sessions.GatewaySessionOptions> session,
    TimeProvider time,
    ILogger<WarmUpService> logger) : BackgroundService
{
    private static readonly TimeSpan Window = TimeSpan.FromMilliseconds(200);
    private const int QuietWindows = 5;
    // A settled process still compiles the odd method (a timer, a rare branch); more than this per window is the JIT at work.
    private const int QuietMethodsPerWindow = 5;
    private static readonly TimeSpan RoutesGoneLimit = TimeSpan.FromSeconds(5);
    private readonly WarmUpOptions _options = options.Value;
    private readonly GatewaySessionOptions _session = session.Value;
    private readonly Queue<long> _recent = new();

    internal static TimeSpan SettleWindow => Window;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            if (!_options.Enabled) return;
            await StartedAsync(stoppingToken);
            var self = LoopbackAddress(server.Features.Get<IServerAddressesFeature>()?.Addresses ?? []);
            if (self is null)
            {
                LogSkipped(logger, "no http:// address to reach this replica on (https-only, a socket or pipe, or a test server)");
                return;
            }
            await RunAsync(self, stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            LogSkipped(logger, $"{ex.GetType().Name}: {ex.Message}");
        }
        finally
        {
            if (!stoppingToken.IsCancellationRequested && !lifetime.ApplicationStopping.IsCancellationRequested) state.Finish();
        }
    }

    /// <summary>
    /// Waits, at most <see cref="RoutesGoneLimit"/> and never past the warm-up's deadline, until YARP has dropped the
    /// warm-up's routes and then until the JIT is quiet again. Their removal rebuilds the whole endpoint table on YARP's
    /// thread (every endpoint, the request delegates of the gateway's own, the route matcher): about 850 methods compiled
    /// afresh, which otherwise fell on the first users' requests in the replica's first second of being ready (bench
    /// --cold-start, seen with DOTNET_JitStdOutFile). Never throws.
    /// </summary>
    private async Task RoutesGoneAsync(CancellationToken deadline)
    {
        using var cap = new CancellationTokenSource(RoutesGoneLimit, time);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(deadline, cap.Token);
        var clock = Stopwatch.StartNew();
        var gone = false;
        var quiet = 0;
        try
        {
            while (ListedRoutes() > 0)
                await Task.Delay(TimeSpan.FromMilliseconds(20), time, limit.Token);
            gone = true;
            var last = System.Runtime.JitInfo.GetCompiledMethodCount();
            while (quiet < QuietWindows)
            {
                await Task.Delay(Window, time, limit.Token);
                var now = System.Runtime.JitInfo.GetCompiledMethodCount();
                quiet = now - last <= QuietMethodsPerWindow ? quiet + 1 : 0;
                last = now;
            }
        }
        catch (OperationCanceledException)
        {
            // Past the limit, the deadline or stopping: the caller decides about readiness; the rest of the rebuild, if
            // any, falls on the first requests.
        }
        if (gone) LogRoutesRemoved(logger, (long)clock.Elapsed.TotalMilliseconds, quiet >= QuietWindows);
        else LogRoutesStillListed(logger, (long)clock.Elapsed.TotalMilliseconds);
    }

    private async Task StartedAsync(CancellationToken stoppingToken)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var onStarted = lifetime.ApplicationStarted.Register(() => started.TrySetResult());
        using var onStopping = stoppingToken.Register(() => started.TrySetCanceled(stoppingToken));
        await started.Task;
    }

    private async Task RunAsync(Uri self, CancellationToken stoppingToken)
    {
        var clock = Stopwatch.StartNew();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        deadline.CancelAfter(_options.MaxDuration);
        if (!await CanServeFromCacheAsync(clock, deadline.Token)) return;

        var key = SessionKey.NewFor(WarmUpUser.Id);
        var cookie = $"{cookies.NameFor(https: false)}={cookies.Protect(key)}";
        try
        {
            routes.Open(self);
            state.Start();
            while (ListedRoutes() < WarmUpRoutes.RouteIds.Length)
                await Task.Delay(TimeSpan.FromMilliseconds(20), time, deadline.Token);
            await LoadAsync(self, key, cookie, clock, deadline.Token);
        }
        catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
        {
            LogFinished(logger, (long)clock.Elapsed.TotalMilliseconds, -1, -1, storeReads.Reads, System.Runtime.JitInfo.GetCompiledMethodCount(), settled: false);
        }
        finally
        {
            state.Drain();
            cache.Remove(key);
            // The one place the routes close. Never throws: an error on its way out of the warm-up (a foreign answer,
            // say) is the one to report.
            if (routes.Close()) await RoutesGoneAsync(deadline.Token);
        }
    }

    /// <summary>
    /// Whether the warm-up session can be served from the cache alone: the cache is on, and (waiting up to half the
    /// budget) the key ring is loaded and the cache trusted. Logged when not.
    /// </summary>
    private async Task<bool> CanServeFromCacheAsync(Stopwatch clock, CancellationToken deadline)
    {
        if (_session.CacheMaxEntries == 0 || _session.CacheMaxMegabytes == 0 || _session.CacheDuration == TimeSpan.Zero)
        {
            LogSkipped(logger, "the session cache is off (Gateway:Session:Cache*), so no session can be served without the store");
            return false;
        }
        // A replica that starts while Redis is down has no key ring yet: no cookie can be made, and it is not ready anyway.
        // With Redis the cache is trusted only once the revocation feed is subscribed; until then it keeps nothing.
        while (!keyRing.TryLoad() || !cache.IsTrusted)
        {
            if (clock.Elapsed > _options.MaxDuration / 2)
            {
                LogSkipped(logger, keyRing.TryLoad() ? "the session cache is not trusted (the revocation feed is down)" : "the DataProtection key ring did not load");
                return false;
            }
            await Task.Delay(Window, time, deadline);
        }
        return true;
    }

    /// <summary>The load itself, on the routes now open: the warm-up session kept in the cache until the load settles.</summary>
    private async Task LoadAsync(Uri self, SessionKey key, string cookie, Stopwatch clock, CancellationToken deadline)
    {
        using var load = new WarmUpLoad(self, HostFor(configuration["AllowedHosts"]), routes, cookie, state.Nonce);
        await load.ProbeAsync(deadline);

        var now = time.GetUtcNow();
        // Last touched "at the end": never due for a sliding-expiry write, which the store would answer "no such session".
        var record = WarmUpUser.Record(key, now, _options.MaxDuration);
        CachedSession Session() => new(key, record, now + _options.MaxDuration, now + _options.MaxDuration);
        cache.Set(Session(), cache.Generation);
        using var loadOver = CancellationTokenSource.CreateLinkedTokenSource(deadline);
        var reads = storeReads.RunAsync(record, loadOver.Token);
        bool settled;
        try
        {
            settled = await load.RunUntilAsync(() =>
            {
                // A revocation of everything, or the feed dropping and coming back, empties the cache: put it back
                // (a new entry: the cache never takes back one it retired).
                if (cache.Peek(key) is null) cache.Set(Session(), cache.Generation);
                return Settled(clock, load);
            }, deadline);
        }
        finally
        {
            await loadOver.CancelAsync();
            await reads;
        }
        LogFinished(logger, (long)clock.Elapsed.TotalMilliseconds, load.Requests, load.Failures, storeReads.Reads, System.Runtime.JitInfo.GetCompiledMethodCount(), settled);
    }

    /// <summary>How many of the warm-up's routes YARP serves now.</summary>
    private int ListedRoutes() => WarmUpRoutes.RouteIds.Count(id => proxyState.TryGetRoute(id, out _));

    /// <summary>
    /// Called once a <see cref="Window"/>: true when the last <see cref="QuietWindows"/> windows together compiled at most
    /// <see cref="QuietMethodsPerWindow"/> methods a window.
    /// </summary>
    private bool Settled(Stopwatch clock, WarmUpLoad load)
    {
        _recent.Enqueue(System.Runtime.JitInfo.GetCompiledMethodCount());
        LogProgress(logger, (long)clock.Elapsed.TotalMilliseconds, _recent.Last(), load.Requests);
        if (_recent.Count <= QuietWindows) return false;
        var oldest = _recent.Dequeue();
        return clock.Elapsed > TimeSpan.FromSeconds(1) && _recent.Last() - oldest <= QuietWindows * QuietMethodsPerWindow;
    }

    /// <summary>How this process can reach itself: the first plain http listener, with a wildcard host made loopback.</summary>
    internal static Uri? LoopbackAddress(IEnumerable<string> addresses)
    {
        foreach (var address in addresses)
        {
            if (!Uri.TryCreate(address.Replace("://+:", "://0.0.0.0:", StringComparison.Ordinal).Replace("://*:", "://0.0.0.0:", StringComparison.Ordinal), UriKind.Absolute, out var uri)
                || uri.Scheme != Uri.UriSchemeHttp || uri.Host is "unix" or "pipe") continue;
            var host = uri.Host is "0.0.0.0" or "[::]" or "localhost" ? "127.0.0.1" : uri.Host;
            return new UriBuilder(Uri.UriSchemeHttp, host, uri.Port).Uri;
        }
        return null;
    }

    /// <summary>
    /// The Host the warm-up sends: none of its own when any host is allowed, else one that <c>AllowedHosts</c> (host
    /// filtering) lets through: its first name, a wildcard made concrete.
    /// </summary>
    internal static string? HostFor(string? allowedHosts)
    {
        var hosts = (allowedHosts ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (hosts.Length == 0 || hosts.Contains("*")) return null;
        return hosts[0].StartsWith("*.", StringComparison.Ordinal) ? "warm-up" + hosts[0][1..] : hosts[0];
    }

    [LoggerMessage(EventId = LogEvents.WarmUpFinished, EventName = nameof(LogEvents.WarmUpFinished), Level = LogLevel.Information,
        Message = "Warm-up over after {ElapsedMs} ms: {Requests} requests ({Failures} failed), {StoreReads} store reads, {CompiledMethods} methods compiled, JIT settled: {Settled}")]
    private static partial void LogFinished(ILogger logger, long elapsedMs, long requests, long failures, long storeReads, long compiledMethods, bool settled);

    [LoggerMessage(EventId = LogEvents.WarmUpProgress, EventName = nameof(LogEvents.WarmUpProgress), Level = LogLevel.Debug,
        Message = "Warm-up at {ElapsedMs} ms: {CompiledMethods} methods compiled, {Requests} requests")]
    private static partial void LogProgress(ILogger logger, long elapsedMs, long compiledMethods, long requests);

    [LoggerMessage(EventId = LogEvents.WarmUpRoutesRemoved, EventName = nameof(LogEvents.WarmUpRoutesRemoved), Level = LogLevel.Information,
        Message = "Warm-up routes gone and the endpoint table rebuilt without them within {ElapsedMs} ms, JIT quiet again: {Quiet}")]
    private static partial void LogRoutesRemoved(ILogger logger, long elapsedMs, bool quiet);

    [LoggerMessage(EventId = LogEvents.WarmUpRoutesStillListed, EventName = nameof(LogEvents.WarmUpRoutesStillListed), Level = LogLevel.Warning,
        Message = "Warm-up routes still listed by the proxy {ElapsedMs} ms after their removal; the replica turns ready all the same (their sink answers nothing now)")]
    private static partial void LogRoutesStillListed(ILogger logger, long elapsedMs);

    [LoggerMessage(EventId = LogEvents.WarmUpSkipped, EventName = nameof(LogEvents.WarmUpSkipped), Level = LogLevel.Warning,
        Message = "Warm-up skipped or stopped, the replica reports ready without it: {Reason}")]
    private static partial void LogSkipped(ILogger logger, string reason);
}
