using Gateway.Routing;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Gateway.Health;

/// <summary>
/// One ASP.NET Core health check per concern of <c>/readyz</c>. Each reports what anyone may see in its data, and
/// what only the admin key may see under keys starting <see cref="AdminOnly"/> (<see cref="ReadinessResponse"/>).
/// </summary>
internal static class ReadinessChecks
{
    public const string Tag = "ready";

    /// <summary>Data under keys with this prefix is shown only to a caller presenting the admin key.</summary>
    public const string AdminOnly = "admin:";

    public static IServiceCollection AddGatewayHealthChecks(this IServiceCollection services)
    {
        services.AddHealthChecks()
            .AddCheck<RoutesCheck>("routes", tags: [Tag])
            .AddCheck<KeyRingCheck>("keyRing", tags: [Tag])
            .AddCheck<WarmUpCheck>("warmUp", tags: [Tag])
            // Reported, never decisive: the shared store being down is not this replica being unready (Degraded is 200).
            .AddCheck<StoreCheck>("store", failureStatus: HealthStatus.Degraded, tags: [Tag]);
        return services;
    }

    /// <summary>
    /// The route file loaded. A rejected edit shows in the data but keeps the replica ready: one bad ConfigMap edit
    /// must not take every replica out while the last good routes still serve.
    /// </summary>
    private sealed class RoutesCheck(ProxyConfigStatus config) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            var state = config.Current;
            var data = new Dictionary<string, object>
            {
                ["loaded"] = state.LoadedAt is not null,
                ["lastReloadErrorCount"] = state.LastErrors.Count,
                [AdminOnly + "lastReloadErrors"] = state.LastErrors,
            };
            if (state.LoadedAt is { } loadedAt) data[AdminOnly + "loadedAt"] = loadedAt;
            if (state.LoadedHash is { } hash) data[AdminOnly + "sha256"] = hash;
            if (state.LastErrorAt is { } errorAt) data[AdminOnly + "lastReloadErrorAt"] = errorAt;
            return Task.FromResult(new HealthCheckResult(state.LoadedAt is null ? HealthStatus.Unhealthy : HealthStatus.Healthy, data: data));
        }
    }

    private sealed class KeyRingCheck(KeyRing.KeyRingHealth keyRing) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            var usable = keyRing.TryLoad();
            return Task.FromResult(new HealthCheckResult(usable ? HealthStatus.Healthy : HealthStatus.Unhealthy, data: new Dictionary<string, object> { ["usable"] = usable }));
        }
    }

    private sealed class WarmUpCheck(WarmUp.WarmUpState warmUp) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            var over = warmUp.IsOver;
            return Task.FromResult(new HealthCheckResult(over ? HealthStatus.Healthy : HealthStatus.Unhealthy, data: new Dictionary<string, object> { ["over"] = over }));
        }
    }

    /// <summary>Redis reachable, within 500 ms: a Redis that hangs is reported as not ready, never a 500 or a hung probe.</summary>
    private sealed class StoreCheck(IStoreReadiness store) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            using var budget = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            budget.CancelAfter(TimeSpan.FromMilliseconds(500));
            var (ready, detail) = await store.CheckAsync(budget.Token);
            return new HealthCheckResult(ready ? HealthStatus.Healthy : context.Registration.FailureStatus,
                data: new Dictionary<string, object> { ["ready"] = ready, [AdminOnly + "detail"] = detail });
        }
    }
}
