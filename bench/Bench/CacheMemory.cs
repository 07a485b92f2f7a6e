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

    /// <summary>The measurement over 20,000 sessions as report lines, for each kind of user: the total, then each part.</summary>
    public static async Task<string[]> ReportLinesAsync()
    {
        var lines = new List<string>();
        foreach (var withTokens in new[] { false, true })
        {
            var m = await MeasureAsync(20_000, withTokens);
            lines.Add(FormattableString.Invariant(
                $"live memory per cached session, {(withTokens ? "OIDC user with the provider's tokens" : "user without provider tokens")} (20,000 cached, heap after full GC): in use {m.InUse:0} bytes (the cache's own estimate: {m.InUseEstimate:0}); idle, shed {m.Shed:0} bytes (estimate: {m.ShedEstimate:0}); woken again {m.Woken:0} bytes"));
            lines.Add("  in use, of which: " + m.Breakdown);
        }
        lines.Add(Capacity());
        return [.. lines];
    }

    /// <summary>
    /// How many OIDC users' sessions the default budget holds: in use (by the cache's own estimate, which the lines
    /// above check against the heap), and once the cache sheds idle ones, counted after 150,000 sessions were set and
    /// none was read again.
    /// </summary>
    private static string Capacity()
    {
        var options = new GatewaySessionOptions();
        var metrics = new Gateway.Observability.GatewayMetrics(new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
        var cache = new SessionCache(Microsoft.Extensions.Options.Options.Create(options), metrics, TimeProvider.System,
            Microsoft.Extensions.Logging.Abstractions.NullLogger<SessionCache>.Instance);
        var now = DateTimeOffset.UtcNow;
        CachedSession? last = null;
        for (var i = 0; i < 150_000; i++)
        {
            var record = WithProviderTokens(RealisticUser(i, now), now);
            last = new CachedSession(SessionKey.NewFor(record.UserId), record, now, now.AddMinutes(5));
            cache.Set(last, cache.Generation);
        }
        var budget = options.CacheMaxMegabytes * 1024L * 1024L;
        return FormattableString.Invariant(
            $"the default budget ({options.CacheMaxMegabytes} MB, {options.CacheMaxEntries:N0} entries) holds about {budget / last!.EstimatedBytes:N0} OIDC users' sessions in use; with idle ones shed it held {cache.Count:N0} ({cache.EstimatedBytes / 1024.0 / 1024.0:0.0} MB by its estimate)");
    }

    /// <summary>A realistic user: a UUID subject, an address, a display name, three roles, a device line.</summary>
    private static SessionRecord RealisticUser(int i, DateTimeOffset now) => new()
    {
        UserId = Guid.NewGuid().ToString(), Email = $"user{i}@example.org", Name = $"User Number {i}", Roles = ["editor", "reviewer", "staff"],
        CreatedAt = now, AbsoluteExpiresAt = now.AddHours(8), Method = "oidc", Device = "Firefox on Linux", Network = "203.0.113.0/24",
    };

    /// <summary>The user's record after a login at the provider stored its tokens (<see cref="ProviderTokens"/>).</summary>
    private static SessionRecord WithProviderTokens(SessionRecord record, DateTimeOffset now)
    {
        var (idToken, accessToken, refreshToken, sid) = ProviderTokens(record.UserId, record.Email!, record.Name!);
        return record with
        {
            IdToken = idToken, AccessToken = accessToken, AccessTokenExpiresAt = now.AddMinutes(10), RefreshToken = refreshToken, ProviderSessionId = sid,
        };
    }

    /// <summary>
    /// What a login through node oidc-provider stores, at its sizes: an RS256 id_token (2048-bit key: a 342-character
    /// signature) carrying this user's claims, a nonce, at_hash and sid; opaque access and refresh tokens of 43 characters.
    /// The signature is random bytes of the right length: only the size matters here.
    /// </summary>
    private static (string IdToken, string AccessToken, string RefreshToken, string Sid) ProviderTokens(string userId, string email, string name)
    {
        static string Random(int bytes) => System.Buffers.Text.Base64Url.EncodeToString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(bytes));
        var sid = Random(16);
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var header = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(new { alg = "RS256", typ = "JWT", kid = Random(32) });
        var payload = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(new
        {
            sub = userId, email, email_verified = true, name, nonce = Random(32), at_hash = Random(16), sid, auth_time = now,
            aud = "gateway", exp = now + 3600, iat = now, iss = "https://login.example.org",
        });
        var idToken = $"{System.Buffers.Text.Base64Url.EncodeToString(header)}.{System.Buffers.Text.Base64Url.EncodeToString(payload)}.{Random(256)}";
        return (idToken, Random(32), Random(32), sid);
    }

    private sealed record Measured(double InUse, double InUseEstimate, double Shed, double ShedEstimate, double Woken, string Breakdown);

    private static async Task<Measured> MeasureAsync(int count, bool withProviderTokens)
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
                var record = RealisticUser(i, now);
                if (withProviderTokens) record = WithProviderTokens(record, now);
                var key = await sessions.CreateAsync(record, CancellationToken.None);
                var signIn = new DefaultHttpContext();
                cookies.Append(signIn.Response, key);
                cookieHeaders[i] = signIn.Response.Headers.SetCookie.ToString().Split(';')[0];
            }
            cache.Distrust("bench: measure the cache from empty");
            cache.Trust("bench");
            // In three steps, so the breakdown shows what each part of a signed-in request keeps alive.
            var before = Heap();
            var cached = new CachedSession[count];
            async Task Request(int i)
            {
                // The request path: the cookie verified (and remembered), the session resolved and cached.
                var request = new DefaultHttpContext();
                request.Request.Headers.Cookie = cookieHeaders[i];
                cached[i] = await authenticator.AuthenticateAsync(request) ?? throw new InvalidOperationException("a bench session did not resolve");
                _ = cached[i].Principal;
            }
            for (var i = 0; i < count; i++) await Request(i);
            var resolved = Heap();
            foreach (var session in cached) _ = session.HeaderValues;
            var withHeaders = Heap();
            foreach (var session in cached) await assertions.GetAsync(session, null, CancellationToken.None);
            var after = Heap();
            var inUseEstimate = (double)cache.EstimatedBytes / count;
            var breakdown = FormattableString.Invariant(
                $"cookie memo + record + principal {(resolved - before) / (double)count:0}, identity header values {(withHeaders - resolved) / (double)count:0}, signed assertion {(after - withHeaders) / (double)count:0}");
            // What a full cache does to sessions nobody has read since its last look: two looks (the first marks them idle).
            cache.ShedIdle();
            if (cache.ShedIdle() != count) throw new InvalidOperationException("expected every idle bench session to be shed");
            var shed = Heap();
            var shedEstimate = (double)cache.EstimatedBytes / count;
            // Each read again: the session wakes from the cache, without the store.
            for (var i = 0; i < count; i++)
            {
                await Request(i);
                _ = cached[i].HeaderValues;
                await assertions.GetAsync(cached[i], null, CancellationToken.None);
            }
            var woken = Heap();
            GC.KeepAlive(cached);
            if (cache.Count != count) throw new InvalidOperationException($"expected {count} cached sessions, the cache holds {cache.Count}");
            GC.KeepAlive(cookieHeaders);
            return new Measured((after - before) / (double)count, inUseEstimate, (shed - before) / (double)count, shedEstimate, (woken - before) / (double)count, breakdown);
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
