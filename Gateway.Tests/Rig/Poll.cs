namespace Gateway.Tests.Rig;

/// <summary>Polls a probe until it yields a value (a reload applied, a replica caught up) or the time is up.</summary>
internal static class Poll
{
    /// <summary>The probe's first non-null value, or default after <paramref name="timeoutMs"/>; connection refusals count as "not yet".</summary>
    public static async Task<T?> Until<T>(Func<Task<T?>> probe, int timeoutMs = 10_000)
    {
        var deadline = DateTime.UtcNow.AddMilliseconds(timeoutMs);
        while (true)
        {
            try
            {
                var value = await probe();
                if (value is not null) return value;
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
            }
            if (DateTime.UtcNow >= deadline) return default;
            await Task.Delay(100);
        }
    }

    /// <summary>
    /// What a replica answers a fresh browser (from <paramref name="browser"/>) presenting <paramref name="cookie"/>,
    /// asked until it refuses it or <paramref name="withinMs"/> pass. A revocation reaches the other replicas by
    /// pub/sub, moments after the publisher answered, not before; the bound stays far inside Session:CacheDuration
    /// (30 s), so a refusal within it is the message's doing, never the cached copy running out. A request the message
    /// overtakes in flight is aborted (the live-connection rule), which counts as "not yet" here.
    /// </summary>
    public static async Task<HttpStatusCode> RefusalAsync(Func<Browser> browser, string cookie, int withinMs = 10_000)
    {
        HttpStatusCode last = default;
        var refused = await Until(async () =>
        {
            last = await AnswerAsync(browser, cookie);
            return last == HttpStatusCode.Unauthorized ? (HttpStatusCode?)last : null;
        }, withinMs);
        return refused ?? last;
    }

    /// <summary>What a replica answers, once, a fresh browser (from <paramref name="browser"/>) presenting <paramref name="cookie"/>.</summary>
    public static async Task<HttpStatusCode> AnswerAsync(Func<Browser> browser, string cookie)
    {
        using var replay = browser();
        replay.SetCookie("gw_session", cookie);
        return (await replay.ApiGetAsync("/api/whoami")).StatusCode;
    }
}
