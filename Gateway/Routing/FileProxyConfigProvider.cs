using System.Security.Cryptography;
using Gateway.Configuration;
using Gateway.Observability;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Configuration;

namespace Gateway.Routing;

/// <summary>
/// Serves YARP the routes from the route file and swaps in edits while keeping the last good
/// config when an edit is broken. The file is polled by content hash rather than watched with
/// inotify: Kubernetes updates a mounted ConfigMap by swapping a <c>..data</c> symlink, which file
/// watchers on the file itself miss, and a read of a few KB every couple of seconds is cheap.
/// </summary>
internal sealed partial class FileProxyConfigProvider(
    IOptions<GatewayOptions> options,
    IHostEnvironment environment,
    IConfiguration configuration,
    ProxyConfigValidator validator,
    ProxyConfigStatus status,
    GatewayMetrics metrics,
    TimeProvider time,
    ILogger<FileProxyConfigProvider> logger) : BackgroundService, IProxyConfigProvider
{
    private readonly string _path = Path.GetFullPath(options.Value.ProxyConfigPath, environment.ContentRootPath);
    private volatile ProxyConfigVersion? _current;
    private string? _lastSeenHash;

    public string FilePath => _path;

    public IProxyConfig GetConfig() =>
        _current ?? throw new InvalidOperationException($"The route file {_path} has not been loaded yet.");

    /// <summary>Loads the file at start-up; any problem stops the gateway with every error listed.</summary>
    public async Task LoadInitialAsync(CancellationToken cancellationToken)
    {
        var (snapshot, content) = await ProxyConfigFileReader.ReadAsync(_path, configuration, cancellationToken);
        var errors = await validator.ValidateAsync(_path, snapshot);
        if (errors.Count > 0)
            throw new GatewayStartupException($"The route file {_path} is not valid:{Environment.NewLine}  - {string.Join(Environment.NewLine + "  - ", errors)}");
        var hash = Convert.ToHexString(SHA256.HashData(content!));
        Apply(snapshot, hash);
        _lastSeenHash = hash;
    }

    /// <summary>Re-reads the file if its content changed. Returns true when a new config was applied.</summary>
    public async Task<bool> ReloadIfChangedAsync(CancellationToken cancellationToken)
    {
        var (snapshot, content) = await ProxyConfigFileReader.ReadAsync(_path, configuration, cancellationToken);
        // A missing file during a symlink swap is normal for a moment: report an unreadable file once, not every poll.
        var hash = content is null ? "unreadable" : Convert.ToHexString(SHA256.HashData(content));
        if (hash == _lastSeenHash) return false;
        _lastSeenHash = hash;

        var errors = await validator.ValidateAsync(_path, snapshot);
        if (errors.Count > 0)
        {
            Reject(errors);
            return false;
        }
        Apply(snapshot, hash);
        LogReloaded(logger, _path, snapshot.Routes.Count, snapshot.Clusters.Count);
        metrics.ConfigReloaded(success: true);
        return true;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.ProxyConfigPollInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await ReloadIfChangedAsync(stoppingToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    LogReloadCrashed(logger, ex, _path);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private void Apply(ProxyConfigSnapshot snapshot, string hash)
    {
        var previous = _current;
        _current = new ProxyConfigVersion(snapshot.Routes, snapshot.Clusters);
        status.Loaded(time.GetUtcNow(), hash);
        previous?.SignalChange();
    }

    private void Reject(IReadOnlyList<string> errors)
    {
        status.Rejected(time.GetUtcNow(), errors);
        metrics.ConfigReloaded(success: false);
        LogReloadRejected(logger, _path, errors.Count, string.Join(" | ", errors));
    }

    public override void Dispose()
    {
        _current?.SignalChange();
        base.Dispose();
    }

    [LoggerMessage(EventId = LogEvents.ConfigReloaded, EventName = nameof(LogEvents.ConfigReloaded), Level = LogLevel.Information,
        Message = "Route file {Path} reloaded: {RouteCount} routes, {ClusterCount} clusters")]
    private static partial void LogReloaded(ILogger logger, string path, int routeCount, int clusterCount);

    [LoggerMessage(EventId = LogEvents.ConfigReloadFailed, EventName = nameof(LogEvents.ConfigReloadFailed), Level = LogLevel.Error,
        Message = "Route file {Path} rejected, the last good config keeps serving. {ErrorCount} problems: {Errors}")]
    private static partial void LogReloadRejected(ILogger logger, string path, int errorCount, string errors);

    [LoggerMessage(EventId = LogEvents.ConfigReloadCrashed, EventName = nameof(LogEvents.ConfigReloadCrashed), Level = LogLevel.Error,
        Message = "Checking route file {Path} failed; the last good config keeps serving")]
    private static partial void LogReloadCrashed(ILogger logger, Exception exception, string path);
}
