namespace Gateway.Tests.Sessions;

public sealed class ChallengeTests(SharedRedis redis)
{
    [Fact]
    public async Task Browser_navigation_to_a_protected_route_redirects_to_login_with_path_and_query()
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        using var browser = rig.Gateway.Browser();
        var response = await browser.NavigateAsync("/admin/edit?page=3&lang=fr");
        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Assert.Equal("/login?returnUrl=%2Fadmin%2Fedit%3Fpage%3D3%26lang%3Dfr", response.Headers.Location!.OriginalString);
    }

    public static TheoryData<string, string, string> ApiRequests => new()
    {
        { "Accept", "application/json", "" },
        { "X-Requested-With", "XMLHttpRequest", "text/html" },
        { "Sec-Fetch-Mode", "cors", "text/html" },
        { "Accept", "*/*", "" },
    };

    [Theory]
    [MemberData(nameof(ApiRequests))]
    public async Task Api_and_xhr_requests_get_401_json(string header, string value, string accept)
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        using var browser = rig.Gateway.Browser();
        var request = new HttpRequestMessage(HttpMethod.Get, "/admin/data");
        request.Headers.TryAddWithoutValidation(header, value);
        if (accept.Length > 0) request.Headers.TryAddWithoutValidation("Accept", accept);
        var response = await browser.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType!.MediaType);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("unauthenticated", body.GetProperty("error").GetString());
        Assert.Equal("/login", body.GetProperty("login").GetString());
    }
}
