using System.Net;

namespace Gateway.WarmUp;

/// <summary>
/// The warm-up's traffic: a few concurrent loops over loopback, in the mix a replica serves: mostly signed-in requests
/// (identity headers and assertion), some on a public route with and without the cookie. Every answer must carry the
/// sink's nonce: one that does not came from somewhere else (an upstream), and stops the warm-up at once.
/// </summary>
internal sealed class WarmUpLoad(Uri self, string? host, WarmUpRoutes routes, string cookie, string nonce) : IDisposable
{
    private readonly HttpClient _client = new(new SocketsHttpHandler { UseCookies = false, AllowAutoRedirect = false, UseProxy = false, ConnectTimeout = TimeSpan.FromSeconds(2) })
    {
        BaseAddress = self,
        Timeout = TimeSpan.FromSeconds(5),
    };
    private long _requests;
    private long _failures;
    private volatile string? _foreignAnswer;
    private volatile bool _winding;

    public long Failures => Interlocked.Read(ref _failures);

    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>One public request without the cookie: the routes lead to the sink, or nothing signed in is sent.</summary>
    public async Task ProbeAsync(CancellationToken cancellationToken)
    {
        using var response = await SendAsync(routes.PublicPath, withCookie: false, cancellationToken);
        if (!FromSink(response)) throw new InvalidOperationException($"the warm-up's public route was answered {(int)response.StatusCode} without the sink's nonce");
    }

    /// <summary>Sends requests until <paramref name="settled"/> (asked once a settle window) says so.</summary>
    public async Task<bool> RunUntilAsync(Func<bool> settled, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var loops = Enumerable.Range(0, Math.Clamp(Environment.ProcessorCount * 2, 2, 8)).Select(i => LoopAsync(i, stop)).ToList();
        var done = false;
        try
        {
            using var timer = new PeriodicTimer(WarmUpService.SettleWindow);
            while (!done && await timer.WaitForNextTickAsync(cancellationToken))
            {
                if (_foreignAnswer is { } foreign) throw new InvalidOperationException(foreign);
                if (Requests > 200 && Failures * 2 > Requests) throw new InvalidOperationException($"{Failures} of {Requests} warm-up requests failed");
                done = settled();
            }
        }
        finally
        {
            // Each loop finishes the request it has in flight (the client's 5 s timeout bounds it) instead of abandoning
            // it: an abandoned one still reaches the gateway, maybe after the warm-up's session is gone, and is
            // challenged and logged. A foreign answer or the deadline has cancelled them already.
            _winding = true;
            await Task.WhenAll(loops);
        }
        if (_foreignAnswer is { } last) throw new InvalidOperationException(last);
        return done;
    }

    public void Dispose() => _client.Dispose();

    private async Task<HttpResponseMessage> SendAsync(string path, bool withCookie, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Accept.ParseAdd("text/html");
        if (host is not null) request.Headers.Host = host;
        if (withCookie) request.Headers.TryAddWithoutValidation("Cookie", cookie);
        var response = await _client.SendAsync(request, cancellationToken);
        await response.Content.LoadIntoBufferAsync(cancellationToken);
        return response;
    }

    private bool FromSink(HttpResponseMessage response) =>
        response.StatusCode == HttpStatusCode.OK && response.Headers.TryGetValues(WarmUpState.NonceHeader, out var values) && values.SingleOrDefault() == nonce;

    private async Task LoopAsync(int worker, CancellationTokenSource stop)
    {
        for (var i = worker; !stop.IsCancellationRequested && !_winding; i++)
        {
            // Of 8: 6 signed in, 1 public with the cookie, 1 anonymous. No challenges: each one is logged.
            var (path, withCookie) = (i % 8) switch
            {
                6 => (routes.PublicPath, true),
                7 => (routes.PublicPath, false),
                _ => (routes.SignedInPath, true),
            };
            try
            {
                using var response = await SendAsync(path, withCookie, stop.Token);
                if (!FromSink(response))
                {
                    if (response.StatusCode is not (HttpStatusCode.Found or HttpStatusCode.Unauthorized))
                    {
                        // Not the sink and not the gateway refusing: something else answered. Nothing more is sent.
                        _foreignAnswer = $"a warm-up request ({(withCookie ? "with" : "without")} the cookie) was answered {(int)response.StatusCode} without the sink's nonce";
                        await stop.CancelAsync();
                        return;
                    }
                    // The gateway refusing (the session left the cache): counted; too many end the warm-up.
                    Interlocked.Increment(ref _failures);
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                // A refused connection or a request over its 5 s: counted; too many end the warm-up.
                Interlocked.Increment(ref _failures);
            }
            Interlocked.Increment(ref _requests);
        }
    }
}
