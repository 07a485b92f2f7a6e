using System.Net;
using System.Security.Cryptography;

namespace Gateway.WarmUp;

/// <summary>
/// Where the warm-up runs and whether it is over. Its paths carry 128 random bits chosen at start, so nobody outside
/// the process can reach them; once the warm-up is over they answer nothing of the gateway's own. Its sink answers
/// with <see cref="Nonce"/>, so the warm-up can tell its sink from anything else that might answer.
/// </summary>
internal sealed class WarmUpState
{
    private const string PathRoot = "/_gateway/warm-up";

    /// <summary>Every warm-up path starts with this (telemetry leaves them out).</summary>
    public const string PathPrefix = PathRoot + "/";

    /// <summary>The response header that carries <see cref="Nonce"/> from the sink.</summary>
    public const string NonceHeader = "X-Gateway-Warm-Up";

    private const int Pending = 0, Warming = 1, Draining = 2, Over = 3;
    private int _phase = Pending;

    /// <summary>Root of the warm-up's routes and sink, e.g. <c>/_gateway/warm-up/3f…</c>.</summary>
    public string Root { get; } = PathPrefix + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    public string SinkPath { get; }

    public WarmUpState() => SinkPath = Root + "/sink";

    public string Nonce { get; } = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    /// <summary>True while warm-up requests are under way: only then does the sink answer.</summary>
    public bool Running => Volatile.Read(ref _phase) == Warming;

    /// <summary>True once the warm-up finished, gave up or was never wanted: readiness waits for it.</summary>
    public bool IsOver => Volatile.Read(ref _phase) == Over;

    public static bool IsWarmUpPath(PathString path) => path.StartsWithSegments(PathRoot, StringComparison.Ordinal);

    /// <summary>
    /// A request for the sink while the warm-up runs or drains, from this host: it comes from this process (nobody else knows
    /// the path). Its identity headers are the gateway's own, injected on the way; they are still removed.
    /// </summary>
    public bool IsSinkRequest(HttpContext context) =>
        // Draining too: a warm-up request cut off client-side at the end still makes its way to the sink.
        Volatile.Read(ref _phase) is Warming or Draining && context.Connection.RemoteIpAddress is { } address
        && IPAddress.IsLoopback(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address)
        && context.Request.Path.StartsWithSegments(SinkPath, StringComparison.Ordinal);

    public void Start() => Interlocked.CompareExchange(ref _phase, Warming, Pending);

    /// <summary>No more warm-up requests: the sink stops answering while the replica is not ready yet.</summary>
    public void Drain() => Interlocked.CompareExchange(ref _phase, Draining, Warming);

    public void Finish() => Volatile.Write(ref _phase, Over);
}
