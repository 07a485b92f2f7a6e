using Gateway.Hosting;
using Gateway.Identity;
using Gateway.Sessions;

namespace Bench;

/// <summary>
/// Live managed memory per cached session, measured in this process through the gateway's own code: sessions are
/// created (in-memory store), the cache is emptied, then each is resolved from its cookie as a request would be, given its signed assertion and its
/// identity header values, as a signed-in request on an assertion route does. Heap after a full collection, before
/// and after, divided by the count: the cache's own cost, without the GC's headroom that RSS also shows.
/// </summary>
internal static class CacheMemory
{
    /// <summary>Only this measurement (seconds, no servers): <c>bench/run.sh --cache-memory</c>.</summary>
    public static async Task<int> ReportAsync()
    {
        foreach (var line in await ReportLinesAsync()) Console.WriteLine(line);
        return 0;
    }

    /// <summary>The measurement over 20,000 sessions as report lines: the total, then each part.</summary>
    public static async Task<string[]> ReportLinesAsync()
    {
        var (measured, estimated, breakdown) = await MeasureAsync(20_000);
        return
        [
            FormattableString.Invariant($"live memory per cached session (20,000 cached, heap after full GC): {measured:0} bytes; the cache's own estimate: {estimated:0} bytes"),
            "  of which: " + breakdown,
        ];
    }

    private static async Task<(double BytesPerSession, double EstimatedPerSession, string Breakdown)> MeasureAsync(int count)
    {
        var contentRoot = Directory.CreateTempSubdirectory("gwmem").FullName;
        try
        {
            await File.WriteAllTextAsync(Path.Combine(contentRoot, "proxy.json"), Gateways.RouteFile("http://127.0.0.1:9/"));
            var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Development", ContentRootPath = contentRoot });
            builder.Logging.ClearProviders();
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Gateway:ProxyConfigPath"] = Path.Combine(contentRoot, "proxy.json"),
                ["Gateway:Session:CacheMaxEntries"] = $"{count * 2}",
                ["Gateway:Session:CacheMaxMegabytes"] = "4096",
                ["Gateway:Session:CacheDuration"] = "00:05:00",
            });
            builder.AddGateway();
            await using var app = builder.Build();
            var sessions = app.Services.GetRequiredService<SessionManager>();
            var cache = app.Services.GetRequiredService<SessionCache>();
            var assertions = app.Services.GetRequiredService<AssertionIssuer>();
            var cookies = app.Services.GetRequiredService<SessionCookies>();
            var authenticator = app.Services.GetRequiredService<SessionAuthenticator>();
            var cookieHeaders = new string[count];
            var now = DateTimeOffset.UtcNow;
            for (var i = 0; i < count; i++)
            {
                var key = await sessions.CreateAsync(new SessionRecord
                {
                    // A realistic OIDC user: a UUID subject, an address, a display name, three roles, a device line.
                    UserId = Guid.NewGuid().ToString(), Email = $"user{i}@example.org", Name = $"User Number {i}", Roles = ["editor", "reviewer", "staff"],
                    CreatedAt = now, AbsoluteExpiresAt = now.AddHours(8), Method = "oidc", Device = "Firefox on Linux", Network = "203.0.113.0/24",
                }, CancellationToken.None);
                var signIn = new DefaultHttpContext();
                cookies.Append(signIn.Response, key);
                cookieHeaders[i] = signIn.Response.Headers.SetCookie.ToString().Split(';')[0];
            }
            cache.Distrust("bench: measure the cache from empty");
            cache.Trust("bench");
            // In three steps, so the breakdown shows what each part of a signed-in request keeps alive.
            var before = Heap();
            var cached = new CachedSession[count];
            for (var i = 0; i < count; i++)
            {
                // The request path: the cookie verified (and remembered), the session resolved and cached.
                var request = new DefaultHttpContext();
                request.Request.Headers.Cookie = cookieHeaders[i];
                cached[i] = await authenticator.AuthenticateAsync(request) ?? throw new InvalidOperationException("a bench session did not resolve");
            }
            var resolved = Heap();
            foreach (var session in cached) IdentityHeaderValues.For(session);
            var withHeaders = Heap();
            foreach (var session in cached) await assertions.GetAsync(session, null, CancellationToken.None);
            var after = Heap();
            var breakdown = FormattableString.Invariant(
                $"cookie memo + record + principal {(resolved - before) / (double)count:0}, identity header values {(withHeaders - resolved) / (double)count:0}, signed assertion {(after - withHeaders) / (double)count:0}");
            GC.KeepAlive(cached);
            if (cache.Count != count) throw new InvalidOperationException($"expected {count} cached sessions, the cache holds {cache.Count}");
            GC.KeepAlive(cookieHeaders);
            return ((double)(after - before) / count, (double)cache.EstimatedBytes / count, breakdown);
        }
        finally
        {
            Directory.Delete(contentRoot, true);
        }
    }

    private static long Heap()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        return GC.GetTotalMemory(forceFullCollection: true);
    }
}
