using Gateway.Identity;
using Microsoft.AspNetCore.Http;
using Gateway.Sessions;

namespace Gateway.Tests.Sessions;

/// <summary>
/// The cache's memory budget counts each entry by <see cref="CachedSession.EstimatedBytes"/>, an estimate from its
/// strings. Held here to the heap: sessions resolved through the gateway's own request path, with the identity headers
/// and signed assertion a signed-in request adds, measured after a full collection (alone: no other test allocates).
/// </summary>
[Collection(nameof(CacheMemoryEstimateTests))]
public sealed class CacheMemoryEstimateTests(ITestOutputHelper output)
{
    private const int Count = 20_000;

    // A name in ASCII lets a shed entry hold the identity as bytes (CachedRecord.Pack); one that is not keeps its strings.
    [Theory]
    [InlineData("User Number")]
    [InlineData("Usér Numéro")]
    public async Task The_caches_estimate_of_a_session_in_use_and_shed_is_within_a_tenth_of_the_heap(string name)
    {
        await using var host = await GatewayHost.StartAsync(new GatewayConfig()
            .Set("Gateway:Session:CacheMaxEntries", $"{Count * 2}").Set("Gateway:Session:CacheMaxMegabytes", "1024").Set("Gateway:Session:CacheDuration", "00:05:00"));
        var sessions = host.Services.GetRequiredService<SessionManager>();
        var cache = host.Services.GetRequiredService<SessionCache>();
        var cookies = host.Services.GetRequiredService<SessionCookies>();
        var authenticator = host.Services.GetRequiredService<SessionAuthenticator>();
        var assertions = host.Services.GetRequiredService<AssertionIssuer>();
        var now = DateTimeOffset.UtcNow;
        var cookieHeaders = new string[Count];
        for (var i = 0; i < Count; i++)
        {
            var key = await sessions.CreateAsync(new SessionRecord
            {
                UserId = Guid.NewGuid().ToString(), Email = $"user{i}@example.org", Name = $"{name} {i}", Roles = ["editor", "reviewer", "staff"],
                CreatedAt = now, AbsoluteExpiresAt = now.AddHours(8), Method = "dev",
            }, default);
            var signIn = new DefaultHttpContext();
            cookies.Append(signIn.Response, key);
            cookieHeaders[i] = signIn.Response.Headers.SetCookie.ToString().Split(';')[0];
        }
        cache.Distrust("test: measure from empty");
        cache.Trust("test");
        var held = new CachedSession[Count];

        await SettleAsync();
        for (var i = 0; i < Count; i++)
        {
            var request = new DefaultHttpContext();
            request.Request.Headers.Cookie = cookieHeaders[i];
            held[i] = (await authenticator.AuthenticateAsync(request))!;
            _ = held[i].Principal;
            _ = held[i].HeaderValues;
            await assertions.GetAsync(held[i], null, default);
        }
        var inUseHeap = Heap();
        var inUseEstimate = cache.EstimatedBytes / (double)Count;
        cache.ShedIdle();
        Assert.Equal(Count, cache.ShedIdle());
        var shedHeap = Heap();
        var shedEstimate = cache.EstimatedBytes / (double)Count;
        // Measured against the heap once these entries are gone, with the memo entries of their cookies, not against the
        // heap before they came: what was there before and is let go meanwhile (the memo entries the sign-ins left,
        // earlier tests' remains inside the full suite) would come off the figures: 455 B a shed session there, 921 alone.
        cache.Distrust("test: empty again");
        Array.Clear(held);
        var memo = host.Services.GetRequiredService<VerifiedCookieMemo>();
        foreach (var header in cookieHeaders)
            if (memo.TryGet(header.AsSpan(header.IndexOf('=') + 1), out _, out var remembered)) memo.Forget(remembered!);
        Assert.Equal(0, memo.Count);
        var empty = Heap();
        var inUse = (inUseHeap - empty) / (double)Count;
        var shed = (shedHeap - empty) / (double)Count;
        GC.KeepAlive(cookieHeaders);

        output.WriteLine($"in use {inUse:0} bytes (estimate {inUseEstimate:0}); shed {shed:0} bytes (estimate {shedEstimate:0})");
        Assert.InRange(inUseEstimate, inUse * 0.9, inUse * 1.1);
        Assert.InRange(shedEstimate, shed * 0.9, shed * 1.1);
    }

    /// <summary>Until two full collections a quarter second apart find the heap within 64 KB of each other (10 s at most).</summary>
    private static async Task SettleAsync()
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        var last = Heap();
        while (DateTime.UtcNow < deadline)
        {
            await Task.Delay(250);
            var now = Heap();
            if (Math.Abs(now - last) < 64 * 1024) return;
            last = now;
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

[CollectionDefinition(nameof(CacheMemoryEstimateTests), DisableParallelization = true)]
public sealed class CacheMemoryEstimateTestsRunAlone;
