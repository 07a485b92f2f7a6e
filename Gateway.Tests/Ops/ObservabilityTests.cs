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
        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.LoginAsync("alice", "wrong-password")).StatusCode);
        Assert.Equal(HttpStatusCode.SeeOther, (await browser.LoginAsync("alice", "alice-password")).StatusCode);
        var cookie = browser.Cookie("gw_session")!;
        await browser.ApiGetAsync("/api/whoami");
        browser.SetCookie("gw_session", cookie[..^6] + "AAAAAA");
        await browser.ApiGetAsync("/api/whoami");
        browser.SetCookie("gw_session", cookie);
        await browser.NavigateAsync("/logout", site: "same-origin");
        // The child's console logger writes from its own queue: wait for the last event to arrive, however late.
        string[] expected = ["LoginFailed", "LoginSucceeded", "SessionCookieRejected", "LogoutCompleted", "SessionRevoked"];
        static HashSet<string?> EventsIn(List<JsonElement> lines) =>
            lines.Where(l => l.TryGetProperty("event", out _)).Select(l => l.GetProperty("event").GetString()).ToHashSet();
        List<JsonElement> JsonLines() =>
            gateway.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith('{')).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        await Poll.Until(() => Task.FromResult(expected.All(EventsIn(JsonLines()).Contains) ? (bool?)true : null), timeoutMs: 15_000);

        var lines = JsonLines();
        var events = EventsIn(lines);
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
        using var metrics = new MetricsRecorder(rig.Gateway.Services,
            "gateway.config.reloads", "gateway.sessions.created", "gateway.logouts", "gateway.sessions.revoked", "gateway.session_cache.lookups");
        using var browser = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        for (var i = 0; i < 5; i++) await browser.ApiGetAsync("/api/whoami");
        await browser.NavigateAsync("/logout", site: "same-origin");
        await rig.Gateway.EditRouteFileAsync("{ broken");
        await Poll.Until(() => Task.FromResult(metrics.Sum("gateway.config.reloads", "result=rejected") > 0 ? (bool?)true : null));

        Assert.Equal(1, metrics.Sum("gateway.sessions.created", "method=dev"));
        Assert.Equal(1, metrics.Sum("gateway.logouts", "outcome=completed"));
        Assert.Equal(1, metrics.Sum("gateway.sessions.revoked", "reason=logout"));
        Assert.True(metrics.Sum("gateway.session_cache.lookups", "result=hit") >= 4);
        Assert.Equal(1, metrics.Sum("gateway.config.reloads", "result=rejected"));
    }
}

/// <summary>Metrics (and, when asked for, traces) really leave the process over OTLP/HTTP when an endpoint is configured.</summary>
public sealed class OtlpExportTests(SharedRedis redis)
{
    [Fact]
    public async Task Traces_are_exported_and_the_w3c_trace_context_reaches_the_upstream()
    {
        var received = new System.Collections.Concurrent.ConcurrentQueue<byte[]>();
        var receiverPort = Tools.FreePort();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        Microsoft.AspNetCore.Hosting.HostingAbstractionsWebHostBuilderExtensions.UseUrls(builder.WebHost, $"http://127.0.0.1:{receiverPort}");
        await using var receiver = builder.Build();
        receiver.MapPost("/v1/{signal}", async (HttpContext context, string signal) =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            if (signal == "traces") received.Enqueue(body.ToArray());
            return Results.Ok();
        });
        await receiver.StartAsync();

        var port = Tools.FreePort();
        await using var cms = await CmsRig.StartCmsAsync(redis.Configuration, $"http://127.0.0.1:{port}");
        var config = new GatewayConfig { UpstreamUrl = cms.BaseUrl + "/" }.WithRedis(redis.Configuration)
            .Set("Gateway:OtlpEndpoint", $"http://127.0.0.1:{receiverPort}/v1/metrics")
            .Set("Gateway:OtlpTraces", "true")
            .Set("OTEL_BSP_SCHEDULE_DELAY", "200");
        await using var gateway = await GatewayProcess.StartAsync(config, port);
        using var browser = await gateway.SignedInBrowserAsync("alice", "alice-password");
        var seen = await browser.Http.GetFromJsonAsync<JsonElement>("/api/whoami");

        // The CMS received a W3C traceparent: version 00, a trace id, the gateway's outgoing span id, flags.
        var traceparent = seen.GetProperty("headers").GetProperty("traceparent").GetString()!;
        var parts = traceparent.Split('-');
        Assert.Equal(4, parts.Length);
        Assert.Equal("00", parts[0]);
        var traceId = Convert.FromHexString(parts[1]);
        // ... and the exported spans carry that same trace id (raw 16 bytes in the OTLP protobuf).
        var exported = await Poll.Until(() => Task.FromResult(
            received.Any(body => body.AsSpan().IndexOf(traceId) >= 0) ? (bool?)true : null), 15_000);
        Assert.True(exported, $"{received.Count} trace exports, none with trace {parts[1]}:\n{gateway.Output}");
    }

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
        using var browser = await gateway.SignedInBrowserAsync("alice", "alice-password");

        var exported = await Poll.Until(() => Task.FromResult(
            received.Any(r => System.Text.Encoding.UTF8.GetString(r.Body).Contains("gateway.sessions.created", StringComparison.Ordinal)) ? (bool?)true : null), 15_000);
        Assert.True(exported, $"{received.Count} OTLP posts, none with gateway.sessions.created:\n{gateway.Output}");
        Assert.All(received, r => Assert.Equal("application/x-protobuf", r.ContentType));
    }
}

/// <summary>Every log event is declared once in LogEvents, and every LoggerMessage in the gateway uses it.</summary>
public sealed class LogEventDeclarationTests
{
    [Fact]
    public void Event_ids_and_names_are_unique_and_every_logger_message_uses_a_declared_event()
    {
        var declared = typeof(Gateway.Observability.LogEvents).GetFields().Where(f => f.IsLiteral).ToDictionary(f => f.Name, f => (int)f.GetRawConstantValue()!);
        Assert.Equal(declared.Count, declared.Values.Distinct().Count());
        var used = typeof(Gateway.Observability.LogEvents).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.DeclaredOnly))
            .Select(m => m.GetCustomAttributes(typeof(LoggerMessageAttribute), false).Cast<LoggerMessageAttribute>().SingleOrDefault())
            .Where(a => a is not null).ToList();
        Assert.NotEmpty(used);
        foreach (var attribute in used)
        {
            Assert.True(declared.TryGetValue(attribute!.EventName ?? "", out var id), $"event '{attribute.EventName}' is not declared in LogEvents");
            Assert.Equal(id, attribute.EventId);
        }
    }
}
