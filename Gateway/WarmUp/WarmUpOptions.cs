namespace Gateway.WarmUp;

/// <summary>
/// <c>Gateway:WarmUp</c>. A fresh process runs its code unoptimised until the JIT has seen it hot; under load that
/// costs a replica most of its throughput for its first seconds. With the warm-up on, a replica sends itself signed-in,
/// public and anonymous requests through its own pipeline (to a sink inside itself, never to an upstream) until the JIT
/// has nothing left to compile, and reports ready (/readyz) only then.
/// </summary>
public sealed class WarmUpOptions
{
    /// <summary>Warm up before reporting ready. Default true.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Longest the warm-up may hold readiness back; the replica reports ready after it whatever the JIT is doing. Default 20 s.</summary>
    public TimeSpan MaxDuration { get; set; } = TimeSpan.FromSeconds(20);

    internal void Validate(Action<string, string> add)
    {
        if (MaxDuration < TimeSpan.FromSeconds(1) || MaxDuration > TimeSpan.FromMinutes(5))
            add("WarmUp:MaxDuration", "must be between 00:00:01 and 00:05:00.");
    }
}
