using System.Buffers.Text;
using System.Text;
using Gateway.Routing;
using Gateway.Sessions;

namespace Gateway.Tests.Login;

/// <summary>
/// Step-up (RFC 9470): a route whose policy has <c>MaxAuthenticationAge</c> asks a session whose last interactive
/// sign-in is older for a new one, without ending it; a fresh sign-in as the same user serves the route and leaves one
/// session, a sign-in as another user ends the first user's session first.
/// </summary>
public sealed class StepUpTests(SharedRedis redis)
{
    private const string RecentRoute = "\"recent\": { \"ClusterId\": \"cms\", \"AuthorizationPolicy\": \"recent\", \"Match\": { \"Path\": \"/whoami\" } }";

    private static Action<GatewayConfig> RecentPolicy(string maxAge) => c =>
    {
        c.ProxyJson = GatewayConfig.StandardRoutesWith(c.UpstreamUrl, RecentRoute);
        c.Set("Gateway:Policies:recent:MaxAuthenticationAge", maxAge);
    };

    private static Task<HttpResponseMessage> ApiAsync(Browser browser, string path) => browser.ApiGetAsync(path);

    private static JsonElement AssertionPayload(string assertion) =>
        JsonDocument.Parse(Encoding.UTF8.GetString(Base64Url.DecodeFromChars(assertion.Split('.')[1]))).RootElement;

