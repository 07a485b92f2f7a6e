namespace Gateway.Tests.Routing;

public sealed class LiveReloadTests(SharedRedis redis)
{
    private const string ReadyzAdminKey = "readyz-admin-key-0123456789abcdef0123456789";

    private static string WithExtraRoute(string upstream) => GatewayConfig.StandardRoutesWith(upstream,
        "\"cms-extra\": { \"ClusterId\": \"cms\", \"AuthorizationPolicy\": \"anonymous\", \"Match\": { \"Path\": \"/extra\" }, \"Transforms\": [ { \"PathSet\": \"/healthz\" } ] }");

    [Fact]
    public async Task A_valid_edit_is_applied_within_seconds_without_restart()
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        using var browser = rig.Gateway.Browser();
        Assert.Equal(HttpStatusCode.NotFound, (await browser.Http.GetAsync("/extra")).StatusCode);

        await rig.Gateway.EditRouteFileAsync(WithExtraRoute(rig.Cms.BaseUrl + "/"));
        Assert.Equal("ok", await Poll.Until(async () => await browser.Http.GetStringAsync("/extra") is var s && s == "ok" ? s : null));
    }

    [Theory]
    [MemberData(nameof(RouteFileRules.Broken), MemberType = typeof(RouteFileRules))]
    public async Task A_broken_edit_keeps_the_last_good_config_serving_and_shows_in_readyz(string name, string content, string expected)
    {
        _ = name;
        await using var rig = await CmsRig.StartAsync(redis.Configuration, c => c.Set("Gateway:Admin:ApiKey", ReadyzAdminKey));
        using var browser = rig.Gateway.Browser();
        using var ops = rig.Gateway.Browser();
        ops.Http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", ReadyzAdminKey);
        await rig.Gateway.EditRouteFileAsync(content);

        var ready = await Poll.Until(async () =>
        {
            var body = await ops.Http.GetFromJsonAsync<JsonElement>("/readyz");
            return body.GetProperty("routes").GetProperty("lastReloadErrors").GetArrayLength() > 0 ? body : (JsonElement?)null;
        });
        var errors = ready!.Value.GetProperty("routes").GetProperty("lastReloadErrors").EnumerateArray().Select(e => e.GetString()!).ToList();
        Assert.Contains(errors, e => e.Contains(expected, StringComparison.Ordinal) && e.StartsWith(rig.Gateway.RouteFilePath, StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.OK, (await browser.Http.GetAsync("/readyz")).StatusCode);
        // Anonymous callers learn that a reload failed, never the error text or the file's path.
        var anonymous = await browser.Http.GetStringAsync("/readyz");
        Assert.Contains("\"lastReloadErrorCount\": 1", anonymous);
        Assert.DoesNotContain(rig.Gateway.RouteFilePath, anonymous);
        Assert.DoesNotContain(expected, anonymous);
        Assert.Equal(HttpStatusCode.OK, (await browser.Http.GetAsync("/")).StatusCode);
        Assert.Contains(rig.Gateway.Logs.Lines, l => l.Event.Name == "ConfigReloadFailed");
    }

    [Fact]
    public async Task A_ConfigMap_style_symlink_swap_is_applied()
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration, c => { });
        // Lay the route file out as kubelet does: proxy.json -> ..data/proxy.json, ..data -> ..<timestamp>/.
        var mount = Tools.NewTempDir("configmap");
        var first = Directory.CreateDirectory(Path.Combine(mount, "..2026_11_21_01")).FullName;
        await File.WriteAllTextAsync(Path.Combine(first, "proxy.json"), GatewayConfig.StandardRoutes(rig.Cms.BaseUrl + "/"));
        File.CreateSymbolicLink(Path.Combine(mount, "..data"), "..2026_11_21_01");
        File.CreateSymbolicLink(Path.Combine(mount, "proxy.json"), "..data/proxy.json");

        var config = new GatewayConfig { UpstreamUrl = rig.Cms.BaseUrl + "/" }.WithRedis(redis.Configuration).Set("Gateway:ProxyConfigPath", Path.Combine(mount, "proxy.json"));
        await using var gateway = await GatewayHost.StartAsync(config);
        using var browser = gateway.Browser();
        Assert.Equal(HttpStatusCode.NotFound, (await browser.Http.GetAsync("/extra")).StatusCode);

        var second = Directory.CreateDirectory(Path.Combine(mount, "..2026_11_21_02")).FullName;
        await File.WriteAllTextAsync(Path.Combine(second, "proxy.json"), WithExtraRoute(rig.Cms.BaseUrl + "/"));
        File.CreateSymbolicLink(Path.Combine(mount, "..data_tmp"), "..2026_11_21_02");
        // kubelet swaps with rename(2); File.Move refuses a link to a directory, mv -T renames the link itself.
        await using (var mv = new ServerProcess("mv", ["-Tf", Path.Combine(mount, "..data_tmp"), Path.Combine(mount, "..data")]))
            Assert.Equal(0, await mv.WaitForExitAsync(TimeSpan.FromSeconds(10)));
        Directory.Delete(first, recursive: true);

        Assert.Equal("ok", await Poll.Until(async () => await browser.Http.GetStringAsync("/extra") is var s && s == "ok" ? s : null));
    }
}
