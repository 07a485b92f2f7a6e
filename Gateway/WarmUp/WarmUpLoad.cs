using System.Net;

namespace Gateway.WarmUp;

/// <summary>
/// The warm-up's traffic: a few concurrent loops over loopback, in the mix a replica serves: mostly signed-in requests
/// (identity headers and assertion), some on a public route with and without the cookie.
/// </summary>
internal sealed class WarmUpLoad(Uri self, WarmUpRoutes routes, string cookie)
{
    private long _requests;
    private long _failures;

    public long Failures => Interlocked.Read(ref _failures);

    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>Sends requests until <paramref name="settled"/> (asked once a settle window) says so; returns the request count.</summary>
    public async Task<(long Requests, bool Settled)> RunUntilAsync(Func<bool> settled, CancellationToken cancellationToken)
    {
        using var handler = new SocketsHttpHandler { UseCookies = false, AllowAutoRedirect = false, UseProxy = false, ConnectTimeout = TimeSpan.FromSeconds(2) };
        using var client = new HttpClient(handler) { BaseAddress = self, Timeout = TimeSpan.FromSeconds(5) };
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var loops = Enumerable.Range(0, Math.Clamp(Environment.ProcessorCount * 2, 2, 8)).Select(i => LoopAsync(client, i, stop.Token)).ToList();
        var done = false;
        try
        {
            using var timer = new PeriodicTimer(WarmUpService.SettleWindow);
            while (!done && await timer.WaitForNextTickAsync(cancellationToken))
            {
                if (Interlocked.Read(ref _requests) > 200 && Failures * 2 > Interlocked.Read(ref _requests))
                    throw new InvalidOperationException($"{Failures} of {Interlocked.Read(ref _requests)} warm-up requests failed");
                done = settled();
            }
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(loops);
        }
        return (Interlocked.Read(ref _requests), done);
    }

    private async Task LoopAsync(HttpClient client, int worker, CancellationToken cancellationToken)
    {
        for (var i = worker; !cancellationToken.IsCancellationRequested; i++)
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
                using var request = new HttpRequestMessage(HttpMethod.Get, path);
                request.Headers.Accept.ParseAdd("text/html");
                if (withCookie) request.Headers.TryAddWithoutValidation("Cookie", cookie);
                using var response = await client.SendAsync(request, cancellationToken);
                await response.Content.CopyToAsync(Stream.Null, cancellationToken);
                if (response.StatusCode != HttpStatusCode.OK) Interlocked.Increment(ref _failures);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (HttpRequestException)
            {
                Interlocked.Increment(ref _failures);
            }
            Interlocked.Increment(ref _requests);
        }
    }
}
