using System.Text;

namespace Gateway.Tests.Security;

/// <summary>
/// Audit round two, finding 1 (high): anonymous bodies must not pin memory or fill the temp folder. Every gateway
/// endpoint refuses a body over its small limit with 413 before reading it, and never spools a part to disk.
/// </summary>
public sealed class RequestBodyAttackTests(SharedRedis redis)
{
    private const long ThirtyMegabytes = 30L * 1024 * 1024;
    private const string Boundary = "----attack";

    private static readonly string[] AttackedPaths = ["/login", "/logout", "/admin/logout", "/backchannel-logout", "/signin-oidc", "/_gateway/my-sessions/revoke"];

    /// <summary>Values just under ASP.NET's default 4 MB value limit, so a default form reader keeps every one of them.</summary>
    private static readonly byte[] FormUnit = Encoding.ASCII.GetBytes("&v=" + new string('a', 4 * 1024 * 1024 - 64));

    private static readonly byte[] MultipartPrefix = Encoding.ASCII.GetBytes(
        $"--{Boundary}\r\nContent-Disposition: form-data; name=\"upload\"; filename=\"a.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n");

    [Fact]
    public async Task Concurrent_30MB_anonymous_posts_to_gateway_endpoints_get_413_grow_the_process_under_50MB_and_leave_no_temp_file()
    {
        await using var idp = await IdentityProvider.StartAsync("http://127.0.0.1:1");
        var temp = Tools.NewTempDir("gw-body-tmp");
        var config = idp.Configure(new GatewayConfig().WithRedis(redis.Configuration))
            .Set("ASPNETCORE_TEMP", temp);
        await using var gateway = await GatewayProcess.StartAsync(config);
        var pid = gateway.Process.Pid;
        // Warm every path once (JIT, first allocations), then measure the peak from here on.
        foreach (var path in AttackedPaths)
            await RawHttp.PostAsync(gateway.Port, path, "application/x-www-form-urlencoded", 10, [], "a=b"u8.ToArray(), chunked: false);
        var before = ProcessMemory.ResidentBytes(pid);
        ProcessMemory.ResetPeak(pid);

        // Eight per path: half declare their 30 MB, half stream it chunked as a multipart upload.
        var attacks = AttackedPaths.SelectMany(path => Enumerable.Range(0, 8).Select(i => i % 2 == 0
            ? RawHttp.PostAsync(gateway.Port, path, "application/x-www-form-urlencoded", ThirtyMegabytes, [], FormUnit, chunked: false)
            : RawHttp.PostAsync(gateway.Port, path, $"multipart/form-data; boundary={Boundary}", ThirtyMegabytes, MultipartPrefix, "a"u8.ToArray(), chunked: true)))
            .ToList();
        var answers = await Task.WhenAll(attacks);

        Assert.All(answers, a => Assert.Equal(413, a.Status));
        // Refused before reading: nowhere near the 30 MB each was ready to send. (What a client pushes before it sees the
        // answer is mostly loopback socket buffers, several MB under load; the server read at most its limit.)
        Assert.All(answers, a => Assert.InRange(a.BodyBytesSent, 0, 16L * 1024 * 1024));
        var growth = ProcessMemory.PeakBytes(pid) - before;
        TestContext.Current.TestOutputHelper?.WriteLine($"peak growth {growth / 1024.0 / 1024:F1} MB over {before / 1024 / 1024} MB resident");
        Assert.True(growth < 50L * 1024 * 1024, $"the gateway grew by {growth / 1024 / 1024} MB under the attack");
        Assert.Empty(Directory.EnumerateFileSystemEntries(temp));
        Assert.Equal(HttpStatusCode.OK, (await new HttpClient().GetAsync(gateway.BaseUrl + "/healthz")).StatusCode);
    }

    [Theory]
    [InlineData("/login", 8 * 1024)]
    [InlineData("/logout", 8 * 1024)]
    [InlineData("/admin/logout", 8 * 1024)]
    [InlineData("/_gateway/my-sessions/revoke", 8 * 1024)]
    [InlineData("/_gateway/sessions/revoke", 8 * 1024)]
    [InlineData("/readyz", 8 * 1024)]
    public async Task A_declared_body_over_the_endpoint_limit_is_refused_with_413_before_it_is_read(string path, int limit)
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        var port = new Uri(rig.Gateway.BaseUrl).Port;
        var over = await RawHttp.PostAsync(port, path, "application/x-www-form-urlencoded", limit + 1, [], "a"u8.ToArray(), chunked: false);
        Assert.Equal(413, over.Status);
        Assert.Contains(rig.Gateway.Logs.Lines, l => l.Event.Name == "RequestBodyRefused");
    }

    [Fact]
    public async Task A_chunked_body_over_the_limit_from_our_own_origin_is_cut_off_with_413()
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        var port = new Uri(rig.Gateway.BaseUrl).Port;
        var answer = await RawHttp.PostAsync(port, "/logout", "application/x-www-form-urlencoded", ThirtyMegabytes, [], "returnUrl=%2F&"u8.ToArray(), chunked: true,
            extraHeaders: $"Origin: {rig.Gateway.BaseUrl}\r\n");
        Assert.Equal(413, answer.Status);
        // Loopback socket buffers take several MB before the client sees the answer; the server read at most its limit.
        Assert.InRange(answer.BodyBytesSent, 0, 16L * 1024 * 1024);
    }

    [Fact]
    public async Task A_logout_form_within_the_limit_still_logs_out()
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        using var browser = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        Assert.Equal(HttpStatusCode.OK, (await browser.ApiGetAsync("/api/whoami")).StatusCode);
        var returnUrl = "/" + new string('x', 1000);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/logout")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["returnUrl"] = returnUrl }),
        };
        request.Headers.Add("Origin", rig.Gateway.BaseUrl);
        var logout = await browser.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.SeeOther, logout.StatusCode);
        Assert.Equal(returnUrl, logout.Headers.Location?.OriginalString);
        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.ApiGetAsync("/api/whoami")).StatusCode);
    }

    [Fact]
    public async Task A_cross_site_logout_post_without_the_form_cookie_gets_the_confirmation_without_its_body_being_read()
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        using var browser = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        browser.RemoveCookie("gw_af");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/logout?returnUrl=%2Ffrom-query")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["returnUrl"] = "/from-body", ["scope"] = "all" }),
        };
        request.Headers.Add("Origin", "https://evil.example");
        var response = await browser.Http.SendAsync(request);
        var page = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("confirm-logout", page);
        // The confirmation carries the query's returnUrl: the body was never read.
        Assert.Contains("value=\"/from-query\"", page);
        Assert.DoesNotContain("/from-body", page);
        Assert.Equal(HttpStatusCode.OK, (await browser.ApiGetAsync("/api/whoami")).StatusCode);
    }

    [Theory]
    [InlineData("/logout")]
    [InlineData("/healthz")]
    public async Task A_malformed_chunked_body_to_a_gateway_endpoint_gets_a_4xx_never_a_500(string path)
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        using var client = new System.Net.Sockets.TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, new Uri(rig.Gateway.BaseUrl).Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nnot a chunk\r\n"));
        var buffer = new byte[1024];
        var read = await stream.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        var status = int.Parse(Encoding.ASCII.GetString(buffer, 0, read).AsSpan(9, 3), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(status, 400, 499);
    }
}
