using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;

namespace Gateway.Tests.Connections;

/// <summary>
/// No WebSocket or event stream outlives its session: logout or revocation on another replica closes it within
/// a second, expiry closes it too, and another user's connection stays open.
/// </summary>
[Collection(nameof(LiveConnectionTests))]
public sealed class LiveConnectionTests(SharedRedis redis, ITestOutputHelper output)
{
    private sealed record Replicas(NodeApp Cms, GatewayHost A, GatewayHost B) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await B.DisposeAsync();
            await A.DisposeAsync();
            await Cms.DisposeAsync();
        }
    }

    private async Task<Replicas> TwoReplicasAsync()
    {
        var prefix = $"ws{Guid.NewGuid():N}"[..10] + ":";
        var portA = Tools.FreePort();
        var cms = await CmsRig.StartCmsAsync(redis.Configuration, $"http://127.0.0.1:{portA}");
        var config = new GatewayConfig { UpstreamUrl = cms.BaseUrl + "/" }.WithRedis(redis.Configuration, prefix);
        return new Replicas(cms, await GatewayHost.StartAsync(config, url: $"http://127.0.0.1:{portA}"), await GatewayHost.StartAsync(config));
    }

    private static async Task<string> SignInAsync(GatewayHost gateway, string user, string password)
    {
        using var browser = gateway.Browser();
        Assert.Equal(HttpStatusCode.SeeOther, (await browser.LoginAsync(user, password)).StatusCode);
        return browser.Cookie("gw_session")!;
    }

    private static async Task<ClientWebSocket> OpenSocketAsync(GatewayHost gateway, string cookie)
    {
        var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Cookie", $"gw_session={cookie}");
        await socket.ConnectAsync(new Uri(gateway.BaseUrl.Replace("http://", "ws://", StringComparison.Ordinal) + "/admin/ws"), CancellationToken.None);
        return socket;
    }

    private static async Task<string?> ReceiveAsync(ClientWebSocket socket, TimeSpan timeout)
    {
        var buffer = new byte[1024];
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            var result = await socket.ReceiveAsync(buffer, cts.Token);
            return result.MessageType == WebSocketMessageType.Close ? null : Encoding.UTF8.GetString(buffer, 0, result.Count);
        }
        catch (WebSocketException)
        {
            return null;
        }
        catch (OperationCanceledException) when (socket.State is WebSocketState.Aborted or WebSocketState.Closed or WebSocketState.CloseReceived)
        {
            return null;
        }
    }

    private static async Task<HttpResponseMessage> LogoutAsync(GatewayHost gateway, string cookie)
    {
        using var browser = gateway.Browser();
        browser.SetCookie("gw_session", cookie);
        return await browser.NavigateAsync("/logout", site: "same-origin");
    }

    [Fact]
    public async Task Logout_on_another_replica_closes_the_users_websocket_within_a_second_and_not_another_users()
    {
        await using var r = await TwoReplicasAsync();
        var alice = await SignInAsync(r.A, "alice", "alice-password");
        var admin = await SignInAsync(r.A, "admin", "admin-password");
        using var aliceSocket = await OpenSocketAsync(r.A, alice);
        using var adminSocket = await OpenSocketAsync(r.A, admin);
        Assert.Equal("hello alice", await ReceiveAsync(aliceSocket, TimeSpan.FromSeconds(15)));
        Assert.Equal("hello admin", await ReceiveAsync(adminSocket, TimeSpan.FromSeconds(15)));

        var closed = ReceiveAsync(aliceSocket, TimeSpan.FromSeconds(5));
        Assert.Equal(HttpStatusCode.Found, (await LogoutAsync(r.B, alice)).StatusCode);
        var watch = Stopwatch.StartNew();
        Assert.Null(await closed);
        output.WriteLine($"alice's WebSocket closed {watch.Elapsed.TotalMilliseconds:0} ms after the logout on the other replica returned");
        Assert.InRange(watch.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(1));

        await adminSocket.SendAsync(Encoding.UTF8.GetBytes("ping"), WebSocketMessageType.Text, true, CancellationToken.None);
        Assert.Equal("echo ping", await ReceiveAsync(adminSocket, TimeSpan.FromSeconds(15)));
        Assert.Contains(r.A.Logs.Lines, l => l.Event.Name == "LiveConnectionClosed" && l.Message.Contains("revoked", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Ending_a_session_from_your_sessions_closes_its_event_stream_within_a_second()
    {
        await using var r = await TwoReplicasAsync();
        var library = await SignInAsync(r.A, "alice", "alice-password");
        var other = await SignInAsync(r.A, "admin", "admin-password");

        async Task<(HttpClient Client, StreamReader Reader)> OpenStreamAsync(string cookie, bool announce)
        {
            var client = new HttpClient { BaseAddress = new Uri(r.A.BaseUrl), Timeout = Timeout.InfiniteTimeSpan };
            var request = new HttpRequestMessage(HttpMethod.Get, "/admin/events");
            request.Headers.Add("Cookie", $"gw_session={cookie}");
            // Without the Accept header the stream is recognised by its response.
            if (announce) request.Headers.Accept.ParseAdd("text/event-stream");
            var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return (client, new StreamReader(await response.Content.ReadAsStreamAsync()));
        }

        var (libraryClient, libraryStream) = await OpenStreamAsync(library, announce: false);
        var (otherClient, otherStream) = await OpenStreamAsync(other, announce: true);
        using (libraryClient)
        using (otherClient)
        using (libraryStream)
        using (otherStream)
        {
            Assert.Equal("data: hello alice", await libraryStream.ReadLineAsync());
            Assert.Equal("data: hello admin", await otherStream.ReadLineAsync());

            // From a laptop signed in on replica B, alice ends the library session.
            using var laptop = r.B.Browser();
            Assert.Equal(HttpStatusCode.SeeOther, (await laptop.LoginAsync("alice", "alice-password")).StatusCode);
            laptop.Http.DefaultRequestHeaders.Accept.ParseAdd("application/json");
            var sessions = (await laptop.Http.GetFromJsonAsync<JsonElement>("/_gateway/my-sessions")).GetProperty("sessions").EnumerateArray().ToList();
            var target = sessions.Single(s => !s.GetProperty("thisBrowser").GetBoolean()).GetProperty("hash").GetString()!;
            var revoke = new HttpRequestMessage(HttpMethod.Post, "/_gateway/my-sessions/revoke") { Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["session"] = target }) };
            revoke.Headers.Add("Origin", r.B.BaseUrl);
            Assert.Equal(HttpStatusCode.OK, (await laptop.Http.SendAsync(revoke)).StatusCode);
            var watch = Stopwatch.StartNew();

            string? line;
            try
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                do line = await libraryStream.ReadLineAsync(cts.Token);
                while (line is not null);
            }
            catch (IOException)
            {
            }
            catch (HttpRequestException)
            {
            }
            output.WriteLine($"the library's event stream ended {watch.Elapsed.TotalMilliseconds:0} ms after the revoke returned");
            Assert.InRange(watch.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(1));

            // The other user's stream keeps ticking.
            Assert.NotNull(await otherStream.ReadLineAsync());
        }
    }

    [Fact]
    public async Task A_websocket_is_closed_when_its_session_reaches_its_absolute_lifetime_or_its_idle_timeout()
    {
        var clock = new FakeClock();
        var port = Tools.FreePort();
        await using var cms = await CmsRig.StartCmsAsync(redis.Configuration, $"http://127.0.0.1:{port}");
        // The in-memory store expires records by the same clock, so the idle timeout can be stepped over.
        await using var gateway = await GatewayHost.StartAsync(new GatewayConfig { UpstreamUrl = cms.BaseUrl + "/" }, clock, $"http://127.0.0.1:{port}");

        var absolute = await SignInAsync(gateway, "alice", "alice-password");
        using (var socket = await OpenSocketAsync(gateway, absolute))
        {
            Assert.Equal("hello alice", await ReceiveAsync(socket, TimeSpan.FromSeconds(15)));
            clock.Advance(TimeSpan.FromHours(8) + TimeSpan.FromMinutes(1));
            Assert.Null(await ReceiveAsync(socket, TimeSpan.FromSeconds(15)));
        }
        Assert.Contains(gateway.Logs.Lines, l => l.Event.Name == "LiveConnectionClosed" && l.Message.Contains("expired", StringComparison.Ordinal));

        var idle = await SignInAsync(gateway, "admin", "admin-password");
        using (var socket = await OpenSocketAsync(gateway, idle))
        {
            Assert.Equal("hello admin", await ReceiveAsync(socket, TimeSpan.FromSeconds(15)));
            // An open socket is not activity: after the idle timeout with no request, the session and its socket end.
            clock.Advance(TimeSpan.FromMinutes(21));
            Assert.Null(await ReceiveAsync(socket, TimeSpan.FromSeconds(15)));
        }
    }

    [Theory]
    [InlineData(0)]    // a chunked long poll: plain text, headers at once, a line every 200 ms
    [InlineData(3000)] // the upstream has not even answered yet when the user logs out
    public async Task Logout_on_another_replica_closes_an_in_flight_long_poll_within_a_second_whatever_its_headers_and_not_another_users(int lateMs)
    {
        await using var r = await TwoReplicasAsync();
        var alice = await SignInAsync(r.A, "alice", "alice-password");
        var admin = await SignInAsync(r.A, "admin", "admin-password");

        Task<HttpResponseMessage> Poll(string cookie, HttpClient client)
        {
            var request = new HttpRequestMessage(HttpMethod.Get, $"/admin/longpoll?late={lateMs}");
            request.Headers.Add("Cookie", $"gw_session={cookie}");
            return client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        }
        using var aliceClient = new HttpClient { BaseAddress = new Uri(r.A.BaseUrl), Timeout = Timeout.InfiniteTimeSpan };
        using var adminClient = new HttpClient { BaseAddress = new Uri(r.A.BaseUrl), Timeout = Timeout.InfiniteTimeSpan };
        var alicePoll = Poll(alice, aliceClient);
        var adminPoll = Poll(admin, adminClient);
        await Task.Delay(300); // both requests are in flight at the upstream

        // Alice logs out on replica B with the same cookie.
        using var laptop = new Browser(r.B.BaseUrl, useCookies: false);
        using var logout = new HttpRequestMessage(HttpMethod.Post, "/logout") { Content = new FormUrlEncodedContent([]) };
        logout.Headers.Add("Origin", r.B.BaseUrl);
        logout.Headers.Add("Cookie", $"gw_session={alice}");
        Assert.Equal(HttpStatusCode.SeeOther, (await laptop.Http.SendAsync(logout)).StatusCode);
        var watch = Stopwatch.StartNew();

        // Alice's request ends: before any header (an error) or mid-body (the stream breaks).
        try
        {
            using var response = await alicePoll.WaitAsync(TimeSpan.FromSeconds(5));
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            while (await reader.ReadLineAsync(cts.Token) is not null) { }
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException)
        {
        }
        output.WriteLine($"alice's long poll (late {lateMs} ms) ended {watch.Elapsed.TotalMilliseconds:0} ms after logout returned");
        Assert.InRange(watch.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(1));

        // The admin's goes on and answers.
        using var adminResponse = await adminPoll.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(HttpStatusCode.OK, adminResponse.StatusCode);
        using var adminReader = new StreamReader(await adminResponse.Content.ReadAsStreamAsync());
        Assert.Equal("hello admin", await adminReader.ReadLineAsync());
        Assert.Equal("tick", await adminReader.ReadLineAsync());
    }
}

/// <summary>Closing within a second is the promise measured here: run alone, after the parallel tests, so their load on the shared thread pool is not in it.</summary>
[CollectionDefinition(nameof(LiveConnectionTests), DisableParallelization = true)]
public sealed class LiveConnectionTestsRunAlone;
