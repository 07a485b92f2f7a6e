using System.Diagnostics.Metrics;
using Gateway.Configuration;
using Gateway.Observability;
using Gateway.Sessions;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Gateway.Tests.Rig;

/// <summary>A session cache on its own, for the in-process tables: its own metrics, the test's clock.</summary>
internal static class StandaloneCache
{
    public static GatewayMetrics Metrics() =>
        new(new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>());

    public static SessionCache Create(TimeProvider clock, int maxEntries = 100_000, int megabytes = 64, VerifiedCookieMemo? memo = null) =>
        new(Options.Create(new GatewaySessionOptions { CacheMaxEntries = maxEntries, CacheMaxMegabytes = megabytes }), Metrics(), clock,
            NullLogger<SessionCache>.Instance, memo);

    /// <summary>A dev user's record, the least a session has: the user, when it began and when it ends.</summary>
    public static SessionRecord Record(string user, DateTimeOffset now) =>
        new() { UserId = user, CreatedAt = now, AbsoluteExpiresAt = now.AddHours(8), Method = "dev" };

    /// <summary>A new session of <paramref name="user"/> as the cache holds it, cached for 30 s from <paramref name="now"/>.</summary>
    public static CachedSession Entry(string user, DateTimeOffset now) =>
        new(SessionKey.NewFor(user), Record(user, now), now, now.AddSeconds(30));
}
