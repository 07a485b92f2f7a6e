using System.Diagnostics;
using Gateway.Configuration;
using Gateway.Health;
using Gateway.Observability;
using Gateway.Sessions;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;

namespace Gateway.WarmUp;

/// <summary>
/// Once the server listens, sends the replica's own pipeline the requests it will serve (signed in with headers and
/// assertion, a public route with and without the cookie) over loopback until the JIT has settled: until a whole second
/// of such traffic compiles (almost) no new method, which is when the hot code runs at its final tier and the request
/// rate stops climbing (bench/ --cold-start).
/// The signed-in session lives only in this replica's session cache, never in the store; its routes lead to a sink
/// inside the process, so nothing reaches an upstream. Then the session and routes are removed and /readyz turns
/// ready. Everything that can stop it (no http listener, the key ring not loaded, an error) ends it early with a
/// logged reason: a warm-up never keeps a replica unready past <see cref="WarmUpOptions.MaxDuration"/>.
/// </summary>
internal sealed partial class WarmUpService(
    IServer server,
    IHostApplicationLifetime lifetime,
    WarmUpState state,
    WarmUpRoutes routes,
    SessionCookies cookies,
    SessionCache cache,
    KeyRingReadiness keyRing,
    IOptions<GatewayOptions> options,
    TimeProvider time,
    ILogger<WarmUpService> logger) : BackgroundService
{
    private static readonly TimeSpan Window = TimeSpan.FromMilliseconds(200);
    private const int QuietWindows = 5;
    // A settled process still compiles the odd method (a timer, a rare branch); more than this per window is the JIT at work.
    private const int QuietMethodsPerWindow = 5;
    private readonly WarmUpOptions _options = options.Value.WarmUp;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            if (!_options.Enabled) return;
            if (!await StartedAsync(stoppingToken)) return;
            var self = LoopbackAddress(server.Features.Get<IServerAddressesFeature>()?.Addresses ?? []);
            if (self is null)
            {
                LogSkipped(logger, "no http:// address to reach this replica on (https-only, unix socket or a test server)");
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
            routes.Close();
            state.Finish();
        }
    }

    private async Task<bool> StartedAsync(CancellationToken stoppingToken)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var onStarted = lifetime.ApplicationStarted.Register(() => started.TrySetResult());
        using var onStopping = stoppingToken.Register(() => started.TrySetCanceled(stoppingToken));
        await started.Task;
        return true;
    }

    private async Task RunAsync(Uri self, CancellationToken stoppingToken)
    {
        var clock = Stopwatch.StartNew();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        deadline.CancelAfter(_options.MaxDuration);
        // A replica that starts while Redis is down has no key ring yet: no cookie can be made, and it is not ready anyway.
        while (!keyRing.IsUsable())
        {
            if (clock.Elapsed > _options.MaxDuration / 2)
            {
                LogSkipped(logger, "the DataProtection key ring did not load");
                return;
            }
            await Task.Delay(Window, time, deadline.Token);
        }

        var now = time.GetUtcNow();
        var key = SessionKey.NewFor(WarmUpUser.Id);
        var session = new CachedSession(key, WarmUpUser.Record(key, now, _options.MaxDuration), now, now + _options.MaxDuration);
        cache.Set(session, cache.Generation);
        var cookie = $"{cookies.NameFor(https: false)}={cookies.Protect(key)}";
        routes.Open(self);
        state.Start();
        try
        {
            var load = new WarmUpLoad(self, routes, cookie);
            _load = load;
            var (requests, settled) = await load.RunUntilAsync(() => Settled(clock), deadline.Token);
            LogFinished(logger, (long)clock.Elapsed.TotalMilliseconds, requests, load.Failures, System.Runtime.JitInfo.GetCompiledMethodCount(), settled);
        }
        catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
        {
            LogFinished(logger, (long)clock.Elapsed.TotalMilliseconds, -1, -1, System.Runtime.JitInfo.GetCompiledMethodCount(), settled: false);
        }
        finally
        {
            cache.Remove(key);
        }
    }

    private readonly Queue<long> _recent = new();
    private WarmUpLoad? _load;

    /// <summary>Called once a <see cref="Window"/>: true when the last <see cref="QuietWindows"/> windows each compiled almost nothing.</summary>
    private bool Settled(Stopwatch clock)
    {
        _recent.Enqueue(System.Runtime.JitInfo.GetCompiledMethodCount());
        LogProgress(logger, (long)clock.Elapsed.TotalMilliseconds, _recent.Last(), _load?.Requests ?? 0);
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
                || uri.Scheme != Uri.UriSchemeHttp || uri.Host == "unix") continue;
            var host = uri.Host is "0.0.0.0" or "[::]" or "localhost" ? "127.0.0.1" : uri.Host;
            return new UriBuilder(Uri.UriSchemeHttp, host, uri.Port).Uri;
        }
        return null;
    }

    internal static TimeSpan SettleWindow => Window;

    [LoggerMessage(EventId = LogEvents.WarmUpFinished, EventName = nameof(LogEvents.WarmUpFinished), Level = LogLevel.Information,
        Message = "Warm-up over after {ElapsedMs} ms: {Requests} requests ({Failures} failed), {CompiledMethods} methods compiled, JIT settled: {Settled}")]
    private static partial void LogFinished(ILogger logger, long elapsedMs, long requests, long failures, long compiledMethods, bool settled);

    [LoggerMessage(EventId = LogEvents.WarmUpProgress, EventName = nameof(LogEvents.WarmUpProgress), Level = LogLevel.Debug,
        Message = "Warm-up at {ElapsedMs} ms: {CompiledMethods} methods compiled, {Requests} requests")]
    private static partial void LogProgress(ILogger logger, long elapsedMs, long compiledMethods, long requests);

    [LoggerMessage(EventId = LogEvents.WarmUpSkipped, EventName = nameof(LogEvents.WarmUpSkipped), Level = LogLevel.Warning,
        Message = "Warm-up skipped, the replica reports ready without it: {Reason}")]
    private static partial void LogSkipped(ILogger logger, string reason);
}
