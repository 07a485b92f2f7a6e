using Microsoft.AspNetCore.Http;
namespace Gateway.Tests.Ops;

/// <summary>JSON logs carry event names ops can alert on, metrics count what matters, and nothing secret is written.</summary>
public sealed class ObservabilityTests(SharedRedis redis)
{
    [Fact]
    public async Task Json_logs_name_their_events_and_never_contain_cookies_or_session_ids()
    {
        var port = Tools.FreePort();
        await using var cms = await CmsRig.StartCmsAsync(redis.Configuration, $"http://127.0.0.1:{port}");
        var config = new GatewayConfig { UpstreamUrl = cms.BaseUrl + "/" }.WithRedis(redis.Configuration)
            .Set("Logging:LogLevel:Default", "Information").Set("Gateway:Logout:Paths:1", null);
        config.Environment = "Production";
        await using var gateway = await GatewayProcess.StartAsync(config, port);
        using var browser = gateway.Browser();
        await browser.LoginAsync("alice", "wrong-password");
        await browser.LoginAsync("alice", "alice-password");
        var cookie = browser.Cookie("gw_session")!;
        await browser.ApiGetAsync("/api/whoami");
        browser.SetCookie("gw_session", cookie[..^6] + "AAAAAA");
        await browser.ApiGetAsync("/api/whoami");
        browser.SetCookie("gw_session", cookie);
        await browser.NavigateAsync("/logout", site: "same-origin");
        await Task.Delay(300);

        var lines = gateway.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith('{')).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var events = lines.Where(l => l.TryGetProperty("event", out _)).Select(l => l.GetProperty("event").GetString()).ToHashSet();
        Assert.Contains("LoginFailed", events);
        Assert.Contains("LoginSucceeded", events);
        Assert.Contains("SessionCookieRejected", events);
        Assert.Contains("LogoutCompleted", events);
        Assert.Contains("SessionRevoked", events);
        Assert.All(lines, l => Assert.True(l.TryGetProperty("level", out _) && l.TryGetProperty("category", out _)));
        Assert.DoesNotContain(cookie, gateway.Output);
        Assert.DoesNotContain(cookie[..20], gateway.Output);
        Assert.DoesNotContain("alice-password", gateway.Output);
        Assert.DoesNotContain("wrong-password", gateway.Output);
        Assert.DoesNotContain("eyJ", gateway.Output);
    }

    [Fact]
    public async Task Metrics_count_sessions_logouts_failures_reloads_and_cache_hits()
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        using var metrics = new MetricsRecorder(rig.Gateway.Services);
        using var browser = rig.Gateway.Browser();
        await browser.LoginAsync("alice", "alice-password");
        for (var i = 0; i < 5; i++) await browser.ApiGetAsync("/api/whoami");
        await browser.NavigateAsync("/logout", site: "same-origin");
        await File.WriteAllTextAsync(rig.Gateway.RouteFilePath, "{ broken");
        await Routing.LiveReloadTests.Eventually(() => Task.FromResult(metrics.Sum("gateway.config.reloads", "result=rejected") > 0 ? (bool?)true : null));

        Assert.Equal(1, metrics.Sum("gateway.sessions.created", "method=dev"));
        Assert.Equal(1, metrics.Sum("gateway.logouts", "outcome=completed"));
        Assert.Equal(1, metrics.Sum("gateway.sessions.revoked", "reason=logout"));
        Assert.True(metrics.Sum("gateway.session_cache.lookups", "result=hit") >= 4);
        Assert.Equal(1, metrics.Sum("gateway.config.reloads", "result=rejected"));
    }
}

/// <summary>Metrics really leave the process over OTLP/HTTP when an endpoint is configured.</summary>
public sealed class OtlpExportTests(SharedRedis redis)
{
    [Fact]
    public async Task Metrics_are_exported_over_otlp_http_to_the_configured_endpoint()
    {
        var received = new System.Collections.Concurrent.ConcurrentQueue<(string ContentType, byte[] Body)>();
        var receiverPort = Tools.FreePort();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        Microsoft.AspNetCore.Hosting.HostingAbstractionsWebHostBuilderExtensions.UseUrls(builder.WebHost, $"http://127.0.0.1:{receiverPort}");
        await using var receiver = builder.Build();
        receiver.MapPost("/v1/metrics", async (HttpContext context) =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            received.Enqueue((context.Request.ContentType ?? "", body.ToArray()));
            return Results.Ok();
        });
        await receiver.StartAsync();

        var config = new GatewayConfig().WithRedis(redis.Configuration)
            .Set("Gateway:OtlpEndpoint", $"http://127.0.0.1:{receiverPort}/v1/metrics")
            .Set("OTEL_METRIC_EXPORT_INTERVAL", "300");
        await using var gateway = await GatewayProcess.StartAsync(config);
        using var browser = gateway.Browser();
        await browser.LoginAsync("alice", "alice-password");

        var exported = await Routing.LiveReloadTests.Eventually(() => Task.FromResult(
            received.Any(r => System.Text.Encoding.UTF8.GetString(r.Body).Contains("gateway.sessions.created", StringComparison.Ordinal)) ? (bool?)true : null), 15_000);
        Assert.True(exported, $"{received.Count} OTLP posts, none with gateway.sessions.created:\n{gateway.Output}");
        Assert.All(received, r => Assert.Equal("application/x-protobuf", r.ContentType));
    }
}