    [Fact]
    public async Task A_session_older_than_the_routes_max_age_is_asked_to_sign_in_again_and_keeps_everything_else()
    {
        var clock = new FakeClock();
        await using var rig = await CmsRig.StartAsync(redis.Configuration, RecentPolicy("00:05:00"), clock);
        using var browser = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        var signedInAt = clock.GetUtcNow();
        var served = await browser.Http.GetFromJsonAsync<JsonElement>("/whoami");
        var assertion = AssertionPayload(served.GetProperty("headers").GetProperty("x-auth-assertion").GetString()!);
        Assert.Equal(signedInAt.ToUnixTimeSeconds(), assertion.GetProperty("auth_time").GetInt64());

        clock.Advance(TimeSpan.FromMinutes(5) + TimeSpan.FromSeconds(1));

        // A page: to the login, with the way back and what is asked.
        var navigation = await browser.NavigateAsync("/whoami?tab=2");
        Assert.Equal(HttpStatusCode.Redirect, navigation.StatusCode);
        Assert.Equal("/login?returnUrl=%2Fwhoami%3Ftab%3D2&max_age=300", navigation.Headers.Location!.OriginalString);
        var form = await (await browser.NavigateAsync(navigation.Headers.Location.OriginalString)).Content.ReadAsStringAsync();
        Assert.Contains("This page needs a recent sign-in", form);
        // Anything else: RFC 9470's challenge.
        var api = await ApiAsync(browser, "/whoami");
        Assert.Equal(HttpStatusCode.Unauthorized, api.StatusCode);
        Assert.Equal("Bearer error=\"insufficient_user_authentication\", error_description=\"A sign-in within the last 300 seconds is required\", max_age=300",
            api.Headers.WwwAuthenticate.ToString());
        Assert.Equal("insufficient_user_authentication", (await api.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString());
        // The session lives on: its other routes are served.
        Assert.Equal(HttpStatusCode.OK, (await ApiAsync(browser, "/api/whoami")).StatusCode);

        // A fresh sign-in as the same user: the route is served, and the user has one session (its id rotated).
        var before = browser.Cookie("gw_session")!;
        Assert.Equal(HttpStatusCode.SeeOther, (await browser.LoginAsync("alice", "alice-password", "/whoami?tab=2")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await ApiAsync(browser, "/whoami")).StatusCode);
        Assert.NotEqual(before, browser.Cookie("gw_session"));
        Assert.Single(await rig.Gateway.Services.GetRequiredService<SessionManager>().ListUserAsync("alice", default));
        using var replay = rig.Gateway.Browser();
        replay.SetCookie("gw_session", before);
        Assert.Equal(HttpStatusCode.Unauthorized, (await ApiAsync(replay, "/api/whoami")).StatusCode);
    }

    [Fact]
    public async Task A_stream_open_when_a_route_asks_for_a_step_up_stays_open()
    {
        var clock = new FakeClock();
        await using var rig = await CmsRig.StartAsync(redis.Configuration, RecentPolicy("00:05:00"), clock);
        using var browser = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        using var events = await browser.Http.GetAsync("/admin/events", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, events.StatusCode);
        using var reader = new StreamReader(await events.Content.ReadAsStreamAsync());
        Assert.Equal("data: hello alice", await reader.ReadLineAsync());

        clock.Advance(TimeSpan.FromMinutes(6));
        Assert.Equal(HttpStatusCode.Unauthorized, (await ApiAsync(browser, "/whoami")).StatusCode);

        // Ten ticks (two seconds of them, the upstream ticks every 200 ms): most were sent after the 401.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        for (var ticks = 0; ticks < 10;)
        {
            var line = await reader.ReadLineAsync(timeout.Token);
            if (line == "") continue;
            Assert.Equal("data: tick", line);
            ticks++;
        }
    }

    [Fact]
    public async Task Signing_in_as_another_user_at_the_step_up_prompt_ends_the_first_users_session_first()
    {
        var clock = new FakeClock();
        await using var rig = await CmsRig.StartAsync(redis.Configuration, RecentPolicy("00:05:00"), clock);
        using var browser = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        var alices = browser.Cookie("gw_session")!;
        clock.Advance(TimeSpan.FromMinutes(6));
        Assert.Equal(HttpStatusCode.Unauthorized, (await ApiAsync(browser, "/whoami")).StatusCode);

        Assert.Equal(HttpStatusCode.SeeOther, (await browser.LoginAsync("admin", "admin-password", "/whoami")).StatusCode);

        var whoami = await browser.Http.GetFromJsonAsync<JsonElement>("/whoami");
        Assert.Equal("admin", whoami.GetProperty("headers").GetProperty("x-auth-user").GetString());
        Assert.Empty(await rig.Gateway.Services.GetRequiredService<SessionManager>().ListUserAsync("alice", default));
        using var replay = rig.Gateway.Browser();
        replay.SetCookie("gw_session", alices);
        Assert.Equal(HttpStatusCode.Unauthorized, (await ApiAsync(replay, "/api/whoami")).StatusCode);
    }

    [Fact]
    public async Task With_a_real_clock_the_route_asks_again_once_the_age_has_passed()
    {
        // Five seconds: the request right after signing in lands inside the age even on a busy machine.
        await using var rig = await CmsRig.StartAsync(redis.Configuration, RecentPolicy("00:00:05"));
        using var browser = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        Assert.Equal(HttpStatusCode.OK, (await ApiAsync(browser, "/whoami")).StatusCode);
        await Task.Delay(5500);
        var asked = await ApiAsync(browser, "/whoami");
        Assert.Equal(HttpStatusCode.Unauthorized, asked.StatusCode);
        Assert.Contains("max_age=5", asked.Headers.WwwAuthenticate.ToString());
        Assert.Equal(HttpStatusCode.SeeOther, (await browser.LoginAsync("alice", "alice-password", "/whoami")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await ApiAsync(browser, "/whoami")).StatusCode);
    }

    [Fact]
    public async Task An_age_of_zero_asks_for_a_sign_in_on_each_visit_and_the_sign_in_counts_for_the_way_back_only()
    {
        var clock = new FakeClock();
        await using var rig = await CmsRig.StartAsync(redis.Configuration, RecentPolicy("00:00:00"), clock);
        using var browser = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        clock.Advance(RecentSignInRequirement.FreshSignInWindow + TimeSpan.FromMilliseconds(1));
        var asked = await browser.NavigateAsync("/whoami");
        Assert.Equal("/login?returnUrl=%2Fwhoami&max_age=0", asked.Headers.Location!.OriginalString);
        Assert.Equal("Bearer error=\"insufficient_user_authentication\", error_description=\"A sign-in within the last 0 seconds is required\", max_age=0",
            (await ApiAsync(browser, "/whoami")).Headers.WwwAuthenticate.ToString());

        // The sign-in made for the page serves it, and what the page loads next, however long the way back took.
        Assert.Equal(HttpStatusCode.SeeOther, (await browser.LoginAsync("alice", "alice-password", "/whoami")).StatusCode);
        clock.Advance(TimeSpan.FromSeconds(3));
        Assert.Equal(HttpStatusCode.OK, (await browser.NavigateAsync("/whoami")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await ApiAsync(browser, "/whoami")).StatusCode);
        // No longer than the window: the next visit signs in again, and the session itself lives on.
        clock.Advance(RecentSignInRequirement.FreshSignInWindow);
        Assert.Equal(HttpStatusCode.Redirect, (await browser.NavigateAsync("/whoami")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await ApiAsync(browser, "/api/whoami")).StatusCode);
    }

    [Fact]
    public async Task With_oidc_an_age_of_zero_makes_the_provider_sign_the_user_in_again_despite_its_own_session()
    {
        await using var rig = await OidcRig.StartAsync(redis.Configuration, RecentPolicy("00:00:00"));
        using var browser = rig.Gateway.Browser();
        await rig.LoginAsync(browser, "alice", "/api/whoami");
        var asked = await browser.NavigateAsync("/whoami");
        Assert.EndsWith("&max_age=0", asked.Headers.Location!.OriginalString);

        // The provider still has alice's session: only prompt=login (with max_age=0) makes it ask for her password, and
        // the auth_time it reports is then that of the new sign-in, after the step-up began (whole seconds).
        await Task.Delay(1100);
        var stepUpBegan = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var (stepUp, _) = await rig.LoginAsync(browser, "alice", "/whoami", loginQuery: "&max_age=0");
        Assert.Equal(HttpStatusCode.Redirect, stepUp.StatusCode);
        var served = await browser.Http.GetFromJsonAsync<JsonElement>("/whoami");
        var authTime = AssertionPayload(served.GetProperty("headers").GetProperty("x-auth-assertion").GetString()!).GetProperty("auth_time").GetInt64();
        Assert.True(authTime >= stepUpBegan, $"auth_time {authTime} is from before the step-up ({stepUpBegan}): the provider reused its session");
        Assert.Single(await rig.Gateway.Services.GetRequiredService<SessionManager>().ListUserAsync("alice", default));
    }

    [Fact]
    public async Task A_policy_with_roles_and_an_age_forbids_a_user_without_the_role_instead_of_asking_for_a_sign_in()
    {
        var clock = new FakeClock();
        await using var rig = await CmsRig.StartAsync(redis.Configuration, c =>
        {
            RecentPolicy("00:05:00")(c);
            c.Set("Gateway:Policies:recent:Roles:0", "admin");
        }, clock);
        using var browser = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        clock.Advance(TimeSpan.FromMinutes(6));
        Assert.Equal(HttpStatusCode.Forbidden, (await ApiAsync(browser, "/whoami")).StatusCode);
    }

    [Fact]
    public async Task With_oidc_a_session_without_auth_time_passes_once_through_the_provider_with_max_age_and_is_then_served()
    {
        await using var rig = await OidcRig.StartAsync(redis.Configuration, RecentPolicy("00:01:00"));
        using var browser = rig.Gateway.Browser();
        Assert.Equal(HttpStatusCode.Redirect, (await rig.LoginAsync(browser, "alice", "/api/whoami")).Response.StatusCode);
        // The first sign-in did not ask for auth_time, so the id_token had none: too old for a policy with an age.
        var asked = await browser.NavigateAsync("/whoami");
        Assert.Equal(HttpStatusCode.Redirect, asked.StatusCode);
        Assert.EndsWith("&max_age=60", asked.Headers.Location!.OriginalString);

        // Through the provider with max_age (pushed to its PAR endpoint): the id_token now carries auth_time, which only
        // max_age asked for, and the route is served to the one session the user has.
        var (stepUp, _) = await rig.LoginAsync(browser, "alice", "/whoami", loginQuery: "&max_age=60");
        Assert.Equal(HttpStatusCode.Redirect, stepUp.StatusCode);
        var served = await browser.Http.GetFromJsonAsync<JsonElement>("/whoami");
        var authTime = AssertionPayload(served.GetProperty("headers").GetProperty("x-auth-assertion").GetString()!).GetProperty("auth_time").GetInt64();
        Assert.InRange(DateTimeOffset.UtcNow.ToUnixTimeSeconds() - authTime, 0, 60);
        Assert.Single(await rig.Gateway.Services.GetRequiredService<SessionManager>().ListUserAsync("alice", default));
    }

    [Fact]
    public async Task A_provider_that_ignores_max_age_gets_no_step_up_session_and_the_route_stays_closed()
    {
        await using var rig = await OidcRig.StartAsync(redis.Configuration, RecentPolicy("00:01:00"), providerIgnoresMaxAge: true);
        using var browser = rig.Gateway.Browser();
        await rig.LoginAsync(browser, "bob", "/api/whoami");
        var (refused, _) = await rig.LoginAsync(browser, "bob", "/whoami", loginQuery: "&max_age=60");
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Contains("step-up-not-confirmed", await refused.Content.ReadAsStringAsync());
        Assert.Contains(rig.Gateway.Logs.Lines, l => l.Event.Name == "StepUpNotConfirmed");
        // bob's first session is still there, and still not enough for the route.
        Assert.Equal(HttpStatusCode.OK, (await browser.ApiGetAsync("/api/whoami")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.ApiGetAsync("/whoami")).StatusCode);
    }

    private static Action<GatewayConfig> StrongPolicy => c =>
    {
        c.ProxyJson = GatewayConfig.StandardRoutesWith(c.UpstreamUrl, RecentRoute);
        c.Set("Gateway:Policies:recent:AcrValues:0", "urn:gw:mfa");
    };

    [Fact]
    public async Task A_provider_returning_a_weaker_acr_gets_a_step_up_challenge_and_no_step_up_session()
    {
        await using var rig = await OidcRig.StartAsync(redis.Configuration, StrongPolicy, providerAcr: "urn:gw:password");
        using var browser = rig.Gateway.Browser();
        await rig.LoginAsync(browser, "alice", "/api/whoami");
        var asked = await browser.ApiGetAsync("/whoami");
        Assert.Equal(HttpStatusCode.Unauthorized, asked.StatusCode);
        Assert.Equal("Bearer error=\"insufficient_user_authentication\", error_description=\"A stronger sign-in is required\", acr_values=\"urn:gw:mfa\"",
            asked.Headers.WwwAuthenticate.ToString());
        Assert.EndsWith("&acr_values=urn%3Agw%3Amfa", (await browser.NavigateAsync("/whoami")).Headers.Location!.OriginalString);

        var (refused, _) = await rig.LoginAsync(browser, "alice", "/whoami", loginQuery: "&acr_values=urn%3Agw%3Amfa");
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Contains("step-up-not-confirmed", await refused.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, (await browser.ApiGetAsync("/api/whoami")).StatusCode);
    }

    [Fact]
    public async Task A_sign_in_with_a_listed_acr_is_served_and_the_assertion_carries_it()
    {
        await using var rig = await OidcRig.StartAsync(redis.Configuration, StrongPolicy, providerAcr: "urn:gw:mfa");
        using var browser = rig.Gateway.Browser();
        await rig.LoginAsync(browser, "alice", "/api/whoami");
        // Providers put acr in the id_token only when asked (acr_values): the first sign-in has none, so it steps up once.
        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.ApiGetAsync("/whoami")).StatusCode);
        var (stepUp, _) = await rig.LoginAsync(browser, "alice", "/whoami", loginQuery: "&acr_values=urn%3Agw%3Amfa");
        Assert.Equal(HttpStatusCode.Redirect, stepUp.StatusCode);
        var served = await browser.Http.GetFromJsonAsync<JsonElement>("/whoami");
        Assert.Equal("urn:gw:mfa", AssertionPayload(served.GetProperty("headers").GetProperty("x-auth-assertion").GetString()!).GetProperty("acr").GetString());
    }
}

