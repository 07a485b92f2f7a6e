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
}
