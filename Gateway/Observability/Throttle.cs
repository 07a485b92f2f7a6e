namespace Gateway.Observability;

/// <summary>
/// Lets one caller through per <paramref name="interval"/>: a warning written on every failure of a background writer or
/// reader would flood the log for as long as an outage lasts.
/// </summary>
internal sealed class Throttle(TimeSpan interval)
{
    private long _last;

    /// <summary>True for exactly one caller once the interval has passed since the last that got true.</summary>
    public bool TryPass(DateTimeOffset now)
    {
        var nowTicks = now.UtcTicks;
        var last = Interlocked.Read(ref _last);
        return nowTicks - last > interval.Ticks && Interlocked.CompareExchange(ref _last, nowTicks, last) == last;
    }
}
