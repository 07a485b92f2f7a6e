using Microsoft.Extensions.Time.Testing;

namespace Gateway.Tests.Rig;

/// <summary>
/// The framework's <see cref="FakeTimeProvider"/> for the wall clock the test moves by hand (idle and absolute
/// lifetimes, key rotation, step-up age), starting now; timers and the monotonic timestamp stay on real time. A
/// gateway under test runs background loops on its TimeProvider (route-file polling, warm-up, sweeps), which a
/// clock whose timers fire only on Advance would stall.
/// </summary>
internal sealed class FakeClock(DateTimeOffset start) : FakeTimeProvider(start)
{
    public FakeClock() : this(DateTimeOffset.UtcNow)
    {
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
        System.CreateTimer(callback, state, dueTime, period);

    public override long GetTimestamp() => TimeProvider.System.GetTimestamp();

    public override long TimestampFrequency => TimeProvider.System.TimestampFrequency;
}
