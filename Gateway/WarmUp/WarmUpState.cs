using System.Security.Cryptography;

namespace Gateway.WarmUp;

/// <summary>
/// Where the warm-up runs and whether it is over. Its paths carry 128 random bits chosen at start, so nobody outside
/// the process can reach them; and once the warm-up is over they answer nothing of the gateway's own.
/// </summary>
internal sealed class WarmUpState
{
    private const int Pending = 0, Warming = 1, Over = 2;
    private int _phase = Pending;

    /// <summary>Root of the warm-up's routes and sink, e.g. <c>/_gateway/warm-up/3f…</c>.</summary>
    public string Root { get; } = "/_gateway/warm-up/" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    public string SinkPath => Root + "/sink";

    /// <summary>True while warm-up requests are under way: only then does the sink answer.</summary>
    public bool Running => Volatile.Read(ref _phase) == Warming;

    /// <summary>True once the warm-up finished, gave up or was never wanted: readiness waits for it.</summary>
    public bool IsOver => Volatile.Read(ref _phase) == Over;

    /// <summary>A request for the sink while the warm-up runs: it comes from this process (nobody else knows the path).</summary>
    public bool IsSinkRequest(PathString path) => Running && path.StartsWithSegments(SinkPath, StringComparison.Ordinal);

    public void Start() => Interlocked.CompareExchange(ref _phase, Warming, Pending);

    public void Finish() => Volatile.Write(ref _phase, Over);
}