/// <summary>The login's step-up query is the client's to write: hostile values are dropped, never sent to the provider as given.</summary>
public sealed class StepUpRequestTests
{
    [Theory]
    [InlineData("max_age=-5")]
    [InlineData("max_age=abc")]
    [InlineData("max_age=%2B60")]
    [InlineData("max_age=99999999999999999999999")]
    [InlineData("acr_values=urn%3Aa%0D%0ALocation%3A%20evil")]
    [InlineData("acr_values=%22quoted%22%00")]
    public void A_hostile_step_up_query_asks_for_nothing(string query)
    {
        var parsed = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(query);
        Assert.Null(Gateway.Login.StepUpRequest.From(new Microsoft.AspNetCore.Http.QueryCollection(parsed)));
    }

    [Fact]
    public void An_overlong_acr_values_asks_for_nothing_and_a_plain_one_is_kept()
    {
        var overlong = new Microsoft.AspNetCore.Http.QueryCollection(new Dictionary<string, Microsoft.Extensions.Primitives.StringValues> { ["acr_values"] = new string('a', 513) });
        Assert.Null(Gateway.Login.StepUpRequest.From(overlong));
        var plain = new Microsoft.AspNetCore.Http.QueryCollection(new Dictionary<string, Microsoft.Extensions.Primitives.StringValues> { ["max_age"] = "300", ["acr_values"] = "urn:gw:mfa urn:gw:hwk" });
        Assert.Equal(new Gateway.Login.StepUpRequest(300, "urn:gw:mfa urn:gw:hwk"), Gateway.Login.StepUpRequest.From(plain));
    }
}
